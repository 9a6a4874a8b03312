"""The agent's HTTP endpoint: MC posts each data transfer's delivery here (appendix B stage 2).
A delivery is checked against the chain before it is stored, so MC learns at once (HTTP 400,
with the reason) when what it sent is not what it committed."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable

from ..participants.delivery import Delivery, DeliveryError

MAX_BODY = 64 * 1024 * 1024


class DeliveryServer:
    """Serves POST /deliveries (a Delivery JSON) and GET /health on (host, port)."""

    def __init__(self, host: str, port: int, accept: Callable[[Delivery], None]):
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # the agent logs structured events itself
                pass

            def _reply(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                if self.path == "/health":
                    self._reply(200, {"ok": True})
                else:
                    self._reply(404, {"error": f"no such path {self.path}"})

            def do_POST(self) -> None:
                if self.path != "/deliveries":
                    self._reply(404, {"error": f"no such path {self.path}"})
                    return
                length = int(self.headers.get("Content-Length") or 0)
                if not 0 < length <= MAX_BODY:
                    self._reply(400, {"error": f"body must be 1..{MAX_BODY} bytes"})
                    return
                try:
                    delivery = Delivery.from_json(self.rfile.read(length).decode())
                    outer.accept(delivery)
                except (DeliveryError, UnicodeDecodeError) as e:
                    self._reply(400, {"error": str(e)})
                    return
                self._reply(202, {"transferId": delivery.transfer_id})

        self.accept = accept
        self.httpd = ThreadingHTTPServer((host, port), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> "DeliveryServer":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def post_delivery(url: str, delivery: Delivery, timeout: float = 30) -> None:
    """MC's side: hands the delivery to MP's agent; raises DeliveryError with the agent's reason."""
    from urllib.error import HTTPError, URLError
    from urllib.request import Request, urlopen

    req = Request(url.rstrip("/") + "/deliveries", data=delivery.to_json().encode(),
                  headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urlopen(req, timeout=timeout):
            return
    except HTTPError as e:
        raise DeliveryError(f"provider refused the delivery: {e.read().decode(errors='replace')}") from e
    except URLError as e:
        raise DeliveryError(f"cannot reach the provider at {url}: {e.reason}") from e
