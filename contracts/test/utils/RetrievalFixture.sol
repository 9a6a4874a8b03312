// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Fixture} from "./Fixture.sol";
import {RetrievalData} from "./RetrievalData.sol";

import {ModelRegistry} from "../../src/ModelRegistry.sol";
import {Retrieval} from "../../src/Retrieval.sol";
import {ServingRound} from "../../src/ServingRound.sol";
import {IModelRegistry} from "../../src/interfaces/IModelRegistry.sol";
import {ResultProof, RetrievalConfig, RetrievalRequest} from "../../src/interfaces/IRetrieval.sol";
import {Prices, TokenPrices} from "../../src/lib/Types.sol";

/// @notice The marketplace fixture redeployed with a Retrieval among the protocols.
abstract contract RetrievalFixture is Fixture {
    uint32 internal constant MAX_DOCUMENTS = 4096;
    uint64 internal constant CHALLENGE_WINDOW = 3 days;

    Retrieval internal retrieval;

    function setUp() public virtual override {
        super.setUp();
        // The fixture's registry already fixed its protocols; deploy a fresh one with retrieval.
        _deployMarket(_prices(address(usd)), N1);
    }

    /// @dev A fresh registry (prices `list`, N1 = `n1`) with serving rounds and retrieval as protocols.
    function _deployMarket(TokenPrices[] memory list, uint256 n1) internal {
        registry = new ModelRegistry(list, n1, feeRecipient, UNBONDING_DELAY);
        rounds = new ServingRound(IModelRegistry(address(registry)), _config());
        retrieval = new Retrieval(IModelRegistry(address(registry)), _retrievalConfig());
        address[] memory protocols = new address[](2);
        protocols[0] = address(rounds);
        protocols[1] = address(retrieval);
        registry.setProtocols(protocols);
    }

    function _retrievalConfig() internal pure returns (RetrievalConfig memory) {
        return RetrievalConfig({
            minBeta: MIN_BETA,
            maxBeta: MAX_BETA,
            maxDocuments: MAX_DOCUMENTS,
            maxDuration: MAX_DURATION,
            proofWindow: PROOF_WINDOW,
            joinWindow: JOIN_WINDOW,
            challengeWindow: CHALLENGE_WINDOW,
            answerWindow: ANSWER_WINDOW
        });
    }

    /// @dev D*P + 2*C*Z at the fixture's prices.
    function _escrow(uint32 d, uint32 c) internal pure returns (uint256) {
        return uint256(d) * P + 2 * uint256(c) * Z;
    }

    /// @dev beta*D*Z at the fixture's prices.
    function _bond(uint32 d, uint16 beta) internal pure returns (uint256) {
        return uint256(beta) * d * Z;
    }

    function _fund(address who, address token, uint256 amount) internal returns (uint256 value) {
        if (token == ETH) {
            vm.deal(who, who.balance + amount);
            return amount;
        }
        usd.mint(who, amount);
        vm.prank(who);
        usd.approve(address(retrieval), amount);
        return 0;
    }

    function _commitDataset(uint32 d) internal returns (uint256 datasetId) {
        vm.prank(provider);
        datasetId = retrieval.commitDataset(RetrievalData.datasetRoot(d), d);
    }

    function _openRequest(uint256 datasetId, uint256 modelId, uint32 c, uint16 beta) internal returns (uint256 id) {
        (, address token,,,) = registry.jobTerms(modelId);
        Prices memory prices = registry.prices(token);
        uint32 d = retrieval.dataset(datasetId).size;
        uint256 value = _fund(consumer, token, retrieval.requesterEscrowFor(d, c, prices.inferenceP, prices.proofZ));
        vm.prank(consumer);
        id = retrieval.openRequest{value: value}(datasetId, modelId, c, beta, 1 days);
    }

    function _joinRequest(uint256 id) internal {
        RetrievalRequest memory q = retrieval.request(id);
        uint256 value = _fund(q.responder, q.token, retrieval.bondFor(q.documents, q.beta, q.proofZ));
        vm.prank(q.responder);
        retrieval.join{value: value}(id);
    }

    function _resultsSignature(uint256 id, uint256 key) internal view returns (bytes memory) {
        RetrievalRequest memory q = retrieval.request(id);
        bytes32 digest =
            RetrievalData.digest(address(retrieval), id, q.datasetRoot, RetrievalData.resultsRoot(q.documents));
        return _sign(key, digest);
    }

    function _commitResults(uint256 id) internal {
        bytes memory signature = _resultsSignature(id, providerKey);
        retrieval.commitResults(id, RetrievalData.resultsRoot(retrieval.request(id).documents), signature);
    }

    function _challenge(uint256 id, uint32[] memory indices) internal {
        vm.prank(consumer);
        retrieval.challenge(id, indices);
    }

    function _proof(uint256 id, uint32 index) internal view returns (ResultProof memory) {
        return RetrievalData.proof(retrieval.request(id).documents, index);
    }
}
