"""Simple accuracy audits (paper 5.2, AccuracyAudit) in the agent: join audits of its models by
the same policy as the appendix-B ones, take MC's test set over HTTP (checked against the
committed root before it is stored), decide by local inference on all N examples (proceed or
abort), prove every example (each proof stored as soon as it exists) and submit them in batches,
finalize and withdraw. The role logic is participants.simple_audit.SimpleAuditProvider; this
module only decides, from chain state plus the stored test set and proofs, which step is due.

Proving goes one batch per tick, so serving rounds and retrieval requests (answer windows of
minutes) are not starved while an audit of many examples is proven."""

from __future__ import annotations

import json

from .. import prover as zp
from ..participants.simple_audit import (
    SimpleAuditProvider,
    TestSetDelivery,
    TestSetError,
)
from ..protocol.testset import CommittedTestSet, commit_test_set
from .jobs import EventJobs, JoinPolicy, prove_missing
from .logs import log
from .state import SIMPLE_AUDIT

# Without MC's test set, MP aborts this many seconds before the decision deadline (at most a
# quarter of the decision window): silence at the deadline would cost it 2NE, an abort costs MC
# N*P (paper 5.2 step 3).
ABORT_MARGIN = 300


class SimpleAuditJobs(EventJobs):
    KIND, EVENT, ID_ARG, ROLE = SIMPLE_AUDIT, "AuditOpened", "auditId", SimpleAuditProvider

    def __init__(self, *args, policy: JoinPolicy | None = None, batch_size: int = 10, prove_batch: int = 0,
                 abort_margin: int = ABORT_MARGIN, **kwargs):
        super().__init__(*args, **kwargs)
        self.policy = policy or JoinPolicy()
        self.batch_size, self.abort_margin = batch_size, abort_margin
        self.prove_batch = prove_batch or batch_size  # proofs made per tick; a cluster's task slots
        self._test_sets: dict[int, CommittedTestSet] = {}
        self._waiting: set[int] = set()
        self._margin: int | None = None

    def margin(self) -> int:
        """Seconds before the decision deadline at which MP gives up waiting for the test set."""
        if self._margin is None:
            self._margin = min(self.abort_margin, int(self.contract.functions.decisionWindow().call()) // 4)
        return self._margin

    def describe(self, args) -> dict:
        return {"model": args["modelId"], "n": args["n"], "target": f"{args['targetNum']}/{args['targetDen']}"}

    def test_set(self, audit_id: int) -> CommittedTestSet | None:
        """The stored test set of an audit (committed once per process)."""
        if audit_id not in self._test_sets:
            stored = self.state.test_set(audit_id)
            if stored is None:
                return None
            self._test_sets[audit_id] = commit_test_set(*stored)
        return self._test_sets[audit_id]

    # ------------------------------------------------------------ HTTP: POST /audits/simple/<id>/testset

    def accept_test_set(self, audit_id: int, delivery: TestSetDelivery) -> str:
        """MC's N examples and labels: stored once they rebuild the audit's committed root.
        Raises TestSetError (with the HTTP status) otherwise."""
        a = self.contract.functions.audit(audit_id).call()
        if a.status == 0 or a.provider != self.market.account.address or a.modelId not in self.models:
            raise TestSetError(f"audit {audit_id} is not a simple audit of a model this agent serves", 404)
        test_set = self.role(a.modelId).check_test_set(audit_id, delivery)
        self.state.save_test_set(audit_id, test_set.items, test_set.labels)
        self._test_sets[audit_id] = test_set
        log(self.logger, "test set stored", **{self.KIND: audit_id}, n=test_set.n, root="0x" + test_set.root.hex())
        return json.dumps({"auditId": audit_id, "n": test_set.n, "root": "0x" + test_set.root.hex()})

    # ------------------------------------------------------------ one step per tick

    def step(self, audit_id: int) -> None:
        a = self.contract.functions.audit(audit_id).call()
        role = self.role(a.modelId)
        current = role.state(audit_id)
        job = {self.KIND: audit_id}
        if current == "Open":
            if self.policy.accepts(a.n, a.targetNum, a.targetDen):
                escrow = role.join(audit_id)
                log(self.logger, "joined", **job, escrow=escrow)
            else:
                log(self.logger, "declined", **job, n=a.n, target=f"{a.targetNum}/{a.targetDen}")
                self.state.finish_job(audit_id, self.KIND)
        elif current == "Deciding":
            self._decide(audit_id, a, role)
        elif current == "Proving":
            self._prove_and_submit(audit_id, a, role)
        elif current in ("DecisionExpired", "Finalizable"):
            settled = role.finalize(audit_id)
            log(self.logger, "finalized", **job, **settled)
        elif current in ("Settled", "Cancelled", "JoinExpired"):
            self.close(audit_id, current, a.token)

    def _decide(self, audit_id: int, a: list, role: SimpleAuditProvider) -> None:
        job = {self.KIND: audit_id}
        test_set = self.test_set(audit_id)
        if test_set is None:
            left = self.seconds_left(a.decisionDeadline)
            if left <= self.margin():
                role.abort(audit_id)
                log(self.logger, "aborted: no test set before the decision deadline", 30, **job, seconds_left=left)
            elif audit_id not in self._waiting:
                self._waiting.add(audit_id)
                log(self.logger, "waiting for the test set", **job, seconds_left=left)
            return
        try:
            correct = role.correct_on(test_set)
        except zp.ProverError as e:  # committed, but not inputs this model reads: it cannot be proven either
            role.abort(audit_id)
            log(self.logger, "aborted: the model cannot run on the test set", 30, **job, error=str(e))
            return
        go = role.decide(audit_id, correct)
        log(self.logger, "proceeded" if go else "aborted", **job, correct=correct, n=a.n,
            target=f"{a.targetNum}/{a.targetDen}")

    def _prove_and_submit(self, audit_id: int, a: list, role: SimpleAuditProvider) -> None:
        """The next `batch_size` examples without an accepted proof: proved (stored proofs are
        reused), then submitted in one transaction."""
        test_set = self.test_set(audit_id)
        if test_set is None:
            raise TestSetError(f"audit {audit_id} is proving but no test set is stored here")
        n = a.n
        proven = role.proven(audit_id, self.start_block)
        todo = [i for i in range(n) if i not in proven][:self.prove_batch]
        if not todo:
            return
        proofs = prove_missing(self.state, self.KIND, audit_id, {i: test_set.items[i] for i in todo},
                               self.models[a.modelId], self.prover, self.logger, total=n,
                               seconds_left=self.seconds_left(a.proofDeadline))
        sent = role.submit(audit_id, proofs, test_set, self.batch_size, proven)
        log(self.logger, "proofs submitted", **{self.KIND: audit_id}, indices=todo, accepted=len(proven) + sent,
            total=n)
