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
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .. import prover as zp
from ..chain.merkle import merkle
from ..chain.session import ContractSession
from ..protocol.rules import Prices, audit_escrow, should_proceed
from ..protocol.subset import subset_of
from ..protocol.testset import CommittedTestSet, example_leaf
from ..protocol.transfer import (EncryptedBatch, ciphertext_leaf, encrypt_batch, open_batch, publish_batches,
                                 published_items)
from .audit_common import finalize as finalize_audit
from .audit_common import local_correct, proof_batches, prove_items
from .delivery import T_CIPHERTEXT_ROOT, T_KEY, Delivery, DeliveryError

# GuardedAudit tuple fields (IGriefingResistantAudit.GuardedAudit).
A_CONSUMER, A_PROVIDER, A_PRICES = 0, 4, 16
A_N, A_N1, A_SUBMITTED, A_STATUS, A_DEADLINE, A_CORRECT = 1, 2, 3, 5, 6, 7
A_TOKEN, A_TARGET_NUM, A_TARGET_DEN, A_MODEL, A_ROOT, A_SEED, A_SUBSET_TRANSFER, A_REST_TRANSFER = 8, 9, 10, 11, 12, 13, 14, 15


@dataclass
class GuardedMarket:
    """The deployed contracts one party talks to, with its account."""

    session: ContractSession
    registry: object
    audits: object
    transfers: object
    account: object

    def send(self, contract, fn: str, args: list, value: int = 0):
        return self.session.send(contract, fn, args, self.account, value=value)

    def audit(self, audit_id: int) -> list:
        return self.audits.functions.audit(audit_id).call()

    def event(self, receipt, contract, name: str):
        (event,) = self.session.events(receipt, contract, name)
        return event["args"]

    def end_job(self, contract, fn: str, job_id: int, settled_event: str) -> dict:
        """Calls ``fn`` (finalize / settle) on a job whose stage is over (anyone may); returns the
        ``settled_event`` fields, if any (none when it was cancelled)."""
        receipt = self.send(contract, fn, [job_id])
        settled = self.session.events(receipt, contract, settled_event)
        return {k: int(v) for k, v in settled[0]["args"].items()} if settled else {}


def finalize(market: GuardedMarket, audit_id: int) -> dict:
    """Ends an audit whose stage is over (anyone may); returns the AuditSettled fields, if any."""
    return finalize_audit(market, market.audits, audit_id)


class GuardedAuditConsumer:
    def __init__(self, market: GuardedMarket, test_set: CommittedTestSet):
        self.m, self.test_set = market, test_set

    def open(self, model_id: int, target_num: int, target_den: int) -> int:
        token = self.m.registry.functions.jobTerms(model_id).call()[1]
        prices = self.m.registry.functions.prices(token).call()
        escrow = audit_escrow(self.test_set.n, Prices(*prices))
        receipt = self.m.send(self.m.audits, "openAudit",
                              [model_id, self.test_set.n, target_num, target_den, self.test_set.root], value=escrow)
        return self.m.event(receipt, self.m.audits, "AuditOpened")["auditId"]

    def send_items(self, audit_id: int, rest: bool) -> tuple[EncryptedBatch, Delivery]:
        """Stage 3 (subset) or 5 (rest): encrypts the items under a fresh key, commits on chain;
        returns the batch (keep the key until the reveal) and the delivery for MP."""
        a = self.m.audit(audit_id)
        subset = set(subset_of(a[A_SEED], a[A_N], a[A_N1]))
        indices = [i for i in range(a[A_N]) if (i in subset) != rest]
        batch = encrypt_batch({i: self.test_set.items[i] for i in indices})
        fn, event = ("sendRest", "RestSent") if rest else ("sendSubset", "SubsetSent")
        receipt = self.m.send(self.m.audits, fn, [audit_id, batch.root, batch.key_commitment])
        transfer_id = self.m.event(receipt, self.m.audits, event)["transferId"]
        return batch, Delivery(transfer_id, batch.ciphertexts, self.test_set.commitments, self.test_set.labels)

    def reveal(self, transfer_id: int, batch: EncryptedBatch) -> None:
        self.m.send(self.m.transfers, "revealKey", [transfer_id, batch.key, batch.salt])

    def publish(self, transfer_id: int, batch: EncryptedBatch, *, items: bool = True, leaves: bool = True) -> int:
        """Proof of delivery on chain (before the ack deadline, when MP does not acknowledge):
        the items in transactions that fit half a block, then the test set's leaves; returns
        the number of transactions. Once both are complete, MP's silence is MP's fault."""
        sent = 0
        if items:
            limit = int(self.m.session.w3.eth.get_block("latest")["gasLimit"]) // 2
            for chunk in publish_batches(published_items(batch), limit):
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
    def __init__(self, market: GuardedMarket, model: str | Path, circuit: zp.CompiledCircuit, keys: zp.Keys):
        self.m, self.model, self.circuit, self.keys = market, model, circuit, keys

    def join(self, audit_id: int, seed: bytes | None = None) -> bytes:
        a = self.m.audit(audit_id)
        prices = self.m.registry.functions.prices(a[A_TOKEN]).call()
        seed = seed or os.urandom(32)
        self.m.send(self.m.audits, "join", [audit_id, seed], value=audit_escrow(a[A_N], Prices(*prices)))
        return seed

    def transfer_items(self, audit_id: int, rest: bool) -> set[int]:
        a = self.m.audit(audit_id)
        subset = set(subset_of(a[A_SEED], a[A_N], a[A_N1]))
        return {i for i in range(a[A_N]) if (i in subset) != rest}

    def check_delivery(self, audit_id: int, delivery: Delivery, rest: bool) -> None:
        """Raises DeliveryError unless the delivery matches every on-chain commitment."""
        a = self.m.audit(audit_id)
        t = self.m.transfers.functions.getTransfer(delivery.transfer_id).call()
        delivery.check(a[A_ROOT], t[T_CIPHERTEXT_ROOT], self.transfer_items(audit_id, rest))

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
        return open_batch(delivery.ciphertexts, self.m.transfers.functions.getTransfer(delivery.transfer_id).call()[T_KEY])

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
        go = should_proceed(correct, len(subset), a[A_TARGET_NUM], a[A_TARGET_DEN], *margin)
        self.m.send(self.m.audits, "proceed" if go else "abort", [audit_id])
        return go

    def prove(self, items: dict[int, bytes], on_proof: Callable[[int, zp.Proof], None] | None = None) -> dict[int, zp.Proof]:
        return prove_items(self.circuit, self.keys, items, on_proof)

    def finalize(self, audit_id: int) -> dict:
        return finalize(self.m, audit_id)

    def submit(self, audit_id: int, proofs: dict[int, zp.Proof], delivery: Delivery, batch_size: int = 10) -> None:
        """Stage 6: proofs in batches of `batch_size` per transaction, skipping accepted ones."""
        pending = [i for i in sorted(proofs) if not self.m.audits.functions.isProven(audit_id, i).call()]
        for batch in proof_batches(delivery.commitments, delivery.labels, proofs, pending, batch_size):
            self.m.send(self.m.audits, "submitProofs", [audit_id, batch])


__all__ = ["GuardedMarket", "GuardedAuditConsumer", "GuardedAuditProvider", "Delivery", "DeliveryError"]
