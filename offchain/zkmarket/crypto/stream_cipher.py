"""The data-transfer protocol's item cipher, byte for byte the same as
contracts/src/crypto/KeccakStreamCipher.sol: item ``i`` is XORed with a keystream whose 32-byte
block ``j`` is keccak256(abi.encode(key, i, j)). Encryption and decryption are the same XOR.

Never encrypt two different plaintexts under the same (key, item index): the keystream would
repeat. The ciphertext is not authenticated; the protocol binds items to Poseidon commitments.
"""

from __future__ import annotations

from eth_utils import keccak

_WORD = 32


def keystream_block(key: bytes, item_index: int, block_index: int) -> bytes:
    """keccak256(abi.encode(bytes32 key, uint256 item_index, uint256 block_index))."""
    if len(key) != _WORD:
        raise ValueError(f"key must be 32 bytes, got {len(key)}")
    for name, v in (("item_index", item_index), ("block_index", block_index)):
        if not 0 <= v < 2**256:
            raise ValueError(f"{name} must be a uint256, got {v}")
    return keccak(bytes(key) + item_index.to_bytes(_WORD, "big") + block_index.to_bytes(_WORD, "big"))


def encrypt(key: bytes, item_index: int, data: bytes) -> bytes:
    """XOR ``data`` with item ``item_index``'s keystream (also decrypts)."""
    out = bytearray()
    for off in range(0, len(data), _WORD):
        chunk = data[off:off + _WORD]
        ks = keystream_block(key, item_index, off // _WORD)[:len(chunk)]
        out += (int.from_bytes(chunk, "big") ^ int.from_bytes(ks, "big")).to_bytes(len(chunk), "big")
    return bytes(out)


def decrypt(key: bytes, item_index: int, data: bytes) -> bytes:
    """Inverse of :func:`encrypt` (the same XOR)."""
    return encrypt(key, item_index, data)
