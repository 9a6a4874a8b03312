"""Content store: immutable objects under content addresses (CIDs), checked on every read.

Two backends meet :class:`ContentStore`: :class:`LocalStore` (a directory; the default) and
:class:`KuboStore` (an IPFS daemon over the Kubo RPC API). :mod:`.verify` checks fetched objects
against the digests the marketplace committed to on chain, naming any missing or tampered one.
"""

from .base import (
    BackendUnavailable,
    ContentStore,
    InvalidCid,
    ObjectMissing,
    ObjectsRejected,
    ObjectTampered,
    StoreError,
    UnverifiableObject,
)
from .cid import Cid
from .daemon import KuboDaemon, KuboNotFound, find_kubo
from .kubo import KuboClient, KuboError, KuboStore
from .local import LocalStore
from .verify import Digest, Expected, fetch_all, fetch_verified


def open_store(backend: str = "local", *, directory: str | None = None, kubo_api: str | None = None,
               timeout: float = 60.0) -> ContentStore:
    """The store a configuration names: ``local`` (``directory``) or ``kubo`` (``kubo_api``)."""
    if backend == "local":
        return LocalStore(directory)
    if backend == "kubo":
        return KuboStore(kubo_api, timeout=timeout)
    raise StoreError(f"unknown store backend {backend!r} (local or kubo)")


__all__ = [
    "BackendUnavailable", "Cid", "ContentStore", "Digest", "Expected", "InvalidCid", "KuboClient", "KuboDaemon",
    "KuboError", "KuboNotFound", "KuboStore", "LocalStore", "ObjectMissing", "ObjectTampered", "ObjectsRejected",
    "StoreError", "UnverifiableObject", "fetch_all", "fetch_verified", "find_kubo", "open_store",
]
