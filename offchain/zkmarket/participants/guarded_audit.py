"""The appendix-B accuracy audit (GriefingResistantAudit) step by step, for each party.

Consumer (MC): open with a committed test set, send the N1 subset and later the N2 rest through
the data-transfer service (encrypt, commit, deliver off chain, prove delivery on chain if MP does
not acknowledge, reveal the key), finalize.
Provider (MP): join with a random seed, check each delivery against the chain before
acknowledging, decrypt after the reveal and accept or contest, decide at stage 4 by local
inference on the subset, prove the N2 examples and submit them in batches.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

from .. import prover as zp
from ..protocol.merkle import merkle
from ..protocol.rules import Prices, audit_escrow, should_proceed
from ..protocol.subset import subset_of
from ..protocol.testset import CommittedTestSet, example_leaf
from ..protocol.transfer import (
    EncryptedBatch,
    ciphertext_leaf,
    encrypt_batch,
    open_batch,
    publish_batches,
    published_items,
)
from .audit_common import Aggregation, local_correct, prove_items, submit_audit_proofs
from .audit_common import finalize as finalize_audit
from .connect import MarketConnection
from .delivery import Delivery, DeliveryError


def finalize(market: MarketConnection, audit_id: int) -> dict:
    """Ends an audit whose stage is over (anyone may); returns the AuditSettled fields, if any."""
    return finalize_audit(market, market.audits, audit_id)


def transfer_indices(audit, rest: bool) -> list[int]:
    """The test-set indices of the N1 subset (stage 3) or of the N2 rest (stage 5): MP's seed
    picks the subset, so both parties derive it from the audit struct alone."""
    subset = set(subset_of(audit.seed, audit.n, audit.n1))
    return [i for i in range(audit.n) if (i in subset) != rest]


class GuardedAuditConsumer:
    """MC's moves. ``market`` is a MarketConnection or the CLI's ConsumerClient (the same
    ``send`` / ``event`` / contracts), so the CLI's resumable driver (consumer.guarded_audit) and the
    tests make the very same transactions."""

    def __init__(self, market: MarketConnection, test_set: CommittedTestSet):
        self.m, self.test_set = market, test_set

    def open(self, model_id: int, target_num: int, target_den: int) -> int:
        token = self.m.registry.functions.jobTerms(model_id).call().token
        prices = self.m.registry.functions.prices(token).call()
        escrow = audit_escrow(self.test_set.n, Prices(*prices))
        receipt = self.m.send(self.m.audits, "openAudit",
                              [model_id, self.test_set.n, target_num, target_den, self.test_set.root], value=escrow)
        return self.m.event(receipt, self.m.audits, "AuditOpened")["auditId"]

    def batch(self, audit_id: int, rest: bool, key: bytes | None = None, salt: bytes | None = None) -> EncryptedBatch:
        """The subset's or the rest's items encrypted under ``key`` (fresh when None; a resumed
        consumer passes the key it saved before committing)."""
        indices = transfer_indices(self.m.audit(audit_id), rest)
        return encrypt_batch({i: self.test_set.items[i] for i in indices}, key, salt)

    def send_items(self, audit_id: int, rest: bool, key: bytes | None = None,
                   salt: bytes | None = None) -> tuple[EncryptedBatch, Delivery]:
        """Stage 3 (subset) or 5 (rest): encrypts the items, commits on chain; returns the batch
        (keep the key until the reveal) and the delivery for MP."""
        batch = self.batch(audit_id, rest, key, salt)
        fn, event = ("sendRest", "RestSent") if rest else ("sendSubset", "SubsetSent")
        receipt = self.m.send(self.m.audits, fn, [audit_id, batch.root, batch.key_commitment])
        transfer_id = int(self.m.event(receipt, self.m.audits, event)["transferId"])
        return batch, self.delivery(transfer_id, batch)

    def delivery(self, transfer_id: int, batch: EncryptedBatch) -> Delivery:
        """What MC hands MP's agent off chain for a committed transfer."""
        return Delivery(transfer_id, batch.ciphertexts, self.test_set.commitments, self.test_set.labels)

    def reveal(self, transfer_id: int, batch: EncryptedBatch) -> None:
        self.m.send(self.m.transfers, "revealKey", [transfer_id, batch.key, batch.salt])

    def publish_plan(self, batch: EncryptedBatch, done: set[int] = frozenset()) -> list[list]:
        """The `publishItems` calls that put the items not in ``done`` on chain, each within
        half a block's gas (ValueError when an item alone does not fit)."""
        limit = int(self.m.w3.eth.get_block("latest")["gasLimit"]) // 2
        return publish_batches(published_items(batch, done), limit)

    def publish(self, transfer_id: int, batch: EncryptedBatch, *, items: bool = True, leaves: bool = True,
                chunks: list[list] | None = None) -> int:
        """Proof of delivery on chain (before the ack deadline, when MP does not acknowledge):
        the items (``chunks`` from publish_plan, all of them by default), then the test set's
        leaves; returns the number of transactions. Once both are complete, MP's silence is
        MP's fault."""
        sent = 0
        if items:
            for chunk in self.publish_plan(batch) if chunks is None else chunks:
                self.m.send(self.m.transfers, "publishItems", [transfer_id, chunk])
                sent += 1
        if leaves:
            self.m.send(self.m.transfers, "publishPlaintextLeaves",
                        [transfer_id, self.test_set.commitments, self.test_set.labels])
            sent += 1
        return sent

    def finalize(self, audit_id: int) -> dict:
        return finalize(self.m, audit_id)


class GuardedAuditProvider:
    def __init__(self, market: MarketConnection, model: str | Path, circuit: zp.CompiledCircuit, keys: zp.Keys):
        self.m, self.model, self.circuit, self.keys = market, model, circuit, keys

    def join(self, audit_id: int, seed: bytes | None = None) -> bytes:
        a = self.m.audit(audit_id)
        prices = self.m.registry.functions.prices(a.token).call()
        seed = seed or os.urandom(32)
        self.m.send(self.m.audits, "join", [audit_id, seed], value=audit_escrow(a.n, Prices(*prices)))
        return seed

    def check_delivery(self, audit_id: int, delivery: Delivery, rest: bool) -> None:
        """Raises DeliveryError unless the delivery matches every on-chain commitment."""
        a = self.m.audit(audit_id)
        t = self.m.transfers.functions.getTransfer(delivery.transfer_id).call()
        delivery.check(a.testSetRoot, t.ciphertextRoot, set(transfer_indices(a, rest)))

    def check_item_sizes(self, delivery: Delivery) -> None:
        """Raises DeliveryError unless every item has exactly the model's input size.

        The cipher keeps lengths, so this is known before the key: an item of another size can
        never be proved. Refused off chain only (the sender sees why, nothing is acknowledged);
        once items are published on chain, a missing acknowledgement is MP's fault, so MP
        acknowledges and wins the contest instead (commitments bind the length)."""
        h, w, c = self.circuit.settings["model"]["input"]["shape"]
        for index, ciphertext in sorted(delivery.ciphertexts.items()):
            if len(ciphertext) != h * w * c:
                raise DeliveryError(f"item {index} has {len(ciphertext)} bytes; the model takes {h}x{w}x{c} = "
                                    f"{h * w * c}-byte inputs: delivery refused, nothing acknowledged")

    def acknowledge(self, audit_id: int, delivery: Delivery, rest: bool) -> None:
        """Stage 3 of the transfer: only after the delivery matches every on-chain commitment."""
        self.check_delivery(audit_id, delivery, rest)
        self.m.send(self.m.transfers, "acknowledge", [delivery.transfer_id])

    def decrypt(self, delivery: Delivery) -> dict[int, bytes]:
        """The items under the key revealed on chain."""
        return open_batch(delivery.ciphertexts, self.m.transfers.functions.getTransfer(delivery.transfer_id).call().key)

    def accept_or_contest(self, delivery: Delivery) -> dict[int, bytes] | None:
        """Stage 5 of the transfer: decrypts with the revealed key; accepts if every item matches
        its committed input commitment, else contests the first that does not (MC is slashed)."""
        plaintexts = self.decrypt(delivery)
        for i in sorted(plaintexts):
            if int(zp.commit_input(list(plaintexts[i])), 16).to_bytes(32, "big") != delivery.commitments[i]:
                self.m.send(self.m.transfers, "contest", [delivery.transfer_id, self._opening(delivery, i)])
                return None
        self.m.send(self.m.transfers, "accept", [delivery.transfer_id])
        return plaintexts

    def _opening(self, delivery: Delivery, index: int) -> tuple:
        indices = sorted(delivery.ciphertexts)
        _, ct_proofs = merkle([ciphertext_leaf(i, delivery.ciphertexts[i]) for i in indices])
        leaves = [example_leaf(i, c, y) for i, (c, y) in enumerate(zip(delivery.commitments, delivery.labels))]
        _, pt_proofs = merkle(leaves)
        return (index, delivery.ciphertexts[index], ct_proofs[indices.index(index)], delivery.commitments[index],
                delivery.labels[index], pt_proofs[index])

    def decide(self, audit_id: int, subset: dict[int, bytes], labels: list[int], margin=(0, 1)) -> bool:
        """Stage 4: local inference on the N1 subset; proceed only if it meets the target."""
        a = self.m.audit(audit_id)
        correct = local_correct(self.model, subset, labels)
        go = should_proceed(correct, len(subset), a.targetNum, a.targetDen, *margin)
        self.m.send(self.m.audits, "proceed" if go else "abort", [audit_id])
        return go

    def prove(self, items: dict[int, bytes], on_proof: Callable[[int, zp.Proof], None] | None = None,
              for_aggregation: bool = False) -> dict[int, zp.Proof]:
        return prove_items(self.circuit, self.keys, items, on_proof, for_aggregation)

    def finalize(self, audit_id: int) -> dict:
        return finalize(self.m, audit_id)

    def submit(self, audit_id: int, proofs: dict[int, zp.Proof], delivery: Delivery, batch_size: int = 10,
               aggregation: Aggregation | None = None) -> None:
        """Stage 6: proofs in batches of `batch_size` per transaction (or aggregated, B examples
        per transaction), skipping accepted ones."""
        pending = [i for i in sorted(proofs) if not self.m.audits.functions.isProven(audit_id, i).call()]
        submit_audit_proofs(self.m, self.m.audits, audit_id, delivery.commitments, delivery.labels, proofs, pending,
                            batch_size, aggregation)


__all__ = ["MarketConnection", "GuardedAuditConsumer", "GuardedAuditProvider", "Delivery", "DeliveryError"]
