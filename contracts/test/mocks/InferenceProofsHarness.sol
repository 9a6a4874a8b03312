// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {InferenceProofs} from "../../src/lib/InferenceProofs.sol";
import {AggregatedProof, AggregationTerms} from "../../src/lib/Types.sol";

/// @dev Exposes the library's internal functions as external calls (so reverts can be expected).
contract InferenceProofsHarness {
    function batchInstances(
        uint256 batchSize,
        bytes32 weightCommitment,
        bytes32[] memory inputCommitments,
        uint256[] memory classes,
        uint256[12] calldata accumulator
    ) external pure returns (uint256[] memory) {
        return InferenceProofs.batchInstances(batchSize, weightCommitment, inputCommitments, classes, accumulator);
    }

    function verifyBatch(
        AggregationTerms memory terms,
        bytes32 weightCommitment,
        bytes32[] memory inputCommitments,
        uint256[] memory classes,
        AggregatedProof calldata agg
    ) external view returns (bool) {
        return InferenceProofs.verifyBatch(terms, weightCommitment, inputCommitments, classes, agg);
    }
}
