"""The simple accuracy audit (paper 5.2, AccuracyAudit) from MC's side, end to end and resumable.

Each pass of :meth:`SimpleAuditRun.run` reads the audit's phase from the chain and either makes
MC's move (open; once MP joined, hand the N examples and labels to MP's agent; finalize) or waits
for MP's (join, decide, prove). The deadlines settle a silent MP: at the join deadline MC is
refunded, at the decision deadline MP's silence is its failure (MC gets 4NE), at the proof
deadline a missing proof fails the audit. Before finalizing, every accepted proof is checked
locally (:mod:`.proofs`); MC refuses to finalize an audit with a proof it cannot verify.

MC keeps no secret here (the test set goes to MP in the clear): its state file, next to the test
set as ``testset.simple-audit-7.json``, says where the test set and MP's agent are, so a consumer
killed at any point resumes with ``zkmarket audit resume --protocol simple ID``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

from ..participants.simple_audit import (
    TestSetDelivery,
    TestSetError,
)
from ..protocol.rules import Prices, audit_escrow
from ..protocol.states import AUDIT_OUTCOMES, AUDIT_STATES
from ..protocol.testset import CommittedTestSet
from ..provider_api import post_test_set
from .audit_common import (
    AuditDriver,
    Settlement,
    available_model,
    open_audit,
    proofs_before_finalizing,
    read_settlement,
    resume_state,
)
from .client import ConsumerClient, format_amount, token_name
from .driver import Reporter, Wait, check_provider, when
from .errors import ConsumerError, RevertError
from .proofs import verify_simple_audit_proofs
from .state import AuditStateFile
from .testsets import load_committed

KIND = "simple-audit"  # MC's state file name, see .state
RETRY_SECONDS = 5.0  # between tries to hand the test set to an agent that did not take it yet


def simple_audits(client: ConsumerClient):
    """The deployment's AccuracyAudit."""
    try:
        return client.contracts["AccuracyAudit"]
    except KeyError:
        raise ConsumerError("this deployment has no AccuracyAudit contract (the simple audit); redeploy with "
                            "`zkmarket deploy`") from None


class SimpleAuditRun(AuditDriver):
    RESUME = "zkmarket audit resume --protocol simple"
    NAME = "simple audit"
    STATES, OUTCOMES, VERIFY = AUDIT_STATES, AUDIT_OUTCOMES, staticmethod(verify_simple_audit_proofs)

    def __init__(self, client: ConsumerClient, test_set: CommittedTestSet, state: AuditStateFile,
                 reporter: Reporter | None = None, *, poll: float = 1.0, timeout: float | None = None,
                 verify: bool = True, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep,
                 post: Callable[[str, int, TestSetDelivery], dict] = post_test_set):
        super().__init__(client, simple_audits(client), test_set, state, reporter, poll=poll, timeout=timeout,
                         verify=verify, clock=clock, sleep=sleep, post=post)
        self._delivered = False
        self._retry_at = 0.0
        self._problem: str | None = None

    # ------------------------------------------------------------------ start / resume
    @classmethod
    def open(cls, client: ConsumerClient, testset_path: str | Path, model_id: int, target: tuple[int, int],
             provider_url: str, reporter: Reporter | None = None, **kwargs) -> "SimpleAuditRun":
        """Checks everything it can, escrows 2NE + eps and opens the audit; writes MC's state file."""
        reporter = reporter or Reporter()
        test_set = load_committed(testset_path)
        available_model(client, model_id)
        audits = simple_audits(client)
        max_n = client.call(audits, "maxN")
        if test_set.n > max_n:
            raise ConsumerError(f"the test set has N={test_set.n} examples; a simple audit here takes at most "
                                f"maxN={max_n}")
        check_provider(provider_url)
        state, opened, escrow = open_audit(client, audits, testset_path, test_set, model_id, target, provider_url,
                                           KIND)
        reporter.say(f"opened simple audit {state.audit_id} of model {model_id}: N={test_set.n}, target "
                     f"{target[0]}/{target[1]}, escrow {format_amount(escrow, opened['token'])}; MP must join by "
                     f"{when(opened['joinDeadline'], client.chain_time())}")
        reporter.say(f"MC's state -> {state.path}")
        return cls(client, test_set, state, reporter, **kwargs)

    @classmethod
    def resume(cls, client: ConsumerClient, audit_id: int, *, state_file: str | Path | None = None,
               testset: str | Path | None = None, provider_url: str | None = None, reporter: Reporter | None = None,
               **kwargs) -> "SimpleAuditRun":
        """Picks the audit up from MC's state file (next to ``testset``, or in the working folder);
        without one, adopts an audit MC opened whose root is ``testset``'s."""
        audits = simple_audits(client)
        if AUDIT_STATES[client.call(audits, "state", audit_id)] == "None":
            raise ConsumerError(f"no simple audit {audit_id} on this deployment (AccuracyAudit {audits.address}, "
                                f"chain id {client.deployment.chain_id})")
        a = client.call(audits, "audit", audit_id)
        state, test_set = resume_state(client, audits, audit_id, a.consumer, bytes(a.testSetRoot), a.modelId,
                                       state_file=state_file, testset=testset, provider_url=provider_url, kind=KIND)
        return cls(client, test_set, state, reporter, **kwargs)

    # ------------------------------------------------------------------ the loop
    def step(self, current: str) -> Wait | None:
        """MC's move in phase ``current`` (None: made one), or what it waits for."""
        a = self.audit()
        if current == "Open":
            return Wait("waiting for MP to join", a.joinDeadline)
        if current == "JoinExpired":
            self.reporter.say("MP did not join before the join deadline: cancelling (MC's escrow is refunded)")
            self._finalize_tx()
            return None
        if current == "Deciding":
            if not self._delivered and self.clock() >= self._retry_at:
                self._deliver()
            return Wait("waiting for MP's decision (proceed or abort)", a.decisionDeadline)
        if current == "DecisionExpired":
            self.reporter.say("MP neither proceeded nor aborted before the decision deadline (an MP failure: MC gets "
                              "4NE): finalizing")
            self._finalize_tx()
            return None
        if current == "Proving":
            return Wait(f"waiting for MP's proofs: {a.submitted}/{a.n} accepted", a.proofDeadline)
        if current == "Finalizable":
            self.finalize()
            return None
        raise ConsumerError(f"no simple audit {self.audit_id} on this deployment")

    def _announce(self, current: str) -> None:
        if current == self._seen:
            return
        self._seen = current
        a = self.audit()
        if current == "Deciding":
            self.reporter.say(f"MP {a.provider} joined; it must proceed or abort by "
                              f"{when(a.decisionDeadline, self.client.chain_time())}")
        elif current == "Proving":
            self.reporter.say(f"MP proceeded; {a.n} proofs due by "
                              f"{when(a.proofDeadline, self.client.chain_time())}")
        elif current == "Finalizable":
            self.reporter.say(f"all {a.n} proofs are in" if a.submitted == a.n else
                              f"the proof deadline passed with {a.submitted}/{a.n} proofs")

    # ------------------------------------------------------------------ MC's moves
    def _deliver(self) -> None:
        """The N examples and labels to MP's agent (paper 5.2 step 3). An agent that cannot be
        reached, or answers "not now", is tried again every RETRY_SECONDS; one that refuses the
        test set is not (MP's remedy is then to abort, its silence fails the audit)."""
        url = self.state.provider_url
        if not url:
            raise ConsumerError(f"no provider URL for audit {self.audit_id}: run `{self.RESUME} {self.audit_id} "
                                f"--provider-url URL`")
        try:
            answer = self.post(url, self.audit_id, TestSetDelivery.of(self.test_set))
        except (TestSetError, ConnectionError) as e:
            final = isinstance(e, TestSetError) and e.status < 500 and e.status != 409
            if final:
                self._delivered = True  # it will not take it; nothing else MC can send
                self.reporter.say(f"MP's agent at {url} refused the test set ({e}); MP must now abort, or it fails "
                                  f"the audit at the decision deadline")
            elif str(e) != self._problem:
                self.reporter.say(f"could not hand the test set to {url} ({e}); trying again every "
                                  f"{RETRY_SECONDS:g}s until MP decides")
            self._problem = str(e)
            self._retry_at = self.clock() + RETRY_SECONDS
            return
        self._delivered = True
        self.reporter.say(f"delivered the test set ({self.test_set.n} examples and labels) to {url}; the agent "
                          f"rebuilt root {answer.get('root')}")



def _deadline(phase: str, a: list) -> int | None:
    if phase in ("Open", "JoinExpired"):
        return a.joinDeadline
    if phase in ("Deciding", "DecisionExpired"):
        return a.decisionDeadline
    if phase in ("Proving", "Finalizable"):
        return a.proofDeadline
    return None


def describe_simple_audit(client: ConsumerClient, audit_id: int) -> dict:
    """A simple audit's phase, current deadline, counts and settlement."""
    audits = simple_audits(client)
    phase = AUDIT_STATES[client.call(audits, "state", audit_id)]
    if phase == "None":
        raise ConsumerError(f"no simple audit {audit_id} on this deployment (AccuracyAudit {audits.address} has "
                            f"{client.call(audits, 'auditCount')} audits)")
    a = client.call(audits, "audit", audit_id)
    deadline = _deadline(phase, a)
    e, z, p, eps = a.prices
    escrow = audit_escrow(a.n, Prices(e, z, p, eps))
    finished = read_settlement(client, audits, audit_id, a.token, AUDIT_OUTCOMES) if deadline is None else None
    return {
        "protocol": "simple",
        "audit_id": audit_id,
        "state": phase,
        "expired": phase.endswith("Expired"),
        "model_id": a.modelId,
        "consumer": a.consumer,
        "provider": a.provider,
        "joined": bool(a.decisionDeadline),
        "n": a.n,
        "target": [a.targetNum, a.targetDen],
        "submitted": a.submitted, "correct": a.correct,
        "deadline": deadline,
        "deadline_text": when(deadline, client.chain_time()) if deadline is not None else None,
        "test_set_root": "0x" + bytes(a.testSetRoot).hex(),
        "token": token_name(a.token),
        "escrow_each": escrow,
        "escrow_each_text": format_amount(escrow, a.token),
        "prices": {"E": e, "Z": z, "P": p, "epsilon": eps},
        "settlement": None if finished is None else finished.to_dict(),
    }


def finalize_simple_audit(client: ConsumerClient, audit_id: int, test_set: CommittedTestSet | None = None, *,
                          verify: bool = True, reporter: Reporter | None = None) -> Settlement:
    """Ends a simple audit whose stage is over (anyone may): after the join deadline (MC
    refunded), the decision deadline (MP failure) or once all N proofs are in or the proof
    deadline passed (the accepted proofs checked locally first)."""
    reporter = reporter or Reporter()
    audits = simple_audits(client)
    info = describe_simple_audit(client, audit_id)
    phase = info["state"]
    report = None
    if phase in ("Settled", "Cancelled"):
        reporter.say(f"simple audit {audit_id} was already {phase.lower()}")
    elif phase in ("JoinExpired", "DecisionExpired", "Finalizable"):
        if phase == "Finalizable" and verify and info["submitted"]:
            report = proofs_before_finalizing(client, audit_id, test_set, reporter, verify_simple_audit_proofs)
        try:
            client.send(audits, "finalize", [audit_id])
        except RevertError:
            if AUDIT_STATES[client.call(audits, "state", audit_id)] not in ("Settled", "Cancelled"):
                raise
            reporter.say(f"simple audit {audit_id} was settled by someone else meanwhile")
    else:
        raise ConsumerError(f"simple audit {audit_id} is {phase} (deadline {info['deadline_text']}, "
                            f"{info['submitted']}/{info['n']} proofs): nothing to finalize yet")
    a = client.call(audits, "audit", audit_id)
    result = read_settlement(client, audits, audit_id, a.token, AUDIT_OUTCOMES)
    if result is None:
        raise ConsumerError(f"simple audit {audit_id} did not settle")
    result.proofs = report
    return result
