// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Fixture} from "./utils/Fixture.sol";
import {MarketHandler} from "./invariant/MarketHandler.sol";
import {AuditHandler} from "./invariant/AuditHandler.sol";
import {AuditFixture} from "./utils/AuditFixture.sol";
import {RetrievalFixture} from "./utils/RetrievalFixture.sol";
import {RetrievalHandler} from "./invariant/RetrievalHandler.sol";
import {GuardedAuditHandler} from "./invariant/GuardedAuditHandler.sol";
import {ProtocolsFixture} from "./utils/ProtocolsFixture.sol";

import {IEscrow} from "../src/interfaces/IEscrow.sol";

/// @notice Solvency invariants under random actors (MarketHandler): each contract's balance of
/// each token equals what it owes (open escrows or stakes + credits), every registry lock
/// belongs to a live joined round, and after the run every round and stake can be ended through
/// the permissionless timeout paths and withdrawn to the last wei. The handler only attempts
/// actions the protocol allows at that moment, so the runs fail on any revert: an allowed
/// action that reverts would be a liveness bug (funds stuck).
contract InvariantsTest is Fixture {
    MarketHandler internal handler;

    function setUp() public override {
        super.setUp();
        handler = new MarketHandler(registry, rounds, usd, address(verifier));
        targetContract(address(handler));
        bytes4[] memory selectors = new bytes4[](12);
        selectors[0] = MarketHandler.registerModel.selector;
        selectors[1] = MarketHandler.requestUnbond.selector;
        selectors[2] = MarketHandler.withdrawStake.selector;
        selectors[3] = MarketHandler.openRound.selector;
        selectors[4] = MarketHandler.cancel.selector;
        selectors[5] = MarketHandler.join.selector;
        selectors[6] = MarketHandler.commitPredictions.selector;
        selectors[7] = MarketHandler.contest.selector;
        selectors[8] = MarketHandler.answer.selector;
        selectors[9] = MarketHandler.settle.selector;
        selectors[10] = MarketHandler.warp.selector;
        selectors[11] = MarketHandler.withdraw.selector;
        targetSelector(FuzzSelector(address(handler), selectors));
    }

    function _tokens() internal view returns (address[2] memory) {
        return [ETH, address(usd)];
    }

    function _balance(address holder, address token) internal view returns (uint256) {
        return token == ETH ? holder.balance : usd.balanceOf(holder);
    }

    function _credits(IEscrow escrow, address token) internal view returns (uint256 sum) {
        address[] memory list = handler.actors();
        for (uint256 i = 0; i < list.length; ++i) {
            sum += escrow.creditOf(list[i], token);
        }
    }

    /// forge-config: default.invariant.runs = 48
    /// forge-config: default.invariant.depth = 64
    /// forge-config: default.invariant.fail-on-revert = true
    function invariant_roundsBalanceEqualsOwed() public view {
        address[2] memory tokens = _tokens();
        for (uint256 t = 0; t < 2; ++t) {
            uint256 owed = rounds.totalOwed(tokens[t]);
            assertEq(_balance(address(rounds), tokens[t]), owed, "rounds: balance != owed");
            assertEq(
                owed,
                handler.ghostRoundEscrow(tokens[t]) + _credits(rounds, tokens[t]),
                "rounds: owed != escrows + credits"
            );
        }
    }

    /// forge-config: default.invariant.runs = 48
    /// forge-config: default.invariant.depth = 64
    /// forge-config: default.invariant.fail-on-revert = true
    function invariant_registryBalanceEqualsOwed() public view {
        address[2] memory tokens = _tokens();
        for (uint256 t = 0; t < 2; ++t) {
            uint256 owed = registry.totalOwed(tokens[t]);
            assertEq(_balance(address(registry), tokens[t]), owed, "registry: balance != owed");
            assertEq(
                owed,
                handler.ghostStakes(tokens[t]) + _credits(registry, tokens[t]),
                "registry: owed != stakes + credits"
            );
        }
    }

    /// forge-config: default.invariant.runs = 48
    /// forge-config: default.invariant.depth = 64
    /// forge-config: default.invariant.fail-on-revert = true
    function invariant_locksMatchJoinedRounds() public view {
        uint256[] memory ids = handler.modelIds();
        uint256 openJobs = 0;
        uint256 locks = 0;
        for (uint256 i = 0; i < ids.length; ++i) {
            openJobs += registry.model(ids[i]).openJobs;
            locks += registry.locksHeld(ids[i], address(rounds));
        }
        assertEq(openJobs, handler.ghostLiveJoined(), "open jobs != live joined rounds");
        assertEq(locks, openJobs, "locks != open jobs");
    }

    /// @notice Nothing is left unclaimable: after the run, the timeout paths end every round and
    /// every stake, and withdrawing every credit empties both contracts.
    function afterInvariant() public {
        handler.drain();
        address[2] memory tokens = _tokens();
        for (uint256 t = 0; t < 2; ++t) {
            assertEq(_balance(address(rounds), tokens[t]), 0, "rounds not empty");
            assertEq(_balance(address(registry), tokens[t]), 0, "registry not empty");
            assertEq(rounds.totalOwed(tokens[t]), 0);
            assertEq(registry.totalOwed(tokens[t]), 0);
        }
    }

    /// @notice The handler reaches every action in a plain walk-through (so the invariant runs
    /// are not vacuous).
    function test_handler_walkThrough_succeeds() public {
        // Round seeds pick among the three latest rounds: seed 0 = latest, 1 = the one before, ...
        handler.openRound(0, 0, 3, 0, 0); // round 1: ETH model, K = 4
        handler.openRound(1, 1, 5, 1, 0); // round 2: USD model, K = 6
        handler.openRound(2, 2, 2, 0, 0); // round 3
        handler.cancel(0); // round 3 cancelled
        handler.join(2); // round 1
        handler.join(1); // round 2
        handler.commitPredictions(2, stranger);
        handler.commitPredictions(1, consumer);
        handler.contest(2, 1, 0); // round 1: one contest (answered below)
        handler.contest(1, 0, 2); // round 2: three contests (one answered below)
        handler.answer(2, 0, stranger);
        handler.answer(1, 0, provider);
        handler.warp(1 days);
        handler.warp(1 days);
        handler.warp(1 days); // past round 2's answer deadline
        handler.settle(2, stranger);
        handler.settle(1, stranger);
        assertEq(handler.done("settle:answered"), 1);
        assertEq(handler.done("settle:unanswered"), 1);
        handler.withdraw(0, false, false);
        handler.withdraw(1, false, true);
        handler.requestUnbond(0);
        for (uint256 i = 0; i < 4; ++i) {
            handler.warp(2 days - 1); // +2 days each: past the unbonding delay
        }
        handler.withdrawStake(0);
        handler.withdraw(3, true, false);
        handler.registerModel(1, true);
        string[13] memory names = [
            "openRound",
            "cancel",
            "join",
            "commitPredictions",
            "contest",
            "answer",
            "settle",
            "warp",
            "withdraw",
            "requestUnbond",
            "withdrawStake",
            "withdraw",
            "warp"
        ];
        for (uint256 i = 0; i < names.length; ++i) {
            assertTrue(handler.done(bytes32(bytes(names[i]))) > 0, names[i]);
        }
        invariant_roundsBalanceEqualsOwed();
        invariant_registryBalanceEqualsOwed();
        invariant_locksMatchJoinedRounds();
        afterInvariant();
    }
}

/// @notice Solvency invariants of the accuracy audits under random actors (AuditHandler): the
/// contract's balance of each token equals what it owes (open escrows + credits, the fee
/// recipient's included), every registry lock belongs to a live joined audit, and after the run
/// the permissionless paths end every audit and every credit can be withdrawn to the last wei.
contract AuditInvariantsTest is AuditFixture {
    AuditHandler internal handler;

    function setUp() public override {
        super.setUp();
        handler = new AuditHandler(registry, audits, usd, address(verifier));
        targetContract(address(handler));
        bytes4[] memory selectors = new bytes4[](8);
        selectors[0] = AuditHandler.openAudit.selector;
        selectors[1] = AuditHandler.cancel.selector;
        selectors[2] = AuditHandler.join.selector;
        selectors[3] = AuditHandler.decide.selector;
        selectors[4] = AuditHandler.submitProofs.selector;
        selectors[5] = AuditHandler.finalize.selector;
        selectors[6] = AuditHandler.warp.selector;
        selectors[7] = AuditHandler.withdraw.selector;
        targetSelector(FuzzSelector(address(handler), selectors));
    }

    function _balance(address token) internal view returns (uint256) {
        return token == ETH ? address(audits).balance : usd.balanceOf(address(audits));
    }

    /// forge-config: default.invariant.runs = 48
    /// forge-config: default.invariant.depth = 64
    /// forge-config: default.invariant.fail-on-revert = true
    function invariant_auditsBalanceEqualsOwed() public view {
        address[] memory list = handler.actors();
        for (uint256 t = 0; t < 2; ++t) {
            address token = t == 0 ? ETH : address(usd);
            uint256 credits = 0;
            for (uint256 i = 0; i < list.length; ++i) {
                credits += audits.creditOf(list[i], token);
            }
            uint256 owed = audits.totalOwed(token);
            assertEq(_balance(token), owed, "audits: balance != owed");
            assertEq(owed, handler.ghostAuditEscrow(token) + credits, "audits: owed != escrows + credits");
        }
    }

    /// forge-config: default.invariant.runs = 48
    /// forge-config: default.invariant.depth = 64
    /// forge-config: default.invariant.fail-on-revert = true
    function invariant_locksMatchJoinedAudits() public view {
        uint256[] memory ids = handler.modelIds();
        uint256 locks = 0;
        for (uint256 i = 0; i < ids.length; ++i) {
            locks += registry.locksHeld(ids[i], address(audits));
        }
        assertEq(locks, handler.ghostLiveJoined(), "locks != live joined audits");
    }

    /// @notice Nothing is left unclaimable: the timeout paths end every audit and withdrawing
    /// every credit empties the contract.
    function afterInvariant() public {
        handler.drain();
        assertEq(address(audits).balance, 0, "ETH left");
        assertEq(usd.balanceOf(address(audits)), 0, "USD left");
        assertEq(audits.totalOwed(ETH), 0);
        assertEq(audits.totalOwed(address(usd)), 0);
    }

    /// @notice The handler reaches every action and every outcome in a plain walk-through.
    function test_auditHandler_walkThrough_succeeds() public {
        // Audit seeds pick among the three latest audits: seed 0 = latest, 1 = the one before, ...
        handler.openAudit(0, 0, 3, 0); // audit 1: ETH model, N = 4, target 0
        handler.openAudit(1, 1, 5, 4); // audit 2: USD model, N = 6, target 1
        handler.openAudit(2, 2, 2, 0); // audit 3
        handler.cancel(0); // audit 3 cancelled
        handler.join(2); // audit 1
        handler.join(1); // audit 2
        handler.decide(2, true); // audit 1 proceeds
        handler.decide(1, true); // audit 2 proceeds
        handler.submitProofs(2, 3, 0, stranger); // audit 1: 4 proofs, all wrong (target 0: passes)
        handler.submitProofs(1, 3, 0, provider); // audit 2: 4 of 6, all wrong
        handler.finalize(2, stranger); // audit 1 passed
        handler.warp(1 days - 1);
        handler.warp(1 days - 1);
        handler.warp(1 days - 1); // past audit 2's proof deadline
        handler.finalize(1, stranger); // audit 2 failed (proofs missing)
        handler.openAudit(0, 2, 1, 0); // audit 4
        handler.join(0);
        handler.decide(0, false); // audit 4 aborted
        handler.openAudit(0, 3, 1, 0); // audit 5: left to time out
        handler.warp(1 days - 1); // past audit 5's join deadline
        handler.finalize(0, stranger); // audit 5 join expired
        assertEq(handler.done("finalize:passed"), 1);
        assertEq(handler.done("finalize:failed"), 1);
        assertEq(handler.done("finalize:cancelled"), 1);
        for (uint256 i = 0; i < 8; ++i) {
            handler.withdraw(i, i % 2 == 1);
        }
        string[9] memory names =
            ["openAudit", "cancel", "join", "proceed", "abort", "submitProofs", "finalize", "warp", "withdraw"];
        for (uint256 i = 0; i < names.length; ++i) {
            assertTrue(handler.done(bytes32(bytes(names[i]))) > 0, names[i]);
        }
        invariant_auditsBalanceEqualsOwed();
        invariant_locksMatchJoinedAudits();
        afterInvariant();
    }
}

/// @notice Solvency invariants of retrieval under random actors (RetrievalHandler): the
/// contract's balance of each token equals what it owes (open escrows and bonds + credits),
/// every registry lock belongs to a live joined request, and after the run the permissionless
/// paths end every request and every credit can be withdrawn to the last wei.
contract RetrievalInvariantsTest is RetrievalFixture {
    RetrievalHandler internal handler;

    function setUp() public override {
        super.setUp();
        handler = new RetrievalHandler(registry, retrieval, usd, address(verifier));
        targetContract(address(handler));
        bytes4[] memory selectors = new bytes4[](9);
        selectors[0] = RetrievalHandler.openRequest.selector;
        selectors[1] = RetrievalHandler.cancel.selector;
        selectors[2] = RetrievalHandler.join.selector;
        selectors[3] = RetrievalHandler.commitResults.selector;
        selectors[4] = RetrievalHandler.challenge.selector;
        selectors[5] = RetrievalHandler.answer.selector;
        selectors[6] = RetrievalHandler.settle.selector;
        selectors[7] = RetrievalHandler.warp.selector;
        selectors[8] = RetrievalHandler.withdraw.selector;
        targetSelector(FuzzSelector(address(handler), selectors));
    }

    function _balance(address token) internal view returns (uint256) {
        return token == ETH ? address(retrieval).balance : usd.balanceOf(address(retrieval));
    }

    /// forge-config: default.invariant.runs = 48
    /// forge-config: default.invariant.depth = 64
    /// forge-config: default.invariant.fail-on-revert = true
    function invariant_retrievalBalanceEqualsOwed() public view {
        address[] memory list = handler.actors();
        for (uint256 t = 0; t < 2; ++t) {
            address token = t == 0 ? ETH : address(usd);
            uint256 credits = 0;
            for (uint256 i = 0; i < list.length; ++i) {
                credits += retrieval.creditOf(list[i], token);
            }
            uint256 owed = retrieval.totalOwed(token);
            assertEq(_balance(token), owed, "retrieval: balance != owed");
            assertEq(owed, handler.ghostEscrow(token) + credits, "retrieval: owed != escrows + credits");
        }
    }

    /// forge-config: default.invariant.runs = 48
    /// forge-config: default.invariant.depth = 64
    /// forge-config: default.invariant.fail-on-revert = true
    function invariant_locksMatchJoinedRequests() public view {
        uint256[] memory ids = handler.modelIds();
        uint256 locks = 0;
        for (uint256 i = 0; i < ids.length; ++i) {
            locks += registry.locksHeld(ids[i], address(retrieval));
        }
        assertEq(locks, handler.ghostLiveJoined(), "locks != live joined requests");
    }

    /// @notice Nothing is left unclaimable: the timeout paths end every request and withdrawing
    /// every credit empties the contract.
    function afterInvariant() public {
        handler.drain();
        assertEq(address(retrieval).balance, 0, "ETH left");
        assertEq(usd.balanceOf(address(retrieval)), 0, "USD left");
        assertEq(retrieval.totalOwed(ETH), 0);
        assertEq(retrieval.totalOwed(address(usd)), 0);
    }

    /// @notice The handler reaches every action and every outcome in a plain walk-through.
    function test_retrievalHandler_walkThrough_succeeds() public {
        // Request seeds pick among the three latest requests: seed 0 = latest, 1 = the one before, ...
        handler.openRequest(0, 0, 3, 2, 0); // request 1: ETH model, D = 4, C = 2
        handler.openRequest(1, 1, 5, 3, 1); // request 2: USD model, D = 6, C = 3
        handler.openRequest(2, 2, 2, 0, 0); // request 3
        handler.cancel(0); // request 3 cancelled
        handler.join(2); // request 1
        handler.join(1); // request 2
        handler.commitResults(2, stranger);
        handler.commitResults(1, consumer);
        handler.challenge(2, 1, 0); // request 1: one challenge (answered below)
        handler.challenge(1, 0, 2); // request 2: three challenges (one answered below)
        handler.answer(2, 0, stranger);
        handler.answer(1, 0, provider);
        handler.warp(2 days - 1);
        handler.warp(2 days - 1);
        handler.warp(2 days - 1); // +6 days: past request 1's challenge and request 2's answer deadline
        handler.settle(2, stranger); // request 1 delivered
        handler.settle(1, stranger); // request 2 unanswered
        handler.openRequest(0, 3, 1, 0, 0); // request 4: joined, never answered with results
        handler.join(0);
        handler.openRequest(0, 0, 1, 0, 0); // request 5: never joined
        handler.warp(1 days);
        handler.settle(1, stranger); // request 4: no results
        handler.settle(0, stranger); // request 5: join expired
        assertEq(handler.done("settle:delivered"), 1);
        assertEq(handler.done("settle:unanswered"), 1);
        assertEq(handler.done("settle:noResults"), 1);
        assertEq(handler.done("settle:cancelled"), 1);
        for (uint256 i = 0; i < 10; ++i) {
            handler.withdraw(i, i % 2 == 1);
        }
        string[9] memory names =
            ["openRequest", "cancel", "join", "commitResults", "challenge", "answer", "settle", "warp", "withdraw"];
        for (uint256 i = 0; i < names.length; ++i) {
            assertTrue(handler.done(bytes32(bytes(names[i]))) > 0, names[i]);
        }
        invariant_retrievalBalanceEqualsOwed();
        invariant_locksMatchJoinedRequests();
        afterInvariant();
    }
}

/// @notice Solvency and liveness of the griefing-resistant audits under random actors
/// (GuardedAuditHandler) driving them through the real DataTransferService, with N1 = 3: the
/// contract's balance of each token equals what it owes (open escrows + credits, the fee
/// recipient's included), the service never holds funds, every registry lock belongs to a live
/// joined audit, and after the run the permissionless paths alone (finalize and
/// expireTransfer) end every audit, from whatever stage it reached, and every credit can be
/// withdrawn to the last wei.
contract GuardedAuditInvariantsTest is ProtocolsFixture {
    uint256 internal constant INVARIANT_N1 = 3;

    GuardedAuditHandler internal handler;

    function setUp() public override {
        super.setUp();
        _deployProtocols(_prices(address(usd)), INVARIANT_N1);
        handler = new GuardedAuditHandler(registry, guarded, transfers, usd, address(verifier));
        targetContract(address(handler));
        bytes4[] memory selectors = new bytes4[](22);
        selectors[0] = GuardedAuditHandler.openAudit.selector;
        selectors[1] = GuardedAuditHandler.cancel.selector;
        selectors[2] = GuardedAuditHandler.join.selector;
        selectors[3] = GuardedAuditHandler.send.selector;
        selectors[4] = GuardedAuditHandler.abortByConsumer.selector;
        selectors[5] = GuardedAuditHandler.acknowledge.selector;
        selectors[6] = GuardedAuditHandler.revealKey.selector;
        selectors[7] = GuardedAuditHandler.respond.selector;
        selectors[8] = GuardedAuditHandler.expireTransfer.selector;
        selectors[9] = GuardedAuditHandler.decide.selector;
        selectors[10] = GuardedAuditHandler.submitProofs.selector;
        selectors[11] = GuardedAuditHandler.finalize.selector;
        selectors[12] = GuardedAuditHandler.warp.selector;
        selectors[13] = GuardedAuditHandler.warp.selector; // time matters here: twice the weight
        selectors[14] = GuardedAuditHandler.withdraw.selector;
        selectors[15] = GuardedAuditHandler.publish.selector;
        // The honest next step, weighted so that runs reach the proofs and the settlements.
        for (uint256 i = 16; i < 22; ++i) {
            selectors[i] = GuardedAuditHandler.advance.selector;
        }
        targetSelector(FuzzSelector(address(handler), selectors));
    }

    function _balance(address holder, address token) internal view returns (uint256) {
        return token == ETH ? holder.balance : usd.balanceOf(holder);
    }

    /// forge-config: default.invariant.runs = 32
    /// forge-config: default.invariant.depth = 96
    /// forge-config: default.invariant.fail-on-revert = true
    function invariant_guardedBalanceEqualsOwed() public view {
        address[] memory list = handler.actors();
        for (uint256 t = 0; t < 2; ++t) {
            address token = t == 0 ? ETH : address(usd);
            uint256 credits = 0;
            for (uint256 i = 0; i < list.length; ++i) {
                credits += guarded.creditOf(list[i], token);
            }
            uint256 owed = guarded.totalOwed(token);
            assertEq(_balance(address(guarded), token), owed, "guarded: balance != owed");
            assertEq(owed, handler.ghostAuditEscrow(token) + credits, "guarded: owed != escrows + credits");
            assertEq(_balance(address(transfers), token), 0, "the service holds no funds");
        }
    }

    /// forge-config: default.invariant.runs = 32
    /// forge-config: default.invariant.depth = 96
    /// forge-config: default.invariant.fail-on-revert = true
    function invariant_guardedLocksMatchLiveAudits() public view {
        uint256[] memory ids = handler.modelIds();
        uint256 locks = 0;
        for (uint256 i = 0; i < ids.length; ++i) {
            locks += registry.locksHeld(ids[i], address(guarded));
        }
        assertEq(locks, handler.ghostLiveJoined(), "locks != live joined audits");
    }

    /// @notice Nothing is stuck: the permissionless paths end every audit and withdrawing every
    /// credit empties the contract.
    function afterInvariant() public {
        handler.drain();
        assertEq(address(guarded).balance, 0, "ETH left");
        assertEq(usd.balanceOf(address(guarded)), 0, "USD left");
        assertEq(guarded.totalOwed(ETH), 0);
        assertEq(guarded.totalOwed(address(usd)), 0);
        assertEq(handler.ghostLiveJoined(), 0);
    }

    /// @dev A fresh audit (the latest, seed 0) on model `modelSeed`, N = 4 + extra, target 3/4,
    /// joined unless told otherwise.
    function _fresh(uint256 modelSeed, uint32 extra, bool joined) internal {
        handler.openAudit(modelSeed, modelSeed, extra, 3);
        if (joined) handler.join(0, keccak256(abi.encode(modelSeed, extra)));
    }

    /// @dev Sends honestly (cheatSeed 1) or with garbage at position 0 (cheatSeed 0), acknowledged
    /// by transaction or signature, and reveals.
    function _revealed(bool cheat, bool bySignature) internal {
        handler.send(0, cheat ? 0 : 1);
        handler.acknowledge(0, bySignature, stranger);
        handler.revealKey(0);
    }

    function _days(uint256 n) internal {
        for (uint256 i = 0; i < n; ++i) {
            handler.warp(0); // + 1 day + 1 s
        }
    }

    /// @notice The handler reaches every action and every way of ending in a plain walk-through.
    function test_guardedHandler_walkThrough_succeeds() public {
        uint256 allCorrect = type(uint256).max;
        // 1. Honest run, passes: subset acknowledged by signature, rest by transaction.
        _fresh(0, 2, true);
        _revealed(false, true);
        handler.respond(0, 0, 0); // accept
        handler.decide(0, true);
        _revealed(false, false);
        handler.respond(0, 0, 0);
        handler.submitProofs(0, 1, allCorrect, stranger); // 2 proofs
        handler.submitProofs(0, 3, allCorrect, consumer); // the rest (at most 4)
        handler.finalize(0, stranger);
        // 2. MC cheats in the subset, MP's contest is upheld.
        _fresh(1, 1, true);
        _revealed(true, false);
        handler.respond(0, 1, 0);
        // 3. MC cheats in the rest; MP contests an honest item instead (rejected).
        _fresh(2, 3, true); // N = 7, N2 = 4
        _revealed(false, false);
        handler.respond(0, 0, 0);
        handler.decide(0, true);
        _revealed(true, false);
        handler.respond(0, 2, 1); // position 1; the garbage is at 0
        // 4. MC aborts at stage 3; 5. MP aborts at stage 4.
        _fresh(3, 4, true);
        handler.abortByConsumer(0);
        _fresh(0, 0, true);
        _revealed(false, false);
        handler.respond(0, 0, 0);
        handler.decide(0, false);
        // 6-8. The transfer's three timeouts; no acknowledgement twice: MC never proved
        // delivery (MC at fault), or did, in two item batches and the leaves (MP at fault).
        _fresh(1, 0, true);
        handler.send(0, 1);
        _days(1);
        handler.expireTransfer(0, stranger); // no acknowledgement, nothing published
        _fresh(1, 0, true);
        handler.send(0, 1);
        handler.publish(0, 0, false, consumer); // one subset item (N1 = 3)
        handler.publish(0, 3, true, stranger); // the rest, then the leaves: complete
        _days(1);
        handler.expireTransfer(0, stranger); // no acknowledgement despite the publication
        _fresh(1, 0, true);
        handler.send(0, 1);
        handler.acknowledge(0, false, stranger);
        _days(2);
        handler.expireTransfer(0, stranger); // no key
        _fresh(1, 0, true);
        _revealed(false, false);
        _days(3);
        handler.expireTransfer(0, stranger); // no continuation
        // 9-12. The audit's own timeouts: join, send, decision, proofs.
        _fresh(0, 0, false);
        _days(1);
        handler.finalize(0, stranger);
        _fresh(0, 0, true);
        _days(1);
        handler.finalize(0, stranger);
        _fresh(0, 0, true);
        _revealed(false, false);
        handler.respond(0, 0, 0);
        _days(1);
        handler.finalize(0, stranger);
        _fresh(2, 3, true);
        _revealed(false, false);
        handler.respond(0, 0, 0);
        handler.decide(0, true);
        _revealed(false, false);
        handler.respond(0, 0, 0);
        handler.submitProofs(0, 0, allCorrect, stranger); // 1 of 5
        _days(3);
        handler.finalize(0, stranger);
        // 13. An open audit cancelled, and one left running for afterInvariant.
        _fresh(3, 0, false);
        handler.cancel(0);
        _fresh(2, 1, true);
        handler.send(0, 0);
        handler.advance(0, 2); // acknowledges the running transfer
        for (uint256 i = 0; i < 8; ++i) {
            handler.withdraw(i, i % 2 == 1);
        }
        string[29] memory names = [
            "advance",
            "openAudit",
            "cancel",
            "join",
            "sendSubset",
            "sendRest",
            "abortByConsumer",
            "acknowledge",
            "acknowledgeWithSignature",
            "revealKey",
            "accept",
            "contest:upheld",
            "contest:rejected",
            "expire:noAck",
            "expire:undelivered",
            "publishItems",
            "publishLeaves",
            "publish:complete",
            "expire:noReveal",
            "expire:noContinue",
            "proceed",
            "abort",
            "submitProofs",
            "finalize:cancelled",
            "finalize:consumerDefaulted",
            "finalize:aborted",
            "finalize:passed",
            "finalize:failed",
            "withdraw"
        ];
        for (uint256 i = 0; i < names.length; ++i) {
            assertTrue(handler.done(bytes32(bytes(names[i]))) > 0, names[i]);
        }
        assertEq(handler.done("finalize:passed"), 1);
        assertEq(handler.done("contest:upheld"), 1);
        assertEq(handler.done("contest:rejected"), 1);
        assertEq(handler.done("end:cancelled"), 2);
        assertEq(handler.done("end:settled"), 12);
        assertEq(handler.done("publishItems"), 2);
        assertEq(handler.done("acknowledge"), 12);
        invariant_guardedBalanceEqualsOwed();
        invariant_guardedLocksMatchLiveAudits();
        afterInvariant();
    }
}
