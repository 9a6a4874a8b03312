"""The Kubo client against a fake RPC API in this process: a daemon that lies or fails is caught.
(The real daemon is exercised in tests/integration/test_store_kubo.py.)"""

from __future__ import annotations

import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pytest

from zkmarket.store import Cid, KuboError, KuboStore, ObjectMissing, ObjectTampered, UnverifiableObject
from zkmarket.store.cid import DAG_PB, SHA2_256

pytestmark = pytest.mark.unit


def dag_pb_cid(block: bytes) -> str:
    return str(Cid(1, DAG_PB, SHA2_256, hashlib.sha256(block).digest()))


# A dag-pb node whose Data is a UnixFS Directory (Type = 1): not a file.
DIRECTORY_BLOCK = bytes([0x0A, 0x02, 0x08, 0x01])


class FakeKubo(BaseHTTPRequestHandler):
    routes: dict[str, tuple[int, bytes]] = {}
    seen: list[tuple[str, dict]] = []

    def do_POST(self):  # noqa: N802 - http.server's naming
        url = urlparse(self.path)
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.seen.append((url.path, parse_qs(url.query)))
        status, body = self.routes.get(url.path, (404, b"404 page not found"))
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def fake():
    FakeKubo.routes, FakeKubo.seen = {}, []
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeKubo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield FakeKubo, KuboStore(f"http://127.0.0.1:{server.server_port}", timeout=5)
    server.shutdown()
    server.server_close()


def error(message: str) -> tuple[int, bytes]:
    return 500, json.dumps({"Message": message, "Code": 0, "Type": "error"}).encode()


def test_add_sends_the_pinned_options_and_checks_the_returned_cid(fake):
    handler, store = fake
    cid = str(Cid.raw_sha256(b"data"))
    handler.routes["/api/v0/add"] = (200, json.dumps({"Name": "object", "Hash": cid, "Size": "4"}).encode())
    assert store.put(b"data") == cid
    path, query = handler.seen[-1]
    assert path == "/api/v0/add"
    assert {k: v[0] for k, v in query.items()}.items() >= {
        "cid-version": "1", "raw-leaves": "true", "hash": "sha2-256", "pin": "true", "timeout": "5s"}.items()


def test_a_daemon_that_returns_the_wrong_cid_on_add_is_caught(fake):
    handler, store = fake
    wrong = str(Cid.raw_sha256(b"other data"))
    handler.routes["/api/v0/add"] = (200, json.dumps({"Hash": wrong}).encode())
    with pytest.raises(ObjectTampered, match=wrong):
        store.put(b"data")


def test_a_daemon_that_serves_other_bytes_is_caught(fake):
    handler, store = fake
    cid = str(Cid.raw_sha256(b"the real object"))
    handler.routes["/api/v0/cat"] = (200, b"a substitute")
    with pytest.raises(ObjectTampered) as e:
        store.get(cid)
    assert e.value.cid == cid and e.value.actual == "sha256:" + hashlib.sha256(b"a substitute").hexdigest()


def test_a_dag_pb_object_that_is_not_a_file_is_unverifiable(fake):
    handler, store = fake
    handler.routes["/api/v0/block/get"] = (200, DIRECTORY_BLOCK)
    with pytest.raises(UnverifiableObject, match="not a file"):
        store.get(dag_pb_cid(DIRECTORY_BLOCK))


def test_not_found_is_missing_other_errors_are_backend_errors(fake):
    handler, store = fake
    cid = str(Cid.raw_sha256(b"x"))
    handler.routes["/api/v0/cat"] = error("block was not found locally (offline): ipld: could not find " + cid)
    with pytest.raises(ObjectMissing, match="not found locally"):
        store.get(cid)
    handler.routes["/api/v0/cat"] = error("context deadline exceeded")
    with pytest.raises(ObjectMissing, match="not found within 5s"):
        store.get(cid)
    handler.routes["/api/v0/cat"] = error("repo is locked")
    with pytest.raises(KuboError, match="repo is locked"):
        store.get(cid)
    handler.routes["/api/v0/block/stat"] = error("block was not found locally (offline)")
    assert not store.has(cid)
    assert handler.seen[-1][1]["offline"] == ["true"]
