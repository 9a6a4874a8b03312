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
/// commitment instead). Gas: ~160 per 32-byte block (138k for a 27,648-byte item).
library KeccakStreamCipher {
    /// @notice Encrypts item `itemIndex` (XOR with its keystream).
    function encrypt(bytes32 key, uint256 itemIndex, bytes memory plaintext) internal pure returns (bytes memory) {
        return _xorKeystream(key, itemIndex, plaintext);
    }

    /// @notice Decrypts item `itemIndex` (XOR with its keystream; the same as `encrypt`).
    function decrypt(bytes32 key, uint256 itemIndex, bytes memory ciphertext) internal pure returns (bytes memory) {
        return _xorKeystream(key, itemIndex, ciphertext);
    }

    /// @dev Word-wise XOR. The keccak preimage (key, itemIndex, j) lives in scratch memory just
    /// past `out`, which is not allocated (so it is discarded, as memory-safe assembly allows).
    /// Reading past the end of `input` is harmless: those bytes of the last word are zeroed.
    function _xorKeystream(bytes32 key, uint256 itemIndex, bytes memory input)
        private
        pure
        returns (bytes memory out)
    {
        uint256 len = input.length;
        out = new bytes(len); // allocated (and zeroed) up to a whole number of words
        assembly ("memory-safe") {
            let preimage := mload(0x40)
            mstore(preimage, key)
            mstore(add(preimage, 32), itemIndex)
            let src := add(input, 32)
            let dst := add(out, 32)
            for { let off := 0 } lt(off, len) { off := add(off, 32) } {
                mstore(add(preimage, 64), shr(5, off)) // block index j = off / 32
                mstore(add(dst, off), xor(mload(add(src, off)), keccak256(preimage, 96)))
            }
            let tail := and(len, 31)
            if tail {
                let last := add(dst, sub(len, tail))
                mstore(last, and(mload(last), not(shr(mul(8, tail), not(0)))))
            }
        }
    }
}
