"""The consumer's own check of every proof a serving round or a retrieval request accepted,
before it settles (and so pays MP for the contests).

Where the proofs are: the contracts keep only that index i was answered (ContestAnswered /
ChallengeAnswered), so each proof is read back from the calldata of the transaction that
emitted the event (``answer(id, a)`` or ``answerBatch(id, a[])``, decoded with the contract's
ABI). ServingRound's ``Answer`` and Retrieval's ``ResultProof`` have the same layout: (index,
inputCommitment, predictedClass, leaf proof, result proof, halo2 proof).

How they are checked, as :mod:`.proofs` does for audits: the model's verifier must still hold
the code pinned at registration; the input commitment must be the consumer's own (when it knows
it) and a leaf of the job's committed inputs / dataset root; the class must be the one MP signed
(a leaf of the committed predictions / results root, and the class MP served when known); then
the proof is verified by an ``eth_call`` of the registered verifier with the public instances
[input commitment, registered weight commitment, class] rebuilt here. Answers sent together as
one aggregated proof (``answerAggregated(id, examples[], agg)``) are checked the same way each,
and their proof once by the registered aggregation verifier, registered before the job was
opened (see :mod:`.proofs`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from eth_utils import to_checksum_address

from ..participants.serving_round import input_leaf, prediction_leaf, verify_proof
from .client import ConsumerClient
from .proofs import (
    SCALAR_FIELD,
    AggregatedBatch,
    AggregatedChecker,
    class_instances,
    proofs_in_calldata,
    verifier_accepts,
    verifier_problem,
)


@dataclass
class AnswerCheck:
    index: int
    predicted_class: int
    tx_hash: str
    problem: str | None = None  # None: valid


@dataclass
class AnswerReport:
    """Every answered index of one job, checked; ``contested`` are the indices that need one."""

    job: str  # "round 3" / "request 2"
    verifier: str
    contested: list[int]
    checks: dict[int, AnswerCheck] = field(default_factory=dict)

    @property
    def invalid(self) -> list[AnswerCheck]:
        return [c for c in self.checks.values() if c.problem]

    @property
    def valid(self) -> int:
        return len(self.checks) - len(self.invalid)

    @property
    def missing(self) -> list[int]:
        return [i for i in self.contested if i not in self.checks]

    def summary(self) -> str:
        text = (f"checked {len(self.checks)} answered proof(s) of {self.job} locally (eth_call of the registered "
                f"verifier {self.verifier}, instances rebuilt here): {self.valid} valid")
        if self.invalid:
            text += f", {len(self.invalid)} INVALID"
        if self.missing:
            text += f", {len(self.missing)} contested index(es) unanswered {self.missing}"
        return text

    def refusal(self, what: str) -> str:
        return f"refusing to {what}: " + "; ".join(
            f"proof of index {c.index} (tx {c.tx_hash}): {c.problem}" for c in self.invalid)


@dataclass(frozen=True)
class SentAnswer:
    """An Answer (serving round) or ResultProof (retrieval) read from calldata by field name:
    the two structs differ only in what their two Merkle proofs are called."""

    index: int
    commitment: bytes
    predicted_class: int
    leaf_proof: list[bytes]
    result_proof: list[bytes]
    proof: bytes  # empty for an answer of an aggregated batch
    batch: AggregatedBatch | None = None

    @classmethod
    def decode(cls, value: dict, batch: AggregatedBatch | None = None) -> "SentAnswer":
        leaf = value["inputProof"] if "inputProof" in value else value["documentProof"]
        result = value["predictionProof"] if "predictionProof" in value else value["resultProof"]
        return cls(int(value["index"]), bytes(value["inputCommitment"]), int(value["predictedClass"]),
                   [bytes(p) for p in leaf], [bytes(p) for p in result], bytes(value.get("proof", b"")), batch)


def sent_answers(fn_name: str, params: dict) -> list[tuple[int, SentAnswer]]:
    """(index, answer) of one decoded round or request call (none for another function)."""
    if fn_name in ("answer", "answerBatch"):
        answers = [params["a"]] if fn_name == "answer" else params["answers"]
        return [(a.index, a) for a in map(SentAnswer.decode, answers)]
    if fn_name == "answerAggregated":
        agg = params["agg"]
        accumulator, proof = (agg["accumulator"], agg["proof"]) if isinstance(agg, dict) else agg
        batch = AggregatedBatch(tuple(params["answers"]), tuple(int(x) for x in accumulator), bytes(proof))
        return [(a.index, a) for a in (SentAnswer.decode(e, batch) for e in params["answers"])]
    return []


def job_opened_at(client: ConsumerClient, contract, kind: str, job_id: int) -> int:
    """The block timestamp a round (``kind`` "round") or request ("request") was opened at: its
    join deadline less the contract's join window (both contracts set the deadline once, at
    opening, and the window is immutable; they store no separate opening time)."""
    job = client.call(contract, kind, job_id)
    return int(job.joinDeadline) - int(client.call(contract, "joinWindow"))


def answered_calldata(client: ConsumerClient, contract, event: str, id_arg: str,
                      job_id: int) -> dict[int, tuple[dict, SentAnswer | None]]:
    """For each answered index: (the event's args + tx, the answer's fields from the calldata,
    or None when the calldata cannot be read: sent through another contract)."""

    return proofs_in_calldata(client, contract, event, id_arg, job_id, sent_answers)


def verify_answers(client: ConsumerClient, contract, *, kind: str, job_id: int, model_id: int, contested: list[int],
                   inputs_root: bytes, results_root: bytes, commitments: list[bytes] | None = None,
                   classes: list[int] | None = None) -> AnswerReport:
    """Checks every answered proof of a job (see the module docstring); never raises for an
    invalid proof: the report names each problem. ``kind`` is "round" or "request";
    ``commitments`` / ``classes`` are what the consumer knows itself (its inputs, MP's served
    classes), compared when given."""
    event, id_arg = ("ContestAnswered", "roundId") if kind == "round" else ("ChallengeAnswered", "requestId")
    _, _, verifier, codehash, weight_commitment = client.call(client.registry, "jobTerms", model_id)
    verifier = to_checksum_address(verifier)
    report = AnswerReport(f"{kind} {job_id}", verifier, sorted(contested))
    code_problem = verifier_problem(client, verifier, codehash)
    aggregated = AggregatedChecker(client, model_id, weight_commitment, job_opened_at(client, contract, kind, job_id))
    for index, (ev, a) in sorted(answered_calldata(client, contract, event, id_arg, job_id).items()):
        check = AnswerCheck(index, int(ev["predictedClass"]), ev["tx"])
        report.checks[index] = check
        if a is None:
            check.problem = "answered through another contract: its proof cannot be read from the calldata"
            continue
        commitment, predicted = a.commitment, a.predicted_class
        if code_problem and a.batch is None:
            check.problem = code_problem
        elif index not in report.contested:
            check.problem = "the index was not contested"
        elif commitments is not None and (index >= len(commitments) or commitment != commitments[index]):
            check.problem = "its input commitment is not the consumer's own input at this index"
        elif not verify_proof(input_leaf(index, commitment), a.leaf_proof, inputs_root):
            check.problem = "its (index, input commitment) is not a leaf of the committed inputs root"
        elif predicted != check.predicted_class:
            check.problem = "the class in the calldata differs from the event's"
        elif classes is not None and (index >= len(classes) or predicted != classes[index]):
            check.problem = f"it proves class {predicted}, but MP served class " \
                            f"{classes[index] if index < len(classes) else '?'}"
        elif not verify_proof(prediction_leaf(index, commitment, predicted), a.result_proof,
                              results_root):
            check.problem = "its (index, commitment, class) is not a leaf of MP's signed root"
        elif predicted >= SCALAR_FIELD:
            check.problem = "the class is not a field element"
        elif a.batch is not None:
            check.problem = aggregated(a.batch)
        elif not verifier_accepts(client, verifier, class_instances(commitment, weight_commitment, predicted), a.proof):
            check.problem = f"the verifier {verifier} rejects it (eth_call)"
    return report
