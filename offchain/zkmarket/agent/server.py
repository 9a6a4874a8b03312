"""The agent's HTTP endpoint.

- ``POST /deliveries``: MC's delivery of a data transfer (appendix B stage 2), checked against
  the chain before it is stored.
- ``POST /rounds/<roundId>/inputs`` with ``{"inputs": [hex, ...]}``: MC's K inputs of a serving
  round (paper 5.3); answered with the classes, the predictions root, a Merkle proof per
  prediction and MP's EIP-712 signature over (roundId, inputsRoot, predictionsRoot).
- ``GET /requests/<requestId>/results[?class=C]``: a retrieval request's documents of class C
  (default 1) with proofs of inclusion, and every document's commitment and class (paper 5.4);
  only for the requester: header ``X-Zkmarket-Signature`` carries its EIP-191 signature of
  ``participants.retrieval.access_message`` (403 otherwise).
- ``POST /audits/simple/<auditId>/testset`` with ``{"items": [hex, ...], "labels": [...]}``: MC's
  test set of a simple audit (paper 5.2 step 3), stored once it rebuilds the committed root
  (answered 202 with the root).
- ``GET /health``.

Whatever does not match what is committed on chain is refused at once with HTTP 400 and the
reason (404: not a job of this agent, 409: not now, retry later), so the sender learns it
before it relies on the answer."""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable
from urllib.parse import parse_qs, urlsplit

from ..participants.delivery import Delivery, DeliveryError
from ..participants.retrieval import DEFAULT_POSITIVE_CLASS, ResultsDelivery, RetrievalError
from ..participants.serving_round import RoundInputs, ServedPredictions, ServingError
from ..participants.simple_audit import TestSetDelivery, TestSetError

MAX_BODY = 64 * 1024 * 1024
SIGNATURE_HEADER = "X-Zkmarket-Signature"
_ROUND_INPUTS = re.compile(r"^/rounds/([0-9]{1,78})/inputs$")
_REQUEST_RESULTS = re.compile(r"^/requests/([0-9]{1,78})/results$")
_SIMPLE_TESTSET = re.compile(r"^/audits/simple/([0-9]{1,78})/testset$")


class DeliveryServer:
    """Serves the agent's endpoints on (host, port). `accept` takes audit deliveries;
    `serve_round(roundId, inputs) -> JSON` and `results(requestId, positiveClass, signature) -> JSON`
    and `testset(auditId, delivery) -> JSON` (optional: without them those paths answer 404)
    raise ServingError / RetrievalError / TestSetError."""

    def __init__(self, host: str, port: int, accept: Callable[[Delivery], None],
                 serve_round: Callable[[int, list[bytes]], str] | None = None,
                 results: Callable[[int, int, bytes | None], str] | None = None,
                 testset: Callable[[int, TestSetDelivery], str] | None = None):
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # the agent logs structured events itself
                pass

            def _reply(self, status: int, body: dict | str) -> None:
                data = (body if isinstance(body, str) else json.dumps(body)).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _body(self) -> bytes | None:
                length = int(self.headers.get("Content-Length") or 0)
                if not 0 < length <= MAX_BODY:
                    self._reply(400, {"error": f"body must be 1..{MAX_BODY} bytes"})
                    return None
                return self.rfile.read(length)

            def _call(self, fn: Callable[[], dict | str], status: int = 200) -> None:
                try:
                    self._reply(status, fn())
                except (ServingError, RetrievalError, TestSetError, DeliveryError) as e:
                    self._reply(getattr(e, "status", 400), {"error": str(e)})
                except UnicodeDecodeError as e:
                    self._reply(400, {"error": f"the body is not UTF-8: {e}"})
                except Exception as e:  # the chain or the prover failed: say so, the agent keeps running
                    self._reply(500, {"error": f"{type(e).__name__}: {e}"})

            def do_GET(self) -> None:
                url = urlsplit(self.path)
                if url.path == "/health":
                    self._reply(200, {"ok": True})
                elif (m := _REQUEST_RESULTS.match(url.path)) and outer.results is not None:
                    try:
                        positive = int(parse_qs(url.query).get("class", [DEFAULT_POSITIVE_CLASS])[0])
                        signature = self.headers.get(SIGNATURE_HEADER)
                        signature = bytes.fromhex(signature.removeprefix("0x")) if signature else None
                    except ValueError:
                        self._reply(400, {"error": f"class must be an integer and {SIGNATURE_HEADER} hex"})
                        return
                    self._call(lambda: outer.results(int(m.group(1)), positive, signature))
                else:
                    self._reply(404, {"error": f"no such path {self.path}"})

            def do_POST(self) -> None:
                path = urlsplit(self.path).path
                if path == "/deliveries":
                    body = self._body()
                    if body is None:
                        return

                    def accept() -> dict:
                        delivery = Delivery.from_json(body.decode())
                        outer.accept(delivery)
                        return {"transferId": delivery.transfer_id}

                    self._call(accept, 202)
                elif (m := _ROUND_INPUTS.match(path)) and outer.serve_round is not None:
                    body = self._body()
                    if body is not None:
                        self._call(lambda: outer.serve_round(int(m.group(1)), RoundInputs.items_from_json(body)))
                elif (m := _SIMPLE_TESTSET.match(path)) and outer.testset is not None:
                    body = self._body()
                    if body is not None:
                        self._call(lambda: outer.testset(int(m.group(1)), TestSetDelivery.from_json(body)), 202)
                else:
                    self._reply(404, {"error": f"no such path {self.path}"})

        self.accept, self.serve_round, self.results, self.testset = accept, serve_round, results, testset
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


# ---------------------------------------------------------------- clients (MC's side)

def _exchange(url: str, data: bytes | None, timeout: float, headers: dict | None = None) -> tuple[int, bytes]:
    """(HTTP status, body); raises ConnectionError when the agent cannot be reached."""
    from urllib.error import HTTPError, URLError
    from urllib.request import Request, urlopen

    req = Request(url, data=data, headers={"Content-Type": "application/json", **(headers or {})},
                  method="GET" if data is None else "POST")
    try:
        with urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.read()
    except HTTPError as e:
        return e.code, e.read()
    except URLError as e:
        raise ConnectionError(f"cannot reach the provider at {url}: {e.reason}") from e


def _reason(body: bytes) -> str:
    try:
        return str(json.loads(body)["error"])
    except (ValueError, KeyError, TypeError):
        return body.decode(errors="replace")


def post_delivery(url: str, delivery: Delivery, timeout: float = 30) -> None:
    """MC's side: hands the delivery to MP's agent; raises DeliveryError with the agent's reason."""
    try:
        status, body = _exchange(url.rstrip("/") + "/deliveries", delivery.to_json().encode(), timeout)
    except ConnectionError as e:
        raise DeliveryError(str(e)) from e
    if status >= 300:
        raise DeliveryError(f"provider refused the delivery: {body.decode(errors='replace')}")


def post_round_inputs(url: str, round_id: int, inputs: RoundInputs, timeout: float = 120) -> ServedPredictions:
    """MC's side of a serving round: posts the K inputs, returns MP's signed predictions
    (check them with ServingConsumer.check). Raises ServingError with the agent's reason and
    status, or ConnectionError."""
    status, body = _exchange(f"{url.rstrip('/')}/rounds/{round_id}/inputs", inputs.to_json().encode(), timeout)
    if status != 200:
        raise ServingError(f"provider refused the inputs (HTTP {status}): {_reason(body)}", status)
    return ServedPredictions.from_json(body)


def get_results(url: str, request_id: int, positive_class: int = DEFAULT_POSITIVE_CLASS,
                signature: bytes | None = None, timeout: float = 120) -> ResultsDelivery:
    """The requester's side of a retrieval: fetches the positives with its access signature
    (RetrievalRequester.access_signature; check the answer with RetrievalRequester.check).
    Raises RetrievalError with the agent's reason and status."""
    headers = {SIGNATURE_HEADER: "0x" + signature.hex()} if signature else {}
    status, body = _exchange(f"{url.rstrip('/')}/requests/{request_id}/results?class={positive_class}", None,
                             timeout, headers)
    if status != 200:
        raise RetrievalError(f"responder refused the results (HTTP {status}): {_reason(body)}", status)
    return ResultsDelivery.from_json(body)


def post_test_set(url: str, audit_id: int, delivery: TestSetDelivery, timeout: float = 120) -> dict:
    """MC's side of a simple audit: posts the N examples and labels to MP's agent; returns its
    answer (auditId, n, root). Raises TestSetError with the agent's reason and status, or
    ConnectionError."""
    status, body = _exchange(f"{url.rstrip('/')}/audits/simple/{audit_id}/testset", delivery.to_json().encode(),
                             timeout)
    if status >= 300:
        raise TestSetError(f"provider refused the test set (HTTP {status}): {_reason(body)}", status)
    return json.loads(body)
