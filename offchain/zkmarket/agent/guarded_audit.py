"""Appendix-B audits (GriefingResistantAudit) in the agent: join audits of its models by policy,
check MC's deliveries (off chain over HTTP, or read from MC's proof of delivery on chain) before
acknowledging them, accept or contest each decrypted transfer, decide at stage 4 by local
inference on the subset, prove the N2 rest one batch per tick, finalize and withdraw. The role
logic is participants.guarded_audit.GuardedAuditProvider; this module only decides, from chain
state plus the stored deliveries and proofs, which step is due.

With an aggregation verifier registered for the model before the audit was opened (and its keys
given to the agent), the N2 proofs are made for aggregation and submitted B at a time as one
aggregated proof (a last, short batch once every example is proved); an audit opened earlier
takes single proofs only (the contract refuses its batches); and when less than
`aggregation_margin` seconds are left before the proof deadline (default: MARGIN_PER_TREE_PROOF
for each proof of one full tree), or fewer than `min_aggregate`
examples are left (an aggregated proof costs about as much gas as one single proof), the agent
submits single proofs instead."""

from __future__ import annotations

from .. import prover as zp
from ..participants.audit_common import proven_indices
from ..participants.delivery import Delivery, DeliveryError, delivery_from_chain
from ..participants.guarded_audit import GuardedAuditProvider
from ..protocol.states import GUARDED_STATES, TRANSFER_STATES
from .jobs import EventJobs, JoinPolicy, prove_missing
from .logs import log
from .state import AGGREGATED_AUDIT, AUDIT

MARGIN_PER_TREE_PROOF = 900  # seconds: one 2^22-row aggregation proof took 404-948 s on 2 cores


class GuardedAuditJobs(EventJobs):
    KIND, EVENT, ID_ARG = AUDIT, "AuditOpened", "auditId"

    def __init__(self, *args, policy: JoinPolicy | None = None, batch_size: int = 10, prove_batch: int = 0,
                 aggregation_margin: int | None = None, min_aggregate: int = 2, **kwargs):
        super().__init__(*args, **kwargs)
        self.policy = policy or JoinPolicy()
        self.batch_size = batch_size
        self.prove_batch = prove_batch or batch_size  # proofs made per tick; a cluster's task slots
        self.aggregation_margin = aggregation_margin  # seconds before the deadline to switch to single proofs
        self.min_aggregate = min_aggregate  # fewer examples left than this: single proofs (cheaper than one batch)

    def describe(self, args) -> dict:
        return {"model": args["modelId"], "n": args["n"]}

    def role(self, model_id: int) -> GuardedAuditProvider:
        model = self.models[model_id]
        return GuardedAuditProvider(self.market, model.path, model.circuit, model.keys)

    # ------------------------------------------------------------ off-chain input

    def accept_delivery(self, delivery: Delivery) -> None:
        """Called by the HTTP server: checks a delivery against the chain, then stores it."""
        transfers = self.market.transfers
        if transfers.functions.clientOf(delivery.transfer_id).call() != self.contract.address:
            raise DeliveryError(f"transfer {delivery.transfer_id} is not an audit transfer of this market")
        t = transfers.functions.getTransfer(delivery.transfer_id).call()
        if t.receiver != self.market.account.address:
            raise DeliveryError(f"transfer {delivery.transfer_id} is addressed to {t.receiver}, not to this provider")
        audit_id, rest = self._audit_of_transfer(delivery.transfer_id)
        if audit_id is None:
            raise DeliveryError(f"transfer {delivery.transfer_id} belongs to no audit this agent runs")
        role = self.role(self.market.audit(audit_id).modelId)
        role.check_item_sizes(delivery)  # cheap, before hashing every item against the roots
        role.check_delivery(audit_id, delivery, rest)
        self.state.save_delivery(delivery)
        log(self.logger, "delivery stored", audit=audit_id, transfer=delivery.transfer_id,
            items=len(delivery.ciphertexts))

    def _audit_of_transfer(self, transfer_id: int) -> tuple[int | None, bool]:
        for audit_id, _ in self.state.open_jobs(self.KIND):
            a = self.market.audit(audit_id)
            if a.subsetTransfer == transfer_id:
                return audit_id, False
            if a.restTransfer == transfer_id:
                return audit_id, True
        return None, False

    # ------------------------------------------------------------ one step per job

    def step(self, audit_id: int) -> None:
        current = GUARDED_STATES[self.contract.functions.state(audit_id).call()]
        a = self.market.audit(audit_id)
        role = self.role(a.modelId)
        if current == "Open":
            if self.policy.accepts(a.n, a.targetNum, a.targetDen):
                seed = role.join(audit_id)
                log(self.logger, "joined", audit=audit_id, seed=seed.hex())
            else:
                log(self.logger, "declined", audit=audit_id, n=a.n)
                self.state.finish_job(audit_id, self.KIND)
        elif current in ("SendingSubset", "SendingRest"):
            self._step_transfer(audit_id, a, role, rest=current == "SendingRest")
        elif current == "Deciding":
            delivery = self._delivery(a.subsetTransfer)
            subset = role.decrypt(delivery)
            go = role.decide(audit_id, subset, delivery.labels)
            log(self.logger, "proceeded" if go else "aborted", audit=audit_id)
        elif current == "Proving":
            self._prove_and_submit(audit_id, a, role)
        elif current in ("SubsetExpired", "RestExpired", "DecisionExpired", "Finalizable"):
            settled = role.finalize(audit_id)
            log(self.logger, "finalized", audit=audit_id, **settled)
        elif current in ("Settled", "Cancelled", "JoinExpired"):
            self.close(audit_id, current, a.token)
        # AwaitingSubset / AwaitingRest: MC's move (its deadline ends it through finalize).

    def _delivery(self, transfer_id: int) -> Delivery:
        delivery = self.state.delivery(transfer_id)
        if delivery is None:
            raise DeliveryError(f"no delivery stored for transfer {transfer_id}")
        return delivery

    def _step_transfer(self, audit_id: int, a, role: GuardedAuditProvider, rest: bool) -> None:
        transfer_id = a.restTransfer if rest else a.subsetTransfer
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

    def margin(self, agg: zp.AggregationKeys) -> int:
        """Seconds before the proof deadline below which single proofs replace aggregation: the
        configured margin, else enough for one full tree of `agg` on a 2-core machine."""
        return self.aggregation_margin if self.aggregation_margin is not None else MARGIN_PER_TREE_PROOF * agg.tree_proofs

    def _prove_and_submit(self, audit_id: int, a, role: GuardedAuditProvider) -> None:
        """One batch per tick (proved, stored, submitted), so the loop still answers serving
        contests and retrieval challenges while a long audit is being proven."""
        delivery = self._delivery(a.restTransfer)
        items = role.decrypt(delivery)
        proven = proven_indices(self.contract, audit_id, self.start_block)
        model = self.models[a.modelId]
        aggregation = model.aggregation
        if aggregation and not aggregation.takes(a.openedAt):
            aggregation = None  # the audit was opened before the aggregation verifier was registered
            log(self.logger, "audit opened before the aggregation verifier: single proofs", audit=audit_id)
        elif aggregation and self.seconds_left(a.deadline) <= self.margin(aggregation.agg):
            aggregation = None
            log(self.logger, "deadline near: single proofs", audit=audit_id, seconds_left=self.seconds_left(a.deadline))
        elif aggregation and sum(i not in proven for i in items) < self.min_aggregate:
            aggregation = None  # one aggregated proof costs more gas than these few single proofs
        kind = AGGREGATED_AUDIT if aggregation else self.KIND  # the two kinds of proof are stored apart
        per_tick = max(self.prove_batch, aggregation.agg.batch) if aggregation else self.prove_batch
        stored = self.state.proofs(audit_id, kind)
        batch = [i for i in sorted(items) if i not in stored and i not in proven][:per_tick]
        wanted = {i: items[i] for i in sorted(items) if i not in proven and (i in stored or i in batch)}
        total = a.n - a.n1
        proofs = prove_missing(self.state, kind, audit_id, wanted, model, self.prover, self.logger, total=total,
                               for_aggregation=aggregation is not None)
        if aggregation:
            # Full batches now; a short one only when nothing else is left to prove.
            ready = sorted(proofs)
            if any(i not in proven and i not in proofs for i in items):
                ready = ready[:len(ready) // aggregation.agg.batch * aggregation.agg.batch]
            proofs = {i: proofs[i] for i in ready}
        try:
            role.submit(audit_id, proofs, delivery, self.batch_size, aggregation)
        except zp.AggregationPending as pending:  # one proof of the tree per tick: back next tick
            log(self.logger, "aggregation pending", audit=audit_id, left=str(pending))
            return
        log(self.logger, "proofs submitted", audit=audit_id, done=len(proven) + len(proofs), total=total,
            aggregated=aggregation is not None)
