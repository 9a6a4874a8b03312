// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {PoseidonT3} from "../../src/crypto/PoseidonT3.sol";

/// @notice Deterministic test sets with real items for the griefing-resistant audit: example i
/// is a 64-byte item (an 8x8 single-channel image) `plaintext(i)`, its input commitment is the
/// circuit's Poseidon commitment of those bytes, its label i % 10. Local copies of the
/// contracts' leaf encodings (checked against them in GriefingResistantAudit.t.sol).
library GuardedData {
    /// @dev One item: less than one contest chunk, so its ciphertext digest is keccak256(ciphertext).
    uint256 internal constant ITEM_BYTES = 64;

    /// @notice The honest bytes of example `i`.
    function plaintext(uint32 i) internal pure returns (bytes memory) {
        return bytes.concat(keccak256(abi.encode("guarded item", i, 0)), keccak256(abi.encode("guarded item", i, 1)));
    }

    /// @notice Bytes a cheating MC sends instead of example `i`.
    function garbage(uint32 i) internal pure returns (bytes memory) {
        return bytes.concat(keccak256(abi.encode("garbage", i, 0)), keccak256(abi.encode("garbage", i, 1)));
    }

    /// @notice Poseidon commitment of the item's bytes (PoseidonT3.hashBytes, as the circuit).
    function inputCommitment(uint32 i) internal pure returns (bytes32) {
        return bytes32(PoseidonT3.hashBytes(plaintext(i)));
    }

    function label(uint32 i) internal pure returns (uint256) {
        return i % 10;
    }

    /// @notice Test-set (= plaintext) leaf: IAccuracyAudit.testLeaf / IDataTransfer.plaintextLeaf.
    function leaf(uint32 index, bytes32 ic, uint256 lbl) internal pure returns (bytes32) {
        return keccak256(bytes.concat(keccak256(abi.encode(uint256(index), ic, lbl))));
    }

    /// @notice IDataTransfer.ciphertextLeaf of an item of at most one contest chunk.
    function ciphertextLeaf(uint32 index, bytes memory ciphertext) internal pure returns (bytes32) {
        return keccak256(bytes.concat(keccak256(abi.encode(uint256(index), keccak256(ciphertext)))));
    }

    /// @notice IDataTransfer.keyCommitmentOf.
    function keyCommitment(bytes32 key, bytes32 salt) internal pure returns (bytes32) {
        return keccak256(abi.encode(key, salt));
    }

    /// @notice Reference subset: the first n1 entries of the seeded partial Fisher-Yates shuffle
    /// of 0..n-1 (IGriefingResistantAudit.subsetOf), written independently of the contract.
    function subset(bytes32 seed, uint32 n, uint32 n1) internal pure returns (uint32[] memory out) {
        uint32[] memory order = new uint32[](n);
        for (uint32 i = 0; i < n; ++i) {
            order[i] = i;
        }
        out = new uint32[](n1);
        for (uint256 i = 0; i < n1; ++i) {
            uint256 r = uint256(keccak256(abi.encode(seed, i)));
            uint256 j = i + r % (n - i);
            uint32 tmp = order[i];
            order[i] = order[j];
            order[j] = tmp;
            out[i] = order[i];
        }
    }
}
