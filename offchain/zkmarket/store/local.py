"""The default content store: one file per object in a local directory.

Objects are addressed by their CIDv1 (raw codec, sha2-256; see :mod:`.cid`) and kept at
``<root>/<2 hex chars of the digest>/<cid>``. Writes are atomic (a temporary file in the same
directory, fsynced, then renamed over the final name), so a reader never sees half an object and
a crash leaves at most a stray ``.tmp-*`` file. Every read re-hashes the file: a file changed on
disk is reported as :class:`~.base.ObjectTampered`, never returned.
"""

from __future__ import annotations

import hmac
import os
import tempfile
from pathlib import Path

from .base import InvalidCid, ObjectMissing, ObjectTampered
from .cid import RAW, SHA2_256, Cid


def default_root() -> Path:
    """``$ZKMARKET_STORE_DIR``, else ``$XDG_DATA_HOME/zkmarket/store`` (``~/.local/share/...``)."""
    env = os.environ.get("ZKMARKET_STORE_DIR")
    if env:
        return Path(env)
    data_home = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(data_home) / "zkmarket" / "store"


class LocalStore:
    """A content-addressed directory. Safe for concurrent writers of the same object."""

    def __init__(self, root: str | os.PathLike[str] | None = None):
        self.root = Path(root) if root is not None else default_root()
        self.root.mkdir(parents=True, exist_ok=True)

    def __repr__(self) -> str:
        return f"LocalStore({str(self.root)!r})"

    @property
    def where(self) -> str:
        return f"the local store {self.root}"

    def _parse(self, cid: str) -> Cid:
        c = Cid.parse(cid)
        if (c.version, c.codec, c.hash_code) != (1, RAW, SHA2_256) or len(c.digest) != 32:
            raise InvalidCid(cid, f"the local store holds only CIDv1 raw sha2-256 objects, not {c.describe()}")
        return c

    def path_of(self, cid: str) -> Path:
        """Where the object with this CID lives (whether or not it is there)."""
        c = self._parse(cid)
        return self.root / c.digest.hex()[:2] / str(c)

    def put(self, data: bytes) -> str:
        c = Cid.raw_sha256(data)
        cid = str(c)
        path = self.path_of(cid)
        if path.is_file() and self._intact(path, c):
            return cid
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, 0o444)
            os.replace(tmp, path)  # atomic on POSIX: readers see the old file or the new, never half
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return cid

    def put_file(self, path: str | os.PathLike[str]) -> str:
        return self.put(Path(path).read_bytes())

    def get(self, cid: str) -> bytes:
        c = self._parse(cid)
        path = self.path_of(cid)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise ObjectMissing(cid, where=self.where, reason=f"no file {path}") from None
        actual = c.hash_block(data)
        if not hmac.compare_digest(actual, c.digest):
            raise ObjectTampered(cid, where=self.where, expected=f"sha256:{c.digest.hex()}",
                                 actual=f"sha256:{actual.hex()}", what=f"file {path}")
        return data

    def has(self, cid: str) -> bool:
        return self.path_of(cid).is_file()

    def pin(self, cid: str) -> None:
        """The local store never collects garbage: pinning only checks the object is there intact."""
        self.get(cid)

    def _intact(self, path: Path, c: Cid) -> bool:
        try:
            return c.hash_block(path.read_bytes()) == c.digest
        except OSError:
            return False
