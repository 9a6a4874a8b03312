// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Merkle} from "./Merkle.sol";
import {RoundData} from "./RoundData.sol";

import {AuditProof} from "../../src/interfaces/IAccuracyAudit.sol";

/// @notice Deterministic audit test sets: example i has input commitment RoundData.ic(i) and
/// label i % 10. Local copy of the contract's leaf encoding (checked against it in
/// AccuracyAudit.t.sol).
library AuditData {
    function label(uint256 i) internal pure returns (uint256) {
        return i % 10;
    }

    function leaf(uint32 index, bytes32 inputCommitment, uint256 lbl) internal pure returns (bytes32) {
        return keccak256(bytes.concat(keccak256(abi.encode(uint256(index), inputCommitment, lbl))));
    }

    function leaves(uint32 n) internal pure returns (bytes32[] memory list) {
        list = new bytes32[](n);
        for (uint32 i = 0; i < n; ++i) {
            list[i] = leaf(i, RoundData.ic(i), label(i));
        }
    }

    function root(uint32 n) internal pure returns (bytes32) {
        return Merkle.root(leaves(n));
    }

    /// @dev Proofs for indices [from, to) of a test set of `n`; the first `wrong` of them predict
    /// a class other than the label (the mock verifier accepts any proof).
    function batch(uint32 n, uint32 from, uint32 to, uint32 wrong) internal pure returns (AuditProof[] memory list) {
        bytes32[] memory all = leaves(n);
        list = new AuditProof[](to - from);
        for (uint32 i = from; i < to; ++i) {
            AuditProof memory p = list[i - from];
            p.index = i;
            p.inputCommitment = RoundData.ic(i);
            p.label = label(i);
            p.predictedClass = i - from < wrong ? label(i) + 1 : label(i);
            p.leafProof = Merkle.proof(all, i);
            p.proof = hex"c0ffee";
        }
    }
}
