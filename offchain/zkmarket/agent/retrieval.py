"""Retrieval (paper 5.4) in the agent, the responder's side: commit a dataset (the documents
are kept in the agent's SQLite file), join requests naming one of its datasets and models, run
the model on every document and commit the signed results root before the results deadline,
hand the positives to the requester over HTTP, answer challenges with proofs before the answer
deadline, settle and withdraw. The role logic is participants.retrieval.RetrievalResponder."""

from __future__ import annotations

from dataclasses import dataclass

from ..participants.retrieval import (
    DEFAULT_POSITIVE_CLASS,
    Dataset,
    RetrievalError,
    RetrievalResponder,
    SignedResults,
)
from .jobs import EventJobs
from .logs import log
from .state import REQUEST, AgentState


@dataclass
class RequestPolicy:
    """Which requests to join: a bond multiplier beta in [min_beta, max_beta] (the responder
    risks beta*D*Z) and a challenge budget C of at most `max_challenges` proofs."""

    max_challenges: int = 64
    min_beta: int = 2
    max_beta: int = 10

    def accepts(self, max_challenges: int, beta: int) -> bool:
        return max_challenges <= self.max_challenges and self.min_beta <= beta <= self.max_beta


def commit_dataset(responder: RetrievalResponder, state: AgentState, documents: list[bytes],
                   from_block: int = 0) -> tuple[int, Dataset, bool]:
    """Step 1: commits the documents on chain and stores them for the agent; returns (dataset id,
    dataset, whether an earlier commitment of the same documents by this responder was reused).
    Idempotent: a run that died after the transaction finds its DatasetCommitted event."""
    dataset = Dataset.commit(documents)
    dataset_id = responder.find_dataset(dataset, from_block)
    reused = dataset_id is not None
    if dataset_id is None:
        dataset_id = responder.commit_dataset(dataset)
    state.save_dataset(dataset_id, dataset.root, dataset.items)
    return dataset_id, dataset, reused


class RequestJobs(EventJobs):
    KIND, EVENT, ID_ARG, ROLE = REQUEST, "RequestOpened", "requestId", RetrievalResponder

    def __init__(self, *args, policy: RequestPolicy | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.policy = policy or RequestPolicy()
        self._datasets: dict[int, Dataset] = {}
        self._waiting: set[int] = set()

    def describe(self, args) -> dict:
        return {"model": args["modelId"], "dataset": args["datasetId"], "max_challenges": args["maxChallenges"],
                "beta": args["beta"]}

    def dataset(self, dataset_id: int) -> Dataset | None:
        """A dataset whose documents are stored here (committed, cached per process)."""
        if dataset_id not in self._datasets:
            documents = self.state.dataset(dataset_id)
            if documents is None:
                return None
            self._datasets[dataset_id] = Dataset.commit(documents)
        return self._datasets[dataset_id]

    # ------------------------------------------------------------ HTTP: GET /requests/<id>/results

    def delivery(self, request_id: int, positive_class: int = DEFAULT_POSITIVE_CLASS,
                 signature: bytes | None = None) -> str:
        """The positives of `positive_class` with proofs of inclusion (ResultsDelivery JSON),
        for the requester only (`signature`: its access signature)."""
        q = self.contract.functions.request(request_id).call()
        if q.responder != self.market.account.address or q.modelId not in self.models:
            raise RetrievalError(f"request {request_id} is not a request to a model this agent serves", 404)
        self.role(q.modelId).check_access(request_id, signature)
        stored = self.state.results(request_id)
        dataset = self.dataset(q.datasetId)
        if stored is None or dataset is None:
            raise RetrievalError(f"request {request_id}: no results yet; retry once they are committed", 409)
        delivery = self.role(q.modelId).delivery(SignedResults.from_dict(stored), dataset, positive_class)
        log(self.logger, "results delivered", request=request_id, positive_class=positive_class,
            positives=len(delivery.documents))
        return delivery.to_json()

    # ------------------------------------------------------------ one step per tick

    def step(self, request_id: int) -> None:
        q = self.contract.functions.request(request_id).call()
        role = self.role(q.modelId)
        current = role.state(request_id)
        if current == "Open":
            dataset = self.dataset(q.datasetId)
            if dataset is None or dataset.root != q.datasetRoot:
                # Kept open (the documents may still be on their way from `commit-dataset`);
                # the join window ends it.
                if request_id not in self._waiting:
                    self._waiting.add(request_id)
                    log(self.logger, "dataset not stored here", request=request_id, dataset=q.datasetId)
            elif not self.policy.accepts(q.maxChallenges, q.beta):
                log(self.logger, "declined", request=request_id, max_challenges=q.maxChallenges, beta=q.beta)
                self.state.finish_job(request_id, self.KIND)
            else:
                role.join(request_id)
                log(self.logger, "joined", request=request_id, bond=q.beta * q.documents * q.proofZ)
        elif current == "Responding":
            results = self._results(request_id, q, role)
            role.commit_results(request_id, results)
            log(self.logger, "results committed", request=request_id, documents=len(results.classes),
                root="0x" + results.root.hex())
        elif current in ("Challenging", "AwaitingAnswers") and q.challenged:
            self._answer(request_id, q, role)
        elif current == "Settleable":
            settled = role.settle(request_id)
            log(self.logger, "settled", request=request_id, **settled)
        elif current in ("Settled", "Cancelled", "JoinExpired"):
            self.close(request_id, current, q.token)

    def _results(self, request_id: int, q: list, role: RetrievalResponder) -> SignedResults:
        """The stored results, else the model run on every document (stored before committing)."""
        stored = self.state.results(request_id)
        if stored is not None:
            return SignedResults.from_dict(stored)
        dataset = self.dataset(q.datasetId)
        if dataset is None:
            raise RetrievalError(f"request {request_id}: dataset {q.datasetId} is not stored here")
        results = role.results(request_id, dataset)
        self.state.save_results(request_id, results.to_dict())
        return results

    def _answer(self, request_id: int, q: list, role: RetrievalResponder) -> None:
        pending = role.pending(request_id)
        if not pending:
            return
        results = self._results(request_id, q, role)
        if results.root != q.resultsRoot:
            raise RetrievalError(f"request {request_id}: committed results root 0x{q.resultsRoot.hex()} is "
                                 f"not the stored one (0x{results.root.hex()})")
        self.prove_and_answer(request_id, role, pending, q.modelId, self.dataset(q.datasetId), results,
                              "challenges answered")
