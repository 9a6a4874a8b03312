"""What the two accuracy audits (the simple AccuracyAudit, paper 5.2, and the appendix-B
GriefingResistantAudit) share on MP's side: the local accuracy a decision rests on, proving
examples, `submitProofs` batches of the AuditProof struct both contracts take or
`submitAggregatedProofs` batches (one aggregated proof per batch); and the settlement either
party (anyone) may trigger."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from .. import prover as zp
from ..protocol.merkle import merkle
from ..protocol.testset import example_leaf

# AuditProof as the contracts take it: (index, inputCommitment, label, predictedClass, leafProof, proof).
AuditProofTuple = tuple[int, bytes, int, int, list[bytes], bytes]


def local_correct(model, items: dict[int, bytes], labels: list[int]) -> int:
    """How many of `items` (by test-set index) the model classifies as `labels` says, by the
    circuit's own integer inference (no proof): what MP decides on before it risks 2NE."""
    return sum(zp.evaluate(model, list(x))[1] == labels[i] for i, x in items.items())


@dataclass(frozen=True)
class Aggregation:
    """What MP needs to prove in aggregated batches: its circuit and keys, and the keys of the
    aggregation tree whose verifier it registered with the model (its batch size B); `work_dir`
    keeps the tree's intermediate proofs so a killed run resumes them; with `max_new_nodes`, at
    most that many of them are proved per call (zp.AggregationPending: call again);
    `registered_at`: the block timestamp of that registration (the registry's aggregationTerms),
    when known: only jobs opened later take aggregated proofs (`takes`)."""

    circuit: zp.CompiledCircuit
    keys: zp.Keys
    agg: zp.AggregationKeys
    work_dir: Path | None = None
    max_new_nodes: int | None = None
    progress: Callable[[str], None] | None = None
    registered_at: int | None = None

    def takes(self, opened_at: int) -> bool:
        """Whether a job opened at block timestamp `opened_at` takes aggregated proofs: the
        verifier was registered strictly before (the contracts refuse a batch otherwise,
        InferenceProofs.AggregationNotInJobTerms); True when `registered_at` is not known."""
        return self.registered_at is None or self.registered_at < opened_at

    def aggregate(self, proofs: list[zp.Proof]) -> tuple[list[int], bytes]:
        """The AggregatedProof struct (accumulator limbs, proof bytes) for `proofs`, in order."""
        out = zp.aggregate(self.circuit, self.keys, self.agg, proofs, work_dir=self.work_dir, progress=self.progress,
                           max_new_nodes=self.max_new_nodes)
        return out.accumulator, bytes.fromhex(out.proof.removeprefix("0x"))


def prove_items(circuit: zp.CompiledCircuit, keys: zp.Keys, items: dict[int, bytes],
                on_proof: Callable[[int, zp.Proof], None] | None = None,
                for_aggregation: bool = False) -> dict[int, zp.Proof]:
    """A proof per item, in index order; `on_proof` sees each as soon as it exists."""
    prove_one = zp.prove_for_aggregation if for_aggregation else zp.prove
    proofs = {}
    for i in sorted(items):
        proofs[i] = prove_one(circuit, keys, list(items[i]))
        if on_proof:
            on_proof(i, proofs[i])
    return proofs


def proof_batches(commitments: list[bytes], labels: list[int], proofs: dict[int, zp.Proof], indices: list[int],
                  batch_size: int) -> list[list[AuditProofTuple]]:
    """`submitProofs` arguments for `indices` (in order), `batch_size` proofs per transaction;
    each carries the Merkle proof of its (index, input commitment, label) in the test-set tree
    the commitments and labels rebuild."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    _, leaf_proofs = merkle([example_leaf(i, c, y) for i, (c, y) in enumerate(zip(commitments, labels))])
    entries = [(i, commitments[i], labels[i], proofs[i].predicted_class, leaf_proofs[i],
                bytes.fromhex(proofs[i].proof.removeprefix("0x"))) for i in indices]
    return [entries[start:start + batch_size] for start in range(0, len(entries), batch_size)]


def aggregated_batches(commitments: list[bytes], labels: list[int], proofs: dict[int, zp.Proof], indices: list[int],
                       aggregation: Aggregation) -> Iterator[tuple[list[tuple], tuple[list[int], bytes]]]:
    """`submitAggregatedProofs` arguments for `indices` (in order): B examples (AuditExample:
    index, inputCommitment, label, predictedClass, leafProof) and one aggregated proof of theirs
    per batch, each aggregated only when the previous batch has been taken (minutes each)."""
    entries = proof_batches(commitments, labels, proofs, indices, aggregation.agg.batch)
    for batch in entries:
        examples = [entry[:5] for entry in batch]
        yield examples, aggregation.aggregate([proofs[entry[0]] for entry in batch])


def submit_audit_proofs(market, audits, audit_id: int, commitments: list[bytes], labels: list[int],
                        proofs: dict[int, zp.Proof], pending: list[int], batch_size: int,
                        aggregation: Aggregation | None = None) -> None:
    """Sends the `pending` proofs: `submitProofs` transactions of `batch_size`, or with
    `aggregation` one `submitAggregatedProofs` transaction per B examples."""
    if aggregation is None:
        for batch in proof_batches(commitments, labels, proofs, pending, batch_size):
            market.send(audits, "submitProofs", [audit_id, batch])
        return
    for examples, agg_proof in aggregated_batches(commitments, labels, proofs, pending, aggregation):
        market.send(audits, "submitAggregatedProofs", [audit_id, examples, agg_proof])


def finalize(market, audits, audit_id: int) -> dict:
    """Ends an audit of contract `audits` whose stage is over (anyone may); returns the
    AuditSettled fields, if any (none when it was cancelled)."""
    return market.end_job(audits, "finalize", audit_id, "AuditSettled")


def proven_indices(audits, audit_id: int, from_block: int = 0) -> set[int]:
    """Indices whose proof the audit contract accepted (its ProofAccepted events, one query;
    both audit contracts emit the same event)."""
    logs = audits.events.ProofAccepted.get_logs(argument_filters={"auditId": audit_id}, from_block=from_block)
    return {int(e["args"]["index"]) for e in logs}
