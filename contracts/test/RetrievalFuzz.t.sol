// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {RetrievalData} from "./utils/RetrievalData.sol";
import {RetrievalFixture} from "./utils/RetrievalFixture.sol";

import {IRetrieval, RetrievalOutcome, ResultProof} from "../src/interfaces/IRetrieval.sol";
import {Prices, TokenPrices} from "../src/lib/Types.sol";

/// @notice Fuzz tests over prices, dataset size, budget, beta and challenges: every payout equals
/// the formula (IRetrieval), every wei escrowed is paid out, and nothing stays in the contract.
contract RetrievalFuzzTest is RetrievalFixture {
    struct Case {
        uint256 z;
        uint256 p;
        uint32 d;
        uint32 c;
        uint16 beta;
        uint8 mode;
        uint32 c1;
        bool useToken;
    }

    /// @dev q.mode 0: nothing challenged; 1: every challenge answered; 2: one challenge
    /// unanswered; 3: no results committed. q.c1 challenges (modes 1 and 2) within the budget.
    function testFuzz_settle_payoutsMatchFormula_succeeds(Case memory q) public {
        uint256 id = _run(q);
        address token = q.useToken ? address(usd) : ETH;
        (RetrievalOutcome outcome, uint256 toRequester, uint256 toResponder) = _expected(q);
        vm.expectEmit(address(retrieval));
        emit IRetrieval.RequestSettled(id, outcome, toRequester, toResponder);
        retrieval.settle(id);
        assertEq(retrieval.creditOf(consumer, token), toRequester);
        assertEq(retrieval.creditOf(provider, token), toResponder);
        if (toRequester > 0) {
            vm.prank(consumer);
            retrieval.withdraw(token);
        }
        if (toResponder > 0) {
            vm.prank(provider);
            retrieval.withdraw(token);
        }
        assertEq(token == ETH ? address(retrieval).balance : usd.balanceOf(address(retrieval)), 0);
        assertEq(retrieval.totalOwed(token), 0);
    }

    /// @dev Bounds the case, deploys the market at its prices and drives one request to Settleable.
    function _run(Case memory q) internal returns (uint256 id) {
        q.p = bound(q.p, 1, 1e24);
        q.z = bound(q.z, q.p + 1, 1e25);
        TokenPrices[] memory list = new TokenPrices[](2);
        list[0] = TokenPrices(ETH, Prices(q.z + 1, q.z, q.p, 0));
        list[1] = TokenPrices(address(usd), Prices(q.z + 1, q.z, q.p, 0));
        _deployMarket(list, 1);
        q.d = uint32(bound(q.d, 1, 48));
        q.c = uint32(bound(q.c, 0, q.d));
        q.beta = uint16(bound(q.beta, MIN_BETA, MAX_BETA));
        q.mode = q.mode % 4;
        if (q.c == 0 && (q.mode == 1 || q.mode == 2)) q.mode = 0;
        q.c1 = q.mode == 1 || q.mode == 2 ? uint32(bound(q.c1, 1, q.c)) : 0;
        uint256 modelId = q.useToken ? _registerToken(provider) : _registerEth(provider);
        id = _openRequest(_commitDataset(q.d), modelId, q.c, q.beta);
        _joinRequest(id);
        if (q.mode == 3) {
            vm.warp(retrieval.request(id).resultsDeadline);
            return id;
        }
        _commitResults(id);
        _challengeAndAnswer(id, q.d, q.c1, q.mode == 2);
        vm.warp(retrieval.answerDeadline(id));
    }

    /// @dev The payouts of IRetrieval's table, written out independently of the contract.
    function _expected(Case memory q) internal pure returns (RetrievalOutcome, uint256, uint256) {
        uint256 query = uint256(q.d) * q.p;
        uint256 escrow = query + 2 * uint256(q.c) * q.z;
        uint256 bond = uint256(q.beta) * q.d * q.z;
        if (q.mode == 0) return (RetrievalOutcome.Unchallenged, escrow - query, bond + query);
        if (q.mode == 1) {
            uint256 fee = query + 2 * uint256(q.c1) * q.z;
            return (RetrievalOutcome.ChallengesAnswered, escrow - fee, bond + fee);
        }
        if (q.mode == 2) return (RetrievalOutcome.ChallengesUnanswered, escrow + bond, 0);
        return (RetrievalOutcome.NoResults, escrow + bond, 0);
    }

    /// @dev Challenges documents 0..c1-1 (in one call) and answers all but the last when `leaveOne`.
    function _challengeAndAnswer(uint256 id, uint32 d, uint32 c1, bool leaveOne) internal {
        if (c1 == 0) return;
        uint32[] memory indices = new uint32[](c1);
        uint32 n = leaveOne ? c1 - 1 : c1;
        ResultProof[] memory answers = new ResultProof[](n);
        for (uint32 i = 0; i < c1; ++i) {
            indices[i] = i;
            if (i < n) answers[i] = RetrievalData.proof(d, i);
        }
        _challenge(id, indices);
        if (n > 0) retrieval.answerBatch(id, answers);
    }
}
