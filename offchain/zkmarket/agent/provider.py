"""The provider agent's loop: scan new blocks for jobs of its models (appendix-B audits here;
serving rounds, retrieval requests and simple audits in rounds.py, retrieval.py and
simple_audits.py), each kind from its last processed block (persisted), then bring every open
job one step forward from what the chain says now. Each step is idempotent and decided from
on-chain state plus the durable AgentState, so the agent can be killed at any point and resume
where it stopped."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from ..participants.audit_common import proven_indices
from ..participants.delivery import T_RECEIVER, Delivery, DeliveryError, delivery_from_chain
from ..participants.guarded_audit import (
    A_MODEL,
    A_N,
    A_N1,
    A_REST_TRANSFER,
    A_SUBSET_TRANSFER,
    A_TARGET_DEN,
    A_TARGET_NUM,
    GuardedAuditProvider,
    GuardedMarket,
)
from ..protocol.states import GUARDED_STATES, TRANSFER_STATES
from .jobs import EventJobs, ServedModel, prove_missing
from .logs import get_logger, log
from .state import AUDIT, AgentState

__all__ = ["GUARDED_STATES", "JoinPolicy", "ProviderAgent", "ServedModel", "TRANSFER_STATES"]


@dataclass
class JoinPolicy:
    """Which audits to join: at most `max_n` examples and a target the model can meet
    (target <= max_target_num / max_target_den)."""

    max_n: int = 1000
    max_target_num: int = 1
    max_target_den: int = 1

    def accepts(self, n: int, target_num: int, target_den: int) -> bool:
        return n <= self.max_n and target_num * self.max_target_den <= self.max_target_num * target_den


@dataclass
class ProviderAgent:
    market: GuardedMarket
    models: dict[int, ServedModel]
    state: AgentState
    policy: JoinPolicy = field(default_factory=JoinPolicy)
    workers: int = 1
    batch_size: int = 10
    logger: object = field(default_factory=get_logger)
    jobs: list[EventJobs] = field(default_factory=list)  # the other protocols' jobs (rounds, requests)
    start_block: int = 0  # where a first scan starts (the deployment's first block)

    # ------------------------------------------------------------ off-chain input

    def accept_delivery(self, delivery: Delivery) -> None:
        """Called by the HTTP server: checks a delivery against the chain, then stores it."""
        audits, transfers = self.market.audits, self.market.transfers
        if transfers.functions.clientOf(delivery.transfer_id).call() != audits.address:
            raise DeliveryError(f"transfer {delivery.transfer_id} is not an audit transfer of this market")
        t = transfers.functions.getTransfer(delivery.transfer_id).call()
        if t[T_RECEIVER] != self.market.account.address:
            raise DeliveryError(f"transfer {delivery.transfer_id} is addressed to {t[T_RECEIVER]}, not to this provider")
        audit_id, rest = self._audit_of_transfer(delivery.transfer_id)
        if audit_id is None:
            raise DeliveryError(f"transfer {delivery.transfer_id} belongs to no audit this agent runs")
        role = self._role(audit_id)
        role.check_delivery(audit_id, delivery, rest)
        role.check_item_sizes(delivery)
        self.state.save_delivery(delivery)
        log(self.logger, "delivery stored", audit=audit_id, transfer=delivery.transfer_id,
            items=len(delivery.ciphertexts))

    def _audit_of_transfer(self, transfer_id: int) -> tuple[int | None, bool]:
        for audit_id, _ in self.state.open_jobs():
            a = self.market.audit(audit_id)
            if a[A_SUBSET_TRANSFER] == transfer_id:
                return audit_id, False
            if a[A_REST_TRANSFER] == transfer_id:
                return audit_id, True
        return None, False

    # ------------------------------------------------------------ chain scan

    def scan(self, head: int | None = None) -> None:
        """Records audits opened for our models since the last processed block."""
        head = self.market.session.w3.eth.block_number if head is None else head
        last = self.state.last_block(AUDIT)
        start = self.start_block if last is None else last + 1
        if start > head:
            return
        logs = self.market.audits.events.AuditOpened.get_logs(from_block=start, to_block=head)
        new = []
        for entry in logs:
            args = entry["args"]
            if args["modelId"] in self.models:
                new.append((args["auditId"], args["modelId"]))
                log(self.logger, "audit seen", audit=args["auditId"], model=args["modelId"], n=args["n"])
        self.state.record_scan(head, new)

    # ------------------------------------------------------------ one step per job

    def tick(self) -> None:
        try:
            head = self.market.session.w3.eth.block_number
        except Exception as e:  # a node hiccup must not stop the agent; retried next tick
            log(self.logger, "tick failed", 40, kind=AUDIT, error=f"{type(e).__name__}: {e}")
            return
        # Rounds and requests first: their answers are a few proofs against answer windows of
        # minutes, while an audit's proving stage can take much longer.
        for jobs in self.jobs:
            try:
                jobs.tick(head)
            except Exception as e:  # e.g. the node dropped the scan; retried next tick
                log(self.logger, "tick failed", 40, kind=jobs.KIND, error=f"{type(e).__name__}: {e}")
        try:
            self.scan(head)
        except Exception as e:
            log(self.logger, "tick failed", 40, kind=AUDIT, error=f"{type(e).__name__}: {e}")
        for audit_id, model_id in self.state.open_jobs():
            if model_id not in self.models:  # recorded by a run that served other models
                continue
            try:
                self.step(audit_id)
            except Exception as e:  # one failing job must not stop the others; it is retried next tick
                log(self.logger, "step failed", 40, audit=audit_id, error=f"{type(e).__name__}: {e}")

    def _role(self, audit_id: int) -> GuardedAuditProvider:
        model = self.models[self.market.audit(audit_id)[A_MODEL]]
        return GuardedAuditProvider(self.market, model.path, model.circuit, model.keys)

    def step(self, audit_id: int) -> None:
        audits = self.market.audits
        current = GUARDED_STATES[audits.functions.state(audit_id).call()]
        a = self.market.audit(audit_id)
        role = self._role(audit_id)
        if current == "Open":
            if self.policy.accepts(a[A_N], a[A_TARGET_NUM], a[A_TARGET_DEN]):
                seed = role.join(audit_id)
                log(self.logger, "joined", audit=audit_id, seed=seed.hex())
            else:
                log(self.logger, "declined", audit=audit_id, n=a[A_N])
                self.state.finish_job(audit_id)
        elif current in ("SendingSubset", "SendingRest"):
            self._step_transfer(audit_id, a, role, rest=current == "SendingRest")
        elif current == "Deciding":
            delivery = self._delivery(a[A_SUBSET_TRANSFER])
            subset = role.decrypt(delivery)
            go = role.decide(audit_id, subset, delivery.labels)
            log(self.logger, "proceeded" if go else "aborted", audit=audit_id)
        elif current == "Proving":
            self._prove_and_submit(audit_id, a, role)
        elif current in ("SubsetExpired", "RestExpired", "DecisionExpired", "Finalizable"):
            settled = role.finalize(audit_id)
            log(self.logger, "finalized", audit=audit_id, **settled)
        elif current in ("Settled", "Cancelled", "JoinExpired"):
            if current == "JoinExpired":
                log(self.logger, "join window missed", audit=audit_id)
            self._withdraw()
            self.state.finish_job(audit_id)
            log(self.logger, "job done", audit=audit_id, state=current)
        # AwaitingSubset / AwaitingRest: MC's move (its deadline ends it through finalize).

    def _delivery(self, transfer_id: int) -> Delivery:
        delivery = self.state.delivery(transfer_id)
        if delivery is None:
            raise DeliveryError(f"no delivery stored for transfer {transfer_id}")
        return delivery

    def _step_transfer(self, audit_id: int, a: list, role: GuardedAuditProvider, rest: bool) -> None:
        transfer_id = a[A_REST_TRANSFER] if rest else a[A_SUBSET_TRANSFER]
        transfers = self.market.transfers
        tstate = TRANSFER_STATES[transfers.functions.transferState(transfer_id).call()]
        if tstate == "AwaitingAck":
            delivery = self.state.delivery(transfer_id)
            if delivery is None:  # nothing came off chain: MC's proof of delivery, once complete
                delivery = delivery_from_chain(transfers, transfer_id, self.start_block)
                if delivery is not None:
                    role.check_delivery(audit_id, delivery, rest)
                    self.state.save_delivery(delivery)
                    log(self.logger, "delivery read from chain", audit=audit_id, transfer=transfer_id,
                        items=len(delivery.ciphertexts))
            if delivery is not None:  # until MC delivers there is nothing to acknowledge
                role.acknowledge(audit_id, delivery, rest)
                log(self.logger, "acknowledged", audit=audit_id, transfer=transfer_id)
        elif tstate == "Contestable":
            accepted = role.accept_or_contest(self._delivery(transfer_id))
            log(self.logger, "accepted" if accepted is not None else "contested", audit=audit_id,
                transfer=transfer_id)
        elif tstate == "KeyExpired":
            self.market.send(transfers, "expireTransfer", [transfer_id])
            log(self.logger, "key not revealed: transfer expired", audit=audit_id, transfer=transfer_id)

    def _prove_and_submit(self, audit_id: int, a: list, role: GuardedAuditProvider) -> None:
        """One batch per tick (proved, stored, submitted), so the loop still answers serving
        contests and retrieval challenges while a long audit is being proven."""
        delivery = self._delivery(a[A_REST_TRANSFER])
        items = role.decrypt(delivery)
        proven = proven_indices(self.market.audits, audit_id, self.start_block)
        stored = self.state.proofs(audit_id, AUDIT)
        batch = [i for i in sorted(items) if i not in stored and i not in proven][:self.batch_size]
        wanted = {i: items[i] for i in sorted(items) if i not in proven and (i in stored or i in batch)}
        total = a[A_N] - a[A_N1]
        proofs = prove_missing(self.state, AUDIT, audit_id, wanted, self.models[a[A_MODEL]], self.workers,
                               self.logger, total=total)
        role.submit(audit_id, proofs, delivery, self.batch_size)
        log(self.logger, "proofs submitted", audit=audit_id, done=len(proven) + len(proofs), total=total)

    def _withdraw(self) -> None:
        token_set = {self.market.audit(a)[8] for a, _ in self.state.open_jobs()} or {"0x" + "00" * 20}
        for token in token_set:
            if self.market.audits.functions.creditOf(self.market.account.address, token).call():
                self.market.send(self.market.audits, "withdraw", [token])
                log(self.logger, "withdrew", token=token)

    def run(self, poll_seconds: float = 1.0, stop=lambda: False) -> None:
        log(self.logger, "agent started", provider=self.market.account.address, models=sorted(self.models),
            last_block=self.state.last_block(AUDIT), jobs=[AUDIT] + [j.KIND for j in self.jobs])
        while not stop():
            self.tick()
            time.sleep(poll_seconds)

