"""Merkle trees as the contracts build them (OpenZeppelin MerkleProof: double-keccak leaves,
sorted-pair nodes, a lone node moves up unchanged), and the 32-byte words proofs travel in."""

from __future__ import annotations

from eth_abi import encode as abi_encode
from web3 import Web3


def keccak(data: bytes) -> bytes:
    return bytes(Web3.keccak(data))


def leaf(types: list[str], values: list) -> bytes:
    """keccak256(bytes.concat(keccak256(abi.encode(...)))): the contracts' leaf encoding."""
    return keccak(keccak(abi_encode(types, values)))


def merkle(leaves: list[bytes]) -> tuple[bytes, list[list[bytes]]]:
    """Root and per-leaf proofs."""
    proofs: list[list[bytes]] = [[] for _ in leaves]
    positions = list(range(len(leaves)))
    level = list(leaves)
    while len(level) > 1:
        for i, pos in enumerate(positions):
            sibling = pos ^ 1
            if sibling < len(level):
                proofs[i].append(level[sibling])
            positions[i] = pos // 2
        level = [keccak(b"".join(sorted(level[j:j + 2]))) if j + 1 < len(level) else level[j]
                 for j in range(0, len(level), 2)]
    return level[0], proofs


def selector(signature: str) -> bytes:
    return keccak(signature.encode())[:4]


def b32(hex_value: str) -> bytes:
    """A field element in hex (as the prover writes instances) as a 32-byte big-endian word."""
    return int(hex_value, 16).to_bytes(32, "big")
