// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {GuardedData} from "./utils/GuardedData.sol";
import {GuardedFixture} from "./utils/GuardedFixture.sol";
import {Merkle} from "./utils/Merkle.sol";
import {MockVerifier} from "./mocks/Mocks.sol";

import {DataTransferService} from "../src/DataTransferService.sol";
import {GriefingResistantAudit} from "../src/GriefingResistantAudit.sol";
import {KeccakStreamCipher} from "../src/crypto/KeccakStreamCipher.sol";
import {PoseidonT3} from "../src/crypto/PoseidonT3.sol";
import {ProofVerifier} from "../src/ProofVerifier.sol";
import {AuditProof} from "../src/interfaces/IAccuracyAudit.sol";
import {
    IDataTransfer,
    ItemOpening,
    PublishedItem,
    Transfer,
    TransferOutcome,
    TransferState
} from "../src/interfaces/IDataTransfer.sol";
import {IEscrow} from "../src/interfaces/IEscrow.sol";
import {
    GuardedAudit,
    GuardedConfig,
    GuardedOutcome,
    GuardedState,
    GuardedStatus,
    IGriefingResistantAudit
} from "../src/interfaces/IGriefingResistantAudit.sol";
import {IModelRegistry} from "../src/interfaces/IModelRegistry.sol";
import {ModelRecord, ModelStatus, Outcome} from "../src/lib/Types.sol";

/// @notice Every stage, abort, timeout and data-transfer outcome of the appendix-B audit with
/// exact credits, every custom error, the events, the registry records and stake locks, the
/// subset derivation, and full runs through the real DataTransferService.
contract GriefingResistantAuditTest is GuardedFixture {
    /// @dev ds-test's log event: Foundry prints it with -vv.
    event log_named_uint(string key, uint256 val);

    uint32 internal constant N = 16;
    /// @dev N1 (the registry's) = 10, so N2 = 6.
    uint32 internal constant N_1 = 10;
    uint32 internal constant N2 = N - N_1;
    /// @dev Target 2/3: at least 4 of the 6 N2 examples correct.
    uint64 internal constant NUM = 2;
    uint64 internal constant DEN = 3;
    bytes32 internal constant SEED = keccak256("MP's subset seed");

    /// @dev 2NE: each party's stake in a joined audit.
    uint256 internal constant TWO_NE = 2 * uint256(N) * E;
    /// @dev What MC pays when the target is met: 2(N1*P + N2*Z).
    uint256 internal constant PASS_FEE = 2 * (uint256(N_1) * P + uint256(N2) * Z);
    /// @dev What MC loses when MP aborts at stage 4: N1*P.
    uint256 internal constant ABORT_FEE = uint256(N_1) * P;

    uint256 internal modelId;
    uint256 internal tokenModelId;

    function setUp() public override {
        super.setUp();
        vm.warp(1_000_000);
        modelId = _registerEth(provider);
        tokenModelId = _registerToken(provider);
        assertEq(registry.n1(), N_1);
    }

    // ---------------------------------------------------------------- helpers

    function _awaitingSubset() internal returns (uint256 id) {
        id = _openG(modelId, N, NUM, DEN);
        _joinG(id, SEED);
    }

    function _sendingSubset(uint256 cheat) internal returns (uint256 id, uint256 transferId) {
        id = _awaitingSubset();
        transferId = _sendSubsetG(id, cheat);
    }

    function _deciding() internal returns (uint256 id) {
        uint256 t;
        (id, t) = _sendingSubset(HONEST);
        _resolveG(t, TransferOutcome.Completed);
    }

    function _awaitingRest() internal returns (uint256 id) {
        id = _deciding();
        _proceedG(id);
    }

    function _sendingRest(uint256 cheat) internal returns (uint256 id, uint256 transferId) {
        id = _awaitingRest();
        transferId = _sendRestG(id, cheat);
    }

    function _proving() internal returns (uint256 id) {
        uint256 t;
        (id, t) = _sendingRest(HONEST);
        _resolveG(t, TransferOutcome.Completed);
    }

    function _submitRest(uint256 id, uint256 from, uint256 to, uint256 wrong) internal {
        AuditProof[] memory list = _proofsG(id, _slice(_restIndices(id), from, to), wrong);
        vm.prank(provider);
        guarded.submitProofs(id, list);
    }

    /// @dev Credits after a settlement of a joined audit: both escrows fully paid out.
    function _assertPayouts(address token, uint256 consumerPayout, uint256 providerPayout) internal view {
        assertEq(guarded.creditOf(consumer, token), consumerPayout, "consumer payout");
        assertEq(guarded.creditOf(provider, token), providerPayout, "provider payout");
        assertEq(guarded.creditOf(feeRecipient, token), 2 * FEE, "fees");
        assertEq(consumerPayout + providerPayout, 2 * TWO_NE, "4NE paid out");
        assertEq(consumerPayout + providerPayout + 2 * FEE, 2 * (TWO_NE + FEE), "conservation");
        assertEq(guarded.totalOwed(token), consumerPayout + providerPayout + 2 * FEE, "owed");
        uint256 balance = token == ETH ? address(guarded).balance : usd.balanceOf(address(guarded));
        assertEq(balance, guarded.totalOwed(token), "balance");
    }

    function _assertSettled(uint256 id, GuardedOutcome outcome, uint256 consumerPayout, uint256 providerPayout)
        internal
        view
    {
        _assertState(id, GuardedState.Settled);
        assertEq(uint256(guarded.audit(id).status), uint256(GuardedStatus.Settled));
        GuardedAudit memory a = guarded.audit(id);
        _assertPayouts(a.token, consumerPayout, providerPayout);
        uint256 m = a.modelId;
        ModelRecord memory r = registry.record(m);
        assertEq(uint256(r.auditsPassed), outcome == GuardedOutcome.Passed ? 1 : 0, "passed");
        assertEq(uint256(r.auditsFailed), outcome == GuardedOutcome.Failed ? 1 : 0, "failed");
        assertEq(uint256(r.auditsAborted), outcome == GuardedOutcome.Aborted ? 1 : 0, "aborted");
        assertEq(uint256(registry.model(m).openJobs), 0, "unlocked");
        assertEq(registry.locksHeld(m, address(guarded)), 0, "no lock");
    }

    /// @dev The settlement's events: AuditSettled, then (except for an MC default) the record,
    /// then the unlock.
    function _expectSettled(uint256 id, GuardedOutcome outcome, uint256 consumerPayout, uint256 providerPayout)
        internal
    {
        _expectSettled(id, guarded.audit(id).modelId, outcome, consumerPayout, providerPayout);
    }

    /// @dev As above for model `m`, with no external call (so it may follow other expectEmits).
    function _expectSettled(
        uint256 id,
        uint256 m,
        GuardedOutcome outcome,
        uint256 consumerPayout,
        uint256 providerPayout
    ) internal {
        vm.expectEmit(address(guarded));
        emit IGriefingResistantAudit.AuditSettled(id, outcome, consumerPayout, providerPayout);
        if (outcome != GuardedOutcome.ConsumerDefaulted) {
            Outcome recorded = outcome == GuardedOutcome.Passed
                ? Outcome.AuditPassed
                : outcome == GuardedOutcome.Failed ? Outcome.AuditFailed : Outcome.AuditAborted;
            vm.expectEmit(address(registry));
            emit IModelRegistry.OutcomeRecorded(m, address(guarded), recorded);
        }
        vm.expectEmit(address(registry));
        emit IModelRegistry.ModelUnlocked(m, address(guarded), 0);
    }

    // ---------------------------------------------------------------- constructor

    function test_constructor_config_succeeds() public view {
        assertEq(address(guarded.registry()), address(registry));
        assertEq(address(guarded.transfers()), address(transfers));
        assertEq(uint256(guarded.maxN()), GUARDED_MAX_N);
        assertEq(uint256(guarded.proofTimePerExample()), GUARDED_PROOF_TIME);
        assertEq(uint256(guarded.joinWindow()), JOIN_WINDOW);
        assertEq(uint256(guarded.sendWindow()), SEND_WINDOW);
        assertEq(uint256(guarded.decisionWindow()), GUARDED_DECISION_WINDOW);
        assertEq(uint256(guarded.proofWindow()), GUARDED_PROOF_WINDOW);
        assertEq(guarded.MAX_WINDOW(), 3650 days);
        assertEq(guarded.auditCount(), 0);
        assertTrue(registry.isProtocol(address(guarded)));
        assertFalse(registry.isProtocol(address(transfers)), "the service holds no lock and no funds");
    }

    function test_constructor_registryNotContract_reverts() public {
        vm.expectRevert(abi.encodeWithSelector(IGriefingResistantAudit.NotContract.selector, stranger));
        new GriefingResistantAudit(IModelRegistry(stranger), transfers, _guardedConfig());
    }

    function test_constructor_transfersNotContract_reverts() public {
        vm.expectRevert(abi.encodeWithSelector(IGriefingResistantAudit.NotContract.selector, stranger));
        new GriefingResistantAudit(IModelRegistry(address(registry)), DataTransferService(stranger), _guardedConfig());
    }

    function test_constructor_zeroValues_reverts() public {
        for (uint256 i = 0; i < 5; ++i) {
            GuardedConfig memory c = _guardedConfig();
            if (i == 0) c.maxN = 0;
            if (i == 1) c.joinWindow = 0;
            if (i == 2) c.sendWindow = 0;
            if (i == 3) c.decisionWindow = 0;
            if (i == 4) c.proofWindow = 0;
            vm.expectRevert(IGriefingResistantAudit.ZeroConfigValue.selector);
            new GriefingResistantAudit(IModelRegistry(address(registry)), transfers, c);
        }
    }

    function test_constructor_zeroProofTimePerExample_succeeds() public {
        GuardedConfig memory c = _guardedConfig();
        c.proofTimePerExample = 0;
        GriefingResistantAudit g = new GriefingResistantAudit(IModelRegistry(address(registry)), transfers, c);
        assertEq(uint256(g.proofTimePerExample()), 0);
    }

    function test_constructor_windowTooLong_reverts() public {
        uint64 tooLong = uint64(3650 days + 1);
        for (uint256 i = 0; i < 5; ++i) {
            GuardedConfig memory c = _guardedConfig();
            uint256 window = tooLong;
            if (i == 0) c.joinWindow = tooLong;
            if (i == 1) c.sendWindow = tooLong;
            if (i == 2) c.decisionWindow = tooLong;
            if (i == 3) c.proofWindow = tooLong;
            if (i == 4) {
                // (3650 days + 1) / 64 + 1 fits uint32.
                // forge-lint: disable-next-line(unsafe-typecast)
                c.proofTimePerExample = uint32(tooLong / c.maxN + 1);
                window = uint256(c.maxN) * c.proofTimePerExample;
            }
            vm.expectRevert(abi.encodeWithSelector(IGriefingResistantAudit.WindowTooLong.selector, window, 3650 days));
            new GriefingResistantAudit(IModelRegistry(address(registry)), transfers, c);
        }
    }

    function test_constructor_maxWindows_succeeds() public {
        GuardedConfig memory c = GuardedConfig({
            maxN: 1,
            proofTimePerExample: uint32(3650 days),
            joinWindow: 3650 days,
            sendWindow: 3650 days,
            decisionWindow: 3650 days,
            proofWindow: 3650 days
        });
        GriefingResistantAudit g = new GriefingResistantAudit(IModelRegistry(address(registry)), transfers, c);
        assertEq(uint256(g.sendWindow()), 3650 days);
    }

    // ---------------------------------------------------------------- encodings and subset

    function test_leafEncodings_matchService_succeeds() public {
        for (uint32 i = 0; i < 3; ++i) {
            bytes32 ic = _icOf(i);
            assertEq(
                GuardedData.leaf(i, ic, GuardedData.label(i)), transfers.plaintextLeaf(i, ic, GuardedData.label(i))
            );
            assertEq(GuardedData.leaf(i, ic, 7), accuracy.testLeaf(i, ic, 7));
            bytes memory ct = KeccakStreamCipher.encrypt(SEED, i, GuardedData.plaintext(i));
            assertEq(GuardedData.ciphertextLeaf(i, ct), transfers.ciphertextLeaf(i, ct));
            assertEq(ct.length, GuardedData.ITEM_BYTES);
        }
        assertEq(
            GuardedData.keyCommitment(SEED, bytes32(uint256(1))), transfers.keyCommitmentOf(SEED, bytes32(uint256(1)))
        );
        // The committed input is the circuit's Poseidon commitment of the item's bytes.
        assertEq(_icOf(5), bytes32(PoseidonT3.hashBytes(GuardedData.plaintext(5))));
    }

    function test_subsetOf_distinctInRange_succeeds() public view {
        uint32[5] memory ns = [uint32(1), 2, 11, 16, 64];
        for (uint256 c = 0; c < ns.length; ++c) {
            uint32 n = ns[c];
            for (uint32 n1 = 0; n1 <= n; n1 += (n > 8 ? 5 : 1)) {
                for (uint256 s = 0; s < 3; ++s) {
                    bytes32 seed = keccak256(abi.encode(s));
                    uint32[] memory sub = guarded.subsetOf(seed, n, n1);
                    assertEq(sub.length, n1, "length");
                    bool[] memory seen = new bool[](n);
                    for (uint256 k = 0; k < sub.length; ++k) {
                        assertTrue(sub[k] < n, "in range");
                        assertFalse(seen[sub[k]], "distinct");
                        seen[sub[k]] = true;
                    }
                }
            }
        }
    }

    function test_subsetOf_deterministicFisherYates_succeeds() public view {
        uint32[] memory a = guarded.subsetOf(SEED, N, N_1);
        uint32[] memory b = guarded.subsetOf(SEED, N, N_1);
        uint32[] memory ref = GuardedData.subset(SEED, N, N_1);
        for (uint256 k = 0; k < N_1; ++k) {
            assertEq(uint256(a[k]), uint256(b[k]), "deterministic");
            assertEq(uint256(a[k]), uint256(ref[k]), "partial Fisher-Yates");
        }
        // The first N1 entries of a shuffle: a longer prefix extends a shorter one.
        uint32[] memory longer = guarded.subsetOf(SEED, N, N);
        for (uint256 k = 0; k < N_1; ++k) {
            assertEq(uint256(longer[k]), uint256(a[k]), "prefix");
        }
        // Another seed, another subset.
        uint32[] memory other = guarded.subsetOf(keccak256("other seed"), N, N_1);
        bool differs = false;
        for (uint256 k = 0; k < N_1; ++k) {
            if (other[k] != a[k]) differs = true;
        }
        assertTrue(differs, "seed matters");
    }

    function test_subsetOf_fullShuffleIsPermutation_succeeds() public view {
        uint32[] memory perm = guarded.subsetOf(SEED, 40, 40);
        uint256 mask = 0;
        for (uint256 k = 0; k < perm.length; ++k) {
            // forge-lint: disable-next-line(incorrect-shift)
            mask |= 1 << perm[k]; // bit perm[k]
        }
        assertEq(mask, (1 << 40) - 1);
        assertEq(guarded.subsetOf(SEED, 5, 0).length, 0);
    }

    function test_subsetIndices_afterJoin_matchesSeed_succeeds() public {
        uint256 id = _openG(modelId, N, NUM, DEN);
        assertEq(guarded.subsetIndices(id).length, 0, "none before the join");
        assertEq(guarded.subsetIndices(99).length, 0, "none for an unknown audit");
        _joinG(id, SEED);
        uint32[] memory sub = guarded.subsetIndices(id);
        uint32[] memory expected = guarded.subsetOf(SEED, N, N_1);
        assertEq(sub.length, N_1);
        uint256 members = 0;
        for (uint256 k = 0; k < sub.length; ++k) {
            assertEq(uint256(sub[k]), uint256(expected[k]));
        }
        for (uint32 i = 0; i < N + 4; ++i) {
            bool expectedMember = false;
            for (uint256 k = 0; k < sub.length; ++k) {
                if (sub[k] == i) expectedMember = true;
            }
            assertEq(guarded.inSubset(id, i), expectedMember);
            if (guarded.inSubset(id, i)) ++members;
        }
        assertEq(members, N_1);
        assertEq(guarded.audit(id).seed, SEED);
        // Still reported after the audit ends.
        vm.prank(consumer);
        guarded.abortByConsumer(id);
        assertEq(guarded.subsetIndices(id).length, N_1);
    }

    function test_subsetIndices_cancelled_empty_succeeds() public {
        uint256 id = _openG(modelId, N, NUM, DEN);
        vm.prank(consumer);
        guarded.cancel(id);
        assertEq(guarded.subsetIndices(id).length, 0);
    }

    // ---------------------------------------------------------------- openAudit

    function test_openAudit_eth_succeeds() public {
        bytes32 root = _testRoot(N);
        uint256 escrow = 2 * uint256(N) * E + FEE;
        vm.deal(consumer, escrow);
        vm.expectEmit(address(guarded));
        emit IGriefingResistantAudit.AuditOpened(
            1, modelId, consumer, ETH, N, N_1, NUM, DEN, root, escrow, uint64(block.timestamp + JOIN_WINDOW)
        );
        vm.prank(consumer);
        uint256 id = guarded.openAudit{value: escrow}(modelId, N, NUM, DEN, root);
        assertEq(id, 1);
        assertEq(guarded.auditCount(), 1);
        _assertState(id, GuardedState.Open);
        GuardedAudit memory a = guarded.audit(id);
        assertEq(a.consumer, consumer);
        assertEq(a.provider, provider);
        assertEq(uint256(a.n), N);
        assertEq(uint256(a.n1), N_1);
        assertEq(uint256(a.submitted), 0);
        assertEq(uint256(a.correct), 0);
        assertEq(uint256(a.status), uint256(GuardedStatus.Opened));
        assertEq(uint256(a.deadline), block.timestamp + JOIN_WINDOW);
        assertEq(a.token, ETH);
        assertEq(uint256(a.targetNum), NUM);
        assertEq(uint256(a.targetDen), DEN);
        assertEq(a.modelId, modelId);
        assertEq(a.testSetRoot, root);
        assertEq(a.seed, bytes32(0));
        assertEq(a.subsetTransfer, 0);
        assertEq(a.restTransfer, 0);
        assertEq(a.prices.exampleE, E);
        assertEq(a.prices.proofZ, Z);
        assertEq(a.prices.inferenceP, P);
        assertEq(a.prices.feeEpsilon, FEE);
        assertEq(address(guarded).balance, escrow);
        assertEq(guarded.totalOwed(ETH), escrow);
        // Opening does not lock the stake; joining does.
        assertEq(uint256(registry.model(modelId).openJobs), 0);
    }

    function test_openAudit_erc20_succeeds() public {
        uint256 id = _openG(tokenModelId, N, NUM, DEN);
        assertEq(usd.balanceOf(address(guarded)), TWO_NE + FEE);
        assertEq(guarded.totalOwed(address(usd)), TWO_NE + FEE);
        assertEq(guarded.totalOwed(ETH), 0);
        assertEq(guarded.audit(id).token, address(usd));
    }

    function test_openAudit_secondAudit_ownIdAndDeadline_succeeds() public {
        // A second audit gets its own id and its own deadline.
        uint256 a = _openG(modelId, N, NUM, DEN);
        vm.warp(block.timestamp + 1 hours);
        uint256 b = _openG(tokenModelId, N_1 + 1, 1, 1);
        assertEq(b, a + 1);
        assertEq(uint256(guarded.audit(b).deadline), block.timestamp + JOIN_WINDOW);
        assertEq(uint256(guarded.audit(a).deadline), block.timestamp - 1 hours + JOIN_WINDOW);
    }

    function test_openAudit_modelNotFound_reverts() public {
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.ModelNotFound.selector, 99));
        guarded.openAudit(99, N, NUM, DEN, bytes32(uint256(1)));
    }

    function test_openAudit_modelUnbonding_reverts() public {
        vm.prank(provider);
        registry.requestUnbond(modelId);
        vm.expectRevert(abi.encodeWithSelector(IGriefingResistantAudit.ModelUnavailable.selector, modelId));
        guarded.openAudit(modelId, N, NUM, DEN, bytes32(uint256(1)));
    }

    function test_openAudit_nNotAboveN1_reverts() public {
        // N = N1 leaves no example to prove.
        vm.expectRevert(
            abi.encodeWithSelector(IGriefingResistantAudit.TestSetSizeOutOfRange.selector, N_1, N_1, GUARDED_MAX_N)
        );
        guarded.openAudit(modelId, N_1, NUM, DEN, bytes32(uint256(1)));
        vm.expectRevert(
            abi.encodeWithSelector(IGriefingResistantAudit.TestSetSizeOutOfRange.selector, 0, N_1, GUARDED_MAX_N)
        );
        guarded.openAudit(modelId, 0, NUM, DEN, bytes32(uint256(1)));
    }

    function test_openAudit_nAboveMax_reverts() public {
        vm.expectRevert(
            abi.encodeWithSelector(
                IGriefingResistantAudit.TestSetSizeOutOfRange.selector, GUARDED_MAX_N + 1, N_1, GUARDED_MAX_N
            )
        );
        guarded.openAudit(modelId, GUARDED_MAX_N + 1, NUM, DEN, bytes32(uint256(1)));
    }

    function test_openAudit_boundsInclusive_succeeds() public {
        uint256 a = _openG(modelId, N_1 + 1, NUM, DEN);
        uint256 b = _openG(modelId, GUARDED_MAX_N, NUM, DEN);
        assertEq(uint256(guarded.audit(a).n), N_1 + 1);
        assertEq(uint256(guarded.audit(b).n), GUARDED_MAX_N);
    }

    function test_openAudit_invalidTarget_reverts() public {
        vm.expectRevert(abi.encodeWithSelector(IGriefingResistantAudit.InvalidTarget.selector, 0, 0));
        guarded.openAudit(modelId, N, 0, 0, bytes32(uint256(1)));
        vm.expectRevert(abi.encodeWithSelector(IGriefingResistantAudit.InvalidTarget.selector, 5, 4));
        guarded.openAudit(modelId, N, 5, 4, bytes32(uint256(1)));
    }

    function test_openAudit_zeroRoot_reverts() public {
        vm.expectRevert(IGriefingResistantAudit.ZeroRoot.selector);
        guarded.openAudit(modelId, N, NUM, DEN, bytes32(0));
    }

    function test_openAudit_wrongEther_reverts() public {
        uint256 escrow = TWO_NE + FEE;
        vm.deal(consumer, escrow);
        vm.prank(consumer);
        vm.expectRevert(abi.encodeWithSelector(IEscrow.EtherValueMismatch.selector, escrow, escrow - 1));
        guarded.openAudit{value: escrow - 1}(modelId, N, NUM, DEN, bytes32(uint256(1)));
    }

    function test_openAudit_etherWithToken_reverts() public {
        _fundG(consumer, address(usd), TWO_NE + FEE);
        vm.deal(consumer, 1);
        vm.prank(consumer);
        vm.expectRevert(abi.encodeWithSelector(IEscrow.EtherValueMismatch.selector, 0, 1));
        guarded.openAudit{value: 1}(tokenModelId, N, NUM, DEN, bytes32(uint256(1)));
    }

    // ---------------------------------------------------------------- cancel

    function test_cancel_open_succeeds() public {
        uint256 id = _openG(modelId, N, NUM, DEN);
        vm.expectEmit(address(guarded));
        emit IGriefingResistantAudit.AuditCancelled(id, TWO_NE + FEE);
        vm.expectEmit(address(guarded));
        emit IEscrow.Credited(consumer, ETH, TWO_NE + FEE);
        vm.prank(consumer);
        guarded.cancel(id);
        _assertState(id, GuardedState.Cancelled);
        assertEq(uint256(guarded.audit(id).status), uint256(GuardedStatus.Cancelled));
        // No fee for an audit that never started: 2NE + eps back.
        assertEq(guarded.creditOf(consumer, ETH), TWO_NE + FEE);
        assertEq(guarded.creditOf(feeRecipient, ETH), 0);
        vm.prank(consumer);
        guarded.withdraw(ETH);
        assertEq(consumer.balance, TWO_NE + FEE);
        assertEq(address(guarded).balance, 0);
        assertEq(guarded.totalOwed(ETH), 0);
    }

    function test_cancel_notConsumer_reverts() public {
        uint256 id = _openG(modelId, N, NUM, DEN);
        vm.prank(provider);
        vm.expectRevert(
            abi.encodeWithSelector(IGriefingResistantAudit.NotAuditConsumer.selector, id, provider, consumer)
        );
        guarded.cancel(id);
    }

    function test_cancel_afterJoin_reverts() public {
        uint256 id = _awaitingSubset();
        vm.prank(consumer);
        _expectGuardedState(id, GuardedState.AwaitingSubset);
        guarded.cancel(id);
    }

    function test_cancel_afterJoinWindow_reverts() public {
        uint256 id = _openG(modelId, N, NUM, DEN);
        vm.warp(block.timestamp + JOIN_WINDOW);
        vm.prank(consumer);
        _expectGuardedState(id, GuardedState.JoinExpired);
        guarded.cancel(id);
    }

    function test_cancel_unknownAudit_reverts() public {
        _expectGuardedState(5, GuardedState.None);
        guarded.cancel(5);
    }

    function test_cancel_twice_reverts() public {
        uint256 id = _openG(modelId, N, NUM, DEN);
        vm.prank(consumer);
        guarded.cancel(id);
        vm.prank(consumer);
        _expectGuardedState(id, GuardedState.Cancelled);
        guarded.cancel(id);
    }

    // ---------------------------------------------------------------- join

    function test_join_provider_succeeds() public {
        uint256 id = _openG(modelId, N, NUM, DEN);
        uint256 escrow = TWO_NE + FEE;
        vm.deal(provider, escrow);
        uint64 sendDeadline = uint64(block.timestamp + SEND_WINDOW);
        vm.expectEmit(address(guarded));
        emit IGriefingResistantAudit.AuditJoined(id, provider, SEED, escrow, sendDeadline);
        vm.expectEmit(address(guarded));
        emit IEscrow.Credited(feeRecipient, ETH, 2 * FEE);
        vm.expectEmit(address(registry));
        emit IModelRegistry.ModelLocked(modelId, address(guarded), 1);
        vm.prank(provider);
        guarded.join{value: escrow}(id, SEED);
        _assertState(id, GuardedState.AwaitingSubset);
        GuardedAudit memory a = guarded.audit(id);
        assertEq(uint256(a.status), uint256(GuardedStatus.AwaitingSubset));
        assertEq(uint256(a.deadline), sendDeadline);
        assertEq(a.seed, SEED);
        assertEq(address(guarded).balance, 2 * escrow);
        assertEq(guarded.totalOwed(ETH), 2 * escrow);
        assertEq(guarded.creditOf(feeRecipient, ETH), 2 * FEE);
        assertEq(registry.locksHeld(modelId, address(guarded)), 1);
        assertEq(uint256(registry.model(modelId).openJobs), 1);
        vm.prank(feeRecipient);
        guarded.withdraw(ETH);
        assertEq(feeRecipient.balance, 2 * FEE);
    }

    function test_join_erc20_succeeds() public {
        uint256 id = _openG(tokenModelId, N, NUM, DEN);
        _joinG(id, SEED);
        assertEq(usd.balanceOf(address(guarded)), 2 * (TWO_NE + FEE));
        assertEq(guarded.creditOf(feeRecipient, address(usd)), 2 * FEE);
        assertEq(registry.locksHeld(tokenModelId, address(guarded)), 1);
    }

    function test_join_notProvider_reverts() public {
        uint256 id = _openG(modelId, N, NUM, DEN);
        vm.prank(stranger);
        vm.expectRevert(
            abi.encodeWithSelector(IGriefingResistantAudit.NotAuditProvider.selector, id, stranger, provider)
        );
        guarded.join(id, SEED);
    }

    function test_join_wrongEther_reverts() public {
        uint256 id = _openG(modelId, N, NUM, DEN);
        uint256 escrow = TWO_NE + FEE;
        vm.deal(provider, escrow);
        vm.prank(provider);
        vm.expectRevert(abi.encodeWithSelector(IEscrow.EtherValueMismatch.selector, escrow, escrow - FEE));
        guarded.join{value: escrow - FEE}(id, SEED);
    }

    function test_join_afterJoinWindow_reverts() public {
        uint256 id = _openG(modelId, N, NUM, DEN);
        vm.warp(block.timestamp + JOIN_WINDOW);
        vm.prank(provider);
        _expectGuardedState(id, GuardedState.JoinExpired);
        guarded.join(id, SEED);
    }

    function test_join_twice_reverts() public {
        uint256 id = _awaitingSubset();
        vm.prank(provider);
        _expectGuardedState(id, GuardedState.AwaitingSubset);
        guarded.join(id, SEED);
    }

    function test_join_modelUnbondingSinceOpen_reverts() public {
        uint256 id = _openG(modelId, N, NUM, DEN);
        vm.prank(provider);
        registry.requestUnbond(modelId);
        uint256 escrow = TWO_NE + FEE;
        vm.deal(provider, escrow);
        vm.prank(provider);
        vm.expectRevert(
            abi.encodeWithSelector(
                IModelRegistry.ModelNotAvailable.selector, modelId, ModelStatus.Unbonding, STAKE, STAKE
            )
        );
        guarded.join{value: escrow}(id, SEED);
        vm.prank(consumer);
        guarded.cancel(id);
        assertEq(guarded.creditOf(consumer, ETH), TWO_NE + FEE);
    }

    // ---------------------------------------------------------------- stage 3: sendSubset

    function test_sendSubset_consumer_succeeds() public {
        uint256 id = _awaitingSubset();
        bytes32 root = guarded.audit(id).testSetRoot;
        (uint256 expected, bytes32 croot, bytes32 kc) = _prepareSend(id, guarded.subsetIndices(id), HONEST);
        vm.expectEmit(address(transfers));
        emit IDataTransfer.TransferCommitted(
            expected, consumer, provider, croot, kc, root, N_1, uint64(block.timestamp + ACK_WINDOW)
        );
        vm.expectEmit(address(guarded));
        emit IGriefingResistantAudit.SubsetSent(id, expected);
        vm.prank(consumer);
        uint256 t = guarded.sendSubset(id, croot, kc);
        assertEq(t, expected);
        _assertState(id, GuardedState.SendingSubset);
        GuardedAudit memory a = guarded.audit(id);
        assertEq(a.subsetTransfer, t);
        assertEq(a.restTransfer, 0);
        assertEq(uint256(a.status), uint256(GuardedStatus.SendingSubset));
        assertEq(transfers.clientOf(t), address(guarded));
        Transfer memory tr = transfers.getTransfer(t);
        assertEq(tr.sender, consumer);
        assertEq(tr.receiver, provider);
        assertEq(uint256(tr.itemCount), N_1);
        assertEq(tr.plaintextRoot, root);
        assertEq(tr.ciphertextRoot, croot);
        assertEq(tr.keyCommitment, kc);
        assertEq(uint256(transfers.transferState(t)), uint256(TransferState.AwaitingAck));
    }

    function test_sendSubset_notConsumer_reverts() public {
        uint256 id = _awaitingSubset();
        vm.prank(provider);
        vm.expectRevert(
            abi.encodeWithSelector(IGriefingResistantAudit.NotAuditConsumer.selector, id, provider, consumer)
        );
        guarded.sendSubset(id, bytes32(uint256(1)), bytes32(uint256(2)));
    }

    function test_sendSubset_beforeJoin_reverts() public {
        uint256 id = _openG(modelId, N, NUM, DEN);
        vm.prank(consumer);
        _expectGuardedState(id, GuardedState.Open);
        guarded.sendSubset(id, bytes32(uint256(1)), bytes32(uint256(2)));
    }

    function test_sendSubset_afterSendDeadline_reverts() public {
        uint256 id = _awaitingSubset();
        vm.warp(block.timestamp + SEND_WINDOW - 1);
        _assertState(id, GuardedState.AwaitingSubset);
        vm.warp(block.timestamp + 1);
        vm.prank(consumer);
        _expectGuardedState(id, GuardedState.SubsetExpired);
        guarded.sendSubset(id, bytes32(uint256(1)), bytes32(uint256(2)));
    }

    function test_sendSubset_twice_reverts() public {
        (uint256 id,) = _sendingSubset(HONEST);
        vm.prank(consumer);
        _expectGuardedState(id, GuardedState.SendingSubset);
        guarded.sendSubset(id, bytes32(uint256(1)), bytes32(uint256(2)));
    }

    function test_sendSubset_zeroCommitment_reverts() public {
        uint256 id = _awaitingSubset();
        vm.prank(consumer);
        vm.expectRevert(IDataTransfer.ZeroTransferCommitment.selector);
        guarded.sendSubset(id, bytes32(0), bytes32(uint256(2)));
        // Nothing changed: MC may still send.
        _assertState(id, GuardedState.AwaitingSubset);
        assertEq(transfers.transferCount(), 0);
    }

    function test_sendSubset_selfAudit_reverts() public {
        // MP auditing its own model cannot move data to itself: it can only default as MC
        // (everything back to itself, nothing recorded for the model).
        address self = provider;
        uint256 value = _fundG(self, ETH, TWO_NE + FEE);
        bytes32 root = _testRoot(N);
        vm.prank(self);
        uint256 id = guarded.openAudit{value: value}(modelId, N, NUM, DEN, root);
        _joinG(id, SEED);
        vm.prank(self);
        vm.expectRevert(abi.encodeWithSelector(IDataTransfer.InvalidTransferParties.selector, self, self));
        guarded.sendSubset(id, bytes32(uint256(1)), bytes32(uint256(2)));
        vm.warp(block.timestamp + SEND_WINDOW);
        guarded.finalize(id);
        assertEq(guarded.creditOf(self, ETH), 2 * TWO_NE);
        ModelRecord memory r = registry.record(modelId);
        assertEq(uint256(r.auditsPassed) + r.auditsFailed + r.auditsAborted, 0);
    }

    function test_sendSubset_auditDeadlinesPaused_succeeds() public {
        (uint256 id, uint256 t) = _sendingSubset(HONEST);
        // While the transfer runs, only the service's deadlines count.
        vm.warp(block.timestamp + 30 days);
        _assertState(id, GuardedState.SendingSubset);
        assertEq(uint256(transfers.transferState(t)), uint256(TransferState.AckExpired));
        _expectGuardedState(id, GuardedState.SendingSubset);
        guarded.finalize(id);
    }

    // ---------------------------------------------------------------- stage 3: MC aborts or is silent

    function test_abortByConsumer_atSubset_succeeds() public {
        uint256 id = _awaitingSubset();
        // Appendix B: an MC abort costs it its 2NE (to MP); nothing is recorded against the model.
        _expectSettled(id, GuardedOutcome.ConsumerDefaulted, 0, 2 * TWO_NE);
        vm.prank(consumer);
        guarded.abortByConsumer(id);
        _assertSettled(id, GuardedOutcome.ConsumerDefaulted, 0, 2 * TWO_NE);
    }

    function test_abortByConsumer_notConsumer_reverts() public {
        uint256 id = _awaitingSubset();
        vm.prank(provider);
        vm.expectRevert(
            abi.encodeWithSelector(IGriefingResistantAudit.NotAuditConsumer.selector, id, provider, consumer)
        );
        guarded.abortByConsumer(id);
    }

    function test_abortByConsumer_wrongStates_reverts() public {
        uint256 id = _openG(modelId, N, NUM, DEN);
        vm.prank(consumer);
        _expectGuardedState(id, GuardedState.Open);
        guarded.abortByConsumer(id);

        (uint256 sending,) = _sendingSubset(HONEST);
        vm.prank(consumer);
        _expectGuardedState(sending, GuardedState.SendingSubset);
        guarded.abortByConsumer(sending);

        uint256 deciding = _deciding();
        vm.prank(consumer);
        _expectGuardedState(deciding, GuardedState.Deciding);
        guarded.abortByConsumer(deciding);
    }

    function test_abortByConsumer_afterSendDeadline_reverts() public {
        uint256 id = _awaitingSubset();
        vm.warp(block.timestamp + SEND_WINDOW);
        vm.prank(consumer);
        _expectGuardedState(id, GuardedState.SubsetExpired);
        guarded.abortByConsumer(id);
    }

    function test_finalize_subsetExpired_consumerDefaults_succeeds() public {
        uint256 id = _awaitingSubset();
        vm.warp(block.timestamp + SEND_WINDOW - 1);
        _expectGuardedState(id, GuardedState.AwaitingSubset);
        guarded.finalize(id);
        vm.warp(block.timestamp + 1);
        _expectSettled(id, GuardedOutcome.ConsumerDefaulted, 0, 2 * TWO_NE);
        vm.prank(stranger);
        guarded.finalize(id);
        _assertSettled(id, GuardedOutcome.ConsumerDefaulted, 0, 2 * TWO_NE);
    }

    // ---------------------------------------------------------------- stage 3: subset transfer outcomes

    function test_subsetTransfer_completed_succeeds() public {
        (uint256 id, uint256 t) = _sendingSubset(HONEST);
        _ackG(t);
        _revealG(t);
        // MP can now decrypt every subset item to its committed input.
        Transfer memory tr = transfers.getTransfer(t);
        for (uint256 k = 0; k < N_1; ++k) {
            uint32 i = _sent[t].indices[k];
            bytes memory pt = KeccakStreamCipher.decrypt(tr.key, i, _sent[t].ciphertexts[k]);
            assertEq(bytes32(PoseidonT3.hashBytes(pt)), _icOf(i));
        }
        uint64 decisionDeadline = uint64(block.timestamp + GUARDED_DECISION_WINDOW);
        vm.expectEmit(address(transfers));
        emit IDataTransfer.TransferAccepted(t);
        vm.expectEmit(address(guarded));
        emit IGriefingResistantAudit.SubsetAccepted(id, decisionDeadline);
        vm.prank(provider);
        transfers.accept(t);
        _assertState(id, GuardedState.Deciding);
        assertEq(uint256(guarded.audit(id).deadline), decisionDeadline);
        assertEq(uint256(guarded.audit(id).status), uint256(GuardedStatus.Deciding));
        assertEq(uint256(transfers.getTransfer(t).outcome), uint256(TransferOutcome.Completed));
    }

    /// @dev MC committed the subset but never proved delivery: MP's silence is not its fault.
    function test_subsetTransfer_undelivered_consumerDefaults_succeeds() public {
        (uint256 id, uint256 t) = _sendingSubset(HONEST);
        vm.warp(block.timestamp + ACK_WINDOW);
        vm.expectEmit(address(transfers));
        emit IDataTransfer.TransferExpired(t, TransferOutcome.SenderUndelivered, stranger);
        _expectSettled(id, modelId, GuardedOutcome.ConsumerDefaulted, 0, 2 * TWO_NE);
        vm.prank(stranger);
        transfers.expireTransfer(t);
        _assertSettled(id, GuardedOutcome.ConsumerDefaulted, 0, 2 * TWO_NE);
    }

    /// @dev MC proved delivery on chain; MP still did not acknowledge: MP loses its 2NE.
    function test_subsetTransfer_receiverNoAck_providerFails_succeeds() public {
        (uint256 id, uint256 t) = _sendingSubset(HONEST);
        vm.warp(block.timestamp + ACK_WINDOW / 2);
        _publishG(t);
        vm.warp(block.timestamp + ACK_WINDOW - 1);
        _assertState(id, GuardedState.SendingSubset);
        assertEq(uint256(transfers.transferState(t)), uint256(TransferState.AwaitingAck), "extended");
        vm.warp(block.timestamp + 1);
        vm.expectEmit(address(transfers));
        emit IDataTransfer.TransferExpired(t, TransferOutcome.ReceiverNoAck, stranger);
        _expectSettled(id, modelId, GuardedOutcome.Failed, 2 * TWO_NE, 0);
        vm.prank(stranger);
        transfers.expireTransfer(t);
        _assertSettled(id, GuardedOutcome.Failed, 2 * TWO_NE, 0);
    }

    /// @dev A partial publication (every subset item, not the leaves; or the leaves and all
    /// but one item) is no proof of delivery.
    function test_subsetTransfer_partialPublication_consumerDefaults_succeeds() public {
        (uint256 id, uint256 t) = _sendingSubset(HONEST);
        (bytes32[] memory ics, uint256[] memory lbls) = _testSetG(id);
        vm.startPrank(consumer);
        transfers.publishPlaintextLeaves(t, ics, lbls);
        transfers.publishItems(t, _publishedG(t, 0, N_1 - 1));
        vm.stopPrank();
        assertEq(uint256(transfers.getTransfer(t).published), N_1 - 1);
        vm.warp(block.timestamp + ACK_WINDOW);
        _expectSettled(id, GuardedOutcome.ConsumerDefaulted, 0, 2 * TWO_NE);
        assertEq(uint256(transfers.expireTransfer(t)), uint256(TransferOutcome.SenderUndelivered));
        _assertSettled(id, GuardedOutcome.ConsumerDefaulted, 0, 2 * TWO_NE);
    }

    /// @dev Only the transfer's own examples can be published: an N2 example in the subset
    /// transfer, a subset example in the rest transfer or an index past N are refused.
    function test_publishItems_otherTransfersItems_reverts() public {
        (uint256 id, uint256 sub) = _sendingSubset(HONEST);
        PublishedItem[] memory list = _publishedG(sub, 0, 1);
        uint32 outside = _restIndices(id)[0];
        list[0].index = outside;
        vm.expectRevert(abi.encodeWithSelector(IDataTransfer.ItemNotInTransfer.selector, sub, outside));
        transfers.publishItems(sub, list);
        list[0].index = N;
        vm.expectRevert(abi.encodeWithSelector(IDataTransfer.ItemNotInTransfer.selector, sub, N));
        transfers.publishItems(sub, list);
        _publishG(sub);
        _resolveG(sub, TransferOutcome.Completed);
        _proceedG(id);
        uint256 rest = _sendRestG(id, HONEST);
        // The subset's items, with their (valid) proofs in the subset transfer's tree.
        list = _publishedG(sub, 0, 1);
        vm.expectRevert(abi.encodeWithSelector(IDataTransfer.ItemNotInTransfer.selector, rest, list[0].index));
        transfers.publishItems(rest, list);
        // The plaintext root is the whole test set's: the transfer's own leaves alone do not rebuild it.
        bytes32[] memory ics = new bytes32[](N2);
        uint256[] memory lbls = new uint256[](N2);
        uint32[] memory restIdx = _restIndices(id);
        bytes32[] memory leaves = new bytes32[](N2);
        for (uint32 k = 0; k < N2; ++k) {
            (ics[k], lbls[k]) = (_icOf(restIdx[k]), GuardedData.label(restIdx[k]));
            leaves[k] = GuardedData.leaf(k, ics[k], lbls[k]);
        }
        vm.expectRevert(
            abi.encodeWithSelector(
                IDataTransfer.PlaintextLeavesMismatch.selector, rest, _testRoot(N), Merkle.root(leaves)
            )
        );
        transfers.publishPlaintextLeaves(rest, ics, lbls);
        _publishG(rest);
        assertEq(uint256(transfers.getTransfer(rest).published), N2);
        assertTrue(transfers.getTransfer(rest).leavesPublished);
    }

    function test_publish_gas_subset_succeeds() public {
        (uint256 id, uint256 t) = _sendingSubset(HONEST);
        PublishedItem[] memory list = _publishedG(t, 0, N_1);
        (bytes32[] memory ics, uint256[] memory lbls) = _testSetG(id);
        vm.startPrank(consumer);
        uint256 g = gasleft();
        transfers.publishItems(t, list);
        uint256 used = g - gasleft();
        emit log_named_uint("gas: publishItems(10 subset items)", used);
        vm.assertLe(used, 10 * 40_000, "about 35k gas per small item (README), calldata aside");
        g = gasleft();
        transfers.publishPlaintextLeaves(t, ics, lbls);
        used = g - gasleft();
        emit log_named_uint("gas: publishPlaintextLeaves(16 leaves)", used);
        vm.assertLe(used, 16 * 5_000 + 30_000, "a few thousand gas per leaf");
        vm.stopPrank();
    }

    function test_subsetTransfer_senderNoReveal_consumerDefaults_succeeds() public {
        (uint256 id, uint256 t) = _sendingSubset(HONEST);
        _ackG(t);
        vm.warp(block.timestamp + REVEAL_WINDOW);
        _expectSettled(id, GuardedOutcome.ConsumerDefaulted, 0, 2 * TWO_NE);
        vm.prank(stranger);
        transfers.expireTransfer(t);
        _assertSettled(id, GuardedOutcome.ConsumerDefaulted, 0, 2 * TWO_NE);
    }

    function test_subsetTransfer_receiverNoContinue_providerFails_succeeds() public {
        (uint256 id, uint256 t) = _sendingSubset(HONEST);
        _ackG(t);
        _revealG(t);
        vm.warp(block.timestamp + CONTEST_WINDOW);
        _expectSettled(id, GuardedOutcome.Failed, 2 * TWO_NE, 0);
        vm.prank(consumer);
        transfers.expireTransfer(t);
        _assertSettled(id, GuardedOutcome.Failed, 2 * TWO_NE, 0);
    }

    function test_subsetTransfer_contestUpheld_consumerDefaults_succeeds() public {
        // MC sent garbage as its first subset item: MP's contest is upheld.
        (uint256 id, uint256 t) = _sendingSubset(0);
        _ackG(t);
        _revealG(t);
        uint32 bad = _sent[t].indices[0];
        ItemOpening memory o = _openingG(t, 0);
        bytes32 computed = bytes32(PoseidonT3.hashBytes(GuardedData.garbage(bad)));
        vm.expectEmit(address(transfers));
        emit IDataTransfer.TransferContested(t, bad, _icOf(bad), computed, TransferOutcome.SenderCheated);
        _expectSettled(id, modelId, GuardedOutcome.ConsumerDefaulted, 0, 2 * TWO_NE);
        vm.prank(provider);
        assertEq(uint256(transfers.contest(t, o)), uint256(TransferOutcome.SenderCheated));
        _assertSettled(id, GuardedOutcome.ConsumerDefaulted, 0, 2 * TWO_NE);
    }

    function test_subsetTransfer_contestRejected_providerFails_succeeds() public {
        // MP contests an honest item (griefing): rejected, MP loses its 2NE.
        (uint256 id, uint256 t) = _sendingSubset(HONEST);
        _ackG(t);
        _revealG(t);
        uint32 i = _sent[t].indices[3];
        bytes32 ic = _icOf(i);
        ItemOpening memory o = _openingG(t, 3);
        vm.expectEmit(address(transfers));
        emit IDataTransfer.TransferContested(t, i, ic, ic, TransferOutcome.ContestRejected);
        _expectSettled(id, modelId, GuardedOutcome.Failed, 2 * TWO_NE, 0);
        vm.prank(provider);
        assertEq(uint256(transfers.contest(t, o)), uint256(TransferOutcome.ContestRejected));
        _assertSettled(id, GuardedOutcome.Failed, 2 * TWO_NE, 0);
    }

    function test_subsetTransfer_signatureAcknowledgement_succeeds() public {
        (uint256 id, uint256 t) = _sendingSubset(HONEST);
        bytes memory sig = _sign(providerKey, transfers.acknowledgementDigest(t));
        vm.prank(consumer); // MC may post MP's signed receipt
        transfers.acknowledgeWithSignature(t, sig);
        _revealG(t);
        _acceptG(t);
        _assertState(id, GuardedState.Deciding);
    }

    // ---------------------------------------------------------------- isTransferItem and contests of non-items

    function test_isTransferItem_partitionsTestSet_succeeds() public {
        (uint256 id, uint256 sub) = _sendingSubset(HONEST);
        // Before the rest transfer exists, its id maps to no audit.
        assertFalse(guarded.isTransferItem(sub + 1, 0));
        _resolveG(sub, TransferOutcome.Completed);
        _proceedG(id);
        uint256 rest = _sendRestG(id, HONEST);
        assertEq(guarded.audit(id).restTransfer, rest);
        uint256 inSub = 0;
        uint256 inRest = 0;
        for (uint32 i = 0; i < N; ++i) {
            bool member = guarded.inSubset(id, i);
            assertEq(guarded.isTransferItem(sub, i), member, "subset transfer");
            assertEq(guarded.isTransferItem(rest, i), !member, "rest transfer");
            if (guarded.isTransferItem(sub, i)) ++inSub;
            if (guarded.isTransferItem(rest, i)) ++inRest;
        }
        assertEq(inSub, N_1);
        assertEq(inRest, N2);
        // Out of range or unknown transfer: never an item.
        assertFalse(guarded.isTransferItem(sub, N));
        assertFalse(guarded.isTransferItem(rest, N));
        assertFalse(guarded.isTransferItem(rest, type(uint32).max));
        assertFalse(guarded.isTransferItem(0, 0));
        assertFalse(guarded.isTransferItem(99, 0));
        assertEq(uint256(transfers.getTransfer(rest).itemCount), N2);
    }

    function test_contest_nonSubsetIndexInSubsetTransfer_reverts() public {
        (uint256 id, uint256 t) = _sendingSubset(HONEST);
        _ackG(t);
        _revealG(t);
        uint32 outside = _restIndices(id)[0];
        ItemOpening memory o = _openingG(t, 0);
        o.index = outside;
        vm.expectRevert(abi.encodeWithSelector(IDataTransfer.ItemNotInTransfer.selector, t, outside));
        vm.prank(provider);
        transfers.contest(t, o);
        o.index = N;
        vm.expectRevert(abi.encodeWithSelector(IDataTransfer.ItemNotInTransfer.selector, t, N));
        vm.prank(provider);
        transfers.contest(t, o);
        _assertState(id, GuardedState.SendingSubset);
    }

    function test_contest_subsetIndexInRestTransfer_reverts() public {
        (uint256 id, uint256 t) = _sendingRest(HONEST);
        _ackG(t);
        _revealG(t);
        uint32 inside = guarded.subsetIndices(id)[0];
        ItemOpening memory o = _openingG(t, 0);
        o.index = inside;
        vm.expectRevert(abi.encodeWithSelector(IDataTransfer.ItemNotInTransfer.selector, t, inside));
        vm.prank(provider);
        transfers.contest(t, o);
        _assertState(id, GuardedState.SendingRest);
    }

    // ---------------------------------------------------------------- onTransferResolved

    function test_onTransferResolved_notService_reverts() public {
        (, uint256 t) = _sendingSubset(HONEST);
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(IGriefingResistantAudit.NotTransferService.selector, stranger));
        guarded.onTransferResolved(t, TransferOutcome.Completed);
        vm.prank(provider);
        vm.expectRevert(abi.encodeWithSelector(IGriefingResistantAudit.NotTransferService.selector, provider));
        guarded.onTransferResolved(t, TransferOutcome.SenderCheated);
    }

    function test_onTransferResolved_unknownTransfer_reverts() public {
        _sendingSubset(HONEST);
        vm.prank(address(transfers));
        vm.expectRevert(abi.encodeWithSelector(IGriefingResistantAudit.UnknownTransfer.selector, 7));
        guarded.onTransferResolved(7, TransferOutcome.Completed);
    }

    function test_onTransferResolved_staleTransfer_reverts() public {
        (uint256 id, uint256 sub) = _sendingSubset(HONEST);
        _resolveG(sub, TransferOutcome.Completed);
        // The subset transfer is over: a second report of it is refused in every later stage.
        vm.prank(address(transfers));
        vm.expectRevert(abi.encodeWithSelector(IGriefingResistantAudit.UnknownTransfer.selector, sub));
        guarded.onTransferResolved(sub, TransferOutcome.SenderCheated);
        _proceedG(id);
        _sendRestG(id, HONEST);
        vm.prank(address(transfers));
        vm.expectRevert(abi.encodeWithSelector(IGriefingResistantAudit.UnknownTransfer.selector, sub));
        guarded.onTransferResolved(sub, TransferOutcome.Completed);
        _assertState(id, GuardedState.SendingRest);
    }

    // ---------------------------------------------------------------- stage 4: proceed / abort

    function test_proceed_provider_succeeds() public {
        uint256 id = _deciding();
        uint64 sendDeadline = uint64(block.timestamp + SEND_WINDOW);
        vm.expectEmit(address(guarded));
        emit IGriefingResistantAudit.AuditProceeded(id, sendDeadline);
        vm.prank(provider);
        guarded.proceed(id);
        _assertState(id, GuardedState.AwaitingRest);
        assertEq(uint256(guarded.audit(id).deadline), sendDeadline);
        assertEq(uint256(guarded.audit(id).status), uint256(GuardedStatus.AwaitingRest));
    }

    function test_proceed_notProvider_reverts() public {
        uint256 id = _deciding();
        vm.prank(consumer);
        vm.expectRevert(
            abi.encodeWithSelector(IGriefingResistantAudit.NotAuditProvider.selector, id, consumer, provider)
        );
        guarded.proceed(id);
    }

    function test_proceed_beforeSubsetAccepted_reverts() public {
        (uint256 id,) = _sendingSubset(HONEST);
        vm.prank(provider);
        _expectGuardedState(id, GuardedState.SendingSubset);
        guarded.proceed(id);
        uint256 other = _awaitingSubset();
        vm.prank(provider);
        _expectGuardedState(other, GuardedState.AwaitingSubset);
        guarded.proceed(other);
    }

    function test_proceed_afterDecisionDeadline_reverts() public {
        uint256 id = _deciding();
        vm.warp(block.timestamp + GUARDED_DECISION_WINDOW);
        vm.prank(provider);
        _expectGuardedState(id, GuardedState.DecisionExpired);
        guarded.proceed(id);
    }

    function test_proceed_twice_reverts() public {
        uint256 id = _awaitingRest();
        vm.prank(provider);
        _expectGuardedState(id, GuardedState.AwaitingRest);
        guarded.proceed(id);
    }

    function test_abort_provider_consumerLosesN1P_succeeds() public {
        uint256 id = _deciding();
        // Appendix B stage 4: MC loses N1*P to MP.
        _expectSettled(id, GuardedOutcome.Aborted, TWO_NE - ABORT_FEE, TWO_NE + ABORT_FEE);
        vm.prank(provider);
        guarded.abort(id);
        _assertSettled(id, GuardedOutcome.Aborted, TWO_NE - ABORT_FEE, TWO_NE + ABORT_FEE);
    }

    function test_abort_notProvider_reverts() public {
        uint256 id = _deciding();
        vm.prank(consumer);
        vm.expectRevert(
            abi.encodeWithSelector(IGriefingResistantAudit.NotAuditProvider.selector, id, consumer, provider)
        );
        guarded.abort(id);
    }

    function test_abort_wrongStates_reverts() public {
        uint256 id = _awaitingRest();
        vm.prank(provider);
        _expectGuardedState(id, GuardedState.AwaitingRest);
        guarded.abort(id);
        vm.warp(block.timestamp + SEND_WINDOW);
        vm.prank(provider);
        _expectGuardedState(id, GuardedState.RestExpired);
        guarded.abort(id);
        uint256 other = _deciding();
        vm.warp(block.timestamp + GUARDED_DECISION_WINDOW);
        vm.prank(provider);
        _expectGuardedState(other, GuardedState.DecisionExpired);
        guarded.abort(other);
    }

    function test_finalize_decisionExpired_countsAsAbort_succeeds() public {
        uint256 id = _deciding();
        vm.warp(block.timestamp + GUARDED_DECISION_WINDOW - 1);
        _expectGuardedState(id, GuardedState.Deciding);
        guarded.finalize(id);
        vm.warp(block.timestamp + 1);
        _assertState(id, GuardedState.DecisionExpired);
        _expectSettled(id, GuardedOutcome.Aborted, TWO_NE - ABORT_FEE, TWO_NE + ABORT_FEE);
        vm.prank(stranger);
        guarded.finalize(id);
        _assertSettled(id, GuardedOutcome.Aborted, TWO_NE - ABORT_FEE, TWO_NE + ABORT_FEE);
    }

    // ---------------------------------------------------------------- stage 5: sendRest

    function test_sendRest_consumer_succeeds() public {
        uint256 id = _awaitingRest();
        bytes32 root = guarded.audit(id).testSetRoot;
        uint256 sub = guarded.audit(id).subsetTransfer;
        (uint256 expected, bytes32 croot, bytes32 kc) = _prepareSend(id, _restIndices(id), HONEST);
        vm.expectEmit(address(transfers));
        emit IDataTransfer.TransferCommitted(
            expected, consumer, provider, croot, kc, root, N2, uint64(block.timestamp + ACK_WINDOW)
        );
        vm.expectEmit(address(guarded));
        emit IGriefingResistantAudit.RestSent(id, expected);
        vm.prank(consumer);
        uint256 t = guarded.sendRest(id, croot, kc);
        assertEq(t, expected);
        assertEq(t, sub + 1);
        _assertState(id, GuardedState.SendingRest);
        GuardedAudit memory a = guarded.audit(id);
        assertEq(a.restTransfer, t);
        assertEq(a.subsetTransfer, sub);
        assertEq(uint256(a.status), uint256(GuardedStatus.SendingRest));
        assertEq(transfers.clientOf(t), address(guarded));
    }

    function test_sendRest_notConsumer_reverts() public {
        uint256 id = _awaitingRest();
        vm.prank(stranger);
        vm.expectRevert(
            abi.encodeWithSelector(IGriefingResistantAudit.NotAuditConsumer.selector, id, stranger, consumer)
        );
        guarded.sendRest(id, bytes32(uint256(1)), bytes32(uint256(2)));
    }

    function test_sendRest_wrongStates_reverts() public {
        uint256 id = _deciding();
        vm.prank(consumer);
        _expectGuardedState(id, GuardedState.Deciding);
        guarded.sendRest(id, bytes32(uint256(1)), bytes32(uint256(2)));
        uint256 other = _awaitingSubset();
        vm.prank(consumer);
        _expectGuardedState(other, GuardedState.AwaitingSubset);
        guarded.sendRest(other, bytes32(uint256(1)), bytes32(uint256(2)));
        (uint256 sending,) = _sendingRest(HONEST);
        vm.prank(consumer);
        _expectGuardedState(sending, GuardedState.SendingRest);
        guarded.sendRest(sending, bytes32(uint256(1)), bytes32(uint256(2)));
    }

    function test_sendRest_afterSendDeadline_reverts() public {
        uint256 id = _awaitingRest();
        vm.warp(block.timestamp + SEND_WINDOW);
        vm.prank(consumer);
        _expectGuardedState(id, GuardedState.RestExpired);
        guarded.sendRest(id, bytes32(uint256(1)), bytes32(uint256(2)));
    }

    function test_abortByConsumer_atRest_succeeds() public {
        uint256 id = _awaitingRest();
        _expectSettled(id, GuardedOutcome.ConsumerDefaulted, 0, 2 * TWO_NE);
        vm.prank(consumer);
        guarded.abortByConsumer(id);
        _assertSettled(id, GuardedOutcome.ConsumerDefaulted, 0, 2 * TWO_NE);
    }

    function test_finalize_restExpired_consumerDefaults_succeeds() public {
        uint256 id = _awaitingRest();
        vm.warp(block.timestamp + SEND_WINDOW - 1);
        _expectGuardedState(id, GuardedState.AwaitingRest);
        guarded.finalize(id);
        vm.warp(block.timestamp + 1);
        _assertState(id, GuardedState.RestExpired);
        _expectSettled(id, GuardedOutcome.ConsumerDefaulted, 0, 2 * TWO_NE);
        guarded.finalize(id);
        _assertSettled(id, GuardedOutcome.ConsumerDefaulted, 0, 2 * TWO_NE);
    }

    // ---------------------------------------------------------------- stage 5: rest transfer outcomes

    function test_restTransfer_completed_succeeds() public {
        (uint256 id, uint256 t) = _sendingRest(HONEST);
        _ackG(t);
        _revealG(t);
        uint64 proofDeadline = uint64(block.timestamp + GUARDED_PROOF_WINDOW + uint256(N2) * GUARDED_PROOF_TIME);
        vm.expectEmit(address(guarded));
        emit IGriefingResistantAudit.RestAccepted(id, proofDeadline);
        vm.prank(provider);
        transfers.accept(t);
        _assertState(id, GuardedState.Proving);
        assertEq(uint256(guarded.audit(id).deadline), proofDeadline);
        assertEq(uint256(guarded.audit(id).status), uint256(GuardedStatus.Proving));
    }

    function test_restTransfer_receiverNoAck_providerFails_succeeds() public {
        (uint256 id, uint256 t) = _sendingRest(HONEST);
        _expectSettledAfter(id, t, TransferOutcome.ReceiverNoAck, GuardedOutcome.Failed, 2 * TWO_NE, 0);
    }

    function test_restTransfer_undelivered_consumerDefaults_succeeds() public {
        (uint256 id, uint256 t) = _sendingRest(HONEST);
        _expectSettledAfter(id, t, TransferOutcome.SenderUndelivered, GuardedOutcome.ConsumerDefaulted, 0, 2 * TWO_NE);
    }

    function test_restTransfer_senderNoReveal_consumerDefaults_succeeds() public {
        (uint256 id, uint256 t) = _sendingRest(HONEST);
        _expectSettledAfter(id, t, TransferOutcome.SenderNoReveal, GuardedOutcome.ConsumerDefaulted, 0, 2 * TWO_NE);
    }

    function test_restTransfer_receiverNoContinue_providerFails_succeeds() public {
        (uint256 id, uint256 t) = _sendingRest(HONEST);
        _expectSettledAfter(id, t, TransferOutcome.ReceiverNoContinue, GuardedOutcome.Failed, 2 * TWO_NE, 0);
    }

    function test_restTransfer_contestUpheld_consumerDefaults_succeeds() public {
        (uint256 id, uint256 t) = _sendingRest(0);
        _expectSettledAfter(id, t, TransferOutcome.SenderCheated, GuardedOutcome.ConsumerDefaulted, 0, 2 * TWO_NE);
    }

    function test_restTransfer_contestRejected_providerFails_succeeds() public {
        (uint256 id, uint256 t) = _sendingRest(0); // MP contests an honest item of a cheating MC
        _expectSettledAfter(id, t, TransferOutcome.ContestRejected, GuardedOutcome.Failed, 2 * TWO_NE, 0);
    }

    /// @dev Resolves transfer `t` with `transferOutcome`, expecting the settlement events and payouts.
    function _expectSettledAfter(
        uint256 id,
        uint256 t,
        TransferOutcome transferOutcome,
        GuardedOutcome outcome,
        uint256 consumerPayout,
        uint256 providerPayout
    ) internal {
        if (transferOutcome == TransferOutcome.ReceiverNoAck || transferOutcome == TransferOutcome.SenderUndelivered) {
            if (transferOutcome == TransferOutcome.ReceiverNoAck) _publishG(t);
            vm.warp(block.timestamp + ACK_WINDOW);
        } else {
            _ackG(t);
            if (transferOutcome == TransferOutcome.SenderNoReveal) {
                vm.warp(block.timestamp + REVEAL_WINDOW);
            } else {
                _revealG(t);
                if (transferOutcome == TransferOutcome.ReceiverNoContinue) vm.warp(block.timestamp + CONTEST_WINDOW);
            }
        }
        bool contest =
            transferOutcome == TransferOutcome.SenderCheated || transferOutcome == TransferOutcome.ContestRejected;
        ItemOpening memory o;
        if (contest) o = _openingG(t, transferOutcome == TransferOutcome.SenderCheated ? 0 : 1);
        _expectSettled(id, outcome, consumerPayout, providerPayout);
        if (contest) {
            vm.prank(provider);
            assertEq(uint256(transfers.contest(t, o)), uint256(transferOutcome));
        } else {
            vm.prank(stranger);
            assertEq(uint256(transfers.expireTransfer(t)), uint256(transferOutcome));
        }
        _assertSettled(id, outcome, consumerPayout, providerPayout);
        assertEq(uint256(transfers.getTransfer(t).outcome), uint256(transferOutcome));
    }

    // ---------------------------------------------------------------- stage 6: submitProofs

    function test_submitProofs_batches_succeeds() public {
        uint256 id = _proving();
        uint32[] memory rest = _restIndices(id);
        AuditProof[] memory first = _proofsG(id, _slice(rest, 0, 3), 1);
        vm.expectEmit(address(guarded));
        emit IGriefingResistantAudit.ProofAccepted(id, rest[0], GuardedData.label(rest[0]) + 1, false, 1, 0);
        vm.expectEmit(address(guarded));
        emit IGriefingResistantAudit.ProofAccepted(id, rest[1], GuardedData.label(rest[1]), true, 2, 1);
        vm.expectEmit(address(guarded));
        emit IGriefingResistantAudit.ProofAccepted(id, rest[2], GuardedData.label(rest[2]), true, 3, 2);
        vm.prank(stranger); // anyone may relay MP's proofs
        guarded.submitProofs(id, first);
        GuardedAudit memory a = guarded.audit(id);
        assertEq(uint256(a.submitted), 3);
        assertEq(uint256(a.correct), 2);
        assertTrue(guarded.isProven(id, rest[0]));
        assertTrue(guarded.isProven(id, rest[2]));
        assertFalse(guarded.isProven(id, rest[3]));
        _assertState(id, GuardedState.Proving);
        _submitRest(id, 3, N2, 0);
        a = guarded.audit(id);
        assertEq(uint256(a.submitted), N2);
        assertEq(uint256(a.correct), N2 - 1);
        // All N2 in: finalizable before the proof deadline.
        assertTrue(block.timestamp < a.deadline);
        _assertState(id, GuardedState.Finalizable);
        vm.expectRevert(
            abi.encodeWithSelector(IGriefingResistantAudit.UnexpectedAuditState.selector, id, GuardedState.Finalizable)
        );
        guarded.submitProofs(id, first);
    }

    function test_submitProofs_instanceLayout_succeeds() public {
        uint256 id = _proving();
        uint32 i = _restIndices(id)[2];
        AuditProof[] memory list = _proofsG(id, _slice(_restIndices(id), 2, 3), 0);
        verifier.expectCalldata(
            ProofVerifier.encodeCalldata(
                ProofVerifier.classInstances(_icOf(i), WEIGHTS, GuardedData.label(i)), list[0].proof
            )
        );
        guarded.submitProofs(id, list);
        assertTrue(guarded.isProven(id, i));
    }

    function test_submitProofs_subsetIndex_reverts() public {
        uint256 id = _proving();
        uint32 inside = guarded.subsetIndices(id)[0];
        uint32[] memory one = new uint32[](1);
        one[0] = inside;
        AuditProof[] memory list = _proofsG(id, one, 0);
        vm.expectRevert(abi.encodeWithSelector(IGriefingResistantAudit.IndexInSubset.selector, id, inside));
        guarded.submitProofs(id, list);
    }

    function test_submitProofs_noProofs_reverts() public {
        uint256 id = _proving();
        vm.expectRevert(abi.encodeWithSelector(IGriefingResistantAudit.NoProofs.selector, id));
        guarded.submitProofs(id, new AuditProof[](0));
    }

    function test_submitProofs_indexOutOfRange_reverts() public {
        uint256 id = _proving();
        AuditProof[] memory list = _proofsG(id, _slice(_restIndices(id), 0, 1), 0);
        list[0].index = N;
        vm.expectRevert(abi.encodeWithSelector(IGriefingResistantAudit.IndexOutOfRange.selector, id, N, N));
        guarded.submitProofs(id, list);
    }

    function test_submitProofs_alreadyProven_reverts() public {
        uint256 id = _proving();
        _submitRest(id, 0, 2, 0);
        uint32 again = _restIndices(id)[1];
        AuditProof[] memory list = _proofsG(id, _slice(_restIndices(id), 1, 2), 1); // other class
        vm.expectRevert(abi.encodeWithSelector(IGriefingResistantAudit.AlreadyProven.selector, id, again));
        guarded.submitProofs(id, list);
    }

    function test_submitProofs_duplicateInBatch_reverts() public {
        uint256 id = _proving();
        uint32[] memory rest = _restIndices(id);
        AuditProof[] memory list = _proofsG(id, _slice(rest, 2, 4), 0);
        list[1] = list[0];
        vm.expectRevert(abi.encodeWithSelector(IGriefingResistantAudit.AlreadyProven.selector, id, rest[2]));
        guarded.submitProofs(id, list);
        assertEq(uint256(guarded.audit(id).submitted), 0);
    }

    function test_submitProofs_uncommittedLeaf_reverts() public {
        uint256 id = _proving();
        uint32[] memory rest = _restIndices(id);
        AuditProof[] memory list = _proofsG(id, _slice(rest, 0, 1), 0);
        // Claiming another label (to match a wrong prediction) does not open MC's leaf.
        uint256 fake = GuardedData.label(rest[0]) + 1;
        list[0].label = fake;
        list[0].predictedClass = fake;
        vm.expectRevert(
            abi.encodeWithSelector(
                IGriefingResistantAudit.ExampleNotCommitted.selector, id, rest[0], _icOf(rest[0]), fake
            )
        );
        guarded.submitProofs(id, list);
        // Nor does another example's input.
        list = _proofsG(id, _slice(rest, 0, 1), 0);
        list[0].inputCommitment = _icOf(rest[1]);
        vm.expectRevert(
            abi.encodeWithSelector(
                IGriefingResistantAudit.ExampleNotCommitted.selector,
                id,
                rest[0],
                _icOf(rest[1]),
                GuardedData.label(rest[0])
            )
        );
        guarded.submitProofs(id, list);
    }

    function test_submitProofs_proofRejected_reverts() public {
        uint256 id = _proving();
        _submitRest(id, 0, 1, 0);
        verifier.setMode(MockVerifier.Mode.Reject);
        uint32[] memory rest = _restIndices(id);
        AuditProof[] memory list = _proofsG(id, _slice(rest, 1, 3), 0);
        vm.expectRevert(abi.encodeWithSelector(IGriefingResistantAudit.ProofRejected.selector, id, rest[1]));
        guarded.submitProofs(id, list);
        // The whole batch reverted; MP may retry until the deadline.
        assertEq(uint256(guarded.audit(id).submitted), 1);
        verifier.setMode(MockVerifier.Mode.Accept);
        guarded.submitProofs(id, list);
        assertEq(uint256(guarded.audit(id).submitted), 3);
    }

    function test_submitProofs_wrongStates_reverts() public {
        uint256 id = _deciding();
        AuditProof[] memory list = _proofsG(id, _slice(_restIndices(id), 0, 1), 0);
        _expectGuardedState(id, GuardedState.Deciding);
        guarded.submitProofs(id, list);
        (uint256 sending,) = _sendingRest(HONEST);
        list = _proofsG(sending, _slice(_restIndices(sending), 0, 1), 0);
        _expectGuardedState(sending, GuardedState.SendingRest);
        guarded.submitProofs(sending, list);
    }

    function test_submitProofs_afterProofDeadline_reverts() public {
        uint256 id = _proving();
        AuditProof[] memory list = _proofsG(id, _slice(_restIndices(id), 0, 1), 0);
        vm.warp(guarded.audit(id).deadline);
        _expectGuardedState(id, GuardedState.Finalizable);
        guarded.submitProofs(id, list);
    }

    // ---------------------------------------------------------------- stage 7: finalize

    function test_finalize_targetMet_succeeds() public {
        uint256 id = _proving();
        _submitRest(id, 0, 3, 1);
        _submitRest(id, 3, N2, 1); // 4 of 6 correct = exactly 2/3
        _expectSettled(id, GuardedOutcome.Passed, TWO_NE - PASS_FEE, TWO_NE + PASS_FEE);
        vm.prank(stranger);
        guarded.finalize(id);
        _assertSettled(id, GuardedOutcome.Passed, TWO_NE - PASS_FEE, TWO_NE + PASS_FEE);
        vm.prank(provider);
        guarded.withdraw(ETH);
        vm.prank(consumer);
        guarded.withdraw(ETH);
        vm.prank(feeRecipient);
        guarded.withdraw(ETH);
        assertEq(address(guarded).balance, 0);
        assertEq(guarded.totalOwed(ETH), 0);
        assertEq(provider.balance, TWO_NE + PASS_FEE);
        assertEq(consumer.balance, TWO_NE - PASS_FEE);
        assertEq(feeRecipient.balance, 2 * FEE);
    }

    function test_finalize_targetMissed_succeeds() public {
        uint256 id = _proving();
        _submitRest(id, 0, N2, 3); // 3 of 6 < 2/3
        _expectSettled(id, GuardedOutcome.Failed, 2 * TWO_NE, 0);
        guarded.finalize(id);
        _assertSettled(id, GuardedOutcome.Failed, 2 * TWO_NE, 0);
    }

    function test_finalize_missingProofsAfterDeadline_succeeds() public {
        uint256 id = _proving();
        _submitRest(id, 0, N2 - 1, 0); // all correct but one missing
        vm.warp(guarded.audit(id).deadline - 1);
        _expectGuardedState(id, GuardedState.Proving);
        guarded.finalize(id);
        vm.warp(guarded.audit(id).deadline);
        _expectSettled(id, GuardedOutcome.Failed, 2 * TWO_NE, 0);
        guarded.finalize(id);
        _assertSettled(id, GuardedOutcome.Failed, 2 * TWO_NE, 0);
    }

    function test_finalize_noProofsAfterDeadline_succeeds() public {
        uint256 id = _proving();
        vm.warp(guarded.audit(id).deadline);
        vm.prank(consumer);
        guarded.finalize(id);
        _assertSettled(id, GuardedOutcome.Failed, 2 * TWO_NE, 0);
    }

    function test_finalize_zeroTarget_allProvenPasses_succeeds() public {
        uint256 id = _openG(modelId, N, 0, 1);
        _joinG(id, SEED);
        uint256 t = _sendSubsetG(id, HONEST);
        _resolveG(t, TransferOutcome.Completed);
        _proceedG(id);
        t = _sendRestG(id, HONEST);
        _resolveG(t, TransferOutcome.Completed);
        _submitRest(id, 0, N2, N2); // every prediction wrong, but the target is 0
        guarded.finalize(id);
        _assertSettled(id, GuardedOutcome.Passed, TWO_NE - PASS_FEE, TWO_NE + PASS_FEE);
    }

    function test_finalize_joinExpired_cancels_succeeds() public {
        uint256 id = _openG(modelId, N, NUM, DEN);
        vm.warp(block.timestamp + JOIN_WINDOW - 1);
        _expectGuardedState(id, GuardedState.Open);
        guarded.finalize(id);
        vm.warp(block.timestamp + 1);
        vm.expectEmit(address(guarded));
        emit IGriefingResistantAudit.AuditCancelled(id, TWO_NE + FEE);
        vm.prank(stranger);
        guarded.finalize(id);
        _assertState(id, GuardedState.Cancelled);
        assertEq(guarded.creditOf(consumer, ETH), TWO_NE + FEE);
        assertEq(guarded.creditOf(feeRecipient, ETH), 0);
        assertEq(guarded.totalOwed(ETH), TWO_NE + FEE);
        assertEq(uint256(registry.record(modelId).auditsFailed), 0);
    }

    function test_finalize_nonFinalStates_reverts() public {
        _expectGuardedState(42, GuardedState.None);
        guarded.finalize(42);

        uint256 id = _openG(modelId, N, NUM, DEN);
        _expectGuardedState(id, GuardedState.Open);
        guarded.finalize(id);
        _joinG(id, SEED);
        _expectGuardedState(id, GuardedState.AwaitingSubset);
        guarded.finalize(id);
        uint256 t = _sendSubsetG(id, HONEST);
        _expectGuardedState(id, GuardedState.SendingSubset);
        guarded.finalize(id);
        _resolveG(t, TransferOutcome.Completed);
        _expectGuardedState(id, GuardedState.Deciding);
        guarded.finalize(id);
        _proceedG(id);
        _expectGuardedState(id, GuardedState.AwaitingRest);
        guarded.finalize(id);
        t = _sendRestG(id, HONEST);
        _expectGuardedState(id, GuardedState.SendingRest);
        guarded.finalize(id);
        _resolveG(t, TransferOutcome.Completed);
        _expectGuardedState(id, GuardedState.Proving);
        guarded.finalize(id);
        _submitRest(id, 0, N2, 0);
        guarded.finalize(id);
        _expectGuardedState(id, GuardedState.Settled);
        guarded.finalize(id);

        uint256 cancelled = _openG(modelId, N, NUM, DEN);
        vm.prank(consumer);
        guarded.cancel(cancelled);
        _expectGuardedState(cancelled, GuardedState.Cancelled);
        guarded.finalize(cancelled);
    }

    function test_finalize_settledAuditIgnoresLateTransferReport_succeeds() public {
        (uint256 id, uint256 t) = _sendingRest(HONEST);
        _resolveG(t, TransferOutcome.SenderNoReveal);
        _assertSettled(id, GuardedOutcome.ConsumerDefaulted, 0, 2 * TWO_NE);
        vm.prank(address(transfers));
        vm.expectRevert(abi.encodeWithSelector(IGriefingResistantAudit.UnknownTransfer.selector, t));
        guarded.onTransferResolved(t, TransferOutcome.Completed);
        // The service itself refuses a second resolution.
        vm.expectRevert(
            abi.encodeWithSelector(IDataTransfer.UnexpectedTransferState.selector, t, TransferState.Resolved)
        );
        transfers.expireTransfer(t);
    }

    // ---------------------------------------------------------------- stake lock

    function test_stakeLock_heldUntilSettlement_succeeds() public {
        uint256 id = _awaitingSubset();
        vm.prank(provider);
        registry.requestUnbond(modelId);
        vm.warp(block.timestamp + UNBONDING_DELAY);
        vm.prank(provider);
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.ModelHasOpenJobs.selector, modelId, 1));
        registry.withdrawStake(modelId);
        // The send deadline passed long ago: MC defaulted (no record), the lock is released.
        guarded.finalize(id);
        _assertSettled(id, GuardedOutcome.ConsumerDefaulted, 0, 2 * TWO_NE);
        vm.prank(provider);
        registry.withdrawStake(modelId);
        assertEq(registry.creditOf(provider, ETH), STAKE);
    }

    function test_stakeLock_oneLockPerJoinedAudit_succeeds() public {
        uint256 a = _awaitingSubset();
        uint256 b = _deciding();
        _openG(modelId, N, NUM, DEN); // not joined: no lock
        assertEq(registry.locksHeld(modelId, address(guarded)), 2);
        assertEq(uint256(registry.model(modelId).openJobs), 2);
        vm.prank(consumer);
        guarded.abortByConsumer(a);
        assertEq(registry.locksHeld(modelId, address(guarded)), 1);
        vm.prank(provider);
        guarded.abort(b);
        assertEq(registry.locksHeld(modelId, address(guarded)), 0);
        ModelRecord memory r = registry.record(modelId);
        assertEq(uint256(r.auditsAborted), 1);
        assertEq(uint256(r.auditsFailed), 0);
    }

    // ---------------------------------------------------------------- full runs through the service

    function test_fullRun_honest_passes_succeeds() public {
        // Stages 1-2: MC commits the test set, MP joins and picks the subset.
        uint256 id = _openG(modelId, N, NUM, DEN);
        _joinG(id, SEED);
        // Stage 3: the N1 subset, acknowledged by MP's signature (posted by MC).
        uint256 sub = _sendSubsetG(id, HONEST);
        vm.prank(consumer);
        transfers.acknowledgeWithSignature(sub, _sign(providerKey, transfers.acknowledgementDigest(sub)));
        _revealG(sub);
        bytes32 key = transfers.getTransfer(sub).key;
        for (uint256 k = 0; k < N_1; ++k) {
            uint32 i = _sent[sub].indices[k];
            assertTrue(guarded.inSubset(id, i));
            bytes memory pt = KeccakStreamCipher.decrypt(key, i, _sent[sub].ciphertexts[k]);
            assertEq(keccak256(pt), keccak256(GuardedData.plaintext(i)));
        }
        _acceptG(sub);
        // Stage 4: MP ran the subset and proceeds.
        _proceedG(id);
        // Stage 5: the N2 examples.
        uint256 rest = _sendRestG(id, HONEST);
        _ackG(rest);
        _revealG(rest);
        key = transfers.getTransfer(rest).key;
        for (uint256 k = 0; k < N2; ++k) {
            uint32 i = _sent[rest].indices[k];
            assertFalse(guarded.inSubset(id, i));
            bytes memory pt = KeccakStreamCipher.decrypt(key, i, _sent[rest].ciphertexts[k]);
            assertEq(bytes32(PoseidonT3.hashBytes(pt)), _icOf(i));
        }
        _acceptG(rest);
        // Stage 6: proofs in two batches (one wrong prediction: 5 of 6 >= 2/3).
        _submitRest(id, 0, 2, 1);
        _submitRest(id, 2, N2, 0);
        _assertState(id, GuardedState.Finalizable);
        // Stage 7.
        guarded.finalize(id);
        _assertSettled(id, GuardedOutcome.Passed, TWO_NE - PASS_FEE, TWO_NE + PASS_FEE);
        assertEq(uint256(transfers.getTransfer(sub).outcome), uint256(TransferOutcome.Completed));
        assertEq(uint256(transfers.getTransfer(rest).outcome), uint256(TransferOutcome.Completed));
        // Everyone withdraws; nothing is left behind, and the service never held funds.
        address[3] memory who = [consumer, provider, feeRecipient];
        for (uint256 k = 0; k < 3; ++k) {
            vm.prank(who[k]);
            guarded.withdraw(ETH);
        }
        assertEq(address(guarded).balance, 0);
        assertEq(address(transfers).balance, 0);
        assertEq(consumer.balance, TWO_NE - PASS_FEE);
        assertEq(provider.balance, TWO_NE + PASS_FEE);
    }

    function test_fullRun_erc20_passes_succeeds() public {
        uint256 id = _openG(tokenModelId, N, NUM, DEN);
        _joinG(id, keccak256("token seed"));
        uint256 t = _sendSubsetG(id, HONEST);
        _resolveG(t, TransferOutcome.Completed);
        _proceedG(id);
        t = _sendRestG(id, HONEST);
        _resolveG(t, TransferOutcome.Completed);
        _submitRest(id, 0, N2, 2); // 4 of 6
        guarded.finalize(id);
        _assertSettled(id, GuardedOutcome.Passed, TWO_NE - PASS_FEE, TWO_NE + PASS_FEE);
        assertEq(guarded.totalOwed(ETH), 0);
        vm.prank(provider);
        guarded.withdraw(address(usd));
        assertEq(usd.balanceOf(provider), TWO_NE + PASS_FEE);
        vm.prank(consumer);
        guarded.withdraw(address(usd));
        vm.prank(feeRecipient);
        guarded.withdraw(address(usd));
        assertEq(usd.balanceOf(address(guarded)), 0);
    }

    function test_fullRun_erc20_consumerCheats_succeeds() public {
        uint256 id = _openG(tokenModelId, N, NUM, DEN);
        _joinG(id, SEED);
        uint256 t = _sendSubsetG(id, HONEST);
        _resolveG(t, TransferOutcome.Completed);
        _proceedG(id);
        t = _sendRestG(id, 0);
        _resolveG(t, TransferOutcome.SenderCheated);
        _assertSettled(id, GuardedOutcome.ConsumerDefaulted, 0, 2 * TWO_NE);
        assertEq(guarded.creditOf(feeRecipient, address(usd)), 2 * FEE);
    }

    function test_twoAudits_independentTransfers_succeeds() public {
        uint256 a = _awaitingSubset();
        uint256 b = _openG(tokenModelId, N + 1, NUM, DEN);
        _joinG(b, keccak256("other"));
        uint256 ta = _sendSubsetG(a, HONEST);
        uint256 tb = _sendSubsetG(b, 0);
        for (uint32 i = 0; i < N + 1; ++i) {
            assertEq(guarded.isTransferItem(ta, i), i < N && guarded.inSubset(a, i));
            assertEq(guarded.isTransferItem(tb, i), guarded.inSubset(b, i));
        }
        // b's transfer ends with MC cheating; a's goes on untouched.
        _resolveG(tb, TransferOutcome.SenderCheated);
        _assertState(b, GuardedState.Settled);
        _assertState(a, GuardedState.SendingSubset);
        _resolveG(ta, TransferOutcome.Completed);
        _assertState(a, GuardedState.Deciding);
        assertEq(guarded.creditOf(provider, address(usd)), 2 * 2 * uint256(N + 1) * E);
        assertEq(guarded.creditOf(provider, ETH), 0);
    }
}
