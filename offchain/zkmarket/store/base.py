"""The content-store contract every backend meets, and the errors it raises.

A store keeps immutable byte strings under content addresses (CIDs). Whatever a backend returns
from :meth:`ContentStore.get` has been checked against the address asked for, so a caller never
holds bytes that differ from what the address names: a store that cannot produce them raises
:class:`ObjectMissing`, one that produces different bytes raises :class:`ObjectTampered`. Both
name the object (its CID, and a caller's label such as ``test item 3`` when given).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable


class StoreError(Exception):
    """Root of all errors raised by :mod:`zkmarket.store`."""


def _label(cid: str, name: str | None) -> str:
    return f"object {cid}" + (f" ({name})" if name else "")


class ObjectMissing(StoreError):
    """The object is not in the store (or the store could not produce it in time)."""

    def __init__(self, cid: str, *, where: str, reason: str = "not found", name: str | None = None):
        self.cid = cid
        self.where = where
        self.reason = reason
        self.name = name
        super().__init__(f"{_label(cid, name)} is missing from {where}: {reason}")

    def named(self, name: str) -> ObjectMissing:
        return ObjectMissing(self.cid, where=self.where, reason=self.reason, name=name)


class ObjectTampered(StoreError):
    """The bytes the store produced do not match the object's address or its expected digest."""

    def __init__(self, cid: str, *, where: str, expected: str, actual: str, what: str = "content",
                 name: str | None = None):
        self.cid = cid
        self.where = where
        self.expected = expected
        self.actual = actual
        self.what = what
        self.name = name
        super().__init__(f"{_label(cid, name)} from {where} is tampered: {what} should hash to {expected}, "
                         f"got {actual}")

    def named(self, name: str) -> ObjectTampered:
        return ObjectTampered(self.cid, where=self.where, expected=self.expected, actual=self.actual,
                              what=self.what, name=name)


class ObjectsRejected(StoreError):
    """Several objects of one batch are missing or tampered; ``failures`` holds each error."""

    def __init__(self, failures: list[ObjectMissing | ObjectTampered], total: int):
        self.failures = list(failures)
        self.total = total
        lines = [f"{len(self.failures)} of {total} objects rejected:"] + [f"  - {f}" for f in self.failures]
        super().__init__("\n".join(lines))


class InvalidCid(StoreError):
    """A string that is not a CID this package can read."""

    def __init__(self, text: str, reason: str):
        self.text = text
        super().__init__(f"invalid CID {text!r}: {reason}")


class UnverifiableObject(StoreError):
    """The store could fetch the object but cannot check it (unsupported codec or hash function)."""

    def __init__(self, cid: str, reason: str):
        self.cid = cid
        super().__init__(f"object {cid} cannot be verified: {reason}")


class BackendUnavailable(StoreError):
    """The backend itself failed (daemon down, refused the request, answered nonsense)."""


@runtime_checkable
class ContentStore(Protocol):
    """Immutable objects under content addresses. ``get`` returns only verified bytes."""

    def put(self, data: bytes) -> str:
        """Store ``data``; return its CID (the same CID for the same bytes)."""
        ...

    def get(self, cid: str) -> bytes:
        """The object's bytes, checked against ``cid``; raises ObjectMissing or ObjectTampered."""
        ...

    def has(self, cid: str) -> bool:
        """Whether the store holds the object locally (without fetching it from elsewhere)."""
        ...

    def pin(self, cid: str) -> None:
        """Keep the object from garbage collection; raises ObjectMissing when it cannot be had."""
        ...
