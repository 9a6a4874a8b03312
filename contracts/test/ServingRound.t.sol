// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Fixture} from "./utils/Fixture.sol";
import {Merkle} from "./utils/Merkle.sol";
import {ERC1271Wallet, MockVerifier} from "./mocks/Mocks.sol";

import {ProofVerifier} from "../src/ProofVerifier.sol";
import {ServingRound} from "../src/ServingRound.sol";
import {IEscrow} from "../src/interfaces/IEscrow.sol";
import {IModelRegistry} from "../src/interfaces/IModelRegistry.sol";
import {IServingRound} from "../src/interfaces/IServingRound.sol";
import {
    Answer,
    ModelRecord,
    ModelStatus,
    Round,
    RoundConfig,
    RoundOutcome,
    RoundState,
    RoundStatus
} from "../src/lib/Types.sol";

contract ServingRoundTest is Fixture {
    uint32 internal constant K = 8;
    uint16 internal constant BETA = 3;
    uint256 internal modelId;
    uint256 internal tokenModelId;

    function setUp() public override {
        super.setUp();
        modelId = _registerEth(provider);
        tokenModelId = _registerToken(provider);
    }

    /// @dev A joined ETH round of K with committed predictions.
    function _committed() internal returns (uint256 id) {
        id = _open(modelId, K, BETA);
        _join(id);
        _commit(id);
    }

    function _expectState(uint256 id, RoundState current) internal {
        vm.expectRevert(abi.encodeWithSelector(IServingRound.UnexpectedRoundState.selector, id, current));
    }

    // ---------------------------------------------------------------- constructor

    function test_constructor_config_succeeds() public view {
        assertEq(address(rounds.registry()), address(registry));
        assertEq(uint256(rounds.minBeta()), MIN_BETA);
        assertEq(uint256(rounds.maxBeta()), MAX_BETA);
        assertEq(uint256(rounds.maxK()), MAX_K);
        assertEq(uint256(rounds.maxDuration()), MAX_DURATION);
        assertEq(uint256(rounds.joinWindow()), JOIN_WINDOW);
        assertEq(uint256(rounds.answerWindow()), ANSWER_WINDOW);
        assertEq(uint256(rounds.proofWindow()), PROOF_WINDOW);
    }

    function test_constructor_registryNotContract_reverts() public {
        vm.expectRevert(abi.encodeWithSelector(IServingRound.RegistryNotContract.selector, stranger));
        new ServingRound(IModelRegistry(stranger), _config());
    }

    function test_constructor_betaBelowTwo_reverts() public {
        RoundConfig memory c = _config();
        c.minBeta = 1;
        vm.expectRevert(abi.encodeWithSelector(IServingRound.InvalidBetaRange.selector, 1, MAX_BETA));
        new ServingRound(IModelRegistry(address(registry)), c);
    }

    function test_constructor_maxBetaBelowMin_reverts() public {
        RoundConfig memory c = _config();
        c.minBeta = 5;
        c.maxBeta = 4;
        vm.expectRevert(abi.encodeWithSelector(IServingRound.InvalidBetaRange.selector, 5, 4));
        new ServingRound(IModelRegistry(address(registry)), c);
    }

    function test_constructor_windowTooLong_reverts() public {
        // MAX_WINDOW = 3650 days = 315,360,000 s fits every field, so these casts are exact.
        uint32 tooLong = uint32(3650 days + 1);
        vm.assertEq(rounds.MAX_WINDOW(), 3650 days);
        for (uint256 i = 0; i < 4; ++i) {
            RoundConfig memory c = _config();
            uint256 window = tooLong;
            if (i == 0) c.maxDuration = tooLong;
            if (i == 1) c.joinWindow = tooLong;
            if (i == 2) c.answerWindow = tooLong;
            if (i == 3) {
                c.proofWindow = tooLong / c.maxK + 1;
                window = uint256(c.maxK) * c.proofWindow;
            }
            vm.expectRevert(abi.encodeWithSelector(IServingRound.WindowTooLong.selector, window, 3650 days));
            new ServingRound(IModelRegistry(address(registry)), c);
        }
    }

    function test_constructor_zeroValues_reverts() public {
        for (uint256 i = 0; i < 4; ++i) {
            RoundConfig memory c = _config();
            if (i == 0) c.maxK = 0;
            if (i == 1) c.maxDuration = 0;
            if (i == 2) c.joinWindow = 0;
            if (i == 3) c.answerWindow = 0;
            vm.expectRevert(IServingRound.ZeroConfigValue.selector);
            new ServingRound(IModelRegistry(address(registry)), c);
        }
    }

    // ---------------------------------------------------------------- openRound

    function test_openRound_eth_succeeds() public {
        bytes32 root = _inputsRoot(K);
        uint256 escrow = 2 * uint256(K) * Z;
        vm.deal(consumer, escrow);
        vm.expectEmit(address(rounds));
        emit IServingRound.RoundOpened(
            1, modelId, consumer, ETH, K, BETA, 1 days, root, escrow, uint64(block.timestamp + JOIN_WINDOW)
        );
        vm.prank(consumer);
        uint256 id = rounds.openRound{value: escrow}(modelId, K, BETA, 1 days, root);
        assertEq(id, 1);
        assertEq(rounds.roundCount(), 1);
        assertEq(uint256(rounds.state(id)), uint256(RoundState.Open));
        Round memory r = rounds.round(id);
        assertEq(r.consumer, consumer);
        assertEq(r.provider, provider);
        assertEq(uint256(r.k), K);
        assertEq(uint256(r.beta), BETA);
        assertEq(r.token, ETH);
        assertEq(r.proofZ, Z);
        assertEq(r.inputsRoot, root);
        assertEq(r.modelId, modelId);
        assertEq(uint256(r.status), uint256(RoundStatus.Opened));
        assertEq(address(rounds).balance, escrow);
        assertEq(rounds.totalOwed(ETH), escrow);
        assertEq(rounds.consumerEscrowFor(K, Z), escrow);
        assertEq(rounds.answerDeadline(id), 0);
        // Opening does not lock the provider's stake; joining does.
        assertEq(uint256(registry.model(modelId).openJobs), 0);
    }

    function test_openRound_erc20_succeeds() public {
        uint256 id = _open(tokenModelId, K, BETA);
        assertEq(usd.balanceOf(address(rounds)), 2 * uint256(K) * Z);
        assertEq(rounds.totalOwed(address(usd)), 2 * uint256(K) * Z);
        assertEq(rounds.round(id).token, address(usd));
    }

    function test_openRound_modelNotFound_reverts() public {
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.ModelNotFound.selector, 99));
        rounds.openRound(99, K, BETA, 1 days, bytes32(uint256(1)));
    }

    function test_openRound_modelUnbonding_reverts() public {
        vm.prank(provider);
        registry.requestUnbond(modelId);
        vm.expectRevert(abi.encodeWithSelector(IServingRound.ModelUnavailable.selector, modelId));
        rounds.openRound(modelId, K, BETA, 1 days, bytes32(uint256(1)));
    }

    function test_openRound_zeroK_reverts() public {
        vm.expectRevert(abi.encodeWithSelector(IServingRound.RoundSizeOutOfRange.selector, 0, MAX_K));
        rounds.openRound(modelId, 0, BETA, 1 days, bytes32(uint256(1)));
    }

    function test_openRound_kAboveMax_reverts() public {
        vm.expectRevert(abi.encodeWithSelector(IServingRound.RoundSizeOutOfRange.selector, MAX_K + 1, MAX_K));
        rounds.openRound(modelId, MAX_K + 1, BETA, 1 days, bytes32(uint256(1)));
    }

    function test_openRound_betaBelowMin_reverts() public {
        vm.expectRevert(abi.encodeWithSelector(IServingRound.BetaOutOfRange.selector, 1, MIN_BETA, MAX_BETA));
        rounds.openRound(modelId, K, 1, 1 days, bytes32(uint256(1)));
    }

    function test_openRound_betaAboveMax_reverts() public {
        vm.expectRevert(abi.encodeWithSelector(IServingRound.BetaOutOfRange.selector, MAX_BETA + 1, MIN_BETA, MAX_BETA));
        rounds.openRound(modelId, K, MAX_BETA + 1, 1 days, bytes32(uint256(1)));
    }

    function test_openRound_zeroDuration_reverts() public {
        vm.expectRevert(abi.encodeWithSelector(IServingRound.DurationOutOfRange.selector, 0, MAX_DURATION));
        rounds.openRound(modelId, K, BETA, 0, bytes32(uint256(1)));
    }

    function test_openRound_durationAboveMax_reverts() public {
        vm.expectRevert(
            abi.encodeWithSelector(IServingRound.DurationOutOfRange.selector, MAX_DURATION + 1, MAX_DURATION)
        );
        rounds.openRound(modelId, K, BETA, MAX_DURATION + 1, bytes32(uint256(1)));
    }

    function test_openRound_zeroRoot_reverts() public {
        vm.expectRevert(IServingRound.ZeroRoot.selector);
        rounds.openRound(modelId, K, BETA, 1 days, bytes32(0));
    }

    function test_openRound_wrongEther_reverts() public {
        uint256 escrow = 2 * uint256(K) * Z;
        vm.deal(consumer, escrow);
        vm.prank(consumer);
        vm.expectRevert(abi.encodeWithSelector(IEscrow.EtherValueMismatch.selector, escrow, escrow - 1));
        rounds.openRound{value: escrow - 1}(modelId, K, BETA, 1 days, bytes32(uint256(1)));
    }

    // ---------------------------------------------------------------- cancel

    function test_cancel_open_succeeds() public {
        uint256 id = _open(modelId, K, BETA);
        uint256 escrow = 2 * uint256(K) * Z;
        vm.expectEmit(address(rounds));
        emit IServingRound.RoundCancelled(id, escrow);
        vm.prank(consumer);
        rounds.cancel(id);
        assertEq(uint256(rounds.state(id)), uint256(RoundState.Cancelled));
        assertEq(rounds.creditOf(consumer, ETH), escrow);
        vm.prank(consumer);
        rounds.withdraw(ETH);
        assertEq(consumer.balance, escrow);
        assertEq(address(rounds).balance, 0);
    }

    function test_cancel_notConsumer_reverts() public {
        uint256 id = _open(modelId, K, BETA);
        vm.prank(provider);
        vm.expectRevert(abi.encodeWithSelector(IServingRound.NotRoundConsumer.selector, id, provider, consumer));
        rounds.cancel(id);
    }

    function test_cancel_afterJoin_reverts() public {
        uint256 id = _open(modelId, K, BETA);
        _join(id);
        vm.prank(consumer);
        _expectState(id, RoundState.Serving);
        rounds.cancel(id);
    }

    function test_cancel_unknownRound_reverts() public {
        _expectState(5, RoundState.None);
        rounds.cancel(5);
    }

    // ---------------------------------------------------------------- join

    function test_join_provider_succeeds() public {
        uint256 id = _open(modelId, K, BETA);
        uint256 escrow = uint256(BETA) * K * Z;
        vm.deal(provider, escrow);
        uint64 deadline = uint64(block.timestamp + 1 days);
        vm.expectEmit(address(rounds));
        emit IServingRound.RoundJoined(id, provider, escrow, deadline);
        vm.expectEmit(address(registry));
        emit IModelRegistry.ModelLocked(modelId, address(rounds), 1);
        vm.prank(provider);
        rounds.join{value: escrow}(id);
        assertEq(uint256(rounds.state(id)), uint256(RoundState.Serving));
        assertEq(uint256(rounds.round(id).roundDeadline), deadline);
        assertEq(uint256(rounds.answerDeadline(id)), deadline + ANSWER_WINDOW);
        assertEq(address(rounds).balance, 2 * uint256(K) * Z + escrow);
        assertEq(rounds.providerEscrowFor(K, BETA, Z), escrow);
        assertEq(uint256(registry.model(modelId).openJobs), 1);
        assertEq(registry.locksHeld(modelId, address(rounds)), 1);
    }

    function test_join_notProvider_reverts() public {
        uint256 id = _open(modelId, K, BETA);
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(IServingRound.NotRoundProvider.selector, id, stranger, provider));
        rounds.join(id);
    }

    function test_join_wrongEther_reverts() public {
        uint256 id = _open(modelId, K, BETA);
        uint256 escrow = uint256(BETA) * K * Z;
        vm.deal(provider, escrow);
        vm.prank(provider);
        vm.expectRevert(abi.encodeWithSelector(IEscrow.EtherValueMismatch.selector, escrow, escrow / 2));
        rounds.join{value: escrow / 2}(id);
    }

    function test_join_afterJoinWindow_reverts() public {
        uint256 id = _open(modelId, K, BETA);
        vm.warp(block.timestamp + JOIN_WINDOW);
        vm.prank(provider);
        _expectState(id, RoundState.JoinExpired);
        rounds.join(id);
    }

    function test_join_twice_reverts() public {
        uint256 id = _open(modelId, K, BETA);
        _join(id);
        vm.prank(provider);
        _expectState(id, RoundState.Serving);
        rounds.join(id);
    }

    function test_join_modelUnbondingSinceOpen_reverts() public {
        uint256 id = _open(modelId, K, BETA);
        vm.prank(provider);
        registry.requestUnbond(modelId);
        uint256 escrow = uint256(BETA) * K * Z;
        vm.deal(provider, escrow);
        vm.prank(provider);
        vm.expectRevert(
            abi.encodeWithSelector(
                IModelRegistry.ModelNotAvailable.selector, modelId, ModelStatus.Unbonding, STAKE, STAKE
            )
        );
        rounds.join{value: escrow}(id);
        // MC is not stuck: it cancels (or anyone settles after the join window).
        vm.prank(consumer);
        rounds.cancel(id);
        assertEq(rounds.creditOf(consumer, ETH), 2 * uint256(K) * Z);
    }

    // ---------------------------------------------------------------- settle: join expired

    function test_settle_joinExpiredByAnyone_succeeds() public {
        uint256 id = _open(modelId, K, BETA);
        vm.warp(block.timestamp + JOIN_WINDOW);
        assertEq(uint256(rounds.state(id)), uint256(RoundState.JoinExpired));
        vm.expectEmit(address(rounds));
        emit IServingRound.RoundCancelled(id, 2 * uint256(K) * Z);
        vm.prank(stranger);
        rounds.settle(id);
        assertEq(uint256(rounds.state(id)), uint256(RoundState.Cancelled));
        assertEq(rounds.creditOf(consumer, ETH), 2 * uint256(K) * Z);
        assertEq(rounds.creditOf(stranger, ETH), 0);
    }

    function test_settle_openBeforeJoinWindow_reverts() public {
        uint256 id = _open(modelId, K, BETA);
        vm.warp(block.timestamp + JOIN_WINDOW - 1);
        _expectState(id, RoundState.Open);
        rounds.settle(id);
    }

    // ---------------------------------------------------------------- commitPredictions

    function test_commitPredictions_byAnyoneWithSignature_succeeds() public {
        uint256 id = _open(modelId, K, BETA);
        _join(id);
        bytes32 root = _predictionsRoot(K);
        bytes memory sig = _providerSignature(id, K);
        vm.expectEmit(address(rounds));
        emit IServingRound.PredictionsCommitted(id, root, stranger);
        vm.prank(stranger);
        rounds.commitPredictions(id, root, sig);
        assertEq(rounds.round(id).predictionsRoot, root);
    }

    function test_commitPredictions_beforeJoin_reverts() public {
        uint256 id = _open(modelId, K, BETA);
        bytes memory sig = _providerSignature(id, K);
        _expectState(id, RoundState.Open);
        rounds.commitPredictions(id, _predictionsRoot(K), sig);
    }

    function test_commitPredictions_afterRoundDeadline_reverts() public {
        uint256 id = _open(modelId, K, BETA);
        _join(id);
        bytes memory sig = _providerSignature(id, K);
        vm.warp(_roundDeadline(id));
        _expectState(id, RoundState.Settleable);
        rounds.commitPredictions(id, _predictionsRoot(K), sig);
    }

    function test_commitPredictions_twice_reverts() public {
        uint256 id = _committed();
        bytes memory sig = _providerSignature(id, K);
        vm.expectRevert(abi.encodeWithSelector(IServingRound.PredictionsAlreadyCommitted.selector, id));
        rounds.commitPredictions(id, _predictionsRoot(K), sig);
    }

    function test_commitPredictions_zeroRoot_reverts() public {
        uint256 id = _open(modelId, K, BETA);
        _join(id);
        vm.expectRevert(IServingRound.ZeroRoot.selector);
        rounds.commitPredictions(id, bytes32(0), "");
    }

    function test_commitPredictions_wrongSigner_reverts() public {
        uint256 id = _open(modelId, K, BETA);
        _join(id);
        (, uint256 otherKey) = makeAccount("other");
        bytes32 root = _predictionsRoot(K);
        bytes memory sig = _sign(otherKey, _digest(address(rounds), id, _inputsRoot(K), root));
        vm.expectRevert(abi.encodeWithSelector(IServingRound.InvalidProviderSignature.selector, id, provider));
        rounds.commitPredictions(id, root, sig);
    }

    function test_commitPredictions_signatureForOtherRound_reverts() public {
        uint256 id = _open(modelId, K, BETA);
        _join(id);
        bytes32 root = _predictionsRoot(K);
        bytes memory sig = _sign(providerKey, _digest(address(rounds), id + 1, _inputsRoot(K), root));
        vm.expectRevert(abi.encodeWithSelector(IServingRound.InvalidProviderSignature.selector, id, provider));
        rounds.commitPredictions(id, root, sig);
    }

    function test_commitPredictions_signatureForOtherInputs_reverts() public {
        uint256 id = _open(modelId, K, BETA);
        _join(id);
        bytes32 root = _predictionsRoot(K);
        bytes memory sig = _sign(providerKey, _digest(address(rounds), id, _inputsRoot(K - 1), root));
        vm.expectRevert(abi.encodeWithSelector(IServingRound.InvalidProviderSignature.selector, id, provider));
        rounds.commitPredictions(id, root, sig);
    }

    function test_commitPredictions_signatureForOtherChain_reverts() public {
        uint256 id = _open(modelId, K, BETA);
        _join(id);
        bytes32 root = _predictionsRoot(K);
        uint256 chain = block.chainid;
        vm.chainId(chain + 1);
        bytes memory sig = _providerSignature(id, K); // signed for the other chain's domain
        vm.chainId(chain);
        vm.expectRevert(abi.encodeWithSelector(IServingRound.InvalidProviderSignature.selector, id, provider));
        rounds.commitPredictions(id, root, sig);
    }

    function test_commitPredictions_signatureForOtherContract_reverts() public {
        uint256 id = _open(modelId, K, BETA);
        _join(id);
        ServingRound other = new ServingRound(IModelRegistry(address(registry)), _config());
        bytes32 root = _predictionsRoot(K);
        bytes memory sig = _sign(providerKey, other.predictionsDigest(id, _inputsRoot(K), root));
        vm.expectRevert(abi.encodeWithSelector(IServingRound.InvalidProviderSignature.selector, id, provider));
        rounds.commitPredictions(id, root, sig);
    }

    function test_predictionsDigest_eip712_succeeds() public view {
        bytes32 a = bytes32(uint256(5));
        bytes32 b = bytes32(uint256(6));
        assertEq(rounds.predictionsDigest(4, a, b), _digest(address(rounds), 4, a, b));
    }

    function test_commitPredictions_erc1271Provider_succeeds() public {
        ERC1271Wallet wallet = new ERC1271Wallet(provider);
        vm.deal(address(wallet), STAKE);
        bytes memory ret = wallet.execute(
            address(registry),
            STAKE,
            abi.encodeCall(IModelRegistry.registerModel, (address(verifier), WEIGHTS, "ipfs://w", ETH))
        );
        uint256 walletModel = abi.decode(ret, (uint256));
        uint256 id = _open(walletModel, K, BETA);
        uint256 escrow = uint256(BETA) * K * Z;
        vm.deal(address(wallet), escrow);
        wallet.execute(address(rounds), escrow, abi.encodeCall(IServingRound.join, (id)));
        // The wallet's owner key signs; the wallet validates it (ERC-1271).
        rounds.commitPredictions(id, _predictionsRoot(K), _providerSignature(id, K));
        assertEq(rounds.round(id).predictionsRoot, _predictionsRoot(K));
    }

    // ---------------------------------------------------------------- contest

    function test_contest_consumer_succeeds() public {
        uint256 id = _committed();
        uint32[] memory idx = _indices(1, 5);
        uint64 deadline = uint64(_roundDeadline(id) + ANSWER_WINDOW + 2 * PROOF_WINDOW);
        vm.expectEmit(address(rounds));
        emit IServingRound.PredictionsContested(id, idx, 2, deadline);
        _contest(id, idx);
        _contest(id, _indices(7));
        assertEq(uint256(rounds.round(id).contested), 3);
        // Each contest extends the answer deadline by the proof window.
        assertEq(_answerDeadline(id), _roundDeadline(id) + ANSWER_WINDOW + 3 * PROOF_WINDOW);
        assertTrue(rounds.isContested(id, 1));
        assertTrue(rounds.isContested(id, 7));
        assertFalse(rounds.isContested(id, 0));
    }

    function test_contest_notConsumer_reverts() public {
        uint256 id = _committed();
        vm.prank(provider);
        vm.expectRevert(abi.encodeWithSelector(IServingRound.NotRoundConsumer.selector, id, provider, consumer));
        rounds.contest(id, _indices(1));
    }

    function test_contest_noPredictions_reverts() public {
        uint256 id = _open(modelId, K, BETA);
        _join(id);
        vm.prank(consumer);
        vm.expectRevert(abi.encodeWithSelector(IServingRound.PredictionsNotCommitted.selector, id));
        rounds.contest(id, _indices(1));
    }

    function test_contest_noIndices_reverts() public {
        uint256 id = _committed();
        vm.prank(consumer);
        vm.expectRevert(abi.encodeWithSelector(IServingRound.NoIndices.selector, id));
        rounds.contest(id, new uint32[](0));
    }

    function test_contest_indexOutOfRange_reverts() public {
        uint256 id = _committed();
        vm.prank(consumer);
        vm.expectRevert(abi.encodeWithSelector(IServingRound.IndexOutOfRange.selector, id, K, K));
        rounds.contest(id, _indices(0, K));
    }

    function test_contest_duplicateInCall_reverts() public {
        uint256 id = _committed();
        vm.prank(consumer);
        vm.expectRevert(abi.encodeWithSelector(IServingRound.AlreadyContested.selector, id, 3));
        rounds.contest(id, _indices(3, 4, 3));
    }

    function test_contest_duplicateAcrossCalls_reverts() public {
        uint256 id = _committed();
        _contest(id, _indices(3));
        vm.prank(consumer);
        vm.expectRevert(abi.encodeWithSelector(IServingRound.AlreadyContested.selector, id, 3));
        rounds.contest(id, _indices(3));
    }

    function test_contest_atRoundDeadline_reverts() public {
        uint256 id = _committed();
        vm.warp(_roundDeadline(id));
        vm.prank(consumer);
        _expectState(id, RoundState.Settleable);
        rounds.contest(id, _indices(1));
    }

    // ---------------------------------------------------------------- answer

    function test_answer_boundInstances_succeeds() public {
        uint256 id = _committed();
        _contest(id, _indices(2));
        Answer memory a = _answer(K, 2);
        // The verifier only accepts calldata [ic_2, registered weights, class_2] ++ proof.
        verifier.expectCalldata(bytes.concat(_ic(2), WEIGHTS, bytes32(_cls(2)), a.proof));
        vm.expectEmit(address(rounds));
        emit IServingRound.ContestAnswered(id, 2, _cls(2), 1);
        vm.prank(stranger); // answers are self-authenticating: anyone may submit them
        rounds.answer(id, a);
        assertTrue(rounds.isAnswered(id, 2));
        assertEq(uint256(rounds.round(id).answered), 1);
    }

    function test_answer_afterRoundDeadline_succeeds() public {
        uint256 id = _committed();
        _contest(id, _indices(2, 6));
        vm.warp(_roundDeadline(id));
        assertEq(uint256(rounds.state(id)), uint256(RoundState.AwaitingAnswers));
        rounds.answer(id, _answer(K, 2));
        assertEq(uint256(rounds.state(id)), uint256(RoundState.AwaitingAnswers));
        rounds.answer(id, _answer(K, 6));
        assertEq(uint256(rounds.state(id)), uint256(RoundState.Settleable));
    }

    function test_answer_atAnswerDeadline_reverts() public {
        uint256 id = _committed();
        _contest(id, _indices(2));
        vm.warp(_roundDeadline(id) + ANSWER_WINDOW + PROOF_WINDOW);
        Answer memory a = _answer(K, 2);
        _expectState(id, RoundState.Settleable);
        rounds.answer(id, a);
    }

    function test_answer_beforeJoin_reverts() public {
        uint256 id = _open(modelId, K, BETA);
        Answer memory a = _answer(K, 2);
        _expectState(id, RoundState.Open);
        rounds.answer(id, a);
    }

    function test_answer_notContested_reverts() public {
        uint256 id = _committed();
        _contest(id, _indices(2));
        Answer memory a = _answer(K, 3);
        vm.expectRevert(abi.encodeWithSelector(IServingRound.NotContested.selector, id, 3));
        rounds.answer(id, a);
    }

    function test_answer_twice_reverts() public {
        uint256 id = _committed();
        _contest(id, _indices(2));
        Answer memory a = _answer(K, 2);
        rounds.answer(id, a);
        vm.expectRevert(abi.encodeWithSelector(IServingRound.AlreadyAnswered.selector, id, 2));
        rounds.answer(id, a);
    }

    function test_answer_otherInput_reverts() public {
        uint256 id = _committed();
        _contest(id, _indices(2));
        Answer memory a = _answer(K, 2);
        a.inputCommitment = _ic(3); // an input MC did not commit at index 2
        vm.expectRevert(abi.encodeWithSelector(IServingRound.InputNotCommitted.selector, id, 2, _ic(3)));
        rounds.answer(id, a);
    }

    function test_answer_otherClass_reverts() public {
        uint256 id = _committed();
        _contest(id, _indices(2));
        Answer memory a = _answer(K, 2);
        a.predictedClass = _cls(2) + 1; // a class MP did not sign
        vm.expectRevert(abi.encodeWithSelector(IServingRound.PredictionNotSigned.selector, id, 2, _cls(2) + 1));
        rounds.answer(id, a);
    }

    function test_answer_proofRejected_reverts() public {
        uint256 id = _committed();
        _contest(id, _indices(2));
        verifier.setMode(MockVerifier.Mode.Reject);
        Answer memory a = _answer(K, 2);
        vm.expectRevert(abi.encodeWithSelector(IServingRound.ProofRejected.selector, id, 2));
        rounds.answer(id, a);
    }

    function test_answer_verifierCodeChanged_reverts() public {
        uint256 id = _committed();
        _contest(id, _indices(2));
        bytes32 registered = address(verifier).codehash;
        vm.etch(address(verifier), hex"00");
        Answer memory a = _answer(K, 2);
        vm.expectRevert(
            abi.encodeWithSelector(
                ProofVerifier.VerifierCodehashMismatch.selector, address(verifier), registered, keccak256(hex"00")
            )
        );
        rounds.answer(id, a);
    }

    function test_answerBatch_all_succeeds() public {
        uint256 id = _committed();
        _contest(id, _indices(0, 4, 7));
        Answer[] memory list = new Answer[](3);
        list[0] = _answer(K, 7);
        list[1] = _answer(K, 0);
        list[2] = _answer(K, 4);
        rounds.answerBatch(id, list);
        assertEq(uint256(rounds.round(id).answered), 3);
    }

    function test_answerBatch_empty_reverts() public {
        uint256 id = _committed();
        _contest(id, _indices(0));
        vm.expectRevert(abi.encodeWithSelector(IServingRound.NoAnswers.selector, id));
        rounds.answerBatch(id, new Answer[](0));
    }

    function test_answerBatch_oneInvalid_reverts() public {
        uint256 id = _committed();
        _contest(id, _indices(0, 4));
        Answer[] memory list = new Answer[](2);
        list[0] = _answer(K, 0);
        list[1] = _answer(K, 4);
        list[1].predictedClass = 9;
        vm.expectRevert(abi.encodeWithSelector(IServingRound.PredictionNotSigned.selector, id, 4, 9));
        rounds.answerBatch(id, list);
        assertEq(uint256(rounds.round(id).answered), 0);
    }

    // ---------------------------------------------------------------- settle

    function test_settle_serving_reverts() public {
        uint256 id = _committed();
        vm.warp(_roundDeadline(id) - 1);
        _expectState(id, RoundState.Serving);
        rounds.settle(id);
    }

    function test_settle_allAnsweredBeforeRoundDeadline_reverts() public {
        // MC may still contest more until the round deadline.
        uint256 id = _committed();
        _contest(id, _indices(1));
        rounds.answer(id, _answer(K, 1));
        _expectState(id, RoundState.Serving);
        rounds.settle(id);
    }

    function test_settle_awaitingAnswers_reverts() public {
        uint256 id = _committed();
        _contest(id, _indices(1));
        vm.warp(_roundDeadline(id) + ANSWER_WINDOW + PROOF_WINDOW - 1);
        _expectState(id, RoundState.AwaitingAnswers);
        rounds.settle(id);
    }

    function test_settle_noPredictions_succeeds() public {
        uint256 id = _open(modelId, K, BETA);
        _join(id);
        vm.warp(_roundDeadline(id));
        _settleAndCheck(id, RoundOutcome.NoPredictions, 2 * K * Z, BETA * K * Z);
        ModelRecord memory rec = registry.record(modelId);
        assertEq(uint256(rec.roundsCompleted) + rec.roundsFailed, 0);
    }

    function test_settle_uncontested_succeeds() public {
        uint256 id = _committed();
        vm.warp(_roundDeadline(id));
        _settleAndCheck(id, RoundOutcome.Uncontested, 2 * K * Z, BETA * K * Z);
        assertEq(uint256(registry.record(modelId).roundsCompleted), 1);
    }

    function test_settle_contestsAnswered_succeeds() public {
        uint256 id = _committed();
        _contest(id, _indices(1, 2, 3));
        rounds.answer(id, _answer(K, 1));
        rounds.answer(id, _answer(K, 2));
        vm.warp(_roundDeadline(id));
        rounds.answer(id, _answer(K, 3));
        // Settleable as soon as every contest is answered, without waiting for the answer window.
        uint256 k1 = 3;
        _settleAndCheck(id, RoundOutcome.ContestsAnswered, 2 * K * Z - 2 * k1 * Z, BETA * K * Z + 2 * k1 * Z);
        assertEq(uint256(registry.record(modelId).roundsCompleted), 1);
    }

    function test_settle_everyPredictionContestedAndAnswered_succeeds() public {
        uint256 id = _committed();
        uint32[] memory all = new uint32[](K);
        Answer[] memory answers = new Answer[](K);
        for (uint32 i = 0; i < K; ++i) {
            all[i] = i;
            answers[i] = _answer(K, i);
        }
        _contest(id, all);
        rounds.answerBatch(id, answers);
        vm.warp(_roundDeadline(id));
        // K1 = K: MC's whole 2KZ escrow goes to MP.
        _settleAndCheck(id, RoundOutcome.ContestsAnswered, 0, BETA * K * Z + 2 * K * Z);
    }

    function test_settle_contestsUnanswered_succeeds() public {
        uint256 id = _committed();
        _contest(id, _indices(1, 2));
        rounds.answer(id, _answer(K, 1)); // index 2 is never proven
        vm.warp(_roundDeadline(id) + ANSWER_WINDOW + 2 * PROOF_WINDOW);
        _settleAndCheck(id, RoundOutcome.ContestsUnanswered, 2 * K * Z + BETA * K * Z, 0);
        ModelRecord memory rec = registry.record(modelId);
        assertEq(uint256(rec.roundsFailed), 1);
        assertEq(uint256(rec.roundsCompleted), 0);
    }

    function test_settle_twice_reverts() public {
        uint256 id = _committed();
        vm.warp(_roundDeadline(id));
        rounds.settle(id);
        _expectState(id, RoundState.Settled);
        rounds.settle(id);
    }

    function test_settle_erc20ContestsAnswered_succeeds() public {
        uint256 id = _open(tokenModelId, K, BETA);
        _join(id);
        _commit(id);
        _contest(id, _indices(0));
        rounds.answer(id, _answer(K, 0));
        vm.warp(_roundDeadline(id));
        rounds.settle(id);
        vm.prank(consumer);
        rounds.withdraw(address(usd));
        vm.prank(provider);
        rounds.withdraw(address(usd));
        assertEq(usd.balanceOf(consumer), 2 * K * Z - 2 * Z);
        assertEq(usd.balanceOf(provider), BETA * K * Z + 2 * Z);
        assertEq(usd.balanceOf(address(rounds)), 0);
        assertEq(rounds.totalOwed(address(usd)), 0);
    }

    function test_settle_unlocksStakeForUnbonding_succeeds() public {
        uint256 id = _committed();
        vm.prank(provider);
        registry.requestUnbond(modelId);
        vm.warp(block.timestamp + UNBONDING_DELAY);
        vm.prank(provider);
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.ModelHasOpenJobs.selector, modelId, 1));
        registry.withdrawStake(modelId);
        rounds.settle(id); // the round deadline (1 day) passed long ago
        vm.prank(provider);
        registry.withdrawStake(modelId);
        assertEq(registry.creditOf(provider, ETH), STAKE);
    }

    /// @dev Settles `id` (by a stranger: timeouts are permissionless), checks the event, the
    /// credits, that the round is fully paid out, and that both parties can withdraw exactly.
    function _settleAndCheck(uint256 id, RoundOutcome outcome, uint256 toConsumer, uint256 toProvider) internal {
        uint256 consumerBefore = consumer.balance;
        uint256 providerBefore = provider.balance;
        vm.expectEmit(address(rounds));
        emit IServingRound.RoundSettled(id, outcome, toConsumer, toProvider);
        vm.prank(stranger);
        rounds.settle(id);
        assertEq(uint256(rounds.state(id)), uint256(RoundState.Settled));
        assertEq(rounds.creditOf(consumer, ETH), toConsumer, "consumer credit");
        assertEq(rounds.creditOf(provider, ETH), toProvider, "provider credit");
        assertEq(toConsumer + toProvider, 2 * K * Z + BETA * K * Z, "conservation");
        assertEq(uint256(registry.model(modelId).openJobs), 0, "unlocked");
        if (toConsumer > 0) {
            vm.prank(consumer);
            rounds.withdraw(ETH);
        }
        if (toProvider > 0) {
            vm.prank(provider);
            rounds.withdraw(ETH);
        }
        assertEq(consumer.balance - consumerBefore, toConsumer);
        assertEq(provider.balance - providerBefore, toProvider);
        assertEq(address(rounds).balance, 0);
        assertEq(rounds.totalOwed(ETH), 0);
    }

    // ---------------------------------------------------------------- views

    function test_leaves_encoding_succeeds() public view {
        assertEq(rounds.inputLeaf(3, bytes32(uint256(9))), _inputLeaf(3, bytes32(uint256(9))));
        assertEq(rounds.predictionLeaf(3, bytes32(uint256(9)), 4), _predictionLeaf(3, bytes32(uint256(9)), 4));
        assertEq(
            rounds.inputLeaf(3, bytes32(uint256(9))),
            keccak256(bytes.concat(keccak256(abi.encode(uint256(3), bytes32(uint256(9))))))
        );
        assertEq(
            rounds.predictionLeaf(3, bytes32(uint256(9)), 4),
            keccak256(bytes.concat(keccak256(abi.encode(uint256(3), bytes32(uint256(9)), uint256(4)))))
        );
    }

    function test_merkleHelper_oddSizes_succeeds() public pure {
        // The test helper builds trees OpenZeppelin's MerkleProof accepts, for every size used.
        for (uint32 k = 1; k <= 9; ++k) {
            bytes32[] memory leaves = _inputLeaves(k);
            bytes32 root = Merkle.root(leaves);
            for (uint32 i = 0; i < k; ++i) {
                assertTrue(_verifyMerkle(Merkle.proof(leaves, i), root, leaves[i]));
            }
        }
    }

    function _verifyMerkle(bytes32[] memory proof, bytes32 root, bytes32 leaf) private pure returns (bool) {
        bytes32 h = leaf;
        for (uint256 i = 0; i < proof.length; ++i) {
            h = h < proof[i] ? keccak256(abi.encode(h, proof[i])) : keccak256(abi.encode(proof[i], h));
        }
        return h == root;
    }
}
