"""The agent's HTTP endpoint (FastAPI served by uvicorn in a background thread).

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
- ``GET /health``; ``GET /openapi.json``: this API's description.

The bodies' shapes are checked by the pydantic models below before any callback runs, what they
say against the chain by the callbacks. Whatever does not match is refused at once with HTTP 400
and the reason (404: not a job of this agent, 409: not now, retry later), so the sender learns it
before it relies on the answer. Errors are ``{"error": reason}`` (except a 413 for a declared
Content-Length over MAX_BODY, which Starlette answers in plain text before reading the body).
Bodies must be sent as ``Content-Type: application/json`` (FastAPI's strict content type: a
browser page cannot post to a local agent without a CORS preflight). The clients are in
``zkmarket.provider_api``."""

from __future__ import annotations

import json
import socket
import threading
import time
from typing import Annotated, Callable

import uvicorn
from fastapi import FastAPI, Header, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field, PlainValidator, StrictInt, WithJsonSchema
from starlette.convertors import Convertor, register_url_convertor
from starlette.exceptions import HTTPException

from ..participants.delivery import Delivery, DeliveryError
from ..participants.retrieval import DEFAULT_POSITIVE_CLASS, RetrievalError
from ..participants.serving_round import ServingError
from ..participants.simple_audit import TestSetDelivery, TestSetError
from ..provider_api import SIGNATURE_HEADER

MAX_BODY = 64 * 1024 * 1024
_REFUSED = (ServingError, RetrievalError, TestSetError, DeliveryError)


class _Uint256(Convertor):
    """Path ids are uint256 on chain: anything else is no path of this agent (404), as before."""

    regex = "[0-9]{1,78}"

    def convert(self, value: str) -> int:
        return int(value)

    def to_string(self, value: int) -> str:
        return str(value)


register_url_convertor("uint256", _Uint256())


def _unhex(value: object) -> bytes:
    if not isinstance(value, str):
        raise ValueError(f"expected a hex string, got {type(value).__name__}")
    return bytes.fromhex(value.removeprefix("0x"))


Hex = Annotated[bytes, PlainValidator(_unhex),
                WithJsonSchema({"type": "string", "pattern": "^(0x)?([0-9a-fA-F]{2})*$"})]


class DeliveryBody(BaseModel):
    """Delivery.to_json: a transfer's ciphertexts by index and the test set's public leaves."""

    transfer_id: int = Field(alias="transferId")
    ciphertexts: dict[int, Hex]
    commitments: list[Hex]
    labels: list[int]


class RoundInputsBody(BaseModel):
    """RoundInputs.to_json: a round's K raw inputs."""

    inputs: list[Hex] = Field(min_length=1)


class TestSetBody(BaseModel):
    """TestSetDelivery.to_json: the N raw examples and their labels."""

    __test__ = False  # not a pytest test class despite the name
    items: list[Hex]
    labels: list[Annotated[StrictInt, Field(ge=0)]]


def _error(status: int, reason: str) -> JSONResponse:
    return JSONResponse({"error": reason}, status)


def _answer(status: int, fn: Callable[[], dict | str]) -> Response:
    """Runs a callback (in FastAPI's thread pool: proving may take long). Its refusals carry
    their HTTP status; anything else is a 500 that names it, and the agent keeps running."""
    try:
        body = fn()
    except _REFUSED as e:
        return _error(getattr(e, "status", 400), str(e))
    except Exception as e:  # the chain or the prover failed: say so
        return _error(500, f"{type(e).__name__}: {e}")
    return Response(body if isinstance(body, str) else json.dumps(body), status, media_type="application/json")


def _reason(request: Request, e: RequestValidationError) -> str:
    """One line naming each wrong field (body.inputs.0: ...), or where the JSON breaks."""
    reasons = [f"{'.'.join(map(str, err['loc']))}: {err['msg']}"
               + (f" ({err['ctx']['error']})" if err["type"] == "json_invalid" else "") for err in e.errors()]
    if request.method == "POST" and "json" not in request.headers.get("content-type", ""):
        reasons.insert(0, "the body must be sent as Content-Type: application/json")  # FastAPI reads JSON only then
    return "; ".join(reasons)


def create_app(accept: Callable[[Delivery], None],
               serve_round: Callable[[int, list[bytes]], str] | None = None,
               results: Callable[[int, int, bytes | None], str] | None = None,
               testset: Callable[[int, TestSetDelivery], str] | None = None) -> FastAPI:
    """The API; a path whose callback is None is not routed (404) nor described.
    Bodies over MAX_BODY are refused with 413 from their Content-Length, before they are read."""
    app = FastAPI(title="zkmarket provider agent", docs_url=None, redoc_url=None, max_body_size=MAX_BODY)

    @app.exception_handler(RequestValidationError)
    async def malformed(request: Request, e: RequestValidationError) -> JSONResponse:  # 400, not FastAPI's 422
        return _error(400, _reason(request, e))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, e: HTTPException) -> JSONResponse:  # 404, 405, 413
        return _error(e.status_code, f"no such path {request.url.path}" if e.status_code == 404 else str(e.detail))

    @app.get("/health")
    def health() -> dict:
        return {"ok": True}

    @app.post("/deliveries", status_code=202)
    def deliveries(body: DeliveryBody) -> Response:
        def run() -> dict:
            accept(Delivery(body.transfer_id, body.ciphertexts, body.commitments, body.labels))
            return {"transferId": body.transfer_id}
        return _answer(202, run)

    if serve_round is not None:
        @app.post("/rounds/{roundId:uint256}/inputs")
        def round_inputs(round_id: Annotated[int, Path(alias="roundId")], body: RoundInputsBody) -> Response:
            return _answer(200, lambda: serve_round(round_id, body.inputs))

    if results is not None:
        @app.get("/requests/{requestId:uint256}/results")
        def request_results(request_id: Annotated[int, Path(alias="requestId")],
                            positive: Annotated[int, Query(alias="class")] = DEFAULT_POSITIVE_CLASS,
                            signature: Annotated[Hex | None, Header(alias=SIGNATURE_HEADER)] = None) -> Response:
            return _answer(200, lambda: results(request_id, positive, signature or None))

    if testset is not None:
        @app.post("/audits/simple/{auditId:uint256}/testset", status_code=202)
        def simple_testset(audit_id: Annotated[int, Path(alias="auditId")], body: TestSetBody) -> Response:
            return _answer(202, lambda: testset(audit_id, TestSetDelivery(body.items, body.labels)))

    return app


class DeliveryServer:
    """Serves the agent's endpoints on (host, port); port 0 takes a free one (see `url`).
    `accept` takes audit deliveries; `serve_round(roundId, inputs) -> JSON`,
    `results(requestId, positiveClass, signature) -> JSON` and `testset(auditId, delivery) -> JSON`
    (optional: without them those paths answer 404) raise ServingError / RetrievalError /
    TestSetError. The socket is bound here, so a taken port fails at once with OSError."""

    def __init__(self, host: str, port: int, accept: Callable[[Delivery], None],
                 serve_round: Callable[[int, list[bytes]], str] | None = None,
                 results: Callable[[int, int, bytes | None], str] | None = None,
                 testset: Callable[[int, TestSetDelivery], str] | None = None):
        self.accept, self.serve_round, self.results, self.testset = accept, serve_round, results, testset
        self.socket = socket.create_server((host, port))
        # log_config=None: leave the process's logging alone (the agent logs structured events itself)
        config = uvicorn.Config(create_app(accept, serve_round, results, testset), log_config=None,
                                access_log=False, lifespan="off", timeout_graceful_shutdown=5)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True,
                                       name="zkmarket-http")

    @property
    def url(self) -> str:
        host, port = self.socket.getsockname()[:2]
        return f"http://{host}:{port}"

    def start(self, timeout: float = 10) -> "DeliveryServer":
        """Returns once the server answers requests."""
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the HTTP server at {self.url} did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        if self.thread.is_alive():
            self.thread.join(timeout=10)
        self.socket.close()
