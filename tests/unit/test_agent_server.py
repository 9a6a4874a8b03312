"""The agent's HTTP API (FastAPI behind DeliveryServer) with fake callbacks: routes, statuses,
the {"error": reason} bodies, the body limit, and the clients in zkmarket.provider_api."""

from __future__ import annotations

import json
import socket
from http.client import HTTPConnection

import pytest

from zkmarket.agent.server import MAX_BODY, DeliveryServer
from zkmarket.participants.delivery import Delivery, DeliveryError
from zkmarket.participants.simple_audit import TestSetDelivery
from zkmarket.provider_api import SIGNATURE_HEADER, ProviderUnreachable, post_delivery

pytestmark = pytest.mark.unit

JSON = {"Content-Type": "application/json"}


@pytest.fixture(scope="module")
def calls():
    return []


@pytest.fixture(scope="module")
def server(calls):
    def accept(delivery: Delivery) -> None:
        calls.append(delivery)
        if delivery.transfer_id == 9:
            raise DeliveryError("transfer 9 is not ours")

    def serve_round(round_id: int, inputs: list[bytes]) -> str:
        if round_id == 13:
            raise RuntimeError("the prover fell over")
        return json.dumps({"roundId": round_id, "inputs": [x.hex() for x in inputs]})

    def results(request_id: int, positive: int, signature: bytes | None) -> str:
        calls.append(signature)
        return json.dumps({"requestId": request_id, "class": positive})

    def testset(audit_id: int, delivery: TestSetDelivery) -> str:
        return json.dumps({"auditId": audit_id, "n": len(delivery.items)})

    s = DeliveryServer("127.0.0.1", 0, accept, serve_round=serve_round, results=results, testset=testset).start()
    yield s
    s.stop()


def call(server: DeliveryServer, method: str, path: str, body: bytes | dict | None = None,
         headers: dict | None = None) -> tuple[int, object]:
    host, port = server.url.removeprefix("http://").rsplit(":", 1)
    conn = HTTPConnection(host, int(port), timeout=10)
    try:
        conn.request(method, path, json.dumps(body).encode() if isinstance(body, dict) else body,
                     JSON if headers is None else headers)
        response = conn.getresponse()
        text = response.read()
        try:
            return response.status, json.loads(text)
        except ValueError:
            return response.status, text.decode()
    finally:
        conn.close()


DELIVERY = {"transferId": 3, "ciphertexts": {"0": "0a0b"}, "commitments": ["00", "01"], "labels": [1, 2]}


def test_port_zero_gives_the_bound_port_health_and_openapi(server):
    assert int(server.url.rsplit(":", 1)[1]) > 0
    assert call(server, "GET", "/health") == (200, {"ok": True})
    status, spec = call(server, "GET", "/openapi.json")
    assert status == 200
    assert {"/health", "/deliveries", "/rounds/{roundId}/inputs", "/requests/{requestId}/results",
            "/audits/simple/{auditId}/testset"} <= set(spec["paths"])


def test_each_endpoint_answers_with_its_status(server, calls):
    assert call(server, "POST", "/deliveries", DELIVERY) == (202, {"transferId": 3})
    assert calls[-1] == Delivery(3, {0: b"\x0a\x0b"}, [b"\x00", b"\x01"], [1, 2])
    assert call(server, "POST", "/rounds/5/inputs", {"inputs": ["0x0102", "03"]}) == \
        (200, {"roundId": 5, "inputs": ["0102", "03"]})
    assert call(server, "GET", "/requests/7/results?class=2") == (200, {"requestId": 7, "class": 2})
    assert calls[-1] is None
    assert call(server, "POST", "/audits/simple/4/testset", {"items": ["01", "0x02"], "labels": [0, 3]}) == \
        (202, {"auditId": 4, "n": 2})


def test_the_signature_header_reaches_the_callback_as_bytes(server, calls):
    assert call(server, "GET", "/requests/7/results", headers={SIGNATURE_HEADER: "0x" + "05" * 65}) == \
        (200, {"requestId": 7, "class": 1})
    assert calls[-1] == b"\x05" * 65


@pytest.mark.parametrize("method,path,body", [
    ("POST", "/deliveries", b"{not json"),
    ("POST", "/deliveries", {"transferId": 3}),
    ("POST", "/deliveries", {**DELIVERY, "ciphertexts": {"0": "zz"}}),
    ("POST", "/deliveries", {**DELIVERY, "labels": "1"}),
    ("POST", "/rounds/5/inputs", {"inputs": "zz"}),
    ("POST", "/rounds/5/inputs", {"inputs": []}),
    ("POST", "/rounds/5/inputs", {"inputs": [5]}),
    ("POST", "/audits/simple/4/testset", {"items": ["01"], "labels": [True]}),
    ("POST", "/audits/simple/4/testset", {"items": ["01"], "labels": [-1]}),
    ("POST", "/audits/simple/4/testset", b""),
    ("GET", "/requests/7/results?class=x", None),
])
def test_malformed_input_is_refused_with_400_and_a_reason(server, method, path, body):
    status, answer = call(server, method, path, body)
    assert status == 400 and answer["error"], answer


def test_bad_signature_header_and_non_json_content_type_are_400(server):
    status, answer = call(server, "GET", "/requests/7/results", headers={SIGNATURE_HEADER: "0xzz"})
    assert status == 400 and SIGNATURE_HEADER in answer["error"]
    status, answer = call(server, "POST", "/rounds/5/inputs", b'{"inputs": ["01"]}',
                          {"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 400 and "application/json" in answer["error"]


def test_refusals_keep_their_status(server):
    assert call(server, "POST", "/deliveries", {**DELIVERY, "transferId": 9}) == \
        (400, {"error": "transfer 9 is not ours"})


def test_unknown_paths_and_missing_callbacks_are_404():
    bare = DeliveryServer("127.0.0.1", 0, lambda d: None).start()
    try:
        for path in ("/nothing", "/rounds/5/inputs", "/rounds/x/inputs", "/audits/simple/4/testset"):
            status, answer = call(bare, "POST", path, {"inputs": ["01"]})
            assert status == 404 and "no such path" in answer["error"], path
        assert call(bare, "GET", "/requests/7/results")[0] == 404
        assert call(bare, "GET", "/health") == (200, {"ok": True})
    finally:
        bare.stop()


def test_an_oversized_body_is_refused_from_its_content_length(server):
    status, _ = call(server, "POST", "/deliveries", b"{}",
                     {**JSON, "Content-Length": str(MAX_BODY + 1)})  # the 64 MiB are never sent
    assert status in (400, 413)


def test_an_unexpected_error_is_a_500_and_the_server_keeps_answering(server):
    assert call(server, "POST", "/rounds/13/inputs", {"inputs": ["01"]}) == \
        (500, {"error": "RuntimeError: the prover fell over"})
    assert call(server, "GET", "/health") == (200, {"ok": True})


def test_an_unreachable_agent_raises_provider_unreachable():
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(ProviderUnreachable, match="cannot reach"):
        post_delivery(f"http://127.0.0.1:{port}", Delivery(1, {}, [], []), timeout=5)


def test_a_refusal_is_not_provider_unreachable(server):
    with pytest.raises(DeliveryError, match="not ours") as e:
        post_delivery(server.url, Delivery(9, {}, [], []))
    assert not isinstance(e.value, ProviderUnreachable)


def test_a_taken_port_fails_at_construction(server):
    with pytest.raises(OSError):
        DeliveryServer("127.0.0.1", int(server.url.rsplit(":", 1)[1]), lambda d: None)
