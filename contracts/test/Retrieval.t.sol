// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {RetrievalData} from "./utils/RetrievalData.sol";
import {RetrievalFixture} from "./utils/RetrievalFixture.sol";
import {RoundData} from "./utils/RoundData.sol";
import {ERC1271Wallet, MockVerifier} from "./mocks/Mocks.sol";

import {ProofVerifier} from "../src/ProofVerifier.sol";
import {Retrieval} from "../src/Retrieval.sol";
import {IEscrow} from "../src/interfaces/IEscrow.sol";
import {IModelRegistry} from "../src/interfaces/IModelRegistry.sol";
import {
    Dataset,
    IRetrieval,
    RequestState,
    RequestStatus,
    ResultProof,
    RetrievalConfig,
    RetrievalOutcome,
    RetrievalRequest
} from "../src/interfaces/IRetrieval.sol";
import {ModelRecord, ModelStatus} from "../src/lib/Types.sol";

contract RetrievalTest is RetrievalFixture {
    uint32 internal constant D = 16;
    uint32 internal constant C = 4;
    uint16 internal constant BETA = 3;
    uint256 internal modelId;
    uint256 internal tokenModelId;
    uint256 internal datasetId;

    function setUp() public override {
        super.setUp();
        modelId = _registerEth(provider);
        tokenModelId = _registerToken(provider);
        datasetId = _commitDataset(D);
    }

    /// @dev A joined ETH request over the D-document dataset with committed results.
    function _committed() internal returns (uint256 id) {
        id = _openRequest(datasetId, modelId, C, BETA);
        _joinRequest(id);
        _commitResults(id);
    }

    function _expectState(uint256 id, RequestState current) internal {
        vm.expectRevert(abi.encodeWithSelector(IRetrieval.UnexpectedRequestState.selector, id, current));
    }

    function _challengeDeadline(uint256 id) internal view returns (uint256) {
        return retrieval.request(id).challengeDeadline;
    }

    /// @dev Settles (as a stranger), checks the event, the credits, and withdraws both to empty
    /// the contract.
    function _settleAndCheck(uint256 id, RetrievalOutcome outcome, uint256 toRequester, uint256 toResponder) internal {
        vm.expectEmit(address(retrieval));
        emit IRetrieval.RequestSettled(id, outcome, toRequester, toResponder);
        vm.prank(stranger);
        retrieval.settle(id);
        assertEq(uint256(retrieval.state(id)), uint256(RequestState.Settled));
        assertEq(retrieval.creditOf(consumer, ETH), toRequester);
        assertEq(retrieval.creditOf(provider, ETH), toResponder);
        assertEq(toRequester + toResponder, _escrow(D, C) + _bond(D, BETA), "payouts != escrow + bond");
        assertEq(registry.locksHeld(modelId, address(retrieval)), 0);
        if (toRequester > 0) {
            vm.prank(consumer);
            retrieval.withdraw(ETH);
        }
        if (toResponder > 0) {
            vm.prank(provider);
            retrieval.withdraw(ETH);
        }
        assertEq(consumer.balance, toRequester);
        assertEq(provider.balance, toResponder);
        assertEq(address(retrieval).balance, 0);
        assertEq(retrieval.totalOwed(ETH), 0);
    }

    // ---------------------------------------------------------------- constructor

    function test_constructor_config_succeeds() public view {
        assertEq(address(retrieval.registry()), address(registry));
        assertEq(uint256(retrieval.minBeta()), MIN_BETA);
        assertEq(uint256(retrieval.maxBeta()), MAX_BETA);
        assertEq(uint256(retrieval.maxDocuments()), MAX_DOCUMENTS);
        assertEq(uint256(retrieval.maxDuration()), MAX_DURATION);
        assertEq(uint256(retrieval.proofWindow()), PROOF_WINDOW);
        assertEq(uint256(retrieval.joinWindow()), JOIN_WINDOW);
        assertEq(uint256(retrieval.challengeWindow()), CHALLENGE_WINDOW);
        assertEq(uint256(retrieval.answerWindow()), ANSWER_WINDOW);
    }

    function test_constructor_registryNotContract_reverts() public {
        vm.expectRevert(abi.encodeWithSelector(IRetrieval.RegistryNotContract.selector, stranger));
        new Retrieval(IModelRegistry(stranger), _retrievalConfig());
    }

    function test_constructor_betaBelowTwo_reverts() public {
        RetrievalConfig memory config = _retrievalConfig();
        config.minBeta = 1;
        vm.expectRevert(abi.encodeWithSelector(IRetrieval.InvalidBetaRange.selector, 1, MAX_BETA));
        new Retrieval(IModelRegistry(address(registry)), config);
    }

    function test_constructor_maxBetaBelowMin_reverts() public {
        RetrievalConfig memory config = _retrievalConfig();
        config.maxBeta = 1;
        vm.expectRevert(abi.encodeWithSelector(IRetrieval.InvalidBetaRange.selector, MIN_BETA, 1));
        new Retrieval(IModelRegistry(address(registry)), config);
    }

    function test_constructor_zeroWindow_reverts() public {
        RetrievalConfig memory config = _retrievalConfig();
        config.challengeWindow = 0;
        vm.expectRevert(IRetrieval.ZeroConfigValue.selector);
        new Retrieval(IModelRegistry(address(registry)), config);
    }

    function test_constructor_windowTooLong_reverts() public {
        RetrievalConfig memory config = _retrievalConfig();
        config.proofWindow = 1 days;
        uint256 window = uint256(MAX_DOCUMENTS) * 1 days;
        vm.expectRevert(abi.encodeWithSelector(IRetrieval.WindowTooLong.selector, window, 3650 days));
        new Retrieval(IModelRegistry(address(registry)), config);
    }

    // ---------------------------------------------------------------- commitDataset

    function test_commitDataset_responder_succeeds() public {
        bytes32 root = RetrievalData.datasetRoot(5);
        vm.expectEmit(address(retrieval));
        emit IRetrieval.DatasetCommitted(2, provider, 5, root);
        vm.prank(provider);
        uint256 id = retrieval.commitDataset(root, 5);
        assertEq(id, 2);
        assertEq(retrieval.datasetCount(), 2);
        Dataset memory ds = retrieval.dataset(id);
        assertEq(ds.responder, provider);
        assertEq(uint256(ds.size), 5);
        assertEq(uint256(ds.committedAt), block.timestamp);
        assertEq(ds.root, root);
    }

    function test_commitDataset_zeroRoot_reverts() public {
        vm.expectRevert(IRetrieval.ZeroRoot.selector);
        retrieval.commitDataset(bytes32(0), 5);
    }

    function test_commitDataset_zeroSize_reverts() public {
        vm.expectRevert(abi.encodeWithSelector(IRetrieval.DatasetSizeOutOfRange.selector, 0, MAX_DOCUMENTS));
        retrieval.commitDataset(bytes32(uint256(1)), 0);
    }

    function test_commitDataset_sizeAboveMax_reverts() public {
        vm.expectRevert(
            abi.encodeWithSelector(IRetrieval.DatasetSizeOutOfRange.selector, MAX_DOCUMENTS + 1, MAX_DOCUMENTS)
        );
        retrieval.commitDataset(bytes32(uint256(1)), MAX_DOCUMENTS + 1);
    }

    // ---------------------------------------------------------------- openRequest

    function test_openRequest_eth_succeeds() public {
        uint256 escrow = _escrow(D, C);
        vm.deal(consumer, escrow);
        uint64 joinDeadline = uint64(block.timestamp + JOIN_WINDOW);
        vm.expectEmit(address(retrieval));
        emit IRetrieval.RequestOpened(1, modelId, consumer, datasetId, ETH, C, BETA, 1 days, escrow, joinDeadline);
        vm.prank(consumer);
        uint256 id = retrieval.openRequest{value: escrow}(datasetId, modelId, C, BETA, 1 days);
        assertEq(id, 1);
        assertEq(retrieval.requestCount(), 1);
        assertEq(uint256(retrieval.state(id)), uint256(RequestState.Open));
        RetrievalRequest memory q = retrieval.request(id);
        assertEq(q.requester, consumer);
        assertEq(q.responder, provider);
        assertEq(uint256(q.documents), D);
        assertEq(uint256(q.maxChallenges), C);
        assertEq(q.inferenceP, P);
        assertEq(q.proofZ, Z);
        assertEq(q.datasetRoot, RetrievalData.datasetRoot(D));
        assertEq(uint256(uint8(q.status)), uint256(uint8(RequestStatus.Opened)));
        assertEq(address(retrieval).balance, escrow);
        assertEq(retrieval.totalOwed(ETH), escrow);
        assertEq(retrieval.requesterEscrowFor(D, C, P, Z), D * P + 2 * C * Z);
        // Opening does not lock the provider's stake; joining does.
        assertEq(uint256(registry.model(modelId).openJobs), 0);
    }

    function test_openRequest_erc20_succeeds() public {
        uint256 id = _openRequest(datasetId, tokenModelId, C, BETA);
        assertEq(usd.balanceOf(address(retrieval)), _escrow(D, C));
        assertEq(retrieval.totalOwed(address(usd)), _escrow(D, C));
        assertEq(retrieval.request(id).token, address(usd));
    }

    function test_openRequest_zeroBudget_succeeds() public {
        uint256 id = _openRequest(datasetId, modelId, 0, BETA);
        assertEq(address(retrieval).balance, D * P);
        assertEq(uint256(retrieval.request(id).maxChallenges), 0);
    }

    function test_openRequest_datasetNotFound_reverts() public {
        vm.expectRevert(abi.encodeWithSelector(IRetrieval.DatasetNotFound.selector, 9));
        retrieval.openRequest(9, modelId, C, BETA, 1 days);
    }

    function test_openRequest_datasetOfOtherResponder_reverts() public {
        vm.prank(stranger);
        uint256 other = retrieval.commitDataset(RetrievalData.datasetRoot(D), D);
        vm.expectRevert(abi.encodeWithSelector(IRetrieval.DatasetNotProviders.selector, other, stranger, provider));
        retrieval.openRequest(other, modelId, C, BETA, 1 days);
    }

    function test_openRequest_modelNotFound_reverts() public {
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.ModelNotFound.selector, 99));
        retrieval.openRequest(datasetId, 99, C, BETA, 1 days);
    }

    function test_openRequest_modelUnbonding_reverts() public {
        vm.prank(provider);
        registry.requestUnbond(modelId);
        vm.expectRevert(abi.encodeWithSelector(IRetrieval.ModelUnavailable.selector, modelId));
        retrieval.openRequest(datasetId, modelId, C, BETA, 1 days);
    }

    function test_openRequest_budgetAboveD_reverts() public {
        vm.expectRevert(abi.encodeWithSelector(IRetrieval.ChallengeBudgetOutOfRange.selector, D + 1, D));
        retrieval.openRequest(datasetId, modelId, D + 1, BETA, 1 days);
    }

    function test_openRequest_betaBelowMin_reverts() public {
        vm.expectRevert(abi.encodeWithSelector(IRetrieval.BetaOutOfRange.selector, 1, MIN_BETA, MAX_BETA));
        retrieval.openRequest(datasetId, modelId, C, 1, 1 days);
    }

    function test_openRequest_betaAboveMax_reverts() public {
        vm.expectRevert(abi.encodeWithSelector(IRetrieval.BetaOutOfRange.selector, MAX_BETA + 1, MIN_BETA, MAX_BETA));
        retrieval.openRequest(datasetId, modelId, C, MAX_BETA + 1, 1 days);
    }

    function test_openRequest_zeroDuration_reverts() public {
        vm.expectRevert(abi.encodeWithSelector(IRetrieval.DurationOutOfRange.selector, 0, MAX_DURATION));
        retrieval.openRequest(datasetId, modelId, C, BETA, 0);
    }

    function test_openRequest_durationAboveMax_reverts() public {
        vm.expectRevert(abi.encodeWithSelector(IRetrieval.DurationOutOfRange.selector, MAX_DURATION + 1, MAX_DURATION));
        retrieval.openRequest(datasetId, modelId, C, BETA, MAX_DURATION + 1);
    }

    function test_openRequest_wrongEther_reverts() public {
        uint256 escrow = _escrow(D, C);
        vm.deal(consumer, escrow);
        vm.prank(consumer);
        vm.expectRevert(abi.encodeWithSelector(IEscrow.EtherValueMismatch.selector, escrow, escrow - 1));
        retrieval.openRequest{value: escrow - 1}(datasetId, modelId, C, BETA, 1 days);
    }

    // ---------------------------------------------------------------- cancel

    function test_cancel_open_succeeds() public {
        uint256 id = _openRequest(datasetId, modelId, C, BETA);
        uint256 escrow = _escrow(D, C);
        vm.expectEmit(address(retrieval));
        emit IRetrieval.RequestCancelled(id, escrow);
        vm.prank(consumer);
        retrieval.cancel(id);
        assertEq(uint256(retrieval.state(id)), uint256(RequestState.Cancelled));
        vm.prank(consumer);
        retrieval.withdraw(ETH);
        assertEq(consumer.balance, escrow);
        assertEq(address(retrieval).balance, 0);
    }

    function test_cancel_notRequester_reverts() public {
        uint256 id = _openRequest(datasetId, modelId, C, BETA);
        vm.prank(provider);
        vm.expectRevert(abi.encodeWithSelector(IRetrieval.NotRequester.selector, id, provider, consumer));
        retrieval.cancel(id);
    }

    function test_cancel_afterJoin_reverts() public {
        uint256 id = _openRequest(datasetId, modelId, C, BETA);
        _joinRequest(id);
        vm.prank(consumer);
        _expectState(id, RequestState.Responding);
        retrieval.cancel(id);
    }

    function test_cancel_unknownRequest_reverts() public {
        _expectState(5, RequestState.None);
        retrieval.cancel(5);
    }

    // ---------------------------------------------------------------- join

    function test_join_responder_succeeds() public {
        uint256 id = _openRequest(datasetId, modelId, C, BETA);
        uint256 bond = _bond(D, BETA);
        vm.deal(provider, bond);
        uint64 deadline = uint64(block.timestamp + 1 days);
        vm.expectEmit(address(retrieval));
        emit IRetrieval.RequestJoined(id, provider, bond, deadline);
        vm.expectEmit(address(registry));
        emit IModelRegistry.ModelLocked(modelId, address(retrieval), 1);
        vm.prank(provider);
        retrieval.join{value: bond}(id);
        assertEq(uint256(retrieval.state(id)), uint256(RequestState.Responding));
        assertEq(uint256(retrieval.request(id).resultsDeadline), deadline);
        assertEq(uint256(retrieval.answerDeadline(id)), 0);
        assertEq(address(retrieval).balance, _escrow(D, C) + bond);
        assertEq(retrieval.bondFor(D, BETA, Z), bond);
        assertEq(registry.locksHeld(modelId, address(retrieval)), 1);
    }

    function test_join_notResponder_reverts() public {
        uint256 id = _openRequest(datasetId, modelId, C, BETA);
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(IRetrieval.NotResponder.selector, id, stranger, provider));
        retrieval.join(id);
    }

    function test_join_wrongEther_reverts() public {
        uint256 id = _openRequest(datasetId, modelId, C, BETA);
        uint256 bond = _bond(D, BETA);
        vm.deal(provider, bond);
        vm.prank(provider);
        vm.expectRevert(abi.encodeWithSelector(IEscrow.EtherValueMismatch.selector, bond, bond - 1));
        retrieval.join{value: bond - 1}(id);
    }

    function test_join_afterJoinWindow_reverts() public {
        uint256 id = _openRequest(datasetId, modelId, C, BETA);
        vm.warp(block.timestamp + JOIN_WINDOW);
        vm.prank(provider);
        _expectState(id, RequestState.JoinExpired);
        retrieval.join(id);
    }

    function test_join_modelUnbondingSinceOpen_reverts() public {
        uint256 id = _openRequest(datasetId, modelId, C, BETA);
        vm.prank(provider);
        registry.requestUnbond(modelId);
        uint256 bond = _bond(D, BETA);
        vm.deal(provider, bond);
        vm.prank(provider);
        vm.expectRevert(
            abi.encodeWithSelector(
                IModelRegistry.ModelNotAvailable.selector, modelId, ModelStatus.Unbonding, STAKE, STAKE
            )
        );
        retrieval.join{value: bond}(id);
    }

    // ---------------------------------------------------------------- settle before join

    function test_settle_joinExpired_succeeds() public {
        uint256 id = _openRequest(datasetId, modelId, C, BETA);
        vm.warp(block.timestamp + JOIN_WINDOW);
        vm.expectEmit(address(retrieval));
        emit IRetrieval.RequestCancelled(id, _escrow(D, C));
        vm.prank(stranger);
        retrieval.settle(id);
        assertEq(uint256(retrieval.state(id)), uint256(RequestState.Cancelled));
        assertEq(retrieval.creditOf(consumer, ETH), _escrow(D, C));
    }

    function test_settle_openBeforeJoinWindow_reverts() public {
        uint256 id = _openRequest(datasetId, modelId, C, BETA);
        vm.warp(block.timestamp + JOIN_WINDOW - 1);
        _expectState(id, RequestState.Open);
        retrieval.settle(id);
    }

    // ---------------------------------------------------------------- commitResults

    function test_commitResults_byAnyoneWithSignature_succeeds() public {
        uint256 id = _openRequest(datasetId, modelId, C, BETA);
        _joinRequest(id);
        bytes32 root = RetrievalData.resultsRoot(D);
        bytes memory signature = _resultsSignature(id, providerKey);
        uint64 challengeDeadline = uint64(block.timestamp + CHALLENGE_WINDOW);
        vm.expectEmit(address(retrieval));
        emit IRetrieval.ResultsCommitted(id, root, stranger, challengeDeadline);
        vm.prank(stranger);
        retrieval.commitResults(id, root, signature);
        assertEq(retrieval.request(id).resultsRoot, root);
        assertEq(uint256(retrieval.state(id)), uint256(RequestState.Challenging));
        assertEq(uint256(retrieval.answerDeadline(id)), challengeDeadline + ANSWER_WINDOW);
    }

    function test_commitResults_beforeJoin_reverts() public {
        uint256 id = _openRequest(datasetId, modelId, C, BETA);
        bytes memory signature = _resultsSignature(id, providerKey);
        _expectState(id, RequestState.Open);
        retrieval.commitResults(id, RetrievalData.resultsRoot(D), signature);
    }

    function test_commitResults_afterResultsDeadline_reverts() public {
        uint256 id = _openRequest(datasetId, modelId, C, BETA);
        _joinRequest(id);
        vm.warp(retrieval.request(id).resultsDeadline);
        bytes memory signature = _resultsSignature(id, providerKey);
        _expectState(id, RequestState.Settleable);
        retrieval.commitResults(id, RetrievalData.resultsRoot(D), signature);
    }

    function test_commitResults_twice_reverts() public {
        uint256 id = _committed();
        bytes memory signature = _resultsSignature(id, providerKey);
        _expectState(id, RequestState.Challenging);
        retrieval.commitResults(id, RetrievalData.resultsRoot(D), signature);
    }

    function test_commitResults_zeroRoot_reverts() public {
        uint256 id = _openRequest(datasetId, modelId, C, BETA);
        _joinRequest(id);
        vm.expectRevert(IRetrieval.ZeroRoot.selector);
        retrieval.commitResults(id, bytes32(0), "");
    }

    function test_commitResults_wrongSigner_reverts() public {
        uint256 id = _openRequest(datasetId, modelId, C, BETA);
        _joinRequest(id);
        (, uint256 otherKey) = makeAccount("other");
        bytes memory signature = _resultsSignature(id, otherKey);
        vm.expectRevert(abi.encodeWithSelector(IRetrieval.InvalidResponderSignature.selector, id, provider));
        retrieval.commitResults(id, RetrievalData.resultsRoot(D), signature);
    }

    function test_commitResults_signatureForOtherContract_reverts() public {
        uint256 id = _openRequest(datasetId, modelId, C, BETA);
        _joinRequest(id);
        bytes32 digest =
            RetrievalData.digest(address(rounds), id, RetrievalData.datasetRoot(D), RetrievalData.resultsRoot(D));
        bytes memory signature = _sign(providerKey, digest);
        vm.expectRevert(abi.encodeWithSelector(IRetrieval.InvalidResponderSignature.selector, id, provider));
        retrieval.commitResults(id, RetrievalData.resultsRoot(D), signature);
    }

    function test_commitResults_signatureForOtherChain_reverts() public {
        uint256 id = _openRequest(datasetId, modelId, C, BETA);
        _joinRequest(id);
        bytes memory signature = _resultsSignature(id, providerKey);
        vm.chainId(block.chainid + 1);
        vm.expectRevert(abi.encodeWithSelector(IRetrieval.InvalidResponderSignature.selector, id, provider));
        retrieval.commitResults(id, RetrievalData.resultsRoot(D), signature);
    }

    function test_resultsDigest_eip712_succeeds() public view {
        bytes32 a = RetrievalData.datasetRoot(D);
        bytes32 b = RetrievalData.resultsRoot(D);
        assertEq(retrieval.resultsDigest(7, a, b), RetrievalData.digest(address(retrieval), 7, a, b));
    }

    function test_commitResults_erc1271Responder_succeeds() public {
        ERC1271Wallet wallet = new ERC1271Wallet(provider);
        uint256 stake = registry.requiredStake(ETH);
        vm.deal(address(wallet), stake);
        uint256 walletModel = abi.decode(
            wallet.execute(
                address(registry),
                stake,
                abi.encodeCall(registry.registerModel, (address(verifier), WEIGHTS, "ipfs://w", ETH))
            ),
            (uint256)
        );
        uint256 walletDataset = abi.decode(
            wallet.execute(
                address(retrieval), 0, abi.encodeCall(retrieval.commitDataset, (RetrievalData.datasetRoot(D), D))
            ),
            (uint256)
        );
        uint256 id = _openRequest(walletDataset, walletModel, C, BETA);
        uint256 bond = _bond(D, BETA);
        vm.deal(address(wallet), bond);
        wallet.execute(address(retrieval), bond, abi.encodeCall(retrieval.join, (id)));
        _commitResults(id);
        assertEq(uint256(retrieval.state(id)), uint256(RequestState.Challenging));
    }

    // ---------------------------------------------------------------- challenge

    function test_challenge_requester_succeeds() public {
        uint256 id = _committed();
        uint32[] memory indices = _indices(1, 5);
        uint64 deadline = uint64(_challengeDeadline(id) + ANSWER_WINDOW + 2 * PROOF_WINDOW);
        vm.expectEmit(address(retrieval));
        emit IRetrieval.ResultsChallenged(id, indices, 2, deadline);
        _challenge(id, indices);
        assertTrue(retrieval.isChallenged(id, 1));
        assertTrue(retrieval.isChallenged(id, 5));
        assertFalse(retrieval.isChallenged(id, 2));
        assertEq(uint256(retrieval.request(id).challenged), 2);
        assertEq(uint256(retrieval.answerDeadline(id)), deadline);
    }

    function test_challenge_notRequester_reverts() public {
        uint256 id = _committed();
        vm.prank(provider);
        vm.expectRevert(abi.encodeWithSelector(IRetrieval.NotRequester.selector, id, provider, consumer));
        retrieval.challenge(id, _indices(1));
    }

    function test_challenge_beforeResults_reverts() public {
        uint256 id = _openRequest(datasetId, modelId, C, BETA);
        _joinRequest(id);
        vm.prank(consumer);
        _expectState(id, RequestState.Responding);
        retrieval.challenge(id, _indices(1));
    }

    function test_challenge_noIndices_reverts() public {
        uint256 id = _committed();
        vm.prank(consumer);
        vm.expectRevert(abi.encodeWithSelector(IRetrieval.NoIndices.selector, id));
        retrieval.challenge(id, new uint32[](0));
    }

    function test_challenge_indexOutOfRange_reverts() public {
        uint256 id = _committed();
        vm.prank(consumer);
        vm.expectRevert(abi.encodeWithSelector(IRetrieval.IndexOutOfRange.selector, id, D, D));
        retrieval.challenge(id, _indices(D));
    }

    function test_challenge_duplicate_reverts() public {
        uint256 id = _committed();
        _challenge(id, _indices(3));
        vm.prank(consumer);
        vm.expectRevert(abi.encodeWithSelector(IRetrieval.AlreadyChallenged.selector, id, 3));
        retrieval.challenge(id, _indices(3));
    }

    function test_challenge_overBudget_reverts() public {
        uint256 id = _committed();
        _challenge(id, _indices(0, 1, 2));
        vm.prank(consumer);
        vm.expectRevert(abi.encodeWithSelector(IRetrieval.ChallengeBudgetExceeded.selector, id, 2, C - 3));
        retrieval.challenge(id, _indices(3, 4));
    }

    function test_challenge_atChallengeDeadline_reverts() public {
        uint256 id = _committed();
        vm.warp(_challengeDeadline(id));
        vm.prank(consumer);
        _expectState(id, RequestState.Settleable);
        retrieval.challenge(id, _indices(1));
    }

    // ---------------------------------------------------------------- answer

    function test_answer_boundInstances_succeeds() public {
        uint256 id = _committed();
        _challenge(id, _indices(6));
        ResultProof memory a = _proof(id, 6);
        uint256[] memory instances = ProofVerifier.classInstances(a.inputCommitment, WEIGHTS, a.predictedClass);
        verifier.expectCalldata(abi.encodePacked(instances, a.proof));
        vm.expectEmit(address(retrieval));
        emit IRetrieval.ChallengeAnswered(id, 6, a.predictedClass, 1);
        vm.prank(stranger);
        retrieval.answer(id, a);
        assertTrue(retrieval.isAnswered(id, 6));
    }

    function test_answer_afterChallengeDeadline_succeeds() public {
        uint256 id = _committed();
        _challenge(id, _indices(6));
        vm.warp(_challengeDeadline(id));
        assertEq(uint256(retrieval.state(id)), uint256(RequestState.AwaitingAnswers));
        retrieval.answer(id, _proof(id, 6));
        assertEq(uint256(retrieval.state(id)), uint256(RequestState.Settleable));
    }

    function test_answer_atAnswerDeadline_reverts() public {
        uint256 id = _committed();
        _challenge(id, _indices(6));
        vm.warp(retrieval.answerDeadline(id));
        ResultProof memory a = _proof(id, 6);
        _expectState(id, RequestState.Settleable);
        retrieval.answer(id, a);
    }

    function test_answer_notChallenged_reverts() public {
        uint256 id = _committed();
        _challenge(id, _indices(6));
        ResultProof memory a = _proof(id, 7);
        vm.expectRevert(abi.encodeWithSelector(IRetrieval.NotChallenged.selector, id, 7));
        retrieval.answer(id, a);
    }

    function test_answer_twice_reverts() public {
        uint256 id = _committed();
        _challenge(id, _indices(6));
        ResultProof memory a = _proof(id, 6);
        retrieval.answer(id, a);
        vm.expectRevert(abi.encodeWithSelector(IRetrieval.AlreadyAnswered.selector, id, 6));
        retrieval.answer(id, a);
    }

    function test_answer_otherDocument_reverts() public {
        uint256 id = _committed();
        _challenge(id, _indices(6));
        ResultProof memory a = _proof(id, 6);
        a.inputCommitment = RoundData.ic(7);
        vm.expectRevert(abi.encodeWithSelector(IRetrieval.DocumentNotCommitted.selector, id, 6, RoundData.ic(7)));
        retrieval.answer(id, a);
    }

    function test_answer_otherClass_reverts() public {
        uint256 id = _committed();
        _challenge(id, _indices(6));
        ResultProof memory a = _proof(id, 6);
        a.predictedClass = RoundData.cls(6) + 1; // a result the responder did not sign
        vm.expectRevert(abi.encodeWithSelector(IRetrieval.ResultNotSigned.selector, id, 6, RoundData.cls(6) + 1));
        retrieval.answer(id, a);
    }

    function test_answer_proofRejected_reverts() public {
        uint256 id = _committed();
        _challenge(id, _indices(6));
        verifier.setMode(MockVerifier.Mode.Reject);
        ResultProof memory a = _proof(id, 6);
        vm.expectRevert(abi.encodeWithSelector(IRetrieval.ProofRejected.selector, id, 6));
        retrieval.answer(id, a);
    }

    function test_answer_verifierCodeChanged_reverts() public {
        uint256 id = _committed();
        _challenge(id, _indices(6));
        bytes32 registered = address(verifier).codehash;
        vm.etch(address(verifier), hex"00");
        ResultProof memory a = _proof(id, 6);
        vm.expectRevert(
            abi.encodeWithSelector(
                ProofVerifier.VerifierCodehashMismatch.selector, address(verifier), registered, keccak256(hex"00")
            )
        );
        retrieval.answer(id, a);
    }

    function test_answerBatch_all_succeeds() public {
        uint256 id = _committed();
        _challenge(id, _indices(0, 9, 15));
        ResultProof[] memory list = new ResultProof[](3);
        list[0] = _proof(id, 15);
        list[1] = _proof(id, 0);
        list[2] = _proof(id, 9);
        retrieval.answerBatch(id, list);
        assertEq(uint256(retrieval.request(id).answered), 3);
    }

    function test_answerBatch_empty_reverts() public {
        uint256 id = _committed();
        _challenge(id, _indices(0));
        vm.expectRevert(abi.encodeWithSelector(IRetrieval.NoAnswers.selector, id));
        retrieval.answerBatch(id, new ResultProof[](0));
    }

    function test_answerBatch_oneInvalid_reverts() public {
        uint256 id = _committed();
        _challenge(id, _indices(0, 4));
        ResultProof[] memory list = new ResultProof[](2);
        list[0] = _proof(id, 0);
        list[1] = _proof(id, 4);
        list[1].predictedClass = 9;
        vm.expectRevert(abi.encodeWithSelector(IRetrieval.ResultNotSigned.selector, id, 4, 9));
        retrieval.answerBatch(id, list);
        assertEq(uint256(retrieval.request(id).answered), 0);
    }

    // ---------------------------------------------------------------- settle

    function test_settle_responding_reverts() public {
        uint256 id = _openRequest(datasetId, modelId, C, BETA);
        _joinRequest(id);
        vm.warp(retrieval.request(id).resultsDeadline - 1);
        _expectState(id, RequestState.Responding);
        retrieval.settle(id);
    }

    function test_settle_allAnsweredBeforeChallengeDeadline_reverts() public {
        // The requester may still challenge more until the challenge deadline.
        uint256 id = _committed();
        _challenge(id, _indices(1));
        retrieval.answer(id, _proof(id, 1));
        _expectState(id, RequestState.Challenging);
        retrieval.settle(id);
    }

    function test_settle_awaitingAnswers_reverts() public {
        uint256 id = _committed();
        _challenge(id, _indices(1));
        vm.warp(_challengeDeadline(id) + ANSWER_WINDOW + PROOF_WINDOW - 1);
        _expectState(id, RequestState.AwaitingAnswers);
        retrieval.settle(id);
    }

    function test_settle_noResults_succeeds() public {
        uint256 id = _openRequest(datasetId, modelId, C, BETA);
        _joinRequest(id);
        vm.warp(retrieval.request(id).resultsDeadline);
        // The responder took the query and delivered nothing: the requester is refunded and
        // gets the bond.
        _settleAndCheck(id, RetrievalOutcome.NoResults, D * P + 2 * C * Z + BETA * D * Z, 0);
        ModelRecord memory rec = registry.record(modelId);
        assertEq(uint256(rec.roundsFailed), 1);
        assertEq(uint256(rec.roundsCompleted), 0);
    }

    function test_settle_unchallenged_succeeds() public {
        uint256 id = _committed();
        vm.warp(_challengeDeadline(id));
        _settleAndCheck(id, RetrievalOutcome.Unchallenged, 2 * C * Z, BETA * D * Z + D * P);
        assertEq(uint256(registry.record(modelId).roundsCompleted), 1);
    }

    function test_settle_challengesAnswered_succeeds() public {
        uint256 id = _committed();
        _challenge(id, _indices(1, 2, 3));
        retrieval.answer(id, _proof(id, 1));
        retrieval.answer(id, _proof(id, 2));
        vm.warp(_challengeDeadline(id));
        retrieval.answer(id, _proof(id, 3));
        // Settleable as soon as every challenge is answered, without waiting for the answer window.
        uint256 c1 = 3;
        _settleAndCheck(
            id, RetrievalOutcome.ChallengesAnswered, 2 * C * Z - 2 * c1 * Z, BETA * D * Z + D * P + 2 * c1 * Z
        );
        assertEq(uint256(registry.record(modelId).roundsCompleted), 1);
    }

    function test_settle_wholeBudgetChallengedAndAnswered_succeeds() public {
        uint256 id = _committed();
        _challenge(id, _indices(0, 5, 10));
        _challenge(id, _indices(15));
        ResultProof[] memory list = new ResultProof[](C);
        list[0] = _proof(id, 0);
        list[1] = _proof(id, 5);
        list[2] = _proof(id, 10);
        list[3] = _proof(id, 15);
        retrieval.answerBatch(id, list);
        vm.warp(_challengeDeadline(id));
        // C1 = C: the requester's whole escrow goes to the responder.
        _settleAndCheck(id, RetrievalOutcome.ChallengesAnswered, 0, BETA * D * Z + D * P + 2 * C * Z);
    }

    function test_settle_challengesUnanswered_succeeds() public {
        uint256 id = _committed();
        _challenge(id, _indices(1, 2));
        retrieval.answer(id, _proof(id, 1)); // index 2 is never proven
        vm.warp(_challengeDeadline(id) + ANSWER_WINDOW + 2 * PROOF_WINDOW);
        _settleAndCheck(id, RetrievalOutcome.ChallengesUnanswered, D * P + 2 * C * Z + BETA * D * Z, 0);
        ModelRecord memory rec = registry.record(modelId);
        assertEq(uint256(rec.roundsFailed), 1);
        assertEq(uint256(rec.roundsCompleted), 0);
    }

    function test_settle_twice_reverts() public {
        uint256 id = _committed();
        vm.warp(_challengeDeadline(id));
        retrieval.settle(id);
        _expectState(id, RequestState.Settled);
        retrieval.settle(id);
    }

    function test_settle_erc20ChallengesAnswered_succeeds() public {
        uint256 id = _openRequest(datasetId, tokenModelId, C, BETA);
        _joinRequest(id);
        _commitResults(id);
        _challenge(id, _indices(0));
        retrieval.answer(id, _proof(id, 0));
        vm.warp(_challengeDeadline(id));
        retrieval.settle(id);
        vm.prank(consumer);
        retrieval.withdraw(address(usd));
        vm.prank(provider);
        retrieval.withdraw(address(usd));
        assertEq(usd.balanceOf(consumer), 2 * C * Z - 2 * Z);
        assertEq(usd.balanceOf(provider), BETA * D * Z + D * P + 2 * Z);
        assertEq(usd.balanceOf(address(retrieval)), 0);
        assertEq(retrieval.totalOwed(address(usd)), 0);
    }

    function test_settle_unlocksStakeForUnbonding_succeeds() public {
        uint256 id = _committed();
        vm.prank(provider);
        registry.requestUnbond(modelId);
        vm.warp(block.timestamp + UNBONDING_DELAY);
        vm.prank(provider);
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.ModelHasOpenJobs.selector, modelId, uint32(1)));
        registry.withdrawStake(modelId);
        retrieval.settle(id);
        vm.prank(provider);
        registry.withdrawStake(modelId);
        assertEq(uint256(registry.model(modelId).openJobs), 0);
    }

    // ---------------------------------------------------------------- encodings

    function test_leaves_encoding_succeeds() public view {
        bytes32 ic = RoundData.ic(3);
        assertEq(retrieval.documentLeaf(3, ic), RoundData.inputLeaf(3, ic));
        assertEq(retrieval.resultLeaf(3, ic, 7), RoundData.predictionLeaf(3, ic, 7));
    }
}
