// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {AuditData} from "./utils/AuditData.sol";
import {GuardedData} from "./utils/GuardedData.sol";
import {GuardedFixture} from "./utils/GuardedFixture.sol";
import {RetrievalData} from "./utils/RetrievalData.sol";
import {RoundData} from "./utils/RoundData.sol";
import {InferenceProofsHarness} from "./mocks/InferenceProofsHarness.sol";
import {MockVerifier} from "./mocks/Mocks.sol";

import {ProofVerifier} from "../src/ProofVerifier.sol";
import {AuditExample, AuditProof, AuditState, IAccuracyAudit} from "../src/interfaces/IAccuracyAudit.sol";
import {TransferOutcome} from "../src/interfaces/IDataTransfer.sol";
import {
    GuardedAudit,
    GuardedOutcome,
    GuardedState,
    IGriefingResistantAudit
} from "../src/interfaces/IGriefingResistantAudit.sol";
import {IRetrieval, ResultExample, ResultProof} from "../src/interfaces/IRetrieval.sol";
import {IServingRound} from "../src/interfaces/IServingRound.sol";
import {InferenceProofs} from "../src/lib/InferenceProofs.sol";
import {AggregatedProof, AggregationTerms, Answer, AnswerExample} from "../src/lib/Types.sol";

/// @notice Aggregated proofs in every protocol: the exact calldata the aggregation verifier gets
/// (accumulator, then per-slot instances with the last example repeated, then the proof), the
/// same per-example checks, events and counters as single proofs, every refusal (including an
/// aggregation verifier registered after the job was opened, even in the same block), and an
/// honest appendix-B audit paying exactly the same whether settled with single or aggregated
/// proofs.
contract AggregatedProofsTest is GuardedFixture {
    /// @dev Slots of the aggregation verifier registered for `modelId`.
    uint32 internal constant B = 4;
    /// @dev Accuracy audit size.
    uint32 internal constant N_AUDIT = 12;
    /// @dev Serving round K and retrieval dataset D.
    uint32 internal constant K = 8;
    /// @dev Griefing-resistant audit: N = 16, N1 = 10 (the registry's), N2 = 6.
    uint32 internal constant N_G = 16;
    uint32 internal constant N2_G = 6;
    bytes32 internal constant SEED = keccak256("MP's subset seed");

    MockVerifier internal agg;
    /// @dev A model with an aggregation verifier of B slots.
    uint256 internal modelId;
    /// @dev A model without one.
    uint256 internal plainModelId;

    function setUp() public override {
        super.setUp();
        vm.warp(1_000_000);
        modelId = _registerEth(provider);
        plainModelId = _registerEth(provider);
        agg = new MockVerifier();
        vm.prank(provider);
        registry.registerAggregationVerifier(modelId, address(agg), B);
        // Jobs are opened in a later block than the registration (the earliest that may take
        // aggregated proofs: the same block counts as before it).
        vm.warp(block.timestamp + 1);
    }

    /// @dev A model without an aggregation verifier, and the bogus one (accepts anything) its
    /// provider registers once a job has been opened on it.
    function _lateModel() internal returns (uint256 m, MockVerifier late) {
        m = _registerEth(provider);
        late = new MockVerifier();
    }

    function _registerLate(uint256 m, MockVerifier late) internal {
        vm.prank(provider);
        registry.registerAggregationVerifier(m, address(late), B);
    }

    /// @dev An hour after a job of `m` was opened at `openedAt`, its provider registers `late`;
    /// returns the refusal a batch of that job then gets.
    function _registerAnHourLater(uint256 m, MockVerifier late, uint256 openedAt) internal returns (bytes memory) {
        vm.warp(openedAt + 1 hours);
        _registerLate(m, late);
        return _notInTerms(m, openedAt + 1 hours, openedAt);
    }

    /// @dev The AggregationNotInJobTerms revert data (a uint64 encodes as the uint256 of its value).
    function _notInTerms(uint256 m, uint256 registeredAt, uint256 openedAt) internal pure returns (bytes memory) {
        return abi.encodeWithSelector(InferenceProofs.AggregationNotInJobTerms.selector, m, registeredAt, openedAt);
    }

    // ---------------------------------------------------------------- helpers: batches

    function _aggProof() internal pure returns (AggregatedProof memory p) {
        for (uint256 i = 0; i < 12; ++i) {
            p.accumulator[i] = uint256(keccak256(abi.encode("limb", i))) % ProofVerifier.SCALAR_FIELD;
        }
        p.proof = hex"a99a0001";
    }

    /// @dev The aggregation verifier's calldata, written independently of InferenceProofs.
    function _calldata(bytes32[] memory ics, uint256[] memory cls, AggregatedProof memory p, uint256 b)
        internal
        pure
        returns (bytes memory out)
    {
        out = abi.encodePacked(p.accumulator);
        for (uint256 j = 0; j < b; ++j) {
            uint256 k = j < ics.length ? j : ics.length - 1;
            out = bytes.concat(out, abi.encode(ics[k], WEIGHTS, cls[k]));
        }
        out = bytes.concat(out, p.proof);
    }

    function _auditExamples(AuditProof[] memory list) internal pure returns (AuditExample[] memory out) {
        out = new AuditExample[](list.length);
        for (uint256 i = 0; i < list.length; ++i) {
            AuditProof memory p = list[i];
            out[i] = AuditExample(p.index, p.inputCommitment, p.label, p.predictedClass, p.leafProof);
        }
    }

    function _expectAudit(AuditExample[] memory ex, AggregatedProof memory p) internal {
        bytes32[] memory ics = new bytes32[](ex.length);
        uint256[] memory cls = new uint256[](ex.length);
        for (uint256 i = 0; i < ex.length; ++i) {
            (ics[i], cls[i]) = (ex[i].inputCommitment, ex[i].predictedClass);
        }
        agg.expectCalldata(_calldata(ics, cls, p, B));
    }

    // ---------------------------------------------------------------- helpers: accuracy audit

    function _accuracyProving(uint256 m) internal returns (uint256 id) {
        id = _accuracyOpen(m);
        _accuracyToProving(id);
    }

    function _accuracyOpen(uint256 m) internal returns (uint256 id) {
        uint256 escrow = accuracy.escrowFor(N_AUDIT, E, FEE);
        vm.deal(consumer, consumer.balance + escrow);
        vm.prank(consumer);
        id = accuracy.openAudit{value: escrow}(m, N_AUDIT, 1, 2, AuditData.root(N_AUDIT));
    }

    function _accuracyToProving(uint256 id) internal {
        uint256 escrow = accuracy.escrowFor(N_AUDIT, E, FEE);
        vm.deal(provider, provider.balance + escrow);
        vm.startPrank(provider);
        accuracy.join{value: escrow}(id);
        accuracy.proceed(id);
        vm.stopPrank();
    }

    function _accuracyBatch(uint32 from, uint32 to, uint32 wrong) internal pure returns (AuditExample[] memory) {
        return _auditExamples(AuditData.batch(N_AUDIT, from, to, wrong));
    }

    // ---------------------------------------------------------------- helpers: serving round

    function _contestedRound(uint256 m, uint32[] memory indices) internal returns (uint256 id) {
        id = _open(m, K, MIN_BETA);
        _roundToContested(id, indices);
    }

    function _roundToContested(uint256 id, uint32[] memory indices) internal {
        _join(id);
        _commit(id);
        _contest(id, indices);
    }

    function _answers(uint32[] memory indices) internal pure returns (AnswerExample[] memory out) {
        out = new AnswerExample[](indices.length);
        for (uint256 i = 0; i < indices.length; ++i) {
            Answer memory a = RoundData.answer(K, indices[i]);
            out[i] = AnswerExample(a.index, a.inputCommitment, a.predictedClass, a.inputProof, a.predictionProof);
        }
    }

    function _expectAnswers(AnswerExample[] memory ex, AggregatedProof memory p) internal {
        bytes32[] memory ics = new bytes32[](ex.length);
        uint256[] memory cls = new uint256[](ex.length);
        for (uint256 i = 0; i < ex.length; ++i) {
            (ics[i], cls[i]) = (ex[i].inputCommitment, ex[i].predictedClass);
        }
        agg.expectCalldata(_calldata(ics, cls, p, B));
    }

    // ---------------------------------------------------------------- helpers: retrieval

    function _challengedRequest(uint256 m, uint32[] memory indices) internal returns (uint256 id) {
        id = _openRequest(m);
        _requestToChallenged(id, indices);
    }

    function _openRequest(uint256 m) internal returns (uint256 id) {
        vm.prank(provider);
        uint256 datasetId = retrieval.commitDataset(RetrievalData.datasetRoot(K), K);
        uint256 escrow = retrieval.requesterEscrowFor(K, K, P, Z);
        vm.deal(consumer, consumer.balance + escrow);
        vm.prank(consumer);
        id = retrieval.openRequest{value: escrow}(datasetId, m, K, MIN_BETA, 1 days);
    }

    function _requestToChallenged(uint256 id, uint32[] memory indices) internal {
        uint256 bond = retrieval.bondFor(K, MIN_BETA, Z);
        vm.deal(provider, provider.balance + bond);
        vm.prank(provider);
        retrieval.join{value: bond}(id);
        bytes32 digest =
            RetrievalData.digest(address(retrieval), id, RetrievalData.datasetRoot(K), RetrievalData.resultsRoot(K));
        retrieval.commitResults(id, RetrievalData.resultsRoot(K), _sign(providerKey, digest));
        vm.prank(consumer);
        retrieval.challenge(id, indices);
    }

    function _results(uint32[] memory indices) internal pure returns (ResultExample[] memory out) {
        out = new ResultExample[](indices.length);
        for (uint256 i = 0; i < indices.length; ++i) {
            ResultProof memory a = RetrievalData.proof(K, indices[i]);
            out[i] = ResultExample(a.index, a.inputCommitment, a.predictedClass, a.documentProof, a.resultProof);
        }
    }

    function _expectResults(ResultExample[] memory ex, AggregatedProof memory p) internal {
        bytes32[] memory ics = new bytes32[](ex.length);
        uint256[] memory cls = new uint256[](ex.length);
        for (uint256 i = 0; i < ex.length; ++i) {
            (ics[i], cls[i]) = (ex[i].inputCommitment, ex[i].predictedClass);
        }
        agg.expectCalldata(_calldata(ics, cls, p, B));
    }

    // ---------------------------------------------------------------- helpers: guarded audit

    function _guardedProving(uint256 m) internal returns (uint256 id) {
        id = _openG(m, N_G, 2, 3);
        _guardedToProving(id);
    }

    function _guardedToProving(uint256 id) internal {
        _joinG(id, SEED);
        _resolveG(_sendSubsetG(id, HONEST), TransferOutcome.Completed);
        _proceedG(id);
        _resolveG(_sendRestG(id, HONEST), TransferOutcome.Completed);
        _assertState(id, GuardedState.Proving);
    }

    function _guardedBatch(uint256 id, uint256 from, uint256 to, uint256 wrong)
        internal
        returns (AuditExample[] memory)
    {
        return _auditExamples(_proofsG(id, _slice(_restIndices(id), from, to), wrong));
    }

    // ---------------------------------------------------------------- accuracy audit

    function test_accuracy_submitAggregatedProofs_exactCalldata_succeeds() public {
        uint256 id = _accuracyProving(modelId);
        AggregatedProof memory p = _aggProof();
        // A full batch of B, then a padded batch of 2 (slots 2..3 repeat example 5).
        AuditExample[] memory full = _accuracyBatch(0, 4, 1);
        _expectAudit(full, p);
        vm.expectEmit(address(accuracy));
        emit IAccuracyAudit.ProofAccepted(id, 0, AuditData.label(0) + 1, false, 1, 0);
        vm.expectEmit(address(accuracy));
        emit IAccuracyAudit.ProofAccepted(id, 1, AuditData.label(1), true, 2, 1);
        vm.expectEmit(address(accuracy));
        emit IAccuracyAudit.ProofAccepted(id, 2, AuditData.label(2), true, 3, 2);
        vm.expectEmit(address(accuracy));
        emit IAccuracyAudit.ProofAccepted(id, 3, AuditData.label(3), true, 4, 3);
        vm.prank(stranger); // anyone may relay MP's batch
        accuracy.submitAggregatedProofs(id, full, p);
        AuditExample[] memory padded = _accuracyBatch(4, 6, 0);
        _expectAudit(padded, p);
        accuracy.submitAggregatedProofs(id, padded, p);
        assertEq(uint256(accuracy.audit(id).submitted), 6);
        assertEq(uint256(accuracy.audit(id).correct), 5);
        for (uint32 i = 0; i < 6; ++i) {
            assertTrue(accuracy.isProven(id, i));
        }
        assertFalse(accuracy.isProven(id, 6));
        // Single proofs still work beside the batches.
        agg.clearExpectedCalldata();
        vm.prank(provider);
        accuracy.submitProofs(id, AuditData.batch(N_AUDIT, 6, 7, 0));
        assertEq(uint256(accuracy.audit(id).submitted), 7);
    }

    function test_accuracy_submitAggregatedProofs_noAggregationVerifier_reverts() public {
        uint256 id = _accuracyProving(plainModelId);
        vm.expectRevert(abi.encodeWithSelector(InferenceProofs.NoAggregationVerifier.selector, plainModelId));
        accuracy.submitAggregatedProofs(id, _accuracyBatch(0, 2, 0), _aggProof());
    }

    /// @dev MC opens an audit of a model without an aggregation verifier; before joining, MP
    /// registers one (a bogus verifier that accepts anything). Aggregated proofs were not part
    /// of the terms MC opened the audit under: batches are refused, single proofs still work.
    function test_accuracy_submitAggregatedProofs_registeredAfterOpening_reverts() public {
        (uint256 m, MockVerifier late) = _lateModel();
        uint256 openedAt = block.timestamp;
        uint256 id = _accuracyOpen(m);
        assertEq(uint256(accuracy.audit(id).openedAt), openedAt, "openedAt");
        bytes memory refusal = _registerAnHourLater(m, late, openedAt);
        _accuracyToProving(id);
        vm.expectRevert(refusal);
        accuracy.submitAggregatedProofs(id, _accuracyBatch(0, 2, 0), _aggProof());
        vm.prank(provider);
        accuracy.submitProofs(id, AuditData.batch(N_AUDIT, 0, 2, 0));
        assertEq(uint256(accuracy.audit(id).submitted), 2);
    }

    /// @dev Registered in the block the audit is opened in: the order inside a block is
    /// unknown, so that counts as after the opening; an audit opened a second later takes
    /// aggregated proofs.
    function test_accuracy_submitAggregatedProofs_registeredInOpeningBlock_reverts() public {
        (uint256 m, MockVerifier late) = _lateModel();
        uint256 t = block.timestamp;
        _registerLate(m, late);
        uint256 sameBlock = _accuracyProving(m);
        vm.expectRevert(_notInTerms(m, t, t));
        accuracy.submitAggregatedProofs(sameBlock, _accuracyBatch(0, 2, 0), _aggProof());
        vm.warp(t + 1);
        uint256 nextBlock = _accuracyProving(m);
        accuracy.submitAggregatedProofs(nextBlock, _accuracyBatch(0, 2, 0), _aggProof());
        assertEq(uint256(accuracy.audit(nextBlock).submitted), 2);
    }

    function test_accuracy_submitAggregatedProofs_emptyBatch_reverts() public {
        uint256 id = _accuracyProving(modelId);
        vm.expectRevert(InferenceProofs.BatchEmpty.selector);
        accuracy.submitAggregatedProofs(id, new AuditExample[](0), _aggProof());
    }

    function test_accuracy_submitAggregatedProofs_batchTooLarge_reverts() public {
        uint256 id = _accuracyProving(modelId);
        vm.expectRevert(abi.encodeWithSelector(InferenceProofs.BatchTooLarge.selector, B + 1, B));
        accuracy.submitAggregatedProofs(id, _accuracyBatch(0, B + 1, 0), _aggProof());
    }

    function test_accuracy_submitAggregatedProofs_indexOutOfRange_reverts() public {
        uint256 id = _accuracyProving(modelId);
        AuditExample[] memory ex = _accuracyBatch(0, 2, 0);
        ex[1].index = N_AUDIT;
        vm.expectRevert(abi.encodeWithSelector(IAccuracyAudit.IndexOutOfRange.selector, id, N_AUDIT, N_AUDIT));
        accuracy.submitAggregatedProofs(id, ex, _aggProof());
    }

    function test_accuracy_submitAggregatedProofs_notCommitted_reverts() public {
        uint256 id = _accuracyProving(modelId);
        AuditExample[] memory ex = _accuracyBatch(0, 2, 0);
        // Claiming another label to match a wrong prediction does not open MC's leaf.
        uint256 fake = AuditData.label(1) + 1;
        ex[1].label = fake;
        ex[1].predictedClass = fake;
        vm.expectRevert(
            abi.encodeWithSelector(IAccuracyAudit.ExampleNotCommitted.selector, id, 1, RoundData.ic(1), fake)
        );
        accuracy.submitAggregatedProofs(id, ex, _aggProof());
    }

    function test_accuracy_submitAggregatedProofs_duplicateInBatch_reverts() public {
        uint256 id = _accuracyProving(modelId);
        AuditExample[] memory ex = _accuracyBatch(0, 3, 0);
        ex[2] = ex[0];
        vm.expectRevert(abi.encodeWithSelector(IAccuracyAudit.AlreadyProven.selector, id, 0));
        accuracy.submitAggregatedProofs(id, ex, _aggProof());
        assertEq(uint256(accuracy.audit(id).submitted), 0);
    }

    function test_accuracy_submitAggregatedProofs_replayedBatch_reverts() public {
        uint256 id = _accuracyProving(modelId);
        AuditExample[] memory ex = _accuracyBatch(0, 3, 0);
        accuracy.submitAggregatedProofs(id, ex, _aggProof());
        vm.expectRevert(abi.encodeWithSelector(IAccuracyAudit.AlreadyProven.selector, id, 0));
        accuracy.submitAggregatedProofs(id, ex, _aggProof());
        // Nor may a single proof count an example of the batch again.
        vm.expectRevert(abi.encodeWithSelector(IAccuracyAudit.AlreadyProven.selector, id, 2));
        accuracy.submitProofs(id, AuditData.batch(N_AUDIT, 2, 3, 0));
        assertEq(uint256(accuracy.audit(id).submitted), 3);
    }

    function test_accuracy_submitAggregatedProofs_proofRejected_reverts() public {
        uint256 id = _accuracyProving(modelId);
        agg.setMode(MockVerifier.Mode.Reject);
        AuditExample[] memory ex = _accuracyBatch(0, 3, 0);
        vm.expectRevert(abi.encodeWithSelector(IAccuracyAudit.BatchProofRejected.selector, id));
        accuracy.submitAggregatedProofs(id, ex, _aggProof());
        // The whole batch reverted: nothing counted; MP may retry.
        assertEq(uint256(accuracy.audit(id).submitted), 0);
        assertFalse(accuracy.isProven(id, 0));
        agg.setMode(MockVerifier.Mode.Accept);
        accuracy.submitAggregatedProofs(id, ex, _aggProof());
        assertEq(uint256(accuracy.audit(id).submitted), 3);
    }

    function test_accuracy_submitAggregatedProofs_otherInstances_reverts() public {
        uint256 id = _accuracyProving(modelId);
        AggregatedProof memory p = _aggProof();
        // The verifier only accepts the batch of examples 0..1; a batch of 0..2 is another statement.
        _expectAudit(_accuracyBatch(0, 2, 0), p);
        vm.expectRevert(abi.encodeWithSelector(IAccuracyAudit.BatchProofRejected.selector, id));
        accuracy.submitAggregatedProofs(id, _accuracyBatch(0, 3, 0), p);
        // Another accumulator is another statement too.
        p.accumulator[11] += 1;
        vm.expectRevert(abi.encodeWithSelector(IAccuracyAudit.BatchProofRejected.selector, id));
        accuracy.submitAggregatedProofs(id, _accuracyBatch(0, 2, 0), p);
    }

    function test_accuracy_submitAggregatedProofs_verifierCodeChanged_reverts() public {
        uint256 id = _accuracyProving(modelId);
        bytes32 registered = address(agg).codehash;
        vm.etch(address(agg), hex"00");
        vm.expectRevert(
            abi.encodeWithSelector(
                ProofVerifier.VerifierCodehashMismatch.selector, address(agg), registered, keccak256(hex"00")
            )
        );
        accuracy.submitAggregatedProofs(id, _accuracyBatch(0, 2, 0), _aggProof());
    }

    function test_accuracy_submitAggregatedProofs_accumulatorNotInField_reverts() public {
        uint256 id = _accuracyProving(modelId);
        AggregatedProof memory p = _aggProof();
        p.accumulator[5] = ProofVerifier.SCALAR_FIELD;
        vm.expectRevert(
            abi.encodeWithSelector(ProofVerifier.InstanceNotInField.selector, 5, ProofVerifier.SCALAR_FIELD)
        );
        accuracy.submitAggregatedProofs(id, _accuracyBatch(0, 2, 0), p);
    }

    function test_accuracy_submitAggregatedProofs_wrongState_reverts() public {
        uint256 escrow = accuracy.escrowFor(N_AUDIT, E, FEE);
        vm.deal(consumer, escrow);
        vm.prank(consumer);
        uint256 id = accuracy.openAudit{value: escrow}(modelId, N_AUDIT, 1, 2, AuditData.root(N_AUDIT));
        vm.expectRevert(abi.encodeWithSelector(IAccuracyAudit.UnexpectedAuditState.selector, id, AuditState.Open));
        accuracy.submitAggregatedProofs(id, _accuracyBatch(0, 2, 0), _aggProof());
    }

    /// @dev Gas of the protocol's own work per example at B = 16 (the mock verifier costs little).
    function test_accuracy_submitAggregatedProofs_gasPerExample_succeeds() public {
        uint256 big = _registerEth(provider);
        MockVerifier agg16 = new MockVerifier();
        vm.prank(provider);
        registry.registerAggregationVerifier(big, address(agg16), 16);
        vm.warp(block.timestamp + 1);
        uint256 id = _accuracyProving(big);
        AuditExample[] memory ex = _accuracyBatch(0, 12, 2);
        AggregatedProof memory p = _aggProof();
        uint256 before = gasleft();
        accuracy.submitAggregatedProofs(id, ex, p);
        uint256 used = before - gasleft();
        emit log_named_uint("gas per example (12 of 16 slots)", used / 12);
        vm.assertLe(used / 12, 50_000, "per-example gas");
    }

    // ---------------------------------------------------------------- griefing-resistant audit

    function test_guarded_submitAggregatedProofs_exactCalldata_succeeds() public {
        uint256 id = _guardedProving(modelId);
        uint32[] memory rest = _restIndices(id);
        AggregatedProof memory p = _aggProof();
        AuditExample[] memory first = _guardedBatch(id, 0, 3, 1); // padded: slot 3 repeats rest[2]
        _expectAudit(first, p);
        vm.expectEmit(address(guarded));
        emit IGriefingResistantAudit.ProofAccepted(id, rest[0], GuardedData.label(rest[0]) + 1, false, 1, 0);
        vm.expectEmit(address(guarded));
        emit IGriefingResistantAudit.ProofAccepted(id, rest[1], GuardedData.label(rest[1]), true, 2, 1);
        vm.expectEmit(address(guarded));
        emit IGriefingResistantAudit.ProofAccepted(id, rest[2], GuardedData.label(rest[2]), true, 3, 2);
        guarded.submitAggregatedProofs(id, first, p);
        GuardedAudit memory a = guarded.audit(id);
        assertEq(uint256(a.submitted), 3);
        assertEq(uint256(a.correct), 2);
        assertTrue(guarded.isProven(id, rest[2]));
        assertFalse(guarded.isProven(id, rest[3]));
    }

    function test_guarded_submitAggregatedProofs_refusals_reverts() public {
        uint256 id = _guardedProving(modelId);
        AggregatedProof memory p = _aggProof();
        // In the subset.
        uint32[] memory inside = new uint32[](1);
        inside[0] = guarded.subsetIndices(id)[0];
        AuditExample[] memory ex = _auditExamples(_proofsG(id, inside, 0));
        vm.expectRevert(abi.encodeWithSelector(IGriefingResistantAudit.IndexInSubset.selector, id, inside[0]));
        guarded.submitAggregatedProofs(id, ex, p);
        // Out of range.
        ex = _guardedBatch(id, 0, 2, 0);
        ex[0].index = N_G;
        vm.expectRevert(abi.encodeWithSelector(IGriefingResistantAudit.IndexOutOfRange.selector, id, N_G, N_G));
        guarded.submitAggregatedProofs(id, ex, p);
        // Not committed.
        ex = _guardedBatch(id, 0, 2, 0);
        uint32 i1 = ex[1].index;
        ex[1].inputCommitment = _icOf(ex[0].index);
        vm.expectRevert(
            abi.encodeWithSelector(
                IGriefingResistantAudit.ExampleNotCommitted.selector, id, i1, _icOf(ex[0].index), GuardedData.label(i1)
            )
        );
        guarded.submitAggregatedProofs(id, ex, p);
        // Duplicate in the batch.
        ex = _guardedBatch(id, 0, 2, 0);
        ex[1] = ex[0];
        vm.expectRevert(abi.encodeWithSelector(IGriefingResistantAudit.AlreadyProven.selector, id, ex[0].index));
        guarded.submitAggregatedProofs(id, ex, p);
        // Too large, empty.
        ex = _guardedBatch(id, 0, B + 1, 0);
        vm.expectRevert(abi.encodeWithSelector(InferenceProofs.BatchTooLarge.selector, B + 1, B));
        guarded.submitAggregatedProofs(id, ex, p);
        vm.expectRevert(InferenceProofs.BatchEmpty.selector);
        guarded.submitAggregatedProofs(id, new AuditExample[](0), p);
        // Rejected.
        ex = _guardedBatch(id, 0, 2, 0);
        agg.setMode(MockVerifier.Mode.Reject);
        vm.expectRevert(abi.encodeWithSelector(IGriefingResistantAudit.BatchProofRejected.selector, id));
        guarded.submitAggregatedProofs(id, ex, p);
        agg.setMode(MockVerifier.Mode.Accept);
        // Replayed.
        ex = _guardedBatch(id, 0, 2, 0);
        guarded.submitAggregatedProofs(id, ex, p);
        vm.expectRevert(abi.encodeWithSelector(IGriefingResistantAudit.AlreadyProven.selector, id, ex[0].index));
        guarded.submitAggregatedProofs(id, ex, p);
        assertEq(uint256(guarded.audit(id).submitted), 2);
        // Code changed.
        ex = _guardedBatch(id, 2, 3, 0);
        bytes32 registered = address(agg).codehash;
        vm.etch(address(agg), hex"00");
        vm.expectRevert(
            abi.encodeWithSelector(
                ProofVerifier.VerifierCodehashMismatch.selector, address(agg), registered, keccak256(hex"00")
            )
        );
        guarded.submitAggregatedProofs(id, ex, p);
    }

    function test_guarded_submitAggregatedProofs_noAggregationVerifier_reverts() public {
        uint256 id = _guardedProving(plainModelId);
        AuditExample[] memory ex = _guardedBatch(id, 0, 2, 0);
        vm.expectRevert(abi.encodeWithSelector(InferenceProofs.NoAggregationVerifier.selector, plainModelId));
        guarded.submitAggregatedProofs(id, ex, _aggProof());
    }

    /// @dev As the accuracy audit: an aggregation verifier registered after the opening (before
    /// the join) is not part of the audit's terms.
    function test_guarded_submitAggregatedProofs_registeredAfterOpening_reverts() public {
        (uint256 m, MockVerifier late) = _lateModel();
        uint256 openedAt = block.timestamp;
        uint256 id = _openG(m, N_G, 2, 3);
        assertEq(uint256(guarded.audit(id).openedAt), openedAt, "openedAt");
        bytes memory refusal = _registerAnHourLater(m, late, openedAt);
        _guardedToProving(id);
        AuditExample[] memory ex = _guardedBatch(id, 0, 2, 0);
        vm.expectRevert(refusal);
        guarded.submitAggregatedProofs(id, ex, _aggProof());
        vm.prank(provider);
        guarded.submitProofs(id, _proofsG(id, _slice(_restIndices(id), 0, 2), 0));
        assertEq(uint256(guarded.audit(id).submitted), 2);
    }

    /// @dev An honest audit (5 of 6 correct, target 2/3) settled with single proofs and one
    /// settled with aggregated batches (4 + a padded 2) pay exactly the same.
    function test_guarded_aggregatedSettlement_paysAsSingle_succeeds() public {
        uint256 single = _guardedProving(modelId);
        AuditProof[] memory a = _proofsG(single, _slice(_restIndices(single), 0, 3), 1);
        AuditProof[] memory b = _proofsG(single, _slice(_restIndices(single), 3, N2_G), 0);
        vm.startPrank(provider);
        guarded.submitProofs(single, a);
        guarded.submitProofs(single, b);
        vm.stopPrank();
        guarded.finalize(single);
        uint256 consumerSingle = guarded.creditOf(consumer, ETH);
        uint256 providerSingle = guarded.creditOf(provider, ETH);
        uint256 feeSingle = guarded.creditOf(feeRecipient, ETH);

        uint256 batched = _guardedProving(modelId);
        AggregatedProof memory p = _aggProof();
        AuditExample[] memory first = _guardedBatch(batched, 0, 4, 1);
        AuditExample[] memory second = _guardedBatch(batched, 4, N2_G, 0);
        vm.startPrank(provider);
        guarded.submitAggregatedProofs(batched, first, p);
        guarded.submitAggregatedProofs(batched, second, p);
        vm.stopPrank();
        _assertState(batched, GuardedState.Finalizable);
        assertEq(uint256(guarded.audit(batched).correct), uint256(guarded.audit(single).correct));
        uint256 pass = 2 * (N1 * P + uint256(N2_G) * Z);
        uint256 twoNE = 2 * uint256(N_G) * E;
        vm.expectEmit(address(guarded));
        emit IGriefingResistantAudit.AuditSettled(batched, GuardedOutcome.Passed, twoNE - pass, twoNE + pass);
        guarded.finalize(batched);
        // Each audit paid MC 2NE - fee and MP 2NE + fee; both fees went to the fee recipient.
        assertEq(consumerSingle, twoNE - pass, "single: consumer");
        assertEq(providerSingle, twoNE + pass, "single: provider");
        assertEq(guarded.creditOf(consumer, ETH), 2 * consumerSingle, "batched: consumer");
        assertEq(guarded.creditOf(provider, ETH), 2 * providerSingle, "batched: provider");
        assertEq(guarded.creditOf(feeRecipient, ETH), 2 * feeSingle, "batched: fees");
        // Funds conserved: the contract holds exactly the credits.
        assertEq(address(guarded).balance, guarded.totalOwed(ETH), "balance");
        assertEq(guarded.totalOwed(ETH), 2 * (consumerSingle + providerSingle + feeSingle), "owed");
        assertEq(uint256(registry.record(modelId).auditsPassed), 2);
    }

    // ---------------------------------------------------------------- serving round

    function test_round_answerAggregated_exactCalldata_succeeds() public {
        uint32[] memory contested = new uint32[](5);
        for (uint32 i = 0; i < 5; ++i) {
            contested[i] = i + 2;
        }
        uint256 id = _contestedRound(modelId, contested);
        AggregatedProof memory p = _aggProof();
        AnswerExample[] memory ex = _answers(_indices(2, 3, 4));
        _expectAnswers(ex, p);
        vm.expectEmit(address(rounds));
        emit IServingRound.ContestAnswered(id, 2, RoundData.cls(2), 1);
        vm.expectEmit(address(rounds));
        emit IServingRound.ContestAnswered(id, 3, RoundData.cls(3), 2);
        vm.expectEmit(address(rounds));
        emit IServingRound.ContestAnswered(id, 4, RoundData.cls(4), 3);
        rounds.answerAggregated(id, ex, p);
        assertEq(uint256(rounds.round(id).answered), 3);
        assertTrue(rounds.isAnswered(id, 4));
        // The last two: one single answer, one batch of one (padded to B with itself).
        agg.clearExpectedCalldata();
        rounds.answer(id, RoundData.answer(K, 5));
        ex = _answers(_indices(6));
        _expectAnswers(ex, p);
        rounds.answerAggregated(id, ex, p);
        assertEq(uint256(rounds.round(id).answered), 5);
    }

    function test_round_answerAggregated_refusals_reverts() public {
        uint256 id = _contestedRound(modelId, _indices(1, 2, 3));
        AggregatedProof memory p = _aggProof();
        // Not contested.
        vm.expectRevert(abi.encodeWithSelector(IServingRound.NotContested.selector, id, 4));
        rounds.answerAggregated(id, _answers(_indices(1, 4)), p);
        // Input not committed.
        AnswerExample[] memory ex = _answers(_indices(1, 2));
        ex[1].inputCommitment = RoundData.ic(1);
        vm.expectRevert(abi.encodeWithSelector(IServingRound.InputNotCommitted.selector, id, 2, RoundData.ic(1)));
        rounds.answerAggregated(id, ex, p);
        // Prediction not signed.
        ex = _answers(_indices(1, 2));
        ex[1].predictedClass += 1;
        vm.expectRevert(abi.encodeWithSelector(IServingRound.PredictionNotSigned.selector, id, 2, RoundData.cls(2) + 1));
        rounds.answerAggregated(id, ex, p);
        // Duplicate in the batch.
        vm.expectRevert(abi.encodeWithSelector(IServingRound.AlreadyAnswered.selector, id, 1));
        rounds.answerAggregated(id, _answers(_indices(1, 2, 1)), p);
        // Empty, too large.
        vm.expectRevert(InferenceProofs.BatchEmpty.selector);
        rounds.answerAggregated(id, new AnswerExample[](0), p);
        uint32[] memory five = new uint32[](5);
        vm.expectRevert(abi.encodeWithSelector(InferenceProofs.BatchTooLarge.selector, 5, B));
        rounds.answerAggregated(id, _answers(five), p);
        // Rejected.
        agg.setMode(MockVerifier.Mode.Reject);
        vm.expectRevert(abi.encodeWithSelector(IServingRound.BatchProofRejected.selector, id));
        rounds.answerAggregated(id, _answers(_indices(1, 2)), p);
        assertEq(uint256(rounds.round(id).answered), 0);
        agg.setMode(MockVerifier.Mode.Accept);
        // Accumulator limb out of the field.
        AggregatedProof memory bad = _aggProof();
        bad.accumulator[0] = type(uint256).max;
        vm.expectRevert(abi.encodeWithSelector(ProofVerifier.InstanceNotInField.selector, 0, type(uint256).max));
        rounds.answerAggregated(id, _answers(_indices(1, 2)), bad);
        // Replayed.
        rounds.answerAggregated(id, _answers(_indices(1, 2)), p);
        vm.expectRevert(abi.encodeWithSelector(IServingRound.AlreadyAnswered.selector, id, 1));
        rounds.answerAggregated(id, _answers(_indices(1, 2)), p);
        // Code changed.
        bytes32 registered = address(agg).codehash;
        vm.etch(address(agg), hex"00");
        vm.expectRevert(
            abi.encodeWithSelector(
                ProofVerifier.VerifierCodehashMismatch.selector, address(agg), registered, keccak256(hex"00")
            )
        );
        rounds.answerAggregated(id, _answers(_indices(3)), p);
    }

    function test_round_answerAggregated_noAggregationVerifier_reverts() public {
        uint256 id = _contestedRound(plainModelId, _indices(1));
        vm.expectRevert(abi.encodeWithSelector(InferenceProofs.NoAggregationVerifier.selector, plainModelId));
        rounds.answerAggregated(id, _answers(_indices(1)), _aggProof());
    }

    /// @dev As the audits: an aggregation verifier registered after the round was opened
    /// (before the join) is not part of its terms; the round's opening time is its join deadline
    /// less the join window.
    function test_round_answerAggregated_registeredAfterOpening_reverts() public {
        (uint256 m, MockVerifier late) = _lateModel();
        uint256 openedAt = block.timestamp;
        uint256 id = _open(m, K, MIN_BETA);
        bytes memory refusal = _registerAnHourLater(m, late, openedAt);
        _roundToContested(id, _indices(1, 2));
        vm.expectRevert(refusal);
        rounds.answerAggregated(id, _answers(_indices(1, 2)), _aggProof());
        rounds.answer(id, RoundData.answer(K, 1));
        rounds.answer(id, RoundData.answer(K, 2));
        assertEq(uint256(rounds.round(id).answered), 2);
    }

    // ---------------------------------------------------------------- retrieval

    function test_retrieval_answerAggregated_exactCalldata_succeeds() public {
        uint256 id = _challengedRequest(modelId, _indices(0, 5, 7));
        AggregatedProof memory p = _aggProof();
        ResultExample[] memory ex = _results(_indices(0, 5, 7));
        _expectResults(ex, p);
        vm.expectEmit(address(retrieval));
        emit IRetrieval.ChallengeAnswered(id, 0, RoundData.cls(0), 1);
        vm.expectEmit(address(retrieval));
        emit IRetrieval.ChallengeAnswered(id, 5, RoundData.cls(5), 2);
        vm.expectEmit(address(retrieval));
        emit IRetrieval.ChallengeAnswered(id, 7, RoundData.cls(7), 3);
        retrieval.answerAggregated(id, ex, p);
        assertEq(uint256(retrieval.request(id).answered), 3);
        assertTrue(retrieval.isAnswered(id, 7));
    }

    function test_retrieval_answerAggregated_refusals_reverts() public {
        uint256 id = _challengedRequest(modelId, _indices(1, 2, 3));
        AggregatedProof memory p = _aggProof();
        vm.expectRevert(abi.encodeWithSelector(IRetrieval.NotChallenged.selector, id, 4));
        retrieval.answerAggregated(id, _results(_indices(1, 4)), p);
        ResultExample[] memory ex = _results(_indices(1, 2));
        ex[1].inputCommitment = RoundData.ic(1);
        vm.expectRevert(abi.encodeWithSelector(IRetrieval.DocumentNotCommitted.selector, id, 2, RoundData.ic(1)));
        retrieval.answerAggregated(id, ex, p);
        ex = _results(_indices(1, 2));
        ex[1].predictedClass += 1;
        vm.expectRevert(abi.encodeWithSelector(IRetrieval.ResultNotSigned.selector, id, 2, RoundData.cls(2) + 1));
        retrieval.answerAggregated(id, ex, p);
        vm.expectRevert(abi.encodeWithSelector(IRetrieval.AlreadyAnswered.selector, id, 2));
        retrieval.answerAggregated(id, _results(_indices(2, 2)), p);
        vm.expectRevert(InferenceProofs.BatchEmpty.selector);
        retrieval.answerAggregated(id, new ResultExample[](0), p);
        uint32[] memory five = new uint32[](5);
        vm.expectRevert(abi.encodeWithSelector(InferenceProofs.BatchTooLarge.selector, 5, B));
        retrieval.answerAggregated(id, _results(five), p);
        agg.setMode(MockVerifier.Mode.Reject);
        vm.expectRevert(abi.encodeWithSelector(IRetrieval.BatchProofRejected.selector, id));
        retrieval.answerAggregated(id, _results(_indices(1, 2)), p);
        agg.setMode(MockVerifier.Mode.Accept);
        retrieval.answerAggregated(id, _results(_indices(1, 2)), p);
        vm.expectRevert(abi.encodeWithSelector(IRetrieval.AlreadyAnswered.selector, id, 1));
        retrieval.answerAggregated(id, _results(_indices(1, 2)), p);
        assertEq(uint256(retrieval.request(id).answered), 2);
        bytes32 registered = address(agg).codehash;
        vm.etch(address(agg), hex"00");
        vm.expectRevert(
            abi.encodeWithSelector(
                ProofVerifier.VerifierCodehashMismatch.selector, address(agg), registered, keccak256(hex"00")
            )
        );
        retrieval.answerAggregated(id, _results(_indices(3)), p);
    }

    function test_retrieval_answerAggregated_noAggregationVerifier_reverts() public {
        uint256 id = _challengedRequest(plainModelId, _indices(1));
        vm.expectRevert(abi.encodeWithSelector(InferenceProofs.NoAggregationVerifier.selector, plainModelId));
        retrieval.answerAggregated(id, _results(_indices(1)), _aggProof());
    }

    /// @dev As the audits: an aggregation verifier registered after the request was opened
    /// (before the join) is not part of its terms; the request's opening time is its join
    /// deadline less the join window.
    function test_retrieval_answerAggregated_registeredAfterOpening_reverts() public {
        (uint256 m, MockVerifier late) = _lateModel();
        uint256 openedAt = block.timestamp;
        uint256 id = _openRequest(m);
        bytes memory refusal = _registerAnHourLater(m, late, openedAt);
        _requestToChallenged(id, _indices(1, 2));
        vm.expectRevert(refusal);
        retrieval.answerAggregated(id, _results(_indices(1, 2)), _aggProof());
        retrieval.answer(id, RetrievalData.proof(K, 1));
        retrieval.answer(id, RetrievalData.proof(K, 2));
        assertEq(uint256(retrieval.request(id).answered), 2);
    }

    // ---------------------------------------------------------------- instance layout

    function testFuzz_batchInstances_layout_succeeds(uint256 seed, uint256 batchSize, uint256 count) public {
        InferenceProofsHarness h = new InferenceProofsHarness();
        batchSize = bound(batchSize, 1, 64);
        count = bound(count, 1, batchSize);
        bytes32[] memory ics = new bytes32[](count);
        uint256[] memory cls = new uint256[](count);
        for (uint256 i = 0; i < count; ++i) {
            ics[i] = keccak256(abi.encode(seed, "ic", i));
            cls[i] = uint256(keccak256(abi.encode(seed, "cls", i))) % 1000;
        }
        AggregatedProof memory p;
        for (uint256 i = 0; i < 12; ++i) {
            p.accumulator[i] = uint256(keccak256(abi.encode(seed, "limb", i)));
        }
        bytes32 wc = keccak256(abi.encode(seed, "weights"));
        uint256[] memory got = h.batchInstances(batchSize, wc, ics, cls, p.accumulator);
        assertEq(got.length, 12 + 3 * batchSize, "length");
        for (uint256 i = 0; i < 12; ++i) {
            assertEq(got[i], p.accumulator[i], "limb");
        }
        for (uint256 j = 0; j < batchSize; ++j) {
            uint256 k = j < count ? j : count - 1;
            assertEq(got[12 + 3 * j], uint256(ics[k]), "input commitment");
            assertEq(got[12 + 3 * j + 1], uint256(wc), "weight commitment");
            assertEq(got[12 + 3 * j + 2], cls[k], "class");
        }
    }

    function test_batchInstances_sizeAndLengths_reverts() public {
        InferenceProofsHarness h = new InferenceProofsHarness();
        uint256[12] memory acc;
        vm.expectRevert(InferenceProofs.BatchEmpty.selector);
        h.batchInstances(4, WEIGHTS, new bytes32[](0), new uint256[](0), acc);
        vm.expectRevert(abi.encodeWithSelector(InferenceProofs.BatchTooLarge.selector, 3, 2));
        h.batchInstances(2, WEIGHTS, new bytes32[](3), new uint256[](3), acc);
        vm.expectRevert(abi.encodeWithSelector(InferenceProofs.BatchLengthMismatch.selector, 2, 1));
        h.batchInstances(4, WEIGHTS, new bytes32[](2), new uint256[](1), acc);
    }

    function test_verifyBatch_exactCalldata_succeeds() public {
        InferenceProofsHarness h = new InferenceProofsHarness();
        AggregatedProof memory p = _aggProof();
        bytes32[] memory ics = new bytes32[](1);
        uint256[] memory cls = new uint256[](1);
        (ics[0], cls[0]) = (RoundData.ic(3), 7);
        agg.expectCalldata(_calldata(ics, cls, p, B));
        AggregationTerms memory terms =
            AggregationTerms(address(agg), B, uint64(block.timestamp), address(agg).codehash);
        assertTrue(h.verifyBatch(terms, WEIGHTS, ics, cls, p));
        cls[0] = 8;
        assertFalse(h.verifyBatch(terms, WEIGHTS, ics, cls, p));
    }

    /// @dev ds-test's log event: Foundry prints it with -vv.
    event log_named_uint(string key, uint256 val);
}
