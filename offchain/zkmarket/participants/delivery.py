"""The off-chain half of a data transfer (appendix B stage 2): what the sender (MC) hands the
receiver (MP), and the receiver's checks of it against the on-chain commitments before it
acknowledges, so MP never signs for data it did not get. When nothing arrives off chain, the
sender's proof of delivery on chain (`publishItems` + `publishPlaintextLeaves`) is the delivery:
:func:`delivery_from_chain` rebuilds it from the events."""

from __future__ import annotations

import json
from dataclasses import dataclass

from ..protocol.merkle import leaf, merkle
from ..protocol.testset import example_leaf
from ..protocol.transfer import ciphertext_digest, ciphertext_leaf
from .errors import ParticipantError


class DeliveryError(ParticipantError):
    """The delivered data does not match what is committed on chain (names what differs)."""


@dataclass(frozen=True)
class Delivery:
    """One transfer's ciphertexts, plus the test set's public leaves (commitments and labels of
    all N examples) so MP can rebuild the test-set tree, check labels and open contests."""

    transfer_id: int
    ciphertexts: dict[int, bytes]
    commitments: list[bytes]
    labels: list[int]

    def to_json(self) -> str:
        return json.dumps({"transferId": self.transfer_id,
                           "ciphertexts": {str(i): c.hex() for i, c in self.ciphertexts.items()},
                           "commitments": [c.hex() for c in self.commitments], "labels": self.labels})

    @classmethod
    def from_json(cls, text: str) -> "Delivery":
        try:
            d = json.loads(text)
            return cls(int(d["transferId"]), {int(i): bytes.fromhex(c) for i, c in d["ciphertexts"].items()},
                       [bytes.fromhex(c) for c in d["commitments"]], [int(v) for v in d["labels"]])
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            raise DeliveryError(f"malformed delivery: {e}") from e

    def check(self, test_set_root: bytes, ciphertext_root: bytes, expected_indices: set[int]) -> None:
        """Raises DeliveryError unless the leaves rebuild the committed test set, the items are
        exactly the transfer's and their ciphertexts rebuild the committed ciphertext root."""
        if len(self.commitments) != len(self.labels):
            raise DeliveryError(f"{len(self.commitments)} commitments but {len(self.labels)} labels")
        root, _ = merkle([example_leaf(i, c, y) for i, (c, y) in enumerate(zip(self.commitments, self.labels))])
        if root != test_set_root:
            raise DeliveryError(f"test-set leaves rebuild root {root.hex()}, committed {test_set_root.hex()}")
        if set(self.ciphertexts) != expected_indices:
            missing = sorted(expected_indices - set(self.ciphertexts))
            extra = sorted(set(self.ciphertexts) - expected_indices)
            raise DeliveryError(f"transfer {self.transfer_id}: missing items {missing}, unexpected items {extra}")
        indices = sorted(self.ciphertexts)
        root, _ = merkle([ciphertext_leaf(i, self.ciphertexts[i]) for i in indices])
        if root != ciphertext_root:
            raise DeliveryError(f"transfer {self.transfer_id}: ciphertexts rebuild root {root.hex()}, "
                                f"committed {ciphertext_root.hex()}")


def publish(store, delivery: Delivery) -> dict:
    """MC's side through a content store: each ciphertext becomes an object; the manifest
    (small, posted to MP) names each item's CID and ciphertext digest."""
    items = {str(i): {"cid": store.put(c), "digest": ciphertext_digest(c).hex()}
             for i, c in sorted(delivery.ciphertexts.items())}
    return {"transferId": delivery.transfer_id, "items": items,
            "commitments": [c.hex() for c in delivery.commitments], "labels": delivery.labels}


def fetch(store, manifest: dict, ciphertext_root: bytes) -> Delivery:
    """MP's side: the manifest's digests must rebuild the on-chain ciphertext root (so the
    manifest is the committed one), then every object must be present and hash to its digest;
    a missing or tampered object is named by its transfer and item index."""
    from ..store import ObjectMissing, ObjectTampered

    try:
        transfer_id = int(manifest["transferId"])
        items = {int(i): (str(v["cid"]), bytes.fromhex(v["digest"])) for i, v in manifest["items"].items()}
        commitments = [bytes.fromhex(c) for c in manifest["commitments"]]
        labels = [int(v) for v in manifest["labels"]]
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise DeliveryError(f"malformed delivery manifest: {e}") from e
    root, _ = merkle([leaf(["uint256", "bytes32"], [i, items[i][1]]) for i in sorted(items)])
    if root != ciphertext_root:
        raise DeliveryError(f"transfer {transfer_id}: the manifest's digests rebuild root {root.hex()}, "
                            f"committed {ciphertext_root.hex()}")
    ciphertexts = {}
    for i, (cid, digest) in sorted(items.items()):
        name = f"transfer {transfer_id} item {i}"
        try:
            data = store.get(cid)
        except (ObjectMissing, ObjectTampered) as e:
            raise DeliveryError(str(e.named(name))) from e
        if ciphertext_digest(data) != digest:
            raise DeliveryError(str(ObjectTampered(cid, where=store.where, expected=digest.hex(),
                                                   actual=ciphertext_digest(data).hex(),
                                                   what="ciphertext digest", name=name)))
        ciphertexts[i] = data
    return Delivery(transfer_id, ciphertexts, commitments, labels)


# ---------------------------------------------------------------- proof of delivery on chain


def is_published(transfer: list | tuple) -> bool:
    """Whether a transfer (getTransfer's tuple) has a complete proof of delivery on chain."""
    return bool(transfer.leavesPublished) and transfer.published == transfer.itemCount


def published_ciphertexts(transfers, transfer_id: int, from_block: int = 0) -> dict[int, bytes]:
    """The ciphertexts published on chain for a transfer so far (ItemPublished events), by index."""
    logs = transfers.events.ItemPublished.get_logs(argument_filters={"transferId": transfer_id},
                                                   from_block=from_block)
    return {int(e["args"]["index"]): bytes(e["args"]["ciphertext"]) for e in logs}


def delivery_from_chain(transfers, transfer_id: int, from_block: int = 0) -> Delivery | None:
    """MP's side when nothing arrived off chain: the delivery as MC published it (ItemPublished and
    PlaintextLeavesPublished events of the DataTransferService `transfers`, from `from_block`);
    None until the publication is complete. The contract checked every item against the
    ciphertext root and the leaves against the plaintext root; MP checks again before acknowledging."""
    t = transfers.functions.getTransfer(transfer_id).call()
    if not is_published(t):
        return None
    ciphertexts = published_ciphertexts(transfers, transfer_id, from_block)
    leaves = transfers.events.PlaintextLeavesPublished.get_logs(argument_filters={"transferId": transfer_id},
                                                                from_block=from_block)
    if len(ciphertexts) != t.itemCount or not leaves:
        raise DeliveryError(f"transfer {transfer_id} is published on chain, but its events from block {from_block} "
                            f"hold {len(ciphertexts)}/{t.itemCount} items and {len(leaves)} leaf sets "
                            f"(scan from an earlier block)")
    args = leaves[0]["args"]
    return Delivery(transfer_id, ciphertexts, [bytes(c) for c in args["inputCommitments"]],
                    [int(v) for v in args["labels"]])
