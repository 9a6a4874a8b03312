// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";

/// @title TestSetProofs
/// @notice The test-set check every accuracy audit makes on a proven example: that it is a leaf
/// of the committed test set. (The proof checks themselves, single or aggregated, are
/// InferenceProofs'.)
library TestSetProofs {
    /// @notice Leaf of a test set: keccak256(bytes.concat(keccak256(abi.encode(uint256(index),
    /// inputCommitment, label)))) (double-hashed, as OpenZeppelin's StandardMerkleTree).
    function leaf(uint32 index, bytes32 inputCommitment, uint256 label) internal pure returns (bytes32) {
        return keccak256(bytes.concat(keccak256(abi.encode(uint256(index), inputCommitment, label))));
    }

    /// @notice Whether `leafProof` opens (index, inputCommitment, label) in the test set with root `root`.
    function isCommitted(
        bytes32 root,
        uint32 index,
        bytes32 inputCommitment,
        uint256 label,
        bytes32[] calldata leafProof
    ) internal pure returns (bool) {
        return MerkleProof.verifyCalldata(leafProof, root, leaf(index, inputCommitment, label));
    }
}
