"""Fetch objects and check them against commitments made elsewhere (on chain, in a signed message).

A store's ``get`` already checks bytes against their CID. The marketplace commits to objects by
other digests: a keccak256 (what Solidity computes), or the sha256 of a test set or ciphertext file
whose Merkle root is on chain. :func:`fetch_verified` checks one object against such a digest;
:func:`fetch_all` checks a batch and names every missing or tampered object in one error, so a
consumer or provider can show exactly which item of a committed set it could not get intact.

The store layer knows nothing of the contracts' Merkle leaf encoding: callers recompute the
expected digests from the on-chain leaves (``zkmarket.protocol.merkle``) and pass them here.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from eth_hash.auto import keccak as _keccak

from .base import ContentStore, ObjectMissing, ObjectsRejected, ObjectTampered, StoreError

ALGORITHMS = {
    "sha256": lambda b: hashlib.sha256(b).digest(),
    "keccak256": _keccak,
}


@dataclass(frozen=True)
class Digest:
    """A commitment to a byte string: the algorithm's name and the 32-byte digest."""

    algorithm: str
    value: bytes

    def __post_init__(self) -> None:
        if self.algorithm not in ALGORITHMS:
            raise StoreError(f"unknown digest algorithm {self.algorithm!r} (known: {', '.join(ALGORITHMS)})")
        if len(self.value) != 32:
            raise StoreError(f"a {self.algorithm} digest has 32 bytes, not {len(self.value)}")

    @classmethod
    def of(cls, data: bytes, algorithm: str = "sha256") -> Digest:
        if algorithm not in ALGORITHMS:
            raise StoreError(f"unknown digest algorithm {algorithm!r} (known: {', '.join(ALGORITHMS)})")
        return cls(algorithm, ALGORITHMS[algorithm](data))

    @classmethod
    def parse(cls, text: str) -> Digest:
        """``ALGORITHM:HEX`` (``0x`` optional), e.g. ``keccak256:0x1c8a...``."""
        algorithm, sep, hexpart = text.partition(":")
        if not sep:
            raise StoreError(f"digest {text!r} is not ALGORITHM:HEX (e.g. sha256:ab12...)")
        try:
            value = bytes.fromhex(hexpart.removeprefix("0x"))
        except ValueError:
            raise StoreError(f"digest {text!r}: {hexpart!r} is not hex") from None
        return cls(algorithm.lower(), value)

    def matches(self, data: bytes) -> bool:
        return hmac.compare_digest(ALGORITHMS[self.algorithm](data), self.value)

    def __str__(self) -> str:
        return f"{self.algorithm}:0x{self.value.hex()}"


@dataclass(frozen=True)
class Expected:
    """An object to fetch: its address, the digest it was committed with, and a label for errors."""

    cid: str
    digest: Digest
    name: str | None = None


def _where(store: ContentStore) -> str:
    return getattr(store, "where", repr(store))


def fetch_verified(store: ContentStore, cid: str, expected: Digest, name: str | None = None) -> bytes:
    """The object's bytes, checked against its CID (by the store) and against ``expected``.

    Raises :class:`ObjectMissing` or :class:`ObjectTampered` naming the object (``name`` labels it,
    e.g. ``"test item 3"``).
    """
    try:
        data = store.get(cid)
    except (ObjectMissing, ObjectTampered) as e:
        raise (e.named(name) if name else e) from None
    if not expected.matches(data):
        raise ObjectTampered(cid, where=_where(store), expected=str(expected),
                             actual=str(Digest.of(data, expected.algorithm)), what="content (committed digest)",
                             name=name)
    return data


def fetch_all(store: ContentStore, objects: Iterable[Expected], *, fail_fast: bool = False) -> list[bytes]:
    """Fetch and check each object in order. Every failure is collected (unless ``fail_fast``) and
    reported at the end: one failure raises that :class:`ObjectMissing`/:class:`ObjectTampered`,
    several raise :class:`ObjectsRejected` listing each."""
    items: Sequence[Expected] = list(objects)
    out: list[bytes] = []
    failures: list[ObjectMissing | ObjectTampered] = []
    for item in items:
        try:
            out.append(fetch_verified(store, item.cid, item.digest, item.name))
        except (ObjectMissing, ObjectTampered) as e:
            if fail_fast:
                raise
            failures.append(e)
    if len(failures) == 1:
        raise failures[0]
    if failures:
        raise ObjectsRejected(failures, len(items))
    return out
