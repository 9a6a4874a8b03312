"""The data-transfer sub-protocol's commitments (contracts/src/DataTransfer.sol): per-item
keccak keystream encryption, the ciphertext digest (a hash chain over CONTEST_CHUNK_BYTES
chunks), ciphertext leaves and root, and the salted key commitment."""

from __future__ import annotations

import os
from dataclasses import dataclass

from eth_abi import encode as abi_encode
from eth_utils import keccak

from ..chain.merkle import leaf, merkle
from ..crypto import decrypt, encrypt

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
