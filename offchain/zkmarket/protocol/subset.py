"""The appendix-B audit's N1 subset, as GriefingResistantAudit.subsetOf derives it from MP's seed."""

from __future__ import annotations

from eth_abi import encode as abi_encode
from eth_utils import keccak


def subset_of(seed: bytes, n: int, n1: int) -> list[int]:
    """First n1 entries of a partial Fisher-Yates shuffle of 0..n-1: entry i swaps with
    i + uint256(keccak256(abi.encode(seed, i))) mod (n - i)."""
    if len(seed) != 32:
        raise ValueError(f"seed must be 32 bytes, got {len(seed)}")
    if not 0 <= n1 <= n:
        raise ValueError(f"need 0 <= n1 <= n, got n1={n1}, n={n}")
    order = list(range(n))
    for i in range(n1):
        r = int.from_bytes(keccak(abi_encode(["bytes32", "uint256"], [seed, i])), "big")
        j = i + r % (n - i)
        order[i], order[j] = order[j], order[i]
    return order[:n1]
