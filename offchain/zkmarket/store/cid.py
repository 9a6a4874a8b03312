"""Content identifiers (CIDs) as IPFS writes them, just enough to address and check objects.

The local store names an object by a CIDv1 with the ``raw`` codec and a sha2-256 multihash
(``bafkrei...``): the same CID Kubo gives a file of at most one chunk (256 KiB by default) added
with ``cid-version=1`` and ``raw-leaves``, so small objects have one address in both stores. Larger
Kubo files are ``dag-pb`` (UnixFS) trees, which :mod:`.kubo` walks and checks block by block.

Spec: https://github.com/multiformats/cid (binary CID = version varint, codec varint, multihash).
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

from eth_hash.auto import keccak as _keccak

from .base import InvalidCid

# multicodec table entries we need
RAW = 0x55
DAG_PB = 0x70
IDENTITY = 0x00
SHA2_256 = 0x12
KECCAK_256 = 0x1B

CODEC_NAMES = {RAW: "raw", DAG_PB: "dag-pb"}
HASH_NAMES = {IDENTITY: "identity", SHA2_256: "sha2-256", KECCAK_256: "keccak-256"}

_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def encode_varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def decode_varint(buf: bytes, pos: int = 0) -> tuple[int, int]:
    """(value, position after it); raises ``ValueError`` on a truncated or over-long varint."""
    value = shift = 0
    while True:
        if pos >= len(buf) or shift > 63:
            raise ValueError("truncated or over-long varint")
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7


def _b58decode(s: str) -> bytes:
    n = 0
    for ch in s:
        i = _B58.find(ch)
        if i < 0:
            raise ValueError(f"invalid base58 character {ch!r}")
        n = n * 58 + i
    body = n.to_bytes((n.bit_length() + 7) // 8, "big") if n else b""
    return b"\0" * (len(s) - len(s.lstrip("1"))) + body


def _b58encode(b: bytes) -> str:
    n = int.from_bytes(b, "big")
    out = ""
    while n:
        n, r = divmod(n, 58)
        out = _B58[r] + out
    return "1" * (len(b) - len(b.lstrip(b"\0"))) + out


def _b32decode(s: str) -> bytes:
    s = s.upper()
    return base64.b32decode(s + "=" * (-len(s) % 8))


@dataclass(frozen=True)
class Cid:
    """A parsed CID: version (0 or 1), content codec, multihash function and digest."""

    version: int
    codec: int
    hash_code: int
    digest: bytes

    @classmethod
    def parse(cls, text: str) -> Cid:
        """Parse a CID string (CIDv0 ``Qm...``, or CIDv1 in base32, base58btc or base16)."""
        try:
            if len(text) == 46 and text.startswith("Qm"):
                return cls._from_multihash(0, DAG_PB, _b58decode(text))
            if not text:
                raise ValueError("empty")
            prefix, body = text[0], text[1:]
            if prefix in "bB":
                raw = _b32decode(body)
            elif prefix == "z":
                raw = _b58decode(body)
            elif prefix in "fF":
                raw = bytes.fromhex(body)
            else:
                raise ValueError(f"unsupported multibase prefix {prefix!r}")
            return cls.from_bytes(raw)
        except (ValueError, TypeError) as e:  # binascii.Error is a ValueError
            raise InvalidCid(text, str(e)) from None

    @classmethod
    def from_bytes(cls, raw: bytes) -> Cid:
        """A binary CID: CIDv1, or CIDv0 (a bare sha2-256 multihash, as dag-pb links hold it)."""
        if raw[:2] == bytes([SHA2_256, 32]):
            return cls._from_multihash(0, DAG_PB, raw)
        version, pos = decode_varint(raw)
        if version != 1:
            raise ValueError(f"unsupported CID version {version}")
        codec, pos = decode_varint(raw, pos)
        return cls._from_multihash(1, codec, raw[pos:])

    @classmethod
    def _from_multihash(cls, version: int, codec: int, mh: bytes) -> Cid:
        code, pos = decode_varint(mh)
        length, pos = decode_varint(mh, pos)
        digest = mh[pos:]
        if len(digest) != length:
            raise ValueError(f"multihash says {length} digest bytes, has {len(digest)}")
        return cls(version, codec, code, digest)

    @classmethod
    def raw_sha256(cls, data: bytes) -> Cid:
        """The CIDv1 (raw codec, sha2-256) of ``data``: the local store's address for it."""
        return cls(1, RAW, SHA2_256, hashlib.sha256(data).digest())

    @property
    def multihash(self) -> bytes:
        return encode_varint(self.hash_code) + encode_varint(len(self.digest)) + self.digest

    def to_bytes(self) -> bytes:
        if self.version == 0:
            return self.multihash
        return encode_varint(1) + encode_varint(self.codec) + self.multihash

    def __str__(self) -> str:
        if self.version == 0:
            return _b58encode(self.multihash)
        return "b" + base64.b32encode(self.to_bytes()).decode().lower().rstrip("=")

    def hash_block(self, block: bytes) -> bytes:
        """The digest of ``block`` under this CID's hash function (what it must equal)."""
        if self.hash_code == SHA2_256:
            return hashlib.sha256(block).digest()
        if self.hash_code == KECCAK_256:
            return _keccak(block)
        if self.hash_code == IDENTITY:
            return block
        raise ValueError(f"unsupported multihash function 0x{self.hash_code:x}")

    def describe(self) -> str:
        codec = CODEC_NAMES.get(self.codec, f"codec 0x{self.codec:x}")
        fn = HASH_NAMES.get(self.hash_code, f"hash 0x{self.hash_code:x}")
        return f"CIDv{self.version} {codec} {fn}"
