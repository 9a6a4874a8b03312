"""MC's own check of every proof an audit accepted, before it pays.

Where the proofs are: the contract stores only that example i was proven (ProofAccepted), so
the proofs are read back from the calldata of the transactions that emitted those events
(``submitProofs(auditId, AuditProof[])``, decoded with the contract's ABI).

How they are checked: MC has no weights, hence no circuit and no verifying key to run
``zkmarket.prover.verify``; what it has is the architecture's verifier contract, registered with
the model and pinned by code hash. So each proof is verified by an ``eth_call`` of that verifier
(what ProofVerifier.verifyPinned does on chain), with public instances MC rebuilds itself:
[its own input commitment of example i, the registered weight commitment, the predicted class].
Before that, the example must be a leaf of MC's own test-set root (the Merkle proof is checked
here, not trusted), its label MC's label, and the verifier's code the registered code. The
examples of an aggregated batch (``submitAggregatedProofs``) are checked the same way each, and
their proof once by the registered aggregation verifier, which must have been registered before
the audit was opened (as the contracts require: aggregated proofs are otherwise not among the
terms MC opened it under). A proof that fails any check is reported by name and the consumer
refuses to finalize.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from eth_utils import keccak, to_checksum_address

from ..chain import call_raw
from ..protocol.merkle import keccak as keccak256
from ..protocol.subset import subset_of
from ..protocol.testset import CommittedTestSet, example_leaf
from .client import ConsumerClient

SCALAR_FIELD = 21888242871839275222246405745257275088548364400416034343698204186575808495617


@dataclass
class ProofCheck:
    index: int
    predicted_class: int
    label: int
    tx_hash: str
    problem: str | None = None  # None: valid

    @property
    def correct(self) -> bool:
        return self.predicted_class == self.label


@dataclass
class ProofReport:
    audit_id: int
    verifier: str
    expected: list[int]  # the indices that need a proof (appendix B: the N2 ones; simple: all N)
    checks: dict[int, ProofCheck] = field(default_factory=dict)

    @property
    def invalid(self) -> list[ProofCheck]:
        return [c for c in self.checks.values() if c.problem]

    @property
    def missing(self) -> list[int]:
        return [i for i in self.expected if i not in self.checks]

    @property
    def correct(self) -> int:
        return sum(c.correct for c in self.checks.values() if not c.problem)

    @property
    def valid(self) -> int:
        return len(self.checks) - len(self.invalid)


def _process_proof(leaf: bytes, proof: list[bytes]) -> bytes:
    """OpenZeppelin MerkleProof.processProof: hash sorted pairs up to the root."""
    node = leaf
    for sibling in proof:
        node = keccak256(b"".join(sorted([node, bytes(sibling)])))
    return node


def _field(proof) -> dict:
    """An AuditProof or AuditExample as web3 decodes it (a dict by name, or a tuple in declaration order)."""
    if isinstance(proof, dict):
        return proof
    keys = ("index", "inputCommitment", "label", "predictedClass", "leafProof", "proof")
    return dict(zip(keys, proof))


@dataclass(frozen=True, eq=False)
class AggregatedBatch:
    """One submitAggregatedProofs call: its examples (in slot order) and its aggregated proof."""

    examples: tuple
    accumulator: tuple
    proof: bytes


def _sent_audit_proofs(fn_name: str, params: dict) -> list:
    """(index, AuditProof fields) of one decoded audit call; an aggregated batch's examples carry
    the batch under "batch" (no "proof" of their own)."""
    if fn_name == "submitProofs":
        return [(int(p["index"]), p) for p in map(_field, params["proofs"])]
    if fn_name == "submitAggregatedProofs":
        examples = tuple(_field(e) for e in params["examples"])
        agg = params["agg"]
        accumulator, proof = (agg["accumulator"], agg["proof"]) if isinstance(agg, dict) else agg
        batch = AggregatedBatch(examples, tuple(int(x) for x in accumulator), bytes(proof))
        return [(int(e["index"]), {**e, "batch": batch}) for e in examples]
    return []


def proofs_in_calldata(client: ConsumerClient, contract, event: str, id_arg: str, job_id: int,
                       sent: Callable[[str, dict], list]) -> dict[int, tuple[dict, object | None]]:
    """For each index ``event`` logged for the job: (the event's args + tx, the proof sent for it,
    read from the calldata of the transaction that emitted it; None when that cannot be read: sent
    through another contract). ``sent(fn_name, params)`` gives the (index, proof) pairs of one
    decoded call of ``contract`` (none for another function)."""
    logs = getattr(contract.events, event).get_logs(argument_filters={id_arg: job_id},
                                                     from_block=client.deployment.start_block)
    by_tx: dict[str, list[dict]] = {}
    for entry in logs:
        by_tx.setdefault("0x" + bytes(entry["transactionHash"]).hex(), []).append(dict(entry["args"]))
    found: dict[int, tuple[dict, object | None]] = {}
    for tx_hash, events in by_tx.items():
        tx = client.w3.eth.get_transaction(tx_hash)
        calldata: dict = {}
        if tx.get("to") and to_checksum_address(tx["to"]) == contract.address:
            try:
                fn, params = contract.decode_function_input(tx["input"])
            except ValueError:
                fn, params = None, {}
            if fn is not None and int(params.get(id_arg, -1)) == job_id:
                calldata = dict(sent(fn.fn_name, params))
        for ev in events:
            found[int(ev["index"])] = ({**ev, "tx": tx_hash}, calldata.get(int(ev["index"])))
    return found


def submitted_proofs(client: ConsumerClient, audit_id: int, audits=None) -> dict[int, tuple[dict, dict | None]]:
    """For each accepted index: (ProofAccepted args + tx, the AuditProof from the calldata, or
    None when the calldata cannot be read: submitted through another contract). `audits`: the
    audit contract (default the appendix-B GriefingResistantAudit; both take the same AuditProof)."""

    audits = client.audits if audits is None else audits
    return proofs_in_calldata(client, audits, "ProofAccepted", "auditId", audit_id, _sent_audit_proofs)


def verify_audit_proofs(client: ConsumerClient, audit_id: int, test_set: CommittedTestSet | None = None) -> ProofReport:
    """Checks every accepted proof of an appendix-B audit (see the module docstring); never
    raises for an invalid proof: the report lists each problem."""
    a = client.call(client.audits, "audit", audit_id)
    n, n1 = a.n, a.n1
    subset = set(subset_of(a.seed, n, n1)) if any(a.seed) else set()
    return _check(client, audit_id, a.modelId, a.openedAt, bytes(a.testSetRoot), n, subset,
                  submitted_proofs(client, audit_id), test_set)


def verify_simple_audit_proofs(client: ConsumerClient, audit_id: int,
                               test_set: CommittedTestSet | None = None) -> ProofReport:
    """The same checks for a simple audit (AccuracyAudit), where all N examples are proven."""
    audits = client.contracts["AccuracyAudit"]
    a = client.call(audits, "audit", audit_id)
    return _check(client, audit_id, a.modelId, a.openedAt, bytes(a.testSetRoot), a.n, set(),
                  submitted_proofs(client, audit_id, audits), test_set)


def verifier_problem(client: ConsumerClient, verifier: str, codehash: bytes) -> str | None:
    """Why the model's verifier cannot be trusted now (no code, or not the registered code)."""
    code = bytes(client.w3.eth.get_code(verifier))
    if not code:
        return f"no code at the model's verifier {verifier}"
    if keccak(code) != bytes(codehash):
        return f"the verifier's code at {verifier} is not the code registered with the model"
    return None


def verifier_accepts(client: ConsumerClient, verifier: str, instances: list[bytes], proof: bytes) -> bool:
    """The halo2 verifier's answer to (instances || proof), by eth_call (what ProofVerifier does
    on chain): success with no return data or with the word 1."""
    result = call_raw(client.w3, verifier, b"".join(instances) + bytes(proof), estimate=False)
    return result.success and (not result.returndata or
                               (len(result.returndata) == 32 and int.from_bytes(result.returndata, "big") == 1))


def class_instances(commitment: bytes, weight_commitment: bytes, predicted_class: int) -> list[bytes]:
    """A single proof's instances as 32-byte words: [input commitment, weight commitment, class]."""
    return [bytes(commitment), bytes(weight_commitment), predicted_class.to_bytes(32, "big")]


def aggregation_terms_problem(batch_size: int, registered_at: int, opened_at: int) -> str | None:
    """Why a job opened at `opened_at` takes no aggregated proof, as the contracts decide it
    (InferenceProofs.batchTerms): the model has no aggregation verifier, or it was registered at
    or after the job's opening (the same block counts as after), so aggregated proofs are not
    among the terms the consumer opened the job under."""
    if not batch_size:
        return "the model has no aggregation verifier"
    if registered_at >= opened_at:
        return (f"the model's aggregation verifier was registered (block time {registered_at}) at or after the job "
                f"was opened (block time {opened_at}): aggregated proofs are not among the job's terms")
    return None


class AggregatedChecker:
    """Checks aggregated batches against the model's registered aggregation verifier, once per
    batch (a batch's examples share its answer)."""

    def __init__(self, client: ConsumerClient, model_id: int, weight_commitment: bytes, opened_at: int):
        """`client`: anything with `w3` and `registry` (a ConsumerClient, a MarketConnection);
        `opened_at`: the block timestamp the job was opened at (an audit's `openedAt`, a round's
        or request's `job_opened_at`): every batch is refused unless the aggregation verifier
        was registered before it."""
        self.client, self.weight_commitment, self.opened_at = client, bytes(weight_commitment), int(opened_at)
        verifier, codehash, self.batch_size, self.registered_at = (
            client.registry.functions.aggregationTerms(model_id).call())
        self.verifier = to_checksum_address(verifier)
        self.problem = (aggregation_terms_problem(self.batch_size, self.registered_at, self.opened_at)
                        or verifier_problem(client, self.verifier, codehash))
        self._answers: dict[int, tuple[AggregatedBatch, str | None]] = {}  # by id: one object per call

    def __call__(self, batch: AggregatedBatch) -> str | None:
        """Why the batch's aggregated proof is not valid, or None."""
        if id(batch) not in self._answers:
            self._answers[id(batch)] = (batch, self.problem or self._verify(batch))
        return self._answers[id(batch)][1]

    def _verify(self, batch: AggregatedBatch) -> str | None:
        if not 1 <= len(batch.examples) <= self.batch_size:
            return f"its batch holds {len(batch.examples)} examples, the aggregation verifier takes 1 to {self.batch_size}"
        if any(int(x) >= SCALAR_FIELD for x in batch.accumulator) or any(
                int(e["predictedClass"]) >= SCALAR_FIELD for e in batch.examples):
            return "an instance of its batch is not a field element"
        slots = list(batch.examples) + [batch.examples[-1]] * (self.batch_size - len(batch.examples))
        instances = [x.to_bytes(32, "big") for x in batch.accumulator]
        for e in slots:
            instances += class_instances(e["inputCommitment"], self.weight_commitment, int(e["predictedClass"]))
        if not verifier_accepts(self.client, self.verifier, instances, batch.proof):
            return f"the aggregation verifier {self.verifier} rejects its batch's proof (eth_call)"
        return None


def _check(client: ConsumerClient, audit_id: int, model_id: int, opened_at: int, root: bytes, n: int,
           subset: set[int], found: dict[int, tuple[dict, dict | None]],
           test_set: CommittedTestSet | None) -> ProofReport:
    """`found` (submitted_proofs) checked against the model's registered verifiers and MC's root;
    the examples outside `subset` (the appendix-B N1 examples, never proven) need a proof; an
    aggregated batch counts only if the aggregation verifier predates the audit (`opened_at`)."""
    _, _, verifier, codehash, weight_commitment = client.call(client.registry, "jobTerms", model_id)
    verifier = to_checksum_address(verifier)
    report = ProofReport(audit_id, verifier, [i for i in range(n) if i not in subset])
    code_problem = verifier_problem(client, verifier, codehash)
    aggregated = AggregatedChecker(client, model_id, weight_commitment, opened_at)
    for index, (ev, p) in sorted(found.items()):
        if p is None:
            label = test_set.labels[index] if test_set is not None and index < test_set.n else -1
            report.checks[index] = ProofCheck(index, int(ev["predictedClass"]), label, ev["tx"],
                                              "submitted through another contract: its proof cannot be read "
                                              "from the transaction's calldata")
            continue
        label = int(p["label"])
        check = ProofCheck(index, int(ev["predictedClass"]), label, ev["tx"])
        report.checks[index] = check
        commitment = bytes(p["inputCommitment"])
        if code_problem and "batch" not in p:
            check.problem = code_problem
        elif index in subset:
            check.problem = "the example is in the N1 subset (only N2 examples are proven)"
        elif _process_proof(example_leaf(index, commitment, label), list(p["leafProof"])) != root:
            check.problem = "its (index, input commitment, label) is not a leaf of the committed test-set root"
        elif test_set is not None and (commitment != test_set.commitments[index] or label != test_set.labels[index]):
            check.problem = "its input commitment or label differs from the consumer's test set file"
        elif int(p["predictedClass"]) != check.predicted_class:
            check.problem = "the class in the calldata differs from the ProofAccepted event"
        elif check.predicted_class >= SCALAR_FIELD:
            check.problem = "the predicted class is not a field element"
        elif "batch" in p:
            check.problem = aggregated(p["batch"])
        elif not verifier_accepts(client, verifier, class_instances(commitment, weight_commitment, check.predicted_class),
                                  bytes(p["proof"])):
            check.problem = f"the verifier {verifier} rejects it (eth_call)"
    return report
