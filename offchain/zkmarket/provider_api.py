"""The clients of a provider agent's HTTP API (MC's and a requester's side).

They live outside ``zkmarket.agent`` so that the consumer does not import the provider's agent
(its server, FastAPI, uvicorn): it needs only the wire format, which the participants' classes
write and read. The server is ``zkmarket.agent.server``; its description is at /openapi.json."""

from __future__ import annotations

import json
from urllib.error import HTTPError, URLError
from urllib.request import Request, urlopen

from .participants.delivery import Delivery, DeliveryError
from .participants.retrieval import DEFAULT_POSITIVE_CLASS, ResultsDelivery, RetrievalError
from .participants.serving_round import RoundInputs, ServedPredictions, ServingError
from .participants.simple_audit import TestSetDelivery, TestSetError

SIGNATURE_HEADER = "X-Zkmarket-Signature"


class ProviderUnreachable(DeliveryError):
    """The agent could not be reached at all (nothing was delivered): worth retrying, unlike a
    refusal, which the agent answered with its reason."""


def _exchange(url: str, data: bytes | None, timeout: float, headers: dict | None = None) -> tuple[int, bytes]:
    """(HTTP status, body); raises ConnectionError when the agent cannot be reached."""
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
    """MC's side: hands the delivery to MP's agent; raises ProviderUnreachable when the agent
    does not answer, DeliveryError with the agent's reason when it refuses."""
    try:
        status, body = _exchange(url.rstrip("/") + "/deliveries", delivery.to_json().encode(), timeout)
    except ConnectionError as e:
        raise ProviderUnreachable(str(e)) from e
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
