"""An IPFS content store over the Kubo RPC API (``POST /api/v0/...``), with the standard library.

Why not ipfshttpclient: it is unmaintained and refuses current Kubo versions. This client uses
four RPC commands: ``add`` (``cid-version=1``, ``raw-leaves``, sha2-256, pinned), ``cat``,
``block/get`` and ``pin/add``, plus ``block/stat`` for :meth:`KuboStore.has`.

Nothing the daemon returns is trusted. A raw-codec CID (every object of at most one chunk,
256 KiB by default) names the sha2-256 of the bytes themselves: ``get`` fetches them with ``cat``
and re-hashes them. A larger object is a UnixFS ``dag-pb`` tree: ``get`` walks it with
``block/get``, checks every block against the CID that links to it, and joins the leaves. So a
daemon whose blockstore was altered on disk (Kubo does not re-hash on read by default) or that
lies is caught and the object named. Commitments made elsewhere (a keccak256 on chain, a Merkle
leaf) are checked on top of this by :mod:`.verify`.
"""

from __future__ import annotations

import hmac
import json
import os
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass, field

from .base import BackendUnavailable, ObjectMissing, ObjectTampered, UnverifiableObject
from .cid import DAG_PB, RAW, SHA2_256, Cid, decode_varint

DEFAULT_API = "http://127.0.0.1:5001"

# Messages with which Kubo says that it does not have (and could not find) a block.
_NOT_FOUND = ("not found", "could not find", "deadline exceeded", "no link named")


class KuboError(BackendUnavailable):
    """The daemon answered a request with an error (its message is kept in ``message``)."""

    def __init__(self, command: str, message: str, status: int | None = None):
        self.command = command
        self.message = message
        self.status = status
        super().__init__(f"Kubo RPC {command} failed" + (f" (HTTP {status})" if status else "") + f": {message}")

    @property
    def not_found(self) -> bool:
        return any(s in self.message.lower() for s in _NOT_FOUND)


def default_api() -> str:
    """``$ZKMARKET_KUBO_API``, else Kubo's default RPC address."""
    return os.environ.get("ZKMARKET_KUBO_API", DEFAULT_API)


class KuboClient:
    """The few Kubo RPC calls the store needs. ``timeout`` (seconds) bounds each call, both here
    and inside the daemon (Kubo's ``timeout`` option), so a block that nobody serves ends as
    "not found" instead of hanging."""

    def __init__(self, api_url: str | None = None, timeout: float = 60.0):
        self.api_url = (api_url or default_api()).rstrip("/")
        self.timeout = timeout

    def call(self, command: str, *args: str, params: dict[str, str] | None = None,
             upload: bytes | None = None) -> bytes:
        query = [("arg", a) for a in args] + list((params or {}).items())
        query.append(("timeout", f"{self.timeout:g}s"))
        url = f"{self.api_url}/api/v0/{command}?{urllib.parse.urlencode(query)}"
        headers = {}
        body = b""
        if upload is not None:
            boundary = uuid.uuid4().hex
            body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"object\"\r\n"
                    f"Content-Type: application/octet-stream\r\n\r\n").encode() + upload + \
                f"\r\n--{boundary}--\r\n".encode()
            headers["Content-Type"] = f"multipart/form-data; boundary={boundary}"
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout + 5) as response:
                data = response.read()
                stream_error = response.headers.get("X-Stream-Error")
        except urllib.error.HTTPError as e:
            raise KuboError(command, _error_message(e.read()), e.code) from None
        except (urllib.error.URLError, OSError) as e:
            reason = getattr(e, "reason", e)
            if isinstance(reason, TimeoutError) or isinstance(e, TimeoutError):
                raise KuboError(command, f"no answer within {self.timeout:g}s (deadline exceeded)") from None
            raise BackendUnavailable(f"no Kubo RPC API at {self.api_url}: {reason}") from None
        if stream_error:
            raise KuboError(command, stream_error)
        return data

    def version(self) -> str:
        return json.loads(self.call("version"))["Version"]


def _error_message(body: bytes) -> str:
    try:
        return str(json.loads(body)["Message"])
    except (ValueError, KeyError, TypeError):
        return body.decode(errors="replace").strip() or "no message"


@dataclass
class _PbNode:
    data: bytes = b""
    links: list[bytes] = field(default_factory=list)  # binary CIDs, in order


def _fields(buf: bytes):
    """(field number, wire type, value) of each field of a protobuf message."""
    pos = 0
    while pos < len(buf):
        key, pos = decode_varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = decode_varint(buf, pos)
        elif wire == 2:
            length, pos = decode_varint(buf, pos)
            value, pos = buf[pos:pos + length], pos + length
            if len(value) != length:
                raise ValueError("truncated field")
        elif wire == 1:
            value, pos = buf[pos:pos + 8], pos + 8
        elif wire == 5:
            value, pos = buf[pos:pos + 4], pos + 4
        else:
            raise ValueError(f"unsupported wire type {wire}")
        yield number, wire, value


def _decode_pbnode(block: bytes) -> _PbNode:
    """dag-pb PBNode: Links = 2 (PBLink: Hash = 1), Data = 1."""
    node = _PbNode()
    for number, wire, value in _fields(block):
        if number == 1 and wire == 2:
            node.data = value
        elif number == 2 and wire == 2:
            link = [v for n, w, v in _fields(value) if n == 1 and w == 2]
            if not link:
                raise ValueError("link without a hash")
            node.links.append(link[0])
    return node


def _unixfs_file_data(data: bytes) -> bytes:
    """The inline bytes of a UnixFS File or Raw node (Type = 1, Data = 2)."""
    kind, inline = None, b""
    for number, wire, value in _fields(data):
        if number == 1 and wire == 0:
            kind = value
        elif number == 2 and wire == 2:
            inline = value
    if kind not in (0, 2):  # Raw, File
        raise ValueError(f"UnixFS node of type {kind} is not a file")
    return inline


class KuboStore:
    """A :class:`~.base.ContentStore` on a Kubo daemon. Objects are pinned when added."""

    def __init__(self, api_url: str | None = None, timeout: float = 60.0):
        self.client = KuboClient(api_url, timeout)

    def __repr__(self) -> str:
        return f"KuboStore({self.client.api_url!r})"

    @property
    def where(self) -> str:
        return f"the Kubo daemon at {self.client.api_url}"

    def put(self, data: bytes) -> str:
        out = self.client.call("add", upload=data, params={
            "cid-version": "1", "raw-leaves": "true", "hash": "sha2-256", "pin": "true", "quieter": "true"})
        try:
            cid = json.loads(out.decode().strip().splitlines()[-1])["Hash"]
            c = Cid.parse(cid)
        except (ValueError, KeyError, IndexError) as e:
            raise KuboError("add", f"unexpected answer {out[:200]!r} ({e})") from None
        if c.codec == RAW:  # the daemon's CID must be the hash of what we sent
            self._check(cid, c, data, "the CID the daemon returned for the added bytes")
        return cid

    def get(self, cid: str) -> bytes:
        c = Cid.parse(cid)
        if c.codec == RAW:
            data = self._fetch("cat", cid)
            self._check(cid, c, data, "content")
            return data
        if c.codec == DAG_PB:
            return self._read_file(cid, c)
        raise UnverifiableObject(cid, f"{c.describe()} is not a file (raw or dag-pb UnixFS)")

    def has(self, cid: str) -> bool:
        """Whether the daemon holds the object's root block, asked offline (never fetches)."""
        try:
            self.client.call("block/stat", str(Cid.parse(cid)), params={"offline": "true"})
        except KuboError as e:
            if e.not_found:
                return False
            raise
        return True

    def pin(self, cid: str) -> None:
        try:
            self.client.call("pin/add", cid)
        except KuboError as e:
            if e.not_found:
                raise ObjectMissing(cid, where=self.where, reason=e.message) from None
            raise

    def _fetch(self, command: str, cid: str, root: str | None = None) -> bytes:
        try:
            return self.client.call(command, cid)
        except KuboError as e:
            if e.not_found:
                reason = e.message
                if "deadline exceeded" in reason:
                    reason = f"not found within {self.client.timeout:g}s ({reason})"
                if root is not None and root != cid:
                    reason = f"block {cid}: {reason}"
                raise ObjectMissing(root or cid, where=self.where, reason=reason) from None
            raise

    def _check(self, root: str, c: Cid, block: bytes, what: str) -> None:
        try:
            actual = c.hash_block(block)
        except ValueError as e:
            raise UnverifiableObject(root, str(e)) from None
        if not hmac.compare_digest(actual, c.digest):
            fn = "sha256" if c.hash_code == SHA2_256 else f"mh 0x{c.hash_code:x}"
            raise ObjectTampered(root, where=self.where, expected=f"{fn}:{c.digest.hex()}",
                                 actual=f"{fn}:{actual.hex()}", what=what)

    def _read_file(self, root: str, c: Cid) -> bytes:
        """Walk a UnixFS file depth first, checking each block against the CID linking to it."""
        parts: list[bytes] = []
        stack = [c]
        while stack:
            node_cid = stack.pop()
            name = str(node_cid)
            block = self._fetch("block/get", name, root)
            self._check(root, node_cid, block, "content" if name == root else f"block {name}")
            if node_cid.codec == RAW:
                parts.append(block)
                continue
            if node_cid.codec != DAG_PB:
                raise UnverifiableObject(root, f"block {name} is {node_cid.describe()}")
            try:
                node = _decode_pbnode(block)
                parts.append(_unixfs_file_data(node.data))
                children = [Cid.from_bytes(raw) for raw in node.links]
            except ValueError as e:
                raise UnverifiableObject(root, f"block {name} is not a UnixFS file node: {e}") from None
            stack.extend(reversed(children))
        return b"".join(parts)
