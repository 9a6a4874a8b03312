"""The simple accuracy audit (paper 5.2, AccuracyAudit) step by step, for each party.

Consumer (MC): open with a committed test set, escrowing 2NE + eps; once MP joined, hand it the
N examples and labels off chain (:class:`TestSetDelivery`); finalize when all N proofs are in
or a deadline passed (MC checks the accepted proofs first, see zkmarket.consumer.proofs).
Provider (MP): join, escrowing 2NE + eps; check that the delivered examples and labels rebuild
the committed test-set root (a wrong delivery is refused with the reason); decide by local
inference on all N examples (proceed, or abort at a cost to MC of N*P; silence at the decision
deadline is an MP failure); prove every example and submit the proofs in batches; finalize.

Nothing is encrypted here (unlike appendix B): MP sees the whole test set before it decides, which
is the simple protocol's weakness the appendix-B audit removes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from .. import prover as zp
from ..protocol.rules import Prices, audit_escrow, should_proceed
from ..protocol.states import AUDIT_OUTCOMES, AUDIT_STATES
from ..protocol.testset import CommittedTestSet, commit_test_set
from .audit_common import Aggregation, finalize, local_correct, proven_indices, submit_audit_proofs
from .connect import MarketConnection
from .delivery import DeliveryError


class TestSetError(DeliveryError):
    """A test-set delivery refused, with the reason; `status` is the HTTP status an agent answers
    with (400: it does not match the audit's commitment, 404: not an audit of this provider,
    409: not now)."""

    __test__ = False  # not a pytest test class despite the name

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class TestSetDelivery:
    """What MC hands MP after the join (paper 5.2 step 3): the N examples (raw bytes, as the
    circuit reads them) and their labels. MP recomputes every commitment and the root itself."""

    __test__ = False

    items: list[bytes]
    labels: list[int]

    @classmethod
    def of(cls, test_set: CommittedTestSet) -> "TestSetDelivery":
        return cls(list(test_set.items), list(test_set.labels))

    def to_json(self) -> str:
        return json.dumps({"items": [x.hex() for x in self.items], "labels": self.labels})

    @classmethod
    def from_json(cls, text: str | bytes) -> "TestSetDelivery":
        try:
            d = json.loads(text)
            items, labels = d["items"], d["labels"]
            if not isinstance(items, list) or not isinstance(labels, list):
                raise TypeError("items and labels must be lists")
            return cls([bytes.fromhex(x.removeprefix("0x")) for x in items], [_label(y) for y in labels])
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            raise TestSetError(f"malformed test set: {e}") from e

    def commit(self) -> CommittedTestSet:
        """The examples' commitments and tree; raises TestSetError when they cannot be committed."""
        try:
            return commit_test_set(self.items, self.labels)
        except (ValueError, zp.ProverError) as e:
            raise TestSetError(f"cannot commit the test set: {e}") from e


def _label(value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"labels must be non-negative integers, got {value!r}")
    return value


def check_test_set(audit: list, audit_id: int, delivery: TestSetDelivery) -> CommittedTestSet:
    """MP's check before it decides: N examples whose commitments and labels rebuild the root MC
    committed on chain (`audit` is the Audit tuple). Raises TestSetError (400) with the reason."""
    n, root = audit.n, bytes(audit.testSetRoot)
    if len(delivery.items) != n or len(delivery.labels) != n:
        raise TestSetError(f"audit {audit_id} has N={n} examples, got {len(delivery.items)} examples and "
                           f"{len(delivery.labels)} labels")
    committed = delivery.commit()
    if committed.root != root:
        raise TestSetError(f"the examples and labels rebuild test-set root 0x{committed.root.hex()}, but audit "
                           f"{audit_id} committed 0x{root.hex()}")
    return committed


class SimpleAuditProvider:
    def __init__(self, market: MarketConnection, audits, model, circuit: zp.CompiledCircuit, keys: zp.Keys):
        self.m, self.audits, self.model, self.circuit, self.keys = market, audits, model, circuit, keys

    def audit(self, audit_id: int) -> list:
        return self.audits.functions.audit(audit_id).call()

    def state(self, audit_id: int) -> str:
        return AUDIT_STATES[self.audits.functions.state(audit_id).call()]

    def join(self, audit_id: int) -> int:
        """Step 2: escrows 2NE + eps at the prices copied when the audit opened; returns it."""
        a = self.audit(audit_id)
        escrow = audit_escrow(a.n, Prices(*a.prices))
        self.m.send(self.audits, "join", [audit_id], value=escrow)
        return escrow

    def check_test_set(self, audit_id: int, delivery: TestSetDelivery) -> CommittedTestSet:
        """MC's delivery checked against the chain: an audit of this provider that it joined and
        has not settled (409 otherwise: retry once joined), whose committed root the examples
        and labels rebuild (400 otherwise). Raises TestSetError with the reason."""
        a = self.audit(audit_id)
        if a.status == 0:
            raise TestSetError(f"no audit {audit_id}", 404)
        if a.provider != self.m.account.address:
            raise TestSetError(f"audit {audit_id} is for provider {a.provider}, not {self.m.account.address}", 404)
        current = self.state(audit_id)
        if current == "Open":
            raise TestSetError(f"audit {audit_id} is not joined yet; retry once it is", 409)
        if current not in ("Deciding", "Proving"):
            raise TestSetError(f"audit {audit_id} is {current}: it takes no test set any more", 409)
        return check_test_set(a, audit_id, delivery)

    def correct_on(self, test_set: CommittedTestSet) -> int:
        """How many of the N examples the model gets right (local inference, no proof)."""
        return local_correct(self.model, dict(enumerate(test_set.items)), test_set.labels)

    def decide(self, audit_id: int, correct: int, margin=(0, 1)) -> bool:
        """Step 3: proceed if `correct` of N meets the target (with the safety `margin`), else
        abort (MC loses N*P, MP keeps its escrow instead of losing 2NE)."""
        a = self.audit(audit_id)
        go = should_proceed(correct, a.n, a.targetNum, a.targetDen, *margin)
        self.m.send(self.audits, "proceed" if go else "abort", [audit_id])
        return go

    def abort(self, audit_id: int) -> None:
        self.m.send(self.audits, "abort", [audit_id])

    def proven(self, audit_id: int, from_block: int = 0) -> set[int]:
        return proven_indices(self.audits, audit_id, from_block)

    def submit(self, audit_id: int, proofs: dict[int, zp.Proof], test_set: CommittedTestSet, batch_size: int = 10,
               proven: set[int] | None = None, aggregation: Aggregation | None = None) -> int:
        """Step 4: the given proofs not accepted yet (`proven`, else read from the chain), in
        `submitProofs` transactions of `batch_size` (or aggregated: B examples per transaction);
        returns how many were sent."""
        done = self.proven(audit_id) if proven is None else proven
        pending = [i for i in sorted(proofs) if i not in done]
        submit_audit_proofs(self.m, self.audits, audit_id, test_set.commitments, test_set.labels, proofs, pending,
                            batch_size, aggregation)
        return len(pending)

    def finalize(self, audit_id: int) -> dict:
        return finalize(self.m, self.audits, audit_id)


__all__ = ["AUDIT_OUTCOMES", "AUDIT_STATES", "SimpleAuditProvider", "TestSetDelivery",
           "TestSetError", "check_test_set"]
