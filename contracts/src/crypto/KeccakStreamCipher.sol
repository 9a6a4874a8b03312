// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title KeccakStreamCipher: the data-transfer protocol's item encryption
/// @notice A seller publishes items encrypted under a key and later reveals the key; a contract
/// can then decrypt an item itself (e.g. to recompute its Poseidon commitment in a dispute).
/// Item `i` is XORed with a keystream whose 32-byte block `j` is keccak256(abi.encode(key, i, j)),
/// so encryption and decryption are the same operation. The Python twin is
/// offchain/zkmarket/crypto/stream_cipher.py.
/// @dev Security rests on never reusing a (key, itemIndex) pair for two different plaintexts:
/// the keystream is deterministic and the ciphertext is not authenticated (bind it to a
/// commitment instead). Gas: ~155 per 32-byte block (133k for a 27,648-byte item).
library KeccakStreamCipher {
    /// @notice Bytes per keystream block.
    uint256 internal constant BLOCK_BYTES = 32;

    /// @notice Encrypts item `itemIndex` (XOR with its keystream).
    function encrypt(bytes32 key, uint256 itemIndex, bytes memory plaintext) internal pure returns (bytes memory out) {
        out = new bytes(plaintext.length); // allocated (and zeroed) up to a whole number of words
        _xorKeystream(key, itemIndex, 0, plaintext, out);
    }

    /// @notice Decrypts item `itemIndex` (XOR with its keystream; the same as `encrypt`).
    function decrypt(bytes32 key, uint256 itemIndex, bytes memory ciphertext) internal pure returns (bytes memory out) {
        out = new bytes(ciphertext.length);
        _xorKeystream(key, itemIndex, 0, ciphertext, out);
    }

    /// @notice Decrypts a piece of item `itemIndex` that starts at keystream block `firstBlock`
    /// (its byte offset in the item / BLOCK_BYTES, so a piece starts on a block): the bytes of
    /// `decrypt` of the whole item at that offset. Used to decrypt an item chunk by chunk.
    function decryptAt(bytes32 key, uint256 itemIndex, uint256 firstBlock, bytes calldata piece)
        internal
        pure
        returns (bytes memory out)
    {
        out = new bytes(piece.length);
        assembly ("memory-safe") {
            calldatacopy(add(out, 32), piece.offset, piece.length)
        }
        _xorKeystream(key, itemIndex, firstBlock, out, out); // in place
    }

    /// @dev Word-wise XOR of `input` with the keystream from block `firstBlock` on, into `out`
    /// (allocated to input.length; may be `input` itself: each word is read before it is
    /// written). The keccak preimage (key, itemIndex, j) lives in scratch memory past the free
    /// memory pointer, which is not allocated (so it is discarded, as memory-safe assembly
    /// allows); j is incremented there in place. Reading past the end of `input` is harmless:
    /// those bytes of the last word are zeroed.
    function _xorKeystream(bytes32 key, uint256 itemIndex, uint256 firstBlock, bytes memory input, bytes memory out)
        private
        pure
    {
        assembly ("memory-safe") {
            let len := mload(input)
            let preimage := mload(0x40)
            mstore(preimage, key)
            mstore(add(preimage, 32), itemIndex)
            let src := add(input, 32)
            let dst := add(out, 32)
            let jPtr := add(preimage, 64) // j = firstBlock + off / 32, the word at `off`'s block
            mstore(jPtr, firstBlock)
            for { let off := 0 } lt(off, len) { off := add(off, 32) } {
                mstore(add(dst, off), xor(mload(add(src, off)), keccak256(preimage, 96)))
                mstore(jPtr, add(mload(jPtr), 1))
            }
            let tail := and(len, 31)
            if tail {
                let last := add(dst, sub(len, tail))
                mstore(last, and(mload(last), not(shr(mul(8, tail), not(0)))))
            }
        }
    }
}
