"""zkmarket.crypto: off-chain twins of the on-chain primitives in contracts/src/crypto."""

from .stream_cipher import decrypt, encrypt, keystream_block

__all__ = ["decrypt", "encrypt", "keystream_block"]
