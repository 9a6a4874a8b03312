// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";

import {ProofVerifier} from "../ProofVerifier.sol";
import {AuditProof} from "../interfaces/IAccuracyAudit.sol";

/// @title TestSetProofs
/// @notice The two checks every accuracy audit makes on a proven test example: that it is a leaf
/// of the committed test set, and that the model's pinned verifier accepts its proof with the
/// instances [input commitment, registered weight commitment, predicted class].
library TestSetProofs {
    /// @notice Leaf of a test set: keccak256(bytes.concat(keccak256(abi.encode(uint256(index),
    /// inputCommitment, label)))) (double-hashed, as OpenZeppelin's StandardMerkleTree).
    function leaf(uint32 index, bytes32 inputCommitment, uint256 label) internal pure returns (bytes32) {
        return keccak256(bytes.concat(keccak256(abi.encode(uint256(index), inputCommitment, label))));
    }

    /// @notice Whether `p` opens a leaf of the test set with root `root`.
    function isCommitted(bytes32 root, AuditProof calldata p) internal pure returns (bool) {
        return MerkleProof.verifyCalldata(p.leafProof, root, leaf(p.index, p.inputCommitment, p.label));
    }

    /// @notice Whether the model's verifier (code hash pinned at registration) accepts `p.proof`.
    function isValid(address verifier, bytes32 codehash, bytes32 weightCommitment, AuditProof calldata p)
        internal
        view
        returns (bool)
    {
        uint256[] memory instances = ProofVerifier.classInstances(p.inputCommitment, weightCommitment, p.predictedClass);
        return ProofVerifier.verifyPinned(verifier, codehash, instances, p.proof);
    }
}
