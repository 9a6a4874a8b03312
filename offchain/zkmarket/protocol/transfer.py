"""The data-transfer sub-protocol's commitments (contracts/src/DataTransfer.sol): per-item
keccak keystream encryption, the ciphertext digest (a hash chain over CONTEST_CHUNK_BYTES
chunks), ciphertext leaves and root, and the salted key commitment; and the sender's proof of
delivery (`publishItems` arguments, split into transactions that fit a block)."""

from __future__ import annotations

import os
from dataclasses import dataclass

from eth_abi import encode as abi_encode
from eth_utils import keccak

from ..crypto import decrypt, encrypt
from .merkle import leaf, merkle

CONTEST_CHUNK_BYTES = 31_744


def ciphertext_digest(ciphertext: bytes) -> bytes:
    """h_last = keccak(last chunk), h_k = keccak(chunk_k ++ h_{k+1}); digest = h_0."""
    starts = list(range(0, max(len(ciphertext), 1), CONTEST_CHUNK_BYTES))
    digest = keccak(ciphertext[starts[-1]:])
    for start in reversed(starts[:-1]):
        digest = keccak(ciphertext[start:start + CONTEST_CHUNK_BYTES] + digest)
    return digest


def ciphertext_leaf(index: int, ciphertext: bytes) -> bytes:
    return leaf(["uint256", "bytes32"], [index, ciphertext_digest(ciphertext)])


def key_commitment(key: bytes, salt: bytes) -> bytes:
    return keccak(abi_encode(["bytes32", "bytes32"], [key, salt]))


@dataclass(frozen=True)
class EncryptedBatch:
    """One transfer's items: ciphertexts by test-set index, their root and proofs, and the key
    (kept secret by the sender until the reveal)."""

    key: bytes
    salt: bytes
    ciphertexts: dict[int, bytes]
    root: bytes
    proofs: dict[int, list[bytes]]

    @property
    def key_commitment(self) -> bytes:
        return key_commitment(self.key, self.salt)


def encrypt_batch(items: dict[int, bytes], key: bytes | None = None, salt: bytes | None = None) -> EncryptedBatch:
    """Encrypts each item under a fresh key (never reuse one: the keystream would repeat)."""
    if not items:
        raise ValueError("a transfer needs at least one item")
    key = key or os.urandom(32)
    salt = salt or os.urandom(32)
    indices = sorted(items)
    ciphertexts = {i: encrypt(key, i, items[i]) for i in indices}
    root, proofs = merkle([ciphertext_leaf(i, ciphertexts[i]) for i in indices])
    return EncryptedBatch(key, salt, ciphertexts, root, dict(zip(indices, proofs)))


def open_batch(ciphertexts: dict[int, bytes], key: bytes) -> dict[int, bytes]:
    """The receiver's side once the key is revealed: the plaintexts by index."""
    return {i: decrypt(key, i, c) for i, c in ciphertexts.items()}


# ---------------------------------------------------------------- proof of delivery (publishItems)

# Upper bounds of what `publishItems` costs, per transaction and per item: the calldata at the
# EIP-7623 floor (40 gas per non-zero byte; ciphertexts are random, so nearly every byte is) plus
# the ItemPublished log (8 per byte), the digest, the Merkle proof, the membership call and the
# `published` flag (a fresh storage slot, 22.1k).
PUBLISH_TX_GAS = 60_000
PUBLISH_ITEM_GAS = 60_000
PUBLISH_GAS_PER_BYTE = 50
# One transaction stays under EIP-7825's per-transaction cap (2^24) and half a 30M block.
PUBLISH_GAS_CAP = 15_000_000

PublishedItem = tuple[int, bytes, list[bytes]]  # IDataTransfer.PublishedItem: (index, ciphertext, proof)


def published_items(batch: EncryptedBatch, skip: set[int] | frozenset[int] = frozenset()) -> list[PublishedItem]:
    """`publishItems`' items for a batch, in index order: each ciphertext with its proof in the
    committed ciphertext root; indices in `skip` (already published) are left out."""
    return [(i, batch.ciphertexts[i], batch.proofs[i]) for i in sorted(batch.ciphertexts) if i not in skip]


def publish_item_gas(item: PublishedItem) -> int:
    """An upper bound of one item's share of a `publishItems` transaction."""
    _, ciphertext, proof = item
    return PUBLISH_ITEM_GAS + PUBLISH_GAS_PER_BYTE * (len(ciphertext) + 32 * len(proof) + 96)


def publish_batches(items: list[PublishedItem], gas_limit: int = PUBLISH_GAS_CAP) -> list[list[PublishedItem]]:
    """Splits the items into `publishItems` calls of at most `gas_limit` each (estimated with
    publish_item_gas; the cap is min(gas_limit, PUBLISH_GAS_CAP)). An item too large for a
    transaction of its own raises ValueError."""
    limit = min(gas_limit, PUBLISH_GAS_CAP)
    batches: list[list[PublishedItem]] = []
    current: list[PublishedItem] = []
    used = PUBLISH_TX_GAS
    for item in items:
        cost = publish_item_gas(item)
        if PUBLISH_TX_GAS + cost > limit:
            raise ValueError(f"item {item[0]} ({len(item[1])} bytes) does not fit in a transaction of "
                             f"{limit} gas")
        if current and used + cost > limit:
            batches.append(current)
            current, used = [], PUBLISH_TX_GAS
        current.append(item)
        used += cost
    if current:
        batches.append(current)
    return batches
