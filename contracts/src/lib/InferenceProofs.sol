// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ProofVerifier} from "../ProofVerifier.sol";
import {IModelRegistry} from "../interfaces/IModelRegistry.sol";
import {AggregatedProof, AggregationTerms} from "./Types.sol";

/// @title InferenceProofs
/// @notice The proof checks every protocol makes on a proven inference, single or aggregated, so
/// that the instance layout lives in one place. The protocols bind each example (index, input
/// commitment, class) to their own commitments first; this library only checks that the model's
/// pinned verifier accepts a proof of exactly those examples under the registered weight
/// commitment.
/// @dev Single proof: instances [inputCommitment, weightCommitment, predictedClass]
/// (ProofVerifier.classInstances). Aggregated proof of B slots: the 12 accumulator limbs, then
/// for each slot j < B [inputCommitment_j, weightCommitment, predictedClass_j]; a batch of
/// count < B examples fills slots count..B-1 with the last example's three instances (the
/// prover pads by repeating the last inner proof). Only the accumulator comes from the
/// submitter; every other instance is built here from what the protocol checked.
library InferenceProofs {
    /// @notice Number of accumulator limbs at the head of an aggregated proof's instances.
    uint256 internal constant ACCUMULATOR_LIMBS = 12;
    /// @notice Instances per slot: input commitment, weight commitment, predicted class.
    uint256 internal constant SLOT_INSTANCES = 3;

    /// @notice The model has no aggregation verifier: it takes single proofs only.
    error NoAggregationVerifier(uint256 modelId);

    /// @notice The model's aggregation verifier was registered at `registeredAt`, not before the
    /// job was opened at `openedAt` (the same block counts as after: the order inside a block is
    /// unknown), so aggregated proofs are not among the terms the consumer opened the job
    /// under: the job takes single proofs only.
    error AggregationNotInJobTerms(uint256 modelId, uint64 registeredAt, uint64 openedAt);

    /// @notice An aggregated batch needs at least one example.
    error BatchEmpty();

    /// @notice An aggregated batch holds more examples than the verifier's `batchSize` slots.
    error BatchTooLarge(uint256 count, uint256 batchSize);

    /// @notice The input commitments and the classes of a batch differ in number.
    error BatchLengthMismatch(uint256 inputCommitments, uint256 classes);

    /// @notice Whether the model's verifier (code hash pinned at registration) accepts `proof`
    /// for [inputCommitment, weightCommitment, predictedClass].
    function verify(
        address verifier,
        bytes32 codehash,
        bytes32 weightCommitment,
        bytes32 inputCommitment,
        uint256 predictedClass,
        bytes calldata proof
    ) internal view returns (bool) {
        uint256[] memory instances = ProofVerifier.classInstances(inputCommitment, weightCommitment, predictedClass);
        return ProofVerifier.verifyPinned(verifier, codehash, instances, proof);
    }

    /// @notice The model's aggregation terms and weight commitment for a batch of `count`
    /// examples of a job opened at `openedAt` (block.timestamp of its opening), read once per
    /// batch; reverts unless the model has an aggregation verifier registered before the job
    /// was opened (registeredAt < openedAt: a verifier added after the consumer opened the job,
    /// even before the provider joined it, is not part of the job's terms) and
    /// 1 <= count <= its batch size (checked before any per-example work).
    function batchTerms(IModelRegistry registry, uint256 modelId, uint256 count, uint64 openedAt)
        internal
        view
        returns (AggregationTerms memory terms, bytes32 weightCommitment)
    {
        (terms.verifier, terms.codehash, terms.batchSize, terms.registeredAt) = registry.aggregationTerms(modelId);
        if (terms.verifier == address(0)) revert NoAggregationVerifier(modelId);
        // INVARIANT: a job is proven in aggregated batches only under an aggregation verifier
        // that existed when its consumer opened it.
        if (terms.registeredAt >= openedAt) revert AggregationNotInJobTerms(modelId, terms.registeredAt, openedAt);
        requireBatchSize(count, terms.batchSize);
        // Only the weight commitment of the job terms is needed here.
        // slither-disable-next-line unused-return
        (,,,, weightCommitment) = registry.jobTerms(modelId);
    }

    /// @notice Requires 1 <= count <= batchSize.
    function requireBatchSize(uint256 count, uint256 batchSize) internal pure {
        if (count == 0) revert BatchEmpty();
        if (count > batchSize) revert BatchTooLarge(count, batchSize);
    }

    /// @notice Whether the aggregation verifier of `terms` (code hash pinned) accepts `agg` for
    /// the examples (inputCommitments[i], classes[i]) under `weightCommitment`.
    /// @dev Reverts (rather than returning false) on a malformed request: a batch size out of
    /// range, a changed verifier, or an instance (an accumulator limb) not in the field.
    function verifyBatch(
        AggregationTerms memory terms,
        bytes32 weightCommitment,
        bytes32[] memory inputCommitments,
        uint256[] memory classes,
        AggregatedProof calldata agg
    ) internal view returns (bool) {
        uint256[] memory instances = batchInstances(
            terms.batchSize, weightCommitment, inputCommitments, classes, agg.accumulator
        );
        return ProofVerifier.verifyPinned(terms.verifier, terms.codehash, instances, agg.proof);
    }

    /// @notice The aggregation verifier's instances: `accumulator`, then `batchSize` slots
    /// [inputCommitments[j], weightCommitment, classes[j]], slots past the examples repeating
    /// the last example.
    function batchInstances(
        uint256 batchSize,
        bytes32 weightCommitment,
        bytes32[] memory inputCommitments,
        uint256[] memory classes,
        uint256[12] calldata accumulator
    ) internal pure returns (uint256[] memory instances) {
        uint256 count = inputCommitments.length;
        if (classes.length != count) revert BatchLengthMismatch(count, classes.length);
        requireBatchSize(count, batchSize);
        instances = new uint256[](ACCUMULATOR_LIMBS + SLOT_INSTANCES * batchSize);
        for (uint256 i = 0; i < ACCUMULATOR_LIMBS; ++i) {
            instances[i] = accumulator[i];
        }
        uint256 weights = uint256(weightCommitment);
        uint256 at = ACCUMULATOR_LIMBS;
        for (uint256 j = 0; j < batchSize; ++j) {
            // INVARIANT: a padded slot repeats the last example, so padding proves nothing new.
            uint256 k = j < count ? j : count - 1;
            instances[at] = uint256(inputCommitments[k]);
            instances[at + 1] = weights;
            instances[at + 2] = classes[k];
            at += SLOT_INSTANCES;
        }
    }
}
