// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {AuditData} from "./utils/AuditData.sol";
import {AuditFixture} from "./utils/AuditFixture.sol";
import {RoundData} from "./utils/RoundData.sol";
import {MockVerifier} from "./mocks/Mocks.sol";

import {AccuracyAudit} from "../src/AccuracyAudit.sol";
import {ProofVerifier} from "../src/ProofVerifier.sol";
import {
    Audit,
    AuditConfig,
    AuditOutcome,
    AuditProof,
    AuditState,
    AuditStatus,
    IAccuracyAudit
} from "../src/interfaces/IAccuracyAudit.sol";
import {IEscrow} from "../src/interfaces/IEscrow.sol";
import {IModelRegistry} from "../src/interfaces/IModelRegistry.sol";
import {ModelRecord, ModelStatus, Outcome} from "../src/lib/Types.sol";

contract AccuracyAuditTest is AuditFixture {
    uint32 internal constant N = 8;
    /// @dev Target 3/4: with N = 8, at least 6 correct.
    uint64 internal constant NUM = 3;
    uint64 internal constant DEN = 4;

    uint256 internal modelId;
    uint256 internal tokenModelId;

    function setUp() public override {
        super.setUp();
        modelId = _registerEth(provider);
        tokenModelId = _registerToken(provider);
    }

    /// @dev An ETH audit of N, joined and proceeded.
    function _proving() internal returns (uint256 id) {
        id = _openAudit(modelId, N, NUM, DEN);
        _joinAudit(id);
        _proceed(id);
    }

    function _assertPayouts(address token, uint256 consumerPayout, uint256 providerPayout) internal view {
        assertEq(audits.creditOf(consumer, token), consumerPayout, "consumer payout");
        assertEq(audits.creditOf(provider, token), providerPayout, "provider payout");
        assertEq(audits.creditOf(feeRecipient, token), 2 * FEE, "fees");
        // Conservation: both escrows are fully paid out.
        assertEq(consumerPayout + providerPayout + 2 * FEE, 2 * _escrow(N), "conservation");
        assertEq(audits.totalOwed(token), consumerPayout + providerPayout + 2 * FEE, "owed");
    }

    function _assertRecord(uint256 id, uint64 passed, uint64 failed, uint64 aborted) internal view {
        ModelRecord memory r = registry.record(id);
        assertEq(uint256(r.auditsPassed), passed, "passed");
        assertEq(uint256(r.auditsFailed), failed, "failed");
        assertEq(uint256(r.auditsAborted), aborted, "aborted");
        assertEq(uint256(registry.model(id).openJobs), 0, "unlocked");
        assertEq(registry.locksHeld(id, address(audits)), 0, "no lock");
    }

    // ---------------------------------------------------------------- constructor

    function test_constructor_config_succeeds() public view {
        assertEq(address(audits.registry()), address(registry));
        assertEq(uint256(audits.maxN()), MAX_N);
        assertEq(uint256(audits.proofTimePerExample()), PROOF_TIME);
        assertEq(uint256(audits.joinWindow()), JOIN_WINDOW);
        assertEq(uint256(audits.decisionWindow()), DECISION_WINDOW);
        assertEq(uint256(audits.proofWindow()), PROOF_WINDOW_BASE);
        assertEq(audits.MAX_WINDOW(), 3650 days);
    }

    function test_constructor_registryNotContract_reverts() public {
        vm.expectRevert(abi.encodeWithSelector(IAccuracyAudit.RegistryNotContract.selector, stranger));
        new AccuracyAudit(IModelRegistry(stranger), _auditConfig());
    }

    function test_constructor_zeroValues_reverts() public {
        for (uint256 i = 0; i < 4; ++i) {
            AuditConfig memory c = _auditConfig();
            if (i == 0) c.maxN = 0;
            if (i == 1) c.joinWindow = 0;
            if (i == 2) c.decisionWindow = 0;
            if (i == 3) c.proofWindow = 0;
            vm.expectRevert(IAccuracyAudit.ZeroConfigValue.selector);
            new AccuracyAudit(IModelRegistry(address(registry)), c);
        }
    }

    function test_constructor_windowTooLong_reverts() public {
        uint64 tooLong = uint64(3650 days + 1);
        for (uint256 i = 0; i < 4; ++i) {
            AuditConfig memory c = _auditConfig();
            uint256 window = tooLong;
            if (i == 0) c.joinWindow = tooLong;
            if (i == 1) c.decisionWindow = tooLong;
            if (i == 2) c.proofWindow = tooLong;
            if (i == 3) {
                // (3650 days + 1) / 256 + 1 fits uint32.
                // forge-lint: disable-next-line(unsafe-typecast)
                c.proofTimePerExample = uint32(tooLong / c.maxN + 1);
                window = uint256(c.maxN) * c.proofTimePerExample;
            }
            vm.expectRevert(abi.encodeWithSelector(IAccuracyAudit.WindowTooLong.selector, window, 3650 days));
            new AccuracyAudit(IModelRegistry(address(registry)), c);
        }
    }

    // ---------------------------------------------------------------- views

    function test_testLeaf_matchesLocalEncoding_succeeds() public view {
        for (uint32 i = 0; i < 4; ++i) {
            assertEq(
                audits.testLeaf(i, RoundData.ic(i), AuditData.label(i)), AuditData.leaf(i, RoundData.ic(i), i % 10)
            );
        }
        // Same double-keccak scheme as ServingRound's leaves, over (index, inputCommitment, label).
        assertEq(audits.testLeaf(3, RoundData.ic(3), 7), rounds.predictionLeaf(3, RoundData.ic(3), 7));
    }

    function test_escrowFor_formula_succeeds() public view {
        assertEq(audits.escrowFor(N, E, FEE), 2 * uint256(N) * E + FEE);
        assertEq(audits.escrowFor(type(uint32).max, E, FEE), 2 * uint256(type(uint32).max) * E + FEE);
    }

    function test_targetMet_boundaries_succeeds() public view {
        assertTrue(audits.targetMet(6, 8, 3, 4));
        assertFalse(audits.targetMet(5, 8, 3, 4));
        assertTrue(audits.targetMet(0, 8, 0, 1));
        assertTrue(audits.targetMet(8, 8, 1, 1));
        assertFalse(audits.targetMet(7, 8, 1, 1));
        // 2/3 of 9 = 6 exactly.
        assertTrue(audits.targetMet(6, 9, 2, 3));
        assertFalse(audits.targetMet(5, 9, 2, 3));
        assertTrue(audits.targetMet(type(uint32).max, type(uint32).max, type(uint64).max, type(uint64).max));
    }

    // ---------------------------------------------------------------- openAudit

    function test_openAudit_eth_succeeds() public {
        bytes32 root = AuditData.root(N);
        uint256 escrow = _escrow(N);
        vm.deal(consumer, escrow);
        vm.expectEmit(address(audits));
        emit IAccuracyAudit.AuditOpened(
            1, modelId, consumer, ETH, N, NUM, DEN, root, escrow, uint64(block.timestamp + JOIN_WINDOW)
        );
        vm.prank(consumer);
        uint256 id = audits.openAudit{value: escrow}(modelId, N, NUM, DEN, root);
        assertEq(id, 1);
        assertEq(audits.auditCount(), 1);
        assertEq(uint256(audits.state(id)), uint256(AuditState.Open));
        Audit memory a = audits.audit(id);
        assertEq(a.consumer, consumer);
        assertEq(a.provider, provider);
        assertEq(uint256(a.n), N);
        assertEq(uint256(a.targetNum), NUM);
        assertEq(uint256(a.targetDen), DEN);
        assertEq(a.token, ETH);
        assertEq(a.testSetRoot, root);
        assertEq(a.modelId, modelId);
        assertEq(a.prices.exampleE, E);
        assertEq(a.prices.proofZ, Z);
        assertEq(a.prices.inferenceP, P);
        assertEq(a.prices.feeEpsilon, FEE);
        assertEq(uint256(a.status), uint256(AuditStatus.Opened));
        assertEq(address(audits).balance, escrow);
        assertEq(audits.totalOwed(ETH), escrow);
        // Opening does not lock the stake; joining does.
        assertEq(uint256(registry.model(modelId).openJobs), 0);
    }

    function test_openAudit_erc20_succeeds() public {
        uint256 id = _openAudit(tokenModelId, N, NUM, DEN);
        assertEq(usd.balanceOf(address(audits)), _escrow(N));
        assertEq(audits.totalOwed(address(usd)), _escrow(N));
        assertEq(audits.audit(id).token, address(usd));
    }

    function test_openAudit_modelNotFound_reverts() public {
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.ModelNotFound.selector, 99));
        audits.openAudit(99, N, NUM, DEN, bytes32(uint256(1)));
    }

    function test_openAudit_modelUnbonding_reverts() public {
        vm.prank(provider);
        registry.requestUnbond(modelId);
        vm.expectRevert(abi.encodeWithSelector(IAccuracyAudit.ModelUnavailable.selector, modelId));
        audits.openAudit(modelId, N, NUM, DEN, bytes32(uint256(1)));
    }

    function test_openAudit_zeroN_reverts() public {
        vm.expectRevert(abi.encodeWithSelector(IAccuracyAudit.TestSetSizeOutOfRange.selector, 0, MAX_N));
        audits.openAudit(modelId, 0, NUM, DEN, bytes32(uint256(1)));
    }

    function test_openAudit_nAboveMax_reverts() public {
        vm.expectRevert(abi.encodeWithSelector(IAccuracyAudit.TestSetSizeOutOfRange.selector, MAX_N + 1, MAX_N));
        audits.openAudit(modelId, MAX_N + 1, NUM, DEN, bytes32(uint256(1)));
    }

    function test_openAudit_zeroDenominator_reverts() public {
        vm.expectRevert(abi.encodeWithSelector(IAccuracyAudit.InvalidTarget.selector, 0, 0));
        audits.openAudit(modelId, N, 0, 0, bytes32(uint256(1)));
    }

    function test_openAudit_targetAboveOne_reverts() public {
        vm.expectRevert(abi.encodeWithSelector(IAccuracyAudit.InvalidTarget.selector, 5, 4));
        audits.openAudit(modelId, N, 5, 4, bytes32(uint256(1)));
    }

    function test_openAudit_zeroRoot_reverts() public {
        vm.expectRevert(IAccuracyAudit.ZeroRoot.selector);
        audits.openAudit(modelId, N, NUM, DEN, bytes32(0));
    }

    function test_openAudit_wrongEther_reverts() public {
        uint256 escrow = _escrow(N);
        vm.deal(consumer, escrow);
        vm.prank(consumer);
        vm.expectRevert(abi.encodeWithSelector(IEscrow.EtherValueMismatch.selector, escrow, escrow - 1));
        audits.openAudit{value: escrow - 1}(modelId, N, NUM, DEN, bytes32(uint256(1)));
    }

    // ---------------------------------------------------------------- cancel

    function test_cancel_open_succeeds() public {
        uint256 id = _openAudit(modelId, N, NUM, DEN);
        vm.expectEmit(address(audits));
        emit IAccuracyAudit.AuditCancelled(id, _escrow(N));
        vm.prank(consumer);
        audits.cancel(id);
        assertEq(uint256(audits.state(id)), uint256(AuditState.Cancelled));
        // No fee for an audit that never started: 2NE + eps back.
        assertEq(audits.creditOf(consumer, ETH), _escrow(N));
        assertEq(audits.creditOf(feeRecipient, ETH), 0);
        vm.prank(consumer);
        audits.withdraw(ETH);
        assertEq(consumer.balance, _escrow(N));
        assertEq(address(audits).balance, 0);
    }

    function test_cancel_notConsumer_reverts() public {
        uint256 id = _openAudit(modelId, N, NUM, DEN);
        vm.prank(provider);
        vm.expectRevert(abi.encodeWithSelector(IAccuracyAudit.NotAuditConsumer.selector, id, provider, consumer));
        audits.cancel(id);
    }

    function test_cancel_afterJoin_reverts() public {
        uint256 id = _openAudit(modelId, N, NUM, DEN);
        _joinAudit(id);
        vm.prank(consumer);
        _expectAuditState(id, AuditState.Deciding);
        audits.cancel(id);
    }

    function test_cancel_afterJoinWindow_reverts() public {
        uint256 id = _openAudit(modelId, N, NUM, DEN);
        vm.warp(block.timestamp + JOIN_WINDOW);
        vm.prank(consumer);
        _expectAuditState(id, AuditState.JoinExpired);
        audits.cancel(id);
    }

    function test_cancel_unknownAudit_reverts() public {
        _expectAuditState(5, AuditState.None);
        audits.cancel(5);
    }

    // ---------------------------------------------------------------- join

    function test_join_provider_succeeds() public {
        uint256 id = _openAudit(modelId, N, NUM, DEN);
        uint256 escrow = _escrow(N);
        vm.deal(provider, escrow);
        uint64 deadline = uint64(block.timestamp + DECISION_WINDOW);
        vm.expectEmit(address(audits));
        emit IAccuracyAudit.AuditJoined(id, provider, escrow, deadline);
        vm.expectEmit(address(audits));
        emit IEscrow.Credited(feeRecipient, ETH, 2 * FEE);
        vm.expectEmit(address(registry));
        emit IModelRegistry.ModelLocked(modelId, address(audits), 1);
        vm.prank(provider);
        audits.join{value: escrow}(id);
        assertEq(uint256(audits.state(id)), uint256(AuditState.Deciding));
        assertEq(uint256(audits.audit(id).decisionDeadline), deadline);
        assertEq(address(audits).balance, 2 * escrow);
        assertEq(audits.creditOf(feeRecipient, ETH), 2 * FEE);
        assertEq(registry.locksHeld(modelId, address(audits)), 1);
        vm.prank(feeRecipient);
        audits.withdraw(ETH);
        assertEq(feeRecipient.balance, 2 * FEE);
    }

    function test_join_erc20_succeeds() public {
        uint256 id = _openAudit(tokenModelId, N, NUM, DEN);
        _joinAudit(id);
        assertEq(usd.balanceOf(address(audits)), 2 * _escrow(N));
        assertEq(audits.creditOf(feeRecipient, address(usd)), 2 * FEE);
    }

    function test_join_notProvider_reverts() public {
        uint256 id = _openAudit(modelId, N, NUM, DEN);
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(IAccuracyAudit.NotAuditProvider.selector, id, stranger, provider));
        audits.join(id);
    }

    function test_join_wrongEther_reverts() public {
        uint256 id = _openAudit(modelId, N, NUM, DEN);
        uint256 escrow = _escrow(N);
        vm.deal(provider, escrow);
        vm.prank(provider);
        vm.expectRevert(abi.encodeWithSelector(IEscrow.EtherValueMismatch.selector, escrow, escrow - FEE));
        audits.join{value: escrow - FEE}(id);
    }

    function test_join_afterJoinWindow_reverts() public {
        uint256 id = _openAudit(modelId, N, NUM, DEN);
        vm.warp(block.timestamp + JOIN_WINDOW);
        vm.prank(provider);
        _expectAuditState(id, AuditState.JoinExpired);
        audits.join(id);
    }

    function test_join_modelUnbondingSinceOpen_reverts() public {
        uint256 id = _openAudit(modelId, N, NUM, DEN);
        vm.prank(provider);
        registry.requestUnbond(modelId);
        uint256 escrow = _escrow(N);
        vm.deal(provider, escrow);
        vm.prank(provider);
        vm.expectRevert(
            abi.encodeWithSelector(
                IModelRegistry.ModelNotAvailable.selector, modelId, ModelStatus.Unbonding, STAKE, STAKE
            )
        );
        audits.join{value: escrow}(id);
        vm.prank(consumer);
        audits.cancel(id);
        assertEq(audits.creditOf(consumer, ETH), _escrow(N));
    }

    // ---------------------------------------------------------------- proceed

    function test_proceed_provider_succeeds() public {
        uint256 id = _openAudit(modelId, N, NUM, DEN);
        _joinAudit(id);
        uint64 deadline = uint64(block.timestamp + PROOF_WINDOW_BASE + uint256(N) * PROOF_TIME);
        vm.expectEmit(address(audits));
        emit IAccuracyAudit.AuditProceeded(id, deadline);
        vm.prank(provider);
        audits.proceed(id);
        assertEq(uint256(audits.state(id)), uint256(AuditState.Proving));
        assertEq(uint256(audits.audit(id).proofDeadline), deadline);
        assertEq(uint256(audits.audit(id).status), uint256(AuditStatus.Proceeding));
    }

    function test_proceed_notProvider_reverts() public {
        uint256 id = _openAudit(modelId, N, NUM, DEN);
        _joinAudit(id);
        vm.prank(consumer);
        vm.expectRevert(abi.encodeWithSelector(IAccuracyAudit.NotAuditProvider.selector, id, consumer, provider));
        audits.proceed(id);
    }

    function test_proceed_beforeJoin_reverts() public {
        uint256 id = _openAudit(modelId, N, NUM, DEN);
        vm.prank(provider);
        _expectAuditState(id, AuditState.Open);
        audits.proceed(id);
    }

    function test_proceed_afterDecisionDeadline_reverts() public {
        uint256 id = _openAudit(modelId, N, NUM, DEN);
        _joinAudit(id);
        vm.warp(block.timestamp + DECISION_WINDOW);
        vm.prank(provider);
        _expectAuditState(id, AuditState.DecisionExpired);
        audits.proceed(id);
    }

    function test_proceed_twice_reverts() public {
        uint256 id = _proving();
        vm.prank(provider);
        _expectAuditState(id, AuditState.Proving);
        audits.proceed(id);
    }

    // ---------------------------------------------------------------- abort

    function test_abort_provider_succeeds() public {
        uint256 id = _openAudit(modelId, N, NUM, DEN);
        _joinAudit(id);
        // Paper 5.2 step 3: MC loses N*P.
        uint256 consumerPayout = 2 * uint256(N) * E - uint256(N) * P;
        uint256 providerPayout = 2 * uint256(N) * E + uint256(N) * P;
        vm.expectEmit(address(audits));
        emit IAccuracyAudit.AuditSettled(id, AuditOutcome.Aborted, consumerPayout, providerPayout);
        vm.expectEmit(address(registry));
        emit IModelRegistry.OutcomeRecorded(modelId, address(audits), Outcome.AuditAborted);
        vm.prank(provider);
        audits.abort(id);
        assertEq(uint256(audits.state(id)), uint256(AuditState.Settled));
        _assertPayouts(ETH, consumerPayout, providerPayout);
        _assertRecord(modelId, 0, 0, 1);
    }

    function test_abort_notProvider_reverts() public {
        uint256 id = _openAudit(modelId, N, NUM, DEN);
        _joinAudit(id);
        vm.prank(consumer);
        vm.expectRevert(abi.encodeWithSelector(IAccuracyAudit.NotAuditProvider.selector, id, consumer, provider));
        audits.abort(id);
    }

    function test_abort_afterProceed_reverts() public {
        uint256 id = _proving();
        vm.prank(provider);
        _expectAuditState(id, AuditState.Proving);
        audits.abort(id);
    }

    function test_abort_afterDecisionDeadline_reverts() public {
        uint256 id = _openAudit(modelId, N, NUM, DEN);
        _joinAudit(id);
        vm.warp(block.timestamp + DECISION_WINDOW);
        vm.prank(provider);
        _expectAuditState(id, AuditState.DecisionExpired);
        audits.abort(id);
    }

    // ---------------------------------------------------------------- submitProofs

    function test_submitProofs_batches_succeeds() public {
        uint256 id = _proving();
        AuditProof[] memory first = AuditData.batch(N, 0, 3, 1);
        vm.expectEmit(address(audits));
        emit IAccuracyAudit.ProofAccepted(id, 0, AuditData.label(0) + 1, false, 1, 0);
        vm.expectEmit(address(audits));
        emit IAccuracyAudit.ProofAccepted(id, 1, AuditData.label(1), true, 2, 1);
        vm.expectEmit(address(audits));
        emit IAccuracyAudit.ProofAccepted(id, 2, AuditData.label(2), true, 3, 2);
        vm.prank(stranger); // anyone may relay MP's proofs
        audits.submitProofs(id, first);
        Audit memory a = audits.audit(id);
        assertEq(uint256(a.submitted), 3);
        assertEq(uint256(a.correct), 2);
        assertTrue(audits.isProven(id, 0));
        assertTrue(audits.isProven(id, 2));
        assertFalse(audits.isProven(id, 3));
        assertEq(uint256(audits.state(id)), uint256(AuditState.Proving));
        _submit(id, 3, N, 0);
        a = audits.audit(id);
        assertEq(uint256(a.submitted), N);
        assertEq(uint256(a.correct), N - 1);
        // All N in: finalizable before the proof deadline.
        assertEq(uint256(audits.state(id)), uint256(AuditState.Finalizable));
    }

    function test_submitProofs_instanceLayout_succeeds() public {
        uint256 id = _proving();
        AuditProof[] memory list = AuditData.batch(N, 5, 6, 0);
        verifier.expectCalldata(
            ProofVerifier.encodeCalldata(
                ProofVerifier.classInstances(RoundData.ic(5), WEIGHTS, AuditData.label(5)), list[0].proof
            )
        );
        audits.submitProofs(id, list);
        assertTrue(audits.isProven(id, 5));
    }

    function test_submitProofs_otherWeights_reverts() public {
        uint256 id = _proving();
        AuditProof[] memory list = AuditData.batch(N, 5, 6, 0);
        // A proof made with other weights carries another weight commitment: the verifier rejects.
        verifier.expectCalldata(
            ProofVerifier.encodeCalldata(
                ProofVerifier.classInstances(RoundData.ic(5), bytes32(uint256(7)), AuditData.label(5)), list[0].proof
            )
        );
        vm.expectRevert(abi.encodeWithSelector(IAccuracyAudit.ProofRejected.selector, id, 5));
        audits.submitProofs(id, list);
    }

    function test_submitProofs_beforeProceed_reverts() public {
        uint256 id = _openAudit(modelId, N, NUM, DEN);
        _joinAudit(id);
        AuditProof[] memory list = AuditData.batch(N, 0, 1, 0);
        _expectAuditState(id, AuditState.Deciding);
        audits.submitProofs(id, list);
    }

    function test_submitProofs_noProofs_reverts() public {
        uint256 id = _proving();
        vm.expectRevert(abi.encodeWithSelector(IAccuracyAudit.NoProofs.selector, id));
        audits.submitProofs(id, new AuditProof[](0));
    }

    function test_submitProofs_indexOutOfRange_reverts() public {
        uint256 id = _proving();
        AuditProof[] memory list = AuditData.batch(N, 0, 1, 0);
        list[0].index = N;
        vm.expectRevert(abi.encodeWithSelector(IAccuracyAudit.IndexOutOfRange.selector, id, N, N));
        audits.submitProofs(id, list);
    }

    function test_submitProofs_alreadyProven_reverts() public {
        uint256 id = _proving();
        _submit(id, 0, 2, 0);
        AuditProof[] memory list = AuditData.batch(N, 1, 2, 1); // index 1 again, other class
        vm.expectRevert(abi.encodeWithSelector(IAccuracyAudit.AlreadyProven.selector, id, 1));
        audits.submitProofs(id, list);
    }

    function test_submitProofs_duplicateInBatch_reverts() public {
        uint256 id = _proving();
        AuditProof[] memory list = AuditData.batch(N, 2, 4, 0);
        list[1] = list[0];
        vm.expectRevert(abi.encodeWithSelector(IAccuracyAudit.AlreadyProven.selector, id, 2));
        audits.submitProofs(id, list);
    }

    function test_submitProofs_wrongLabel_reverts() public {
        uint256 id = _proving();
        AuditProof[] memory list = AuditData.batch(N, 4, 5, 0);
        // Claiming the predicted class as the label does not match MC's committed leaf.
        list[0].label = 9;
        list[0].predictedClass = 9;
        vm.expectRevert(abi.encodeWithSelector(IAccuracyAudit.ExampleNotCommitted.selector, id, 4, RoundData.ic(4), 9));
        audits.submitProofs(id, list);
    }

    function test_submitProofs_wrongInput_reverts() public {
        uint256 id = _proving();
        AuditProof[] memory list = AuditData.batch(N, 4, 5, 0);
        list[0].inputCommitment = RoundData.ic(5);
        vm.expectRevert(abi.encodeWithSelector(IAccuracyAudit.ExampleNotCommitted.selector, id, 4, RoundData.ic(5), 4));
        audits.submitProofs(id, list);
    }

    function test_submitProofs_proofRejected_reverts() public {
        uint256 id = _proving();
        _submit(id, 0, 1, 0);
        verifier.setMode(MockVerifier.Mode.Reject);
        AuditProof[] memory list = AuditData.batch(N, 1, 3, 0);
        vm.expectRevert(abi.encodeWithSelector(IAccuracyAudit.ProofRejected.selector, id, 1));
        audits.submitProofs(id, list);
        // The whole batch reverted: nothing counted.
        assertEq(uint256(audits.audit(id).submitted), 1);
    }

    function test_submitProofs_verifierCodeChanged_reverts() public {
        uint256 id = _proving();
        bytes32 registered = address(verifier).codehash;
        vm.etch(address(verifier), hex"00");
        AuditProof[] memory list = AuditData.batch(N, 0, 1, 0);
        vm.expectRevert(
            abi.encodeWithSelector(
                ProofVerifier.VerifierCodehashMismatch.selector, address(verifier), registered, keccak256(hex"00")
            )
        );
        audits.submitProofs(id, list);
    }

    function test_submitProofs_afterProofDeadline_reverts() public {
        uint256 id = _proving();
        vm.warp(audits.audit(id).proofDeadline);
        AuditProof[] memory list = AuditData.batch(N, 0, 1, 0);
        _expectAuditState(id, AuditState.Finalizable);
        audits.submitProofs(id, list);
    }

    // ---------------------------------------------------------------- finalize

    function test_finalize_targetMet_succeeds() public {
        uint256 id = _proving();
        _submit(id, 0, 4, 1);
        _submit(id, 4, N, 1); // 6 of 8 correct = exactly 3/4
        uint256 consumerPayout = 2 * uint256(N) * E - 2 * uint256(N) * Z;
        uint256 providerPayout = 2 * uint256(N) * E + 2 * uint256(N) * Z;
        vm.expectEmit(address(audits));
        emit IAccuracyAudit.AuditSettled(id, AuditOutcome.Passed, consumerPayout, providerPayout);
        vm.expectEmit(address(registry));
        emit IModelRegistry.OutcomeRecorded(modelId, address(audits), Outcome.AuditPassed);
        vm.expectEmit(address(registry));
        emit IModelRegistry.ModelUnlocked(modelId, address(audits), 0);
        vm.prank(stranger);
        audits.finalize(id);
        assertEq(uint256(audits.state(id)), uint256(AuditState.Settled));
        _assertPayouts(ETH, consumerPayout, providerPayout);
        _assertRecord(modelId, 1, 0, 0);
        vm.prank(provider);
        audits.withdraw(ETH);
        vm.prank(consumer);
        audits.withdraw(ETH);
        vm.prank(feeRecipient);
        audits.withdraw(ETH);
        assertEq(address(audits).balance, 0);
        assertEq(provider.balance, providerPayout);
        assertEq(consumer.balance, consumerPayout);
    }

    function test_finalize_targetMissed_succeeds() public {
        uint256 id = _proving();
        _submit(id, 0, N, 3); // 5 of 8 < 3/4
        uint256 consumerPayout = 4 * uint256(N) * E;
        vm.expectEmit(address(audits));
        emit IAccuracyAudit.AuditSettled(id, AuditOutcome.Failed, consumerPayout, 0);
        vm.expectEmit(address(registry));
        emit IModelRegistry.OutcomeRecorded(modelId, address(audits), Outcome.AuditFailed);
        audits.finalize(id);
        _assertPayouts(ETH, consumerPayout, 0);
        _assertRecord(modelId, 0, 1, 0);
    }

    function test_finalize_missingProofsAfterDeadline_succeeds() public {
        uint256 id = _proving();
        _submit(id, 0, N - 1, 0); // all correct but one missing
        vm.warp(audits.audit(id).proofDeadline - 1);
        _expectAuditState(id, AuditState.Proving);
        audits.finalize(id);
        vm.warp(audits.audit(id).proofDeadline);
        audits.finalize(id);
        _assertPayouts(ETH, 4 * uint256(N) * E, 0);
        _assertRecord(modelId, 0, 1, 0);
    }

    function test_finalize_noProofsAfterDeadline_succeeds() public {
        uint256 id = _proving();
        vm.warp(audits.audit(id).proofDeadline);
        vm.prank(consumer);
        audits.finalize(id);
        _assertPayouts(ETH, 4 * uint256(N) * E, 0);
        _assertRecord(modelId, 0, 1, 0);
    }

    function test_finalize_providerSilentAfterJoin_succeeds() public {
        uint256 id = _openAudit(modelId, N, NUM, DEN);
        _joinAudit(id);
        vm.warp(block.timestamp + DECISION_WINDOW - 1);
        _expectAuditState(id, AuditState.Deciding);
        audits.finalize(id);
        vm.warp(block.timestamp + 1);
        assertEq(uint256(audits.state(id)), uint256(AuditState.DecisionExpired));
        vm.expectEmit(address(audits));
        emit IAccuracyAudit.AuditSettled(id, AuditOutcome.Failed, 4 * uint256(N) * E, 0);
        vm.prank(stranger);
        audits.finalize(id);
        _assertPayouts(ETH, 4 * uint256(N) * E, 0);
        _assertRecord(modelId, 0, 1, 0);
    }

    function test_finalize_joinExpired_succeeds() public {
        uint256 id = _openAudit(modelId, N, NUM, DEN);
        vm.warp(block.timestamp + JOIN_WINDOW);
        vm.expectEmit(address(audits));
        emit IAccuracyAudit.AuditCancelled(id, _escrow(N));
        vm.prank(stranger);
        audits.finalize(id);
        assertEq(uint256(audits.state(id)), uint256(AuditState.Cancelled));
        assertEq(audits.creditOf(consumer, ETH), _escrow(N));
        assertEq(audits.creditOf(feeRecipient, ETH), 0);
        assertEq(audits.totalOwed(ETH), _escrow(N));
    }

    function test_finalize_erc20TargetMet_succeeds() public {
        uint256 id = _openAudit(tokenModelId, N, 1, 1);
        _joinAudit(id);
        _proceed(id);
        _submit(id, 0, N, 0);
        audits.finalize(id);
        _assertPayouts(address(usd), 2 * uint256(N) * E - 2 * uint256(N) * Z, 2 * uint256(N) * E + 2 * uint256(N) * Z);
        _assertRecord(tokenModelId, 1, 0, 0);
        vm.prank(provider);
        audits.withdraw(address(usd));
        assertEq(usd.balanceOf(provider), 2 * uint256(N) * E + 2 * uint256(N) * Z);
    }

    function test_finalize_open_reverts() public {
        uint256 id = _openAudit(modelId, N, NUM, DEN);
        _expectAuditState(id, AuditState.Open);
        audits.finalize(id);
    }

    function test_finalize_proving_reverts() public {
        uint256 id = _proving();
        _submit(id, 0, N - 1, 0);
        _expectAuditState(id, AuditState.Proving);
        audits.finalize(id);
    }

    function test_finalize_twice_reverts() public {
        uint256 id = _proving();
        _submit(id, 0, N, 0);
        audits.finalize(id);
        _expectAuditState(id, AuditState.Settled);
        audits.finalize(id);
    }

    function test_finalize_unbondAfterwards_succeeds() public {
        uint256 id = _proving();
        vm.prank(provider);
        registry.requestUnbond(modelId);
        vm.warp(block.timestamp + UNBONDING_DELAY);
        vm.prank(provider);
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.ModelHasOpenJobs.selector, modelId, 1));
        registry.withdrawStake(modelId);
        audits.finalize(id); // proof deadline (2 days + 8 min) passed: MP failure
        vm.prank(provider);
        registry.withdrawStake(modelId);
        assertEq(registry.creditOf(provider, ETH), STAKE);
    }
}
