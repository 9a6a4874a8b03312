"""The appendix-B audit (GriefingResistantAudit) from MC's side, end to end and resumable.

Each pass of :meth:`GuardedAuditRun.run` reads the audit's phase from the chain and either makes
MC's move (open, send the subset or the rest, deliver it to MP's agent, reveal the key, expire a
transfer MP let lapse, finalize) or waits for MP's (join, acknowledge, accept, decide, prove).
When MP has not acknowledged a transfer half-way through its ack window, MC proves delivery on
chain (publishes the ciphertexts and the test set's leaves, in transactions that fit a block),
so that MP's silence is MP's fault; without that proof a missed ack deadline would be MC's.
Nothing but the transfer keys lives off chain, and those are in MC's state file before their
commitments are sent (:mod:`.state`), so a consumer killed at any point resumes with
``zkmarket audit resume ID``. Before finalizing, every accepted proof is checked locally
(:mod:`.proofs`); MC refuses to finalize an audit with a proof it cannot verify.

The clock, the sleep and the delivery transport are parameters, so tests drive it directly.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

from ..participants.delivery import (
    Delivery,
    DeliveryError,
    is_published,
    published_ciphertexts,
)
from ..participants.guarded_audit import GuardedAuditConsumer, transfer_indices
from ..protocol.rules import Prices, audit_escrow
from ..protocol.states import GUARDED_OUTCOMES, GUARDED_STATES, TRANSFER_STATES
from ..protocol.testset import CommittedTestSet
from ..protocol.transfer import key_commitment
from ..provider_api import ProviderUnreachable, post_delivery
from .audit_common import (
    AuditDriver,
    Settlement,
    available_model,
    open_audit,
    proofs_before_finalizing,
    resume_state,
    settlement,
)
from .client import ConsumerClient, format_amount, token_name
from .driver import Reporter, Wait, check_provider, when
from .errors import ConsumerError, DeadlinePassedError, RevertError, StateFileError
from .proofs import verify_audit_proofs
from .state import AuditStateFile
from .testsets import load_committed


class GuardedAuditRun(AuditDriver):
    STATES, OUTCOMES, VERIFY = GUARDED_STATES, GUARDED_OUTCOMES, staticmethod(verify_audit_proofs)

    def __init__(self, client: ConsumerClient, test_set: CommittedTestSet, state: AuditStateFile,
                 reporter: Reporter | None = None, *, poll: float = 1.0, timeout: float | None = None,
                 verify: bool = True, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep, post: Callable[[str, Delivery], None] = post_delivery):
        super().__init__(client, client.audits, test_set, state, reporter, poll=poll, timeout=timeout, verify=verify,
                         clock=clock, sleep=sleep, post=post)
        self.moves = GuardedAuditConsumer(client, test_set)  # the transactions, shared with the tests and the demo
        self._delivered: set[int] = set()
        self._ack_window: int | None = None

    # ------------------------------------------------------------------ start / resume
    @classmethod
    def open(cls, client: ConsumerClient, testset_path: str | Path, model_id: int, target: tuple[int, int],
             provider_url: str, reporter: Reporter | None = None, **kwargs) -> "GuardedAuditRun":
        """Checks everything it can, escrows 2NE + eps and opens the audit; writes MC's state file."""
        reporter = reporter or Reporter()
        test_set = load_committed(testset_path)
        available_model(client, model_id)
        n1, max_n = client.call(client.registry, "n1"), client.call(client.audits, "maxN")
        if not n1 < test_set.n <= max_n:
            raise ConsumerError(f"the test set has N={test_set.n} examples; an appendix-B audit here needs "
                                f"N1={n1} < N <= {max_n}")
        check_provider(provider_url)
        state, opened, escrow = open_audit(client, client.audits, testset_path, test_set, model_id, target,
                                           provider_url)
        reporter.say(f"opened audit {state.audit_id} of model {model_id}: N={test_set.n} (N1={n1}), target "
                     f"{target[0]}/{target[1]}, escrow {format_amount(escrow, opened['token'])}; MP must join by "
                     f"{when(opened['joinDeadline'], client.chain_time())}")
        reporter.say(f"MC's state (transfer keys) -> {state.path}")
        return cls(client, test_set, state, reporter, **kwargs)

    @classmethod
    def resume(cls, client: ConsumerClient, audit_id: int, *, state_file: str | Path | None = None,
               testset: str | Path | None = None, provider_url: str | None = None, reporter: Reporter | None = None,
               **kwargs) -> "GuardedAuditRun":
        """Picks the audit up from MC's state file (found next to ``testset``, or in the working
        folder); without one, adopts an audit MC opened whose root is ``testset``'s."""
        if GUARDED_STATES[client.call(client.audits, "state", audit_id)] == "None":
            raise ConsumerError(f"no audit {audit_id} on this deployment (GriefingResistantAudit "
                                f"{client.audits.address}, chain id {client.deployment.chain_id})")
        a = client.call(client.audits, "audit", audit_id)
        state, test_set = resume_state(client, client.audits, audit_id, a.consumer, bytes(a.testSetRoot), a.modelId,
                                       state_file=state_file, testset=testset, provider_url=provider_url)
        return cls(client, test_set, state, reporter, **kwargs)

    # ------------------------------------------------------------------ the loop
    def _snapshot(self, current: str) -> tuple:
        if current not in ("SendingSubset", "SendingRest"):
            return (current,)
        a = self.audit()
        tid = a.restTransfer if current == "SendingRest" else a.subsetTransfer
        return current, self.client.call(self.client.transfers, "transferState", tid)

    def step(self, current: str) -> Wait | None:
        """MC's move in phase ``current`` (None: made one), or what it waits for."""
        a = self.audit()
        if current == "Open":
            return Wait("waiting for MP to join", a.deadline)
        if current == "JoinExpired":
            self.reporter.say("MP did not join before the join deadline: cancelling (MC's escrow is refunded)")
            self._finalize_tx()
            return None
        if current in ("AwaitingSubset", "AwaitingRest"):
            self._send(rest=current == "AwaitingRest")
            return None
        if current in ("SubsetExpired", "RestExpired"):
            what = "the N1 subset" if current == "SubsetExpired" else "the N2 examples"
            raise DeadlinePassedError(
                f"deadline passed: MC had to send {what} by {when(a.deadline, self.client.chain_time())} "
                f"(audit {self.audit_id} is {current}); MC is at fault and loses its 2NE escrow to MP; "
                f"`zkmarket audit finalize {self.audit_id}` settles it")
        if current in ("SendingSubset", "SendingRest"):
            return self._transfer_step(rest=current == "SendingRest")
        if current == "Deciding":
            return Wait("waiting for MP's decision (proceed or abort)", a.deadline)
        if current == "DecisionExpired":
            self.reporter.say("MP did not decide before the deadline (counts as an abort): finalizing")
            self._finalize_tx()
            return None
        if current == "Proving":
            return Wait(f"waiting for MP's proofs: {a.submitted}/{a.n - a.n1} accepted", a.deadline)
        if current == "Finalizable":
            self.finalize()
            return None
        raise ConsumerError(f"no audit {self.audit_id} on this deployment")

    def _announce(self, current: str) -> None:
        if current == self._seen:
            return
        first, self._seen = self._seen is None, current
        a = self.audit()
        if current == "AwaitingSubset":
            self.reporter.say(f"MP {a.provider} joined; its seed picks the N1 subset {transfer_indices(a, False)}")
        elif current == "Deciding" and not first:
            self.reporter.say("MP accepted the subset; it now checks the model on it and decides")
        elif current == "AwaitingRest" and not first:
            self.reporter.say("MP proceeded")
        elif current == "Proving":
            self.reporter.say(f"MP accepted the N2 examples; {a.n - a.n1} proofs due by "
                              f"{when(a.deadline, self.client.chain_time())}")
        elif current == "Finalizable":
            n2 = a.n - a.n1
            self.reporter.say(f"all {n2} proofs are in" if a.submitted == n2 else
                              f"the proof deadline passed with {a.submitted}/{n2} proofs")

    # ------------------------------------------------------------------ MC's moves
    def _send(self, rest: bool) -> None:
        keys = self.state.keys_for("rest" if rest else "subset")  # saved before any commitment is sent
        batch, delivery = self.moves.send_items(self.audit_id, rest, keys.key_bytes, keys.salt_bytes)
        keys.transfer_id = delivery.transfer_id
        self.state.save()
        what = f"the {len(batch.ciphertexts)} N2 examples" if rest else f"the N1 subset {sorted(batch.ciphertexts)}"
        self.reporter.say(f"committed {what}, encrypted: data transfer {keys.transfer_id}")

    def _transfer_step(self, rest: bool) -> Wait | None:
        a = self.audit()
        kind = "rest" if rest else "subset"
        tid = a.restTransfer if rest else a.subsetTransfer
        transfers = self.client.transfers
        t = self.client.call(transfers, "getTransfer", tid)
        keys = self.state.transfers.get(kind)
        if keys is None or key_commitment(keys.key_bytes, keys.salt_bytes) != bytes(t.keyCommitment):
            raise StateFileError(f"transfer {tid} ({kind}) was committed with a key that {self.state.path} does not "
                                 f"hold; without it the key cannot be revealed (MC loses its escrow at the deadline)")
        if keys.transfer_id != tid:
            keys.transfer_id = tid
            self.state.save()
        ts = TRANSFER_STATES[self.client.call(transfers, "transferState", tid)]
        if ts == "AwaitingAck":
            if tid not in self._delivered:
                self._deliver(rest, tid, t)
                self._delivered.add(tid)
            # Until the publication is complete the ack deadline is the commitment's + ackWindow.
            if not is_published(t) and self.client.chain_time() >= self._publish_at(t):
                self._publish(rest, tid, t)
                return None
            return Wait(f"waiting for MP to acknowledge transfer {tid}", t.deadline)
        if ts == "AckExpired" and not is_published(t):
            raise DeadlinePassedError(
                f"deadline passed: MP did not acknowledge transfer {tid} by "
                f"{when(t.deadline, self.client.chain_time())} and MC did not prove delivery on chain before "
                f"it; MC is at fault (SenderUndelivered) and loses its 2NE escrow to MP once anyone calls "
                f"DataTransferService.expireTransfer({tid}) (`zkmarket audit finalize {self.audit_id}`)")
        if ts == "AwaitingKey":
            self.moves.reveal(tid, self._committed_batch(rest, tid, t))
            self.reporter.say(f"MP acknowledged transfer {tid}; key revealed")
            return None
        if ts in ("Contestable", "Contesting"):
            return Wait(f"waiting for MP to check the decrypted examples of transfer {tid}", t.deadline)
        if ts in ("AckExpired", "ContestExpired"):
            why = (f"acknowledge transfer {tid} (delivery proven on chain)" if ts == "AckExpired"
                   else f"finish its contest of transfer {tid}")
            self.reporter.say(f"MP did not {why} before the deadline: expiring it (MP is at fault)")
            self.client.send(transfers, "expireTransfer", [tid])
            return None
        if ts == "KeyExpired":
            raise DeadlinePassedError(
                f"deadline passed: MC had to reveal the key of transfer {tid} by "
                f"{when(t.deadline, self.client.chain_time())}; MC is at fault and loses its 2NE escrow to MP "
                f"once anyone calls DataTransferService.expireTransfer({tid})")
        return Wait(f"waiting for transfer {tid} ({ts})", None)

    def _committed_batch(self, rest: bool, tid: int, t):
        keys = self.state.keys_for("rest" if rest else "subset")
        batch = self.moves.batch(self.audit_id, rest, keys.key_bytes, keys.salt_bytes)
        if batch.root != bytes(t.ciphertextRoot):
            raise StateFileError(f"the ciphertexts rebuilt from {self.state.path} do not match transfer {tid}")
        return batch

    def _deliver(self, rest: bool, tid: int, t) -> None:
        """Off chain to MP's agent. If the agent cannot be reached or refuses, MC goes on: it
        proves delivery on chain half-way through the ack window unless MP acknowledges first."""
        url = self.state.provider_url
        if not url:
            raise ConsumerError(f"no provider URL for audit {self.audit_id}: run `zkmarket audit resume "
                                f"{self.audit_id} --provider-url URL`")
        batch = self._committed_batch(rest, tid, t)
        delivery = self.moves.delivery(tid, batch)
        for attempt in range(3):
            try:
                self.post(url, delivery)
                break
            except DeliveryError as e:  # a refusal is final; an unreachable agent is retried
                if not isinstance(e, ProviderUnreachable) or attempt == 2:
                    when_text = when(self._publish_at(t), self.client.chain_time())
                    self.reporter.say(f"could not deliver transfer {tid} to {url} ({e}); unless MP acknowledges "
                                      f"first, MC publishes it on chain as proof of delivery at {when_text}")
                    return
                self.sleep(2.0 * (attempt + 1))
        self.reporter.say(f"delivered transfer {tid} ({len(batch.ciphertexts)} ciphertexts) to {url}")

    def _publish_at(self, t) -> int:
        """When MC proves delivery on chain: half-way through the ack window (the ack deadline is
        the commitment's time + ackWindow until the publication is complete)."""
        if self._ack_window is None:
            self._ack_window = int(self.client.call(self.client.transfers, "ackWindow"))
        return int(t.deadline) - self._ack_window // 2

    def _publish(self, rest: bool, tid: int, t) -> None:
        """Proof of delivery: the items not yet on chain (in transactions that fit the block gas
        limit), then the test set's leaves; the ack deadline then moves to a full ack window from now."""
        batch = self._committed_batch(rest, tid, t)
        transfers = self.client.transfers
        done = set(published_ciphertexts(transfers, tid, self.client.deployment.start_block))
        try:
            chunks = self.moves.publish_plan(batch, done)
        except ValueError as e:
            raise ConsumerError(f"cannot prove delivery of transfer {tid} on chain: {e}") from None
        leaves = not t.leavesPublished
        already = f", {len(done)} already on chain" if done else ""
        self.reporter.say(
            f"MP has not acknowledged transfer {tid} half-way through its ack window: proving delivery on chain, "
            f"{len(batch.ciphertexts) - len(done)} ciphertexts{already}" + (f" and the test set's {self.test_set.n} leaves" if leaves else "")
            + f" ({len(chunks) + int(leaves)} transactions)")
        self.moves.publish(tid, batch, items=bool(chunks), leaves=leaves, chunks=chunks)
        t = self.client.call(transfers, "getTransfer", tid)
        if is_published(t):
            self.reporter.say(f"published transfer {tid} on chain: MP must acknowledge by "
                              f"{when(t.deadline, self.client.chain_time())} or is at fault")


def describe_audit(client: ConsumerClient, audit_id: int) -> dict:
    """An appendix-B audit's phase, deadline, subset, transfers, counts and settlement."""
    phase = GUARDED_STATES[client.call(client.audits, "state", audit_id)]
    if phase == "None":
        raise ConsumerError(f"no audit {audit_id} on this deployment (GriefingResistantAudit {client.audits.address} "
                            f"has {client.call(client.audits, 'auditCount')} audits)")
    a = client.call(client.audits, "audit", audit_id)
    now = client.chain_time()
    joined = any(a.seed)
    transfers = {}
    for kind, tid in (("subset", a.subsetTransfer), ("rest", a.restTransfer)):
        if tid:
            t = client.call(client.transfers, "getTransfer", tid)
            transfers[kind] = {"id": tid, "state": TRANSFER_STATES[client.call(client.transfers, "transferState", tid)],
                               "items": t.itemCount, "deadline": t.deadline, "deadline_text": when(t.deadline, now),
                               "published_items": t.published, "leaves_published": bool(t.leavesPublished)}
    e, z, p, eps = a.prices
    escrow = audit_escrow(a.n, Prices(e, z, p, eps))
    finished = settlement(client, audit_id) if phase in ("Settled", "Cancelled") else None
    expired = phase.endswith("Expired")
    return {
        "audit_id": audit_id,
        "state": phase,
        "expired": expired,
        "model_id": a.modelId,
        "consumer": a.consumer,
        "provider": a.provider if joined else None,
        "n": a.n, "n1": a.n1, "n2": a.n - a.n1,
        "target": [a.targetNum, a.targetDen],
        "submitted": a.submitted, "correct": a.correct,
        "deadline": a.deadline if phase not in ("Settled", "Cancelled") else None,
        "deadline_text": when(a.deadline, now) if phase not in ("Settled", "Cancelled") else None,
        "test_set_root": "0x" + bytes(a.testSetRoot).hex(),
        "subset": sorted(client.call(client.audits, "subsetIndices", audit_id)) if joined else None,
        "transfers": transfers,
        "token": token_name(a.token),
        "escrow_each": escrow,
        "escrow_each_text": format_amount(escrow, a.token),
        "prices": {"E": e, "Z": z, "P": p, "epsilon": eps},
        "settlement": None if finished is None else finished.to_dict(),
    }


def finalize_audit(client: ConsumerClient, audit_id: int, test_set: CommittedTestSet | None = None, *,
                   verify: bool = True, reporter: Reporter | None = None) -> Settlement:
    """Ends an audit whose stage is over (anyone may): checks the accepted proofs first when
    all N2 are in or the proof deadline passed; expires a data transfer whose deadline passed."""
    reporter = reporter or Reporter()
    info = describe_audit(client, audit_id)
    phase = info["state"]
    report = None
    if phase in ("Settled", "Cancelled"):
        reporter.say(f"audit {audit_id} was already {phase.lower()}")
    elif phase in ("SendingSubset", "SendingRest"):
        t = info["transfers"]["subset" if phase == "SendingSubset" else "rest"]
        if t["state"] not in ("AckExpired", "KeyExpired", "ContestExpired"):
            raise ConsumerError(f"audit {audit_id} is {phase}: transfer {t['id']} is {t['state']} until "
                                f"{t['deadline_text']}; nothing to finalize yet")
        reporter.say(f"transfer {t['id']} is {t['state']}: expiring it")
        client.send(client.transfers, "expireTransfer", [t["id"]])
    elif phase in ("JoinExpired", "SubsetExpired", "DecisionExpired", "RestExpired", "Finalizable"):
        if phase == "Finalizable" and verify and info["submitted"]:
            report = proofs_before_finalizing(client, audit_id, test_set, reporter)
        try:
            client.send(client.audits, "finalize", [audit_id])
        except RevertError:
            if GUARDED_STATES[client.call(client.audits, "state", audit_id)] not in ("Settled", "Cancelled"):
                raise
            reporter.say(f"audit {audit_id} was settled by someone else meanwhile")
    else:
        raise ConsumerError(f"audit {audit_id} is {phase} (deadline {info['deadline_text']}, "
                            f"{info['submitted']}/{info['n2']} proofs): nothing to finalize yet")
    result = settlement(client, audit_id)
    if result is None:
        raise ConsumerError(f"audit {audit_id} did not settle")
    result.proofs = report
    return result
