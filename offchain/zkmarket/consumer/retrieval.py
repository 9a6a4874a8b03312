"""A retrieval request (paper 5.4, Retrieval) from the requester's side, end to end and resumable.

``RetrievalRun.open`` checks the dataset, the model and MP's agent before escrowing D*P + 2*C*Z
and opens the request. Each pass of ``run`` reads the request's phase: once MP committed its
signed results, the requester fetches the documents of its class from MP's agent (signing the
access message with its key), checks them against the chain (``RetrievalRequester.check``: MP's
signature, both roots, every document against its commitment, and that no document of the
class was left out), optionally puts them in the content store, challenges the chosen subset,
waits for MP's answers and checks each answered proof locally (:mod:`.answers`); after the
challenge deadline it settles. ``zkmarket retrieval resume ID`` continues after a crash.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from ..participants.retrieval import (
    DEFAULT_POSITIVE_CLASS,
    ResultsDelivery,
    RetrievalError,
    RetrievalRequester,
)
from ..protocol.states import REQUEST_STATES, RETRIEVAL_OUTCOMES
from ..provider_api import get_results
from .client import ConsumerClient, format_amount, token_name
from .driver import Reporter, Wait, check_provider, when
from .errors import ConsumerError
from .jobs import (
    JobRun,
    JobSettlement,
    JobState,
    SpotCheck,
    check_available,
    find_job_state,
    job_path,
    read_settlement,
    settle_job,
)

ZERO = b"\x00" * 32


def retrieval_of(client: ConsumerClient):
    return client.contracts["Retrieval"]


class RetrievalRun(JobRun):
    NOUN = "request"
    RESUME = "zkmarket retrieval resume"
    STATES, OUTCOMES, ID_ARG = REQUEST_STATES, RETRIEVAL_OUTCOMES, "requestId"
    EVENTS, PAYOUTS = ("RequestSettled", "RequestCancelled"), ("requesterPayout", "responderPayout")
    CHECKED = ("challenged", "ResultsChallenged")

    def __init__(self, client: ConsumerClient, state: JobState, reporter: Reporter | None = None, *,
                 fetch: Callable = get_results, **kwargs):
        super().__init__(client, state, reporter, **kwargs)
        self.retrieval = self.contract = retrieval_of(client)
        self.fetch = fetch
        saved = state.data.get("delivery")
        self.delivery = ResultsDelivery.from_json(saved) if saved else None
        self._seen: str | None = None

    # ------------------------------------------------------------------ start / resume
    @classmethod
    def open(cls, client: ConsumerClient, dataset_id: int, model_id: int, provider_url: str, plan: SpotCheck, *,
             max_challenges: int | None = None, beta: int = 2, duration: int = 3_600,
             positive_class: int = DEFAULT_POSITIVE_CLASS, store_dir: str | None = None,
             state_dir: str | Path = ".", reporter: Reporter | None = None, **kwargs) -> "RetrievalRun":
        """Checks what it can, escrows D*P + 2*C*Z and opens the request."""
        reporter = reporter or Reporter()
        retrieval = retrieval_of(client)
        responder, size, _, _ = client.call(retrieval, "dataset", dataset_id)
        if size == 0:
            raise ConsumerError(f"no dataset {dataset_id} on this deployment (Retrieval {retrieval.address} has "
                                f"{client.call(retrieval, 'datasetCount')} datasets; MP commits one with "
                                f"`zkmarket provider commit-dataset`)")
        check_available(client, model_id)
        plan.check(size, "documents")
        budget = plan.size() if max_challenges is None else max_challenges
        if budget < plan.size():
            raise ConsumerError(f"--max-challenges {budget} is below the {plan.size()} challenges planned")
        if budget > size:
            raise ConsumerError(f"the challenge budget C={budget} exceeds the dataset's D={size} documents")
        check_provider(provider_url)
        token = client.call(client.registry, "jobTerms", model_id).token
        _, z, p, _ = client.call(client.registry, "prices", token)
        escrow = size * p + 2 * budget * z
        value = client.pay_token(token, retrieval.address, escrow)
        data = {"dataset_id": dataset_id, "model_id": model_id, "provider_url": provider_url,
                "positive_class": positive_class, "plan": plan.to_dict(), "store_dir": store_dir,
                "delivery": None, "stored": None, "challenged": None}
        state = JobState.pending(state_dir, "retrieval", client, retrieval, data)
        receipt = state.open_with(client, retrieval, "openRequest", [dataset_id, model_id, budget, beta, duration],
                                  value)
        opened = client.event(receipt, retrieval, "RequestOpened")
        state.assign(int(opened["requestId"]))
        reporter.say(f"opened retrieval request {state.job_id}: dataset {dataset_id} (D={size} documents of "
                     f"{responder}), model {model_id}, class {positive_class}, challenge budget C={budget}, "
                     f"beta={beta}; "
                     f"escrow D*P + 2*C*Z = {format_amount(escrow, token)}; MP must join by "
                     f"{when(opened['joinDeadline'], client.chain_time())}")
        reporter.say(f"challenge plan: {plan.describe()}; requester's state -> {state.path}")
        return cls(client, state, reporter, **kwargs)

    @classmethod
    def attach(cls, client: ConsumerClient, request_id: int, state_dir: str | Path = ".", *,
               provider_url: str | None = None, positive_class: int | None = None, consumer_only: bool = True,
               reporter: Reporter | None = None, **kwargs) -> "RetrievalRun":
        """The request with the requester's state file when there is one (else what the chain knows)."""
        retrieval = retrieval_of(client)
        if REQUEST_STATES[client.call(retrieval, "state", request_id)] == "None":
            raise ConsumerError(f"no retrieval request {request_id} on this deployment (Retrieval {retrieval.address} "
                                f"has {client.call(retrieval, 'requestCount')} requests)")
        q = client.call(retrieval, "request", request_id)
        if consumer_only and q.requester != client.address:
            raise ConsumerError(f"request {request_id} was opened by {q.requester}, not by this account "
                                f"{client.address}; use the requester's key (--keystore / $ZKMARKET_PRIVATE_KEY)")
        state = None
        if consumer_only or job_path(state_dir, "retrieval", request_id).is_file():
            state = find_job_state(state_dir, "retrieval", client, retrieval, request_id,
                                   lambda s: (s.data.get("dataset_id"), s.data.get("model_id")) ==
                                   (q.datasetId, q.modelId))
        if state is None:
            state = JobState(job_path(state_dir, "retrieval", request_id), "retrieval", client.deployment.chain_id,
                             retrieval.address, q.requester, request_id,
                             {"dataset_id": q.datasetId, "model_id": q.modelId, "provider_url": provider_url,
                              "positive_class": DEFAULT_POSITIVE_CLASS if positive_class is None else positive_class,
                              "plan": SpotCheck().to_dict(), "store_dir": None, "delivery": None, "stored": None,
                              "challenged": None})
        else:
            if provider_url:
                state.data["provider_url"] = provider_url
            if positive_class is not None and state.data.get("delivery") is None:
                state.data["positive_class"] = positive_class
            state.save()
        return cls(client, state, reporter, **kwargs)

    # ------------------------------------------------------------------ chain reads
    @property
    def documents(self) -> dict[int, bytes]:
        return dict(self.delivery.documents) if self.delivery else {}

    # ------------------------------------------------------------------ the steps
    def step(self, current: str) -> Wait | None:
        q = self.job()
        self._say_phase(current, q)
        if current == "Open":
            return Wait(f"waiting for MP to join request {self.job_id}", q.joinDeadline)
        if current == "JoinExpired":
            self.reporter.say("MP did not join before the join deadline: settling (the escrow is refunded)")
            self.client.send(self.retrieval, "settle", [self.job_id])
            return None
        if current == "Responding":
            return Wait(f"waiting for MP to run the model on the {q.documents} documents and commit its signed "
                        f"results", q.resultsDeadline)
        if current == "Challenging":
            return self._challenging(q)
        if current == "AwaitingAnswers":
            return self._awaiting(q)
        if current == "Settleable":
            self.settle_now(q)
            return None
        raise ConsumerError(f"request {self.job_id} is {current}")

    def _say_phase(self, current: str, q: list) -> None:
        if current == self._seen:
            return
        self._seen = current
        if current == "Responding":
            self.reporter.say(f"MP {q.responder} joined (bond beta*D*Z = "
                              f"{format_amount(q.beta * q.documents * q.proofZ, q.token)}); results due by "
                              f"{when(q.resultsDeadline, self.client.chain_time())}")
        elif current == "Challenging" and self.delivery is None:
            self.reporter.say(f"MP committed its signed results root 0x{bytes(q.resultsRoot).hex()}; challenges "
                              f"open until {when(q.challengeDeadline, self.client.chain_time())}")

    def _awaiting(self, q: list) -> Wait:
        return Wait(f"waiting for MP's proofs: {q.answered}/{q.challenged} challenges answered",
                    self.answer_deadline())

    def moves(self) -> RetrievalRequester:
        """The requester's transactions and checks, the same the tests make (the client duck-types
        a MarketConnection)."""
        return RetrievalRequester(self.client, self.retrieval)

    def _challenging(self, q: list) -> Wait | None:
        if self.delivery is None:
            return self._fetch(q)
        challenged = self.state.data.get("challenged")
        if challenged is None:
            plan = SpotCheck.from_dict(self.state.data.get("plan"))
            challenged = plan.choose(q.documents)[:q.maxChallenges]
            self.state.data["challenged"] = challenged
            self.state.save()  # before the challenge is sent: a resume challenges the same indices
        if challenged and q.challenged == 0:
            self.moves().challenge(self.job_id, challenged)
            self.reporter.say(f"challenged results {challenged}; MP must prove them by "
                              f"{when(self.answer_deadline(), self.client.chain_time())}")
            return None
        if q.answered < q.challenged:
            return self._awaiting(q)
        if q.challenged:
            self.check_answers(q)
        return self.until_deadline(q.challengeDeadline, "challenge deadline")

    def access_signature(self) -> bytes:
        return self.moves().access_signature(self.job_id)

    def _fetch(self, q: list) -> Wait | None:
        url = self.state.data.get("provider_url")
        if not url:
            raise ConsumerError(f"no provider URL for request {self.job_id}: run `zkmarket retrieval resume "
                                f"{self.job_id} --provider-url URL`")
        positive = int(self.state.data.get("positive_class", DEFAULT_POSITIVE_CLASS))
        try:
            delivery = self.fetch(url, self.job_id, positive, self.access_signature())
        except ConnectionError as e:
            return Wait(f"waiting for MP's agent ({e})", q.challengeDeadline)
        except RetrievalError as e:
            if e.status == 409 or e.status >= 500:
                return Wait(f"waiting for MP's agent to deliver the results ({e})", q.challengeDeadline)
            raise ConsumerError(f"MP's agent at {url} refused the results of request {self.job_id}: {e}") from None
        try:
            documents = self.moves().check(self.job_id, delivery)
        except RetrievalError as e:
            raise ConsumerError(f"MP's delivery for request {self.job_id} fails the check: {e}; challenge the "
                                f"results before {when(q.challengeDeadline, self.client.chain_time())} "
                                f"(`zkmarket retrieval resume {self.job_id}` once fixed)") from None
        self.delivery = delivery
        self.state.data["delivery"] = delivery.to_json()
        self.state.save()
        self.reporter.say(f"MP delivered {len(documents)} document(s) of class {positive} {sorted(documents)}, signed "
                          f"by the responder {q.responder}; both roots rebuild, every document matches its "
                          f"commitment and none of the class is missing")
        self._store(documents)
        return None

    def _store(self, documents: dict[int, bytes]) -> None:
        directory = self.state.data.get("store_dir")
        if not directory:
            return
        from ..store import StoreError, open_store

        try:
            store = open_store("local", directory=directory)
            stored = {str(i): store.put(documents[i]) for i in sorted(documents)}
        except (StoreError, OSError) as e:
            raise ConsumerError(f"cannot write the retrieved documents to the content store {directory}: {e}") \
                from None
        self.state.data["stored"] = stored
        self.state.save()
        self.reporter.say(f"stored {len(stored)} document(s) in the content store {directory}")

    # ------------------------------------------------------------------ proofs and settlement
    def answer_context(self, q: list) -> dict:
        d = self.delivery
        return {"model_id": q.modelId, "inputs_root": bytes(q.datasetRoot),
                "results_root": bytes(q.resultsRoot), "commitments": d.commitments if d else None,
                "classes": d.classes if d else None}

    def deadline_of(self, current: str) -> int | None:
        q = self.job()
        return {"Open": q.joinDeadline, "Responding": q.resultsDeadline,
                "Challenging": q.challengeDeadline, "AwaitingAnswers": self.answer_deadline()}.get(current)


def settle_request(client: ConsumerClient, request_id: int, state_dir: str | Path = ".", *, verify: bool = True,
                   warp: bool = False, reporter: Reporter | None = None) -> JobSettlement:
    """Ends a request whose phase allows it (anyone may): checks the answered proofs first."""
    run = RetrievalRun.attach(client, request_id, state_dir, consumer_only=False, reporter=reporter or Reporter(),
                              verify=verify, warp=warp)
    return settle_job(run, warp)


def describe_request(client: ConsumerClient, request_id: int, state_dir: str | Path = ".") -> dict:
    """A request's phase, parties, sizes, deadlines, roots, challenges and settlement, plus the
    retrieved documents' indices when the requester's state file is here."""
    retrieval = retrieval_of(client)
    current = REQUEST_STATES[client.call(retrieval, "state", request_id)]
    if current == "None":
        raise ConsumerError(f"no retrieval request {request_id} on this deployment (Retrieval {retrieval.address} has "
                            f"{client.call(retrieval, 'requestCount')} requests)")
    q = client.call(retrieval, "request", request_id)
    now = client.chain_time()
    joined = current not in ("Open", "JoinExpired", "Cancelled") and int(q.responder, 16) != 0
    committed = bytes(q.resultsRoot) != ZERO
    live = current not in ("Settled", "Cancelled")
    start = client.deployment.start_block
    logs = retrieval.events.ResultsChallenged.get_logs(argument_filters={"requestId": request_id}, from_block=start)
    challenged = sorted(int(i) for e in logs for i in e["args"]["indices"])
    answered = retrieval.events.ChallengeAnswered.get_logs(argument_filters={"requestId": request_id},
                                                           from_block=start)
    finished = None
    if current in ("Settled", "Cancelled"):
        finished = read_settlement(client, retrieval, "request", request_id, q.token, RETRIEVAL_OUTCOMES,
                                   "RequestSettled", "RequestCancelled", "requestId",
                                   ("requesterPayout", "responderPayout"))
    retrieved, stored, positive = None, None, None
    path = job_path(state_dir, "retrieval", request_id)
    if path.is_file():
        state = JobState.load(path)
        if (state.chain_id, state.contract.lower()) == (client.deployment.chain_id, retrieval.address.lower()):
            positive = state.data.get("positive_class")
            if state.data.get("delivery"):
                retrieved = sorted(ResultsDelivery.from_json(state.data["delivery"]).documents)
            stored = state.data.get("stored")

    def deadline(t: int) -> dict:
        return {"at": int(t), "text": when(int(t), now)}

    token = q.token
    d, c = q.documents, q.maxChallenges
    return {
        "request_id": request_id, "state": current, "model_id": q.modelId, "dataset_id": q.datasetId,
        "requester": q.requester, "responder": q.responder if joined else None, "documents": d,
        "max_challenges": c, "beta": q.beta, "duration": q.duration,
        "token": token_name(token), "inference_p": q.inferenceP, "proof_z": q.proofZ,
        "requester_escrow": d * q.inferenceP + 2 * c * q.proofZ, "bond": q.beta * d * q.proofZ,
        "requester_escrow_text": format_amount(d * q.inferenceP + 2 * c * q.proofZ, token),
        "bond_text": format_amount(q.beta * d * q.proofZ, token),
        "join_deadline": deadline(q.joinDeadline) if live and not joined else None,
        "results_deadline": deadline(q.resultsDeadline) if live and joined and not committed else None,
        "challenge_deadline": deadline(q.challengeDeadline) if live and committed else None,
        "answer_deadline": deadline(int(client.call(retrieval, "answerDeadline", request_id)))
        if live and committed and challenged else None,
        "dataset_root": "0x" + bytes(q.datasetRoot).hex(),
        "results_root": "0x" + bytes(q.resultsRoot).hex() if committed else None,
        "challenged": challenged, "answered": sorted(int(e["args"]["index"]) for e in answered),
        "positive_class": positive, "retrieved": retrieved, "stored": stored,
        "settlement": None if finished is None else finished.to_dict(),
    }
