"""Trustless retrieval (paper 5.4, Retrieval) for each party.

Responder (MP): commits its dataset (the Merkle root over the documents' Poseidon commitments)
before any request; joins a request naming the dataset and one of its models (bond beta*D*Z);
runs the model on every document, signs (EIP-712) the root over the per-document classes and
posts it; delivers the documents of the positive class off chain with proofs of inclusion
(`ResultsDelivery`); answers each challenged result with a proof; settles.
Requester: opens a request (D*P + 2*C*Z); checks a delivery against the chain (signature,
both roots, every delivered document against its commitment, and that every document whose
committed class is the positive one was delivered); challenges results; settles.

The leaves are ServingRound's: documentLeaf == inputLeaf, resultLeaf == predictionLeaf.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from eth_account import Account
from eth_account.messages import encode_defunct, encode_typed_data

from .. import prover as zp
from ..protocol.merkle import merkle
from ..protocol.states import REQUEST_STATES
from ..prover.stages import flatten_input
from .connect import MarketConnection
from .errors import ParticipantError
from .serving_round import (
    RoundInputs,
    _hex,
    _unhex,
    commitment_of,
    input_leaf,
    prediction_leaf,
    send_answers,
    unanswered,
    verify_proof,
)

DEFAULT_POSITIVE_CLASS = 1  # a binary predicate's "matches"; a requester may name another class


class RetrievalError(ParticipantError):
    """A retrieval step refused, with the reason; `status` is the HTTP status an agent answers
    with (400: the request is wrong, 404: unknown here, 409: not now)."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


class Dataset(RoundInputs):
    """The responder's D documents (raw bytes), their Poseidon commitments and the dataset tree."""

    @property
    def documents(self) -> list[bytes]:
        return self.items


def load_documents(path: str | Path) -> list[bytes]:
    """Documents from a file: a .npy array (one document per row of the first axis, values
    0..255) or JSON, a list whose entries are hex strings or (nested) lists of bytes."""
    path = Path(path)
    try:
        if path.suffix == ".npy":
            import numpy as np

            array = np.load(path, allow_pickle=False)
            raw = [row.reshape(-1).tolist() for row in array]
        else:
            raw = json.loads(path.read_text())
        if not isinstance(raw, list) or not raw:
            raise ValueError("expected a non-empty list of documents")
        documents = [_unhex(d) if isinstance(d, str) else bytes(flatten_input(d)) for d in raw]
    except (OSError, ValueError, TypeError, zp.ProverError) as e:
        raise RetrievalError(f"{path}: cannot read documents: {e}") from e
    return documents


def results_typed_data(chain_id: int, contract: str, request_id: int, dataset_root: bytes,
                       results_root: bytes) -> dict:
    """The EIP-712 message the responder signs (Retrieval.resultsDigest), as eth-account takes it."""
    return {"domain_data": {"name": "zkmarket Retrieval", "version": "1", "chainId": chain_id,
                            "verifyingContract": contract},
            "message_types": {"Results": [{"name": "requestId", "type": "uint256"},
                                          {"name": "datasetRoot", "type": "bytes32"},
                                          {"name": "resultsRoot", "type": "bytes32"}]},
            "message_data": {"requestId": request_id, "datasetRoot": dataset_root, "resultsRoot": results_root}}


def _signer(typed: dict, signature: bytes) -> str:
    return Account.recover_message(encode_typed_data(**typed), signature=signature)


def access_message(chain_id: int, contract: str, request_id: int):
    """What the requester signs (EIP-191) to fetch a request's results: the positives go only to
    the account that opened the request."""
    return encode_defunct(text=f"zkmarket retrieval results: chain {chain_id}, contract {contract}, "
                               f"request {request_id}")


@dataclass(frozen=True)
class SignedResults:
    """The responder's class for every document of a request, the results tree and its signature."""

    request_id: int
    dataset_root: bytes
    classes: list[int]
    root: bytes
    proofs: list[list[bytes]]
    signature: bytes

    @classmethod
    def build(cls, request_id: int, dataset: Dataset, classes: list[int],
              sign: Callable[[bytes], bytes]) -> "SignedResults":
        root, proofs = merkle([prediction_leaf(i, c, y) for i, (c, y) in enumerate(zip(dataset.commitments, classes))])
        return cls(request_id, dataset.root, list(classes), root, proofs, sign(root))

    def to_dict(self) -> dict:
        return {"requestId": self.request_id, "datasetRoot": _hex(self.dataset_root), "classes": self.classes,
                "resultsRoot": _hex(self.root), "proofs": [[_hex(p) for p in proof] for proof in self.proofs],
                "signature": _hex(self.signature)}

    @classmethod
    def from_dict(cls, d: dict) -> "SignedResults":
        return cls(int(d["requestId"]), _unhex(d["datasetRoot"]), [int(y) for y in d["classes"]],
                   _unhex(d["resultsRoot"]), [[_unhex(p) for p in proof] for proof in d["proofs"]],
                   _unhex(d["signature"]))


@dataclass(frozen=True)
class ResultsDelivery:
    """What the responder hands the requester off chain (paper 5.4 step 3): the documents of the
    positive class with proofs of inclusion in the dataset and results trees, plus every
    document's commitment and class so the requester can rebuild both roots and see that no
    positive document was left out."""

    request_id: int
    positive_class: int
    dataset_root: bytes
    results_root: bytes
    signature: bytes
    commitments: list[bytes]
    classes: list[int]
    documents: dict[int, bytes]
    document_proofs: dict[int, list[bytes]]
    result_proofs: dict[int, list[bytes]]

    def to_json(self) -> str:
        return json.dumps({
            "requestId": self.request_id, "positiveClass": self.positive_class,
            "datasetRoot": _hex(self.dataset_root), "resultsRoot": _hex(self.results_root),
            "signature": _hex(self.signature), "commitments": [_hex(c) for c in self.commitments],
            "classes": self.classes,
            "positives": [{"index": i, "document": self.documents[i].hex(),
                           "documentProof": [_hex(p) for p in self.document_proofs[i]],
                           "resultProof": [_hex(p) for p in self.result_proofs[i]]} for i in sorted(self.documents)]})

    @classmethod
    def from_json(cls, text: str | bytes) -> "ResultsDelivery":
        try:
            d = json.loads(text)
            positives = {int(p["index"]): p for p in d["positives"]}
            return cls(int(d["requestId"]), int(d["positiveClass"]), _unhex(d["datasetRoot"]),
                       _unhex(d["resultsRoot"]), _unhex(d["signature"]), [_unhex(c) for c in d["commitments"]],
                       [int(y) for y in d["classes"]], {i: _unhex(p["document"]) for i, p in positives.items()},
                       {i: [_unhex(x) for x in p["documentProof"]] for i, p in positives.items()},
                       {i: [_unhex(x) for x in p["resultProof"]] for i, p in positives.items()})
        except (ValueError, KeyError, TypeError) as e:
            raise RetrievalError(f"malformed results delivery: {e}") from e


def settle(market: MarketConnection, retrieval, request_id: int) -> dict:
    """Ends a settleable request (anyone may); returns the RequestSettled fields, if any."""
    return market.end_job(retrieval, "settle", request_id, "RequestSettled")


class RetrievalResponder:
    def __init__(self, market: MarketConnection, retrieval, model, circuit: zp.CompiledCircuit, keys: zp.Keys):
        self.m, self.retrieval, self.model, self.circuit, self.keys = market, retrieval, model, circuit, keys

    def request(self, request_id: int) -> list:
        return self.retrieval.functions.request(request_id).call()

    def state(self, request_id: int) -> str:
        return REQUEST_STATES[self.retrieval.functions.state(request_id).call()]

    # ------------------------------------------------------------ step 1: the dataset

    def find_dataset(self, dataset: Dataset, from_block: int = 0) -> int | None:
        """The id under which this responder already committed exactly this dataset, if any."""
        logs = self.retrieval.events.DatasetCommitted.get_logs(
            from_block=from_block, argument_filters={"responder": self.m.account.address})
        for entry in logs:
            if entry["args"]["root"] == dataset.root and entry["args"]["size"] == len(dataset.items):
                return entry["args"]["datasetId"]
        return None

    def commit_dataset(self, dataset: Dataset) -> int:
        receipt = self.m.send(self.retrieval, "commitDataset", [dataset.root, len(dataset.items)])
        return self.m.event(receipt, self.retrieval, "DatasetCommitted")["datasetId"]

    # ------------------------------------------------------------ steps 3-4: join, results

    def join(self, request_id: int) -> None:
        q = self.request(request_id)
        self.m.send(self.retrieval, "join", [request_id], value=q.beta * q.documents * q.proofZ)

    def check_dataset(self, request_id: int, dataset: Dataset) -> None:
        q = self.request(request_id)
        if q.datasetRoot != dataset.root or q.documents != len(dataset.items):
            raise RetrievalError(f"request {request_id} names dataset root {_hex(q.datasetRoot)} of "
                                 f"{q.documents} documents, not the local {_hex(dataset.root)}")

    def sign(self, request_id: int, dataset_root: bytes, results_root: bytes) -> bytes:
        signed = Account.sign_typed_data(self.m.account.private_key, **results_typed_data(
            self.m.session.w3.eth.chain_id, self.retrieval.address, request_id, dataset_root, results_root))
        return bytes(signed.signature)

    def results(self, request_id: int, dataset: Dataset, classes: list[int] | None = None) -> SignedResults:
        """Runs the model on every document (unless `classes` are given) and signs the results root."""
        self.check_dataset(request_id, dataset)
        if classes is None:
            classes = [zp.evaluate(self.model, list(d))[1] for d in dataset.items]
        return SignedResults.build(request_id, dataset, classes, lambda root: self.sign(request_id, dataset.root, root))

    def commit_results(self, request_id: int, results: SignedResults) -> None:
        self.m.send(self.retrieval, "commitResults", [request_id, results.root, results.signature])

    def check_access(self, request_id: int, signature: bytes | None) -> None:
        """Raises RetrievalError (403) unless `signature` is the requester's access signature."""
        q = self.request(request_id)
        message = access_message(self.m.session.w3.eth.chain_id, self.retrieval.address, request_id)
        try:
            signer = Account.recover_message(message, signature=signature) if signature else None
        except Exception:  # malformed signature bytes
            signer = None
        if signer != q.requester:
            raise RetrievalError(f"request {request_id}: the results go only to its requester {q.requester} "
                                 f"(sign the access message with its key)", 403)

    def delivery(self, results: SignedResults, dataset: Dataset,
                 positive_class: int = DEFAULT_POSITIVE_CLASS) -> ResultsDelivery:
        """The positives of `positive_class`, each with its two proofs of inclusion."""
        positives = [i for i, y in enumerate(results.classes) if y == positive_class]
        return ResultsDelivery(results.request_id, positive_class, dataset.root, results.root, results.signature,
                               list(dataset.commitments), list(results.classes),
                               {i: dataset.items[i] for i in positives}, {i: dataset.proofs[i] for i in positives},
                               {i: results.proofs[i] for i in positives})

    # ------------------------------------------------------------ step 6: challenges

    def pending(self, request_id: int) -> list[int]:
        """Challenged indices not answered yet (one call when there are none)."""
        q = self.request(request_id)
        if q.answered >= q.challenged:
            return []
        return unanswered(self.retrieval, request_id, q.documents, "isChallenged")

    def submit_answers(self, request_id: int, dataset: Dataset, results: SignedResults,
                       proofs: dict[int, zp.Proof]) -> int:
        return send_answers(self.m, self.retrieval, request_id, self.pending(request_id), dataset, results, proofs)

    def answer(self, request_id: int, dataset: Dataset, results: SignedResults) -> int:
        """Proves every challenged result and answers them in one transaction."""
        proofs = {i: zp.prove(self.circuit, self.keys, list(dataset.items[i])) for i in self.pending(request_id)}
        return self.submit_answers(request_id, dataset, results, proofs)

    def settle(self, request_id: int) -> dict:
        return settle(self.m, self.retrieval, request_id)


class RetrievalRequester:
    def __init__(self, market: MarketConnection, retrieval):
        self.m, self.retrieval = market, retrieval

    def request(self, request_id: int) -> list:
        return self.retrieval.functions.request(request_id).call()

    def state(self, request_id: int) -> str:
        return REQUEST_STATES[self.retrieval.functions.state(request_id).call()]

    def open(self, dataset_id: int, model_id: int, max_challenges: int, beta: int, duration: int) -> int:
        size = self.retrieval.functions.dataset(dataset_id).call().size
        token = self.m.registry.functions.jobTerms(model_id).call().token
        prices = self.m.registry.functions.prices(token).call()
        escrow = size * prices.inferenceP + 2 * max_challenges * prices.proofZ
        receipt = self.m.send(self.retrieval, "openRequest", [dataset_id, model_id, max_challenges, beta, duration],
                              value=escrow)
        return self.m.event(receipt, self.retrieval, "RequestOpened")["requestId"]

    def access_signature(self, request_id: int) -> bytes:
        """The requester's EIP-191 signature that lets it fetch the results from the responder."""
        message = access_message(self.m.session.w3.eth.chain_id, self.retrieval.address, request_id)
        return bytes(Account.sign_message(message, self.m.account.private_key).signature)

    def check(self, request_id: int, delivery: ResultsDelivery) -> dict[int, bytes]:
        """Checks a delivery against the chain; returns the positive documents by index. Raises
        RetrievalError when the responder did not sign it, a root does not rebuild, a document
        is not its committed one, or a document of the positive class is missing."""
        q = self.request(request_id)
        if delivery.request_id != request_id or delivery.dataset_root != q.datasetRoot:
            raise RetrievalError(f"delivery is for request {delivery.request_id} over dataset root "
                                 f"{_hex(delivery.dataset_root)}, not request {request_id} over {_hex(q.datasetRoot)}")
        if q.resultsRoot != b"\x00" * 32 and q.resultsRoot != delivery.results_root:
            raise RetrievalError(f"delivery's results root {_hex(delivery.results_root)} is not the committed "
                                 f"{_hex(q.resultsRoot)}")
        typed = results_typed_data(self.m.session.w3.eth.chain_id, self.retrieval.address, request_id,
                                   delivery.dataset_root, delivery.results_root)
        if _signer(typed, delivery.signature) != q.responder:
            raise RetrievalError(f"results not signed by the responder {q.responder}")
        n = q.documents
        if len(delivery.commitments) != n or len(delivery.classes) != n:
            raise RetrievalError(f"{len(delivery.commitments)} commitments and {len(delivery.classes)} classes "
                                 f"for {n} documents")
        doc_leaves = [input_leaf(i, c) for i, c in enumerate(delivery.commitments)]
        if merkle(doc_leaves)[0] != delivery.dataset_root:
            raise RetrievalError("the commitments do not rebuild the dataset root")
        result_leaves = [prediction_leaf(i, c, y) for i, (c, y) in enumerate(zip(delivery.commitments,
                                                                                    delivery.classes))]
        if merkle(result_leaves)[0] != delivery.results_root:
            raise RetrievalError("the classes do not rebuild the signed results root")
        expected = {i for i, y in enumerate(delivery.classes) if y == delivery.positive_class}
        if set(delivery.documents) != expected:
            raise RetrievalError(f"positives committed {sorted(expected)}, delivered {sorted(delivery.documents)}")
        for i, document in delivery.documents.items():
            if commitment_of(document) != delivery.commitments[i]:
                raise RetrievalError(f"document {i} is not the committed one")
            if not (verify_proof(doc_leaves[i], delivery.document_proofs[i], delivery.dataset_root)
                    and verify_proof(result_leaves[i], delivery.result_proofs[i], delivery.results_root)):
                raise RetrievalError(f"document {i}: a proof of inclusion does not lead to its root")
        return dict(delivery.documents)

    def challenge(self, request_id: int, indices: list[int]) -> None:
        self.m.send(self.retrieval, "challenge", [request_id, sorted(indices)])

    def settle(self, request_id: int) -> dict:
        return settle(self.m, self.retrieval, request_id)
