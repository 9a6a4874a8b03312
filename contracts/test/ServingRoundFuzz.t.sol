// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Fixture} from "./utils/Fixture.sol";

import {ModelRegistry} from "../src/ModelRegistry.sol";
import {ServingRound} from "../src/ServingRound.sol";
import {IModelRegistry} from "../src/interfaces/IModelRegistry.sol";
import {IServingRound} from "../src/interfaces/IServingRound.sol";
import {Answer, Prices, RoundOutcome, TokenPrices} from "../src/lib/Types.sol";

/// @notice Fuzz tests over the marketplace parameters: every payout equals the paper's formula,
/// every wei escrowed is paid out, and nothing stays in the contracts.
contract ServingRoundFuzzTest is Fixture {
    struct Params {
        uint256 e;
        uint256 z;
        uint256 p;
        uint256 n1;
    }

    /// @dev Redeploys the market with fuzzed prices E > Z > P > 0 and N1.
    function _deploy(Params memory q) internal {
        q.p = bound(q.p, 1, 1e24);
        q.z = bound(q.z, q.p + 1, 1e25);
        q.e = bound(q.e, q.z + 1, 1e26);
        q.n1 = bound(q.n1, 1, 10_000);
        TokenPrices[] memory list = new TokenPrices[](2);
        list[0] = TokenPrices(ETH, Prices(q.e, q.z, q.p, 0));
        list[1] = TokenPrices(address(usd), Prices(q.e, q.z, q.p, 0));
        registry = new ModelRegistry(list, q.n1, feeRecipient, UNBONDING_DELAY);
        rounds = new ServingRound(IModelRegistry(address(registry)), _config());
        address[] memory protocols = new address[](1);
        protocols[0] = address(rounds);
        registry.setProtocols(protocols);
    }

    function testFuzz_registerModel_stakeIsThousandN1E_succeeds(Params memory q, bool useToken) public {
        _deploy(q);
        uint256 id = useToken ? _registerToken(provider) : _registerEth(provider);
        uint256 expected = 1000 * q.n1 * q.e;
        assertEq(registry.model(id).stake, expected);
        assertEq(useToken ? usd.balanceOf(address(registry)) : address(registry).balance, expected);
    }

    struct Expected {
        RoundOutcome outcome;
        uint256 toConsumer;
        uint256 toProvider;
    }

    /// @param mode 0: nothing contested; 1: every contest answered; 2: one contest unanswered.
    /// @param contestMask bit i set = MC contests prediction i (modes 1 and 2; at least one).
    /// @param skip rank (mod K1) of the contest left unanswered in mode 2.
    function testFuzz_settle_payoutsMatchPaper_succeeds(
        Params memory q,
        uint32 k,
        uint16 beta,
        uint8 mode,
        uint64 contestMask,
        uint8 skip,
        bool useToken
    ) public {
        mode = mode % 3;
        _deploy(q);
        k = uint32(bound(k, 1, 64));
        beta = uint16(bound(beta, MIN_BETA, MAX_BETA));
        uint256 modelId = useToken ? _registerToken(provider) : _registerEth(provider);
        uint256 id = _open(modelId, k, beta);
        _join(id);
        _commit(id);
        if (mode == 0) {
            contestMask = 0;
        } else if (uint256(contestMask) & ((uint256(1) << k) - 1) == 0) {
            contestMask = 1;
        }
        (uint32 k1, bool allAnswered) = _contestAndAnswer(id, k, contestMask, mode == 2, skip);
        vm.warp(_answerDeadline(id));
        _settleAndCheck(id, _expected(q.z, k, beta, k1, allAnswered), useToken ? address(usd) : ETH);
    }

    /// @dev The paper's payouts (5.3): nothing contested -> escrows back; all K1 answered -> MC
    /// pays 2*K1*Z; otherwise MP loses beta*K*Z to MC.
    function _expected(uint256 z, uint32 k, uint16 beta, uint32 k1, bool allAnswered)
        internal
        pure
        returns (Expected memory x)
    {
        uint256 consumerEscrow = 2 * uint256(k) * z;
        uint256 providerEscrow = uint256(beta) * k * z;
        if (k1 == 0) {
            x = Expected(RoundOutcome.Uncontested, consumerEscrow, providerEscrow);
        } else if (allAnswered) {
            uint256 fee = 2 * uint256(k1) * z;
            x = Expected(RoundOutcome.ContestsAnswered, consumerEscrow - fee, providerEscrow + fee);
        } else {
            x = Expected(RoundOutcome.ContestsUnanswered, consumerEscrow + providerEscrow, 0);
        }
    }

    function _contestAndAnswer(uint256 id, uint32 k, uint64 contestMask, bool leaveOne, uint8 skip)
        internal
        returns (uint32 k1, bool allAnswered)
    {
        allAnswered = true;
        uint32[] memory contested = new uint32[](k);
        for (uint32 i = 0; i < k; ++i) {
            if ((contestMask >> i) & 1 == 1) contested[k1++] = i;
        }
        if (k1 == 0) return (0, true);
        uint32[] memory list = new uint32[](k1);
        for (uint32 j = 0; j < k1; ++j) {
            list[j] = contested[j];
        }
        _contest(id, list);
        uint32 skipped = leaveOne ? uint32(skip) % k1 : type(uint32).max;
        for (uint32 j = 0; j < k1; ++j) {
            if (j == skipped) {
                allAnswered = false;
                continue;
            }
            Answer memory a = _answer(k, list[j]);
            rounds.answer(id, a);
        }
    }

    function _settleAndCheck(uint256 id, Expected memory x, address token) internal {
        vm.expectEmit(address(rounds));
        emit IServingRound.RoundSettled(id, x.outcome, x.toConsumer, x.toProvider);
        rounds.settle(id);
        assertEq(rounds.creditOf(consumer, token), x.toConsumer, "consumer");
        assertEq(rounds.creditOf(provider, token), x.toProvider, "provider");
        if (x.toConsumer > 0) {
            vm.prank(consumer);
            rounds.withdraw(token);
        }
        if (x.toProvider > 0) {
            vm.prank(provider);
            rounds.withdraw(token);
        }
        bool isEth = token == ETH;
        assertEq(isEth ? address(rounds).balance : usd.balanceOf(address(rounds)), 0, "round contract empty");
        assertEq(rounds.totalOwed(token), 0);
        assertEq(isEth ? consumer.balance : usd.balanceOf(consumer), x.toConsumer);
        assertEq(isEth ? provider.balance : usd.balanceOf(provider), x.toProvider);
    }
}
