// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {GuardedData} from "./utils/GuardedData.sol";
import {GuardedFixture} from "./utils/GuardedFixture.sol";

import {AuditProof} from "../src/interfaces/IAccuracyAudit.sol";
import {TransferOutcome} from "../src/interfaces/IDataTransfer.sol";
import {GuardedAudit, GuardedOutcome, GuardedState} from "../src/interfaces/IGriefingResistantAudit.sol";
import {ModelRecord, Prices, TokenPrices} from "../src/lib/Types.sol";

/// @notice Fuzzed griefing-resistant audits over N1 (the registry's), N, the token and its prices
/// (E > Z > P), the target, MP's seed and accuracy, and every way an audit can end: payouts follow
/// appendix B exactly and every unit paid in is credited out (and can be withdrawn).
contract GriefingResistantAuditFuzzTest is GuardedFixture {
    /// @dev How the audit ends (see `_drive`).
    enum Path {
        Cancel,
        JoinExpired,
        ConsumerAbortsSubset,
        SubsetSendExpired,
        SubsetNoAck,
        SubsetNoReveal,
        SubsetCheated,
        SubsetContestRejected,
        SubsetNoContinue,
        SubsetUndelivered,
        ProviderAborts,
        DecisionExpired,
        ConsumerAbortsRest,
        RestSendExpired,
        RestNoAck,
        RestNoReveal,
        RestCheated,
        RestContestRejected,
        RestNoContinue,
        RestUndelivered,
        Proofs
    }

    uint256 internal constant PATHS = 21;

    struct Case {
        uint32 n1;
        uint32 n;
        uint64 num;
        uint64 den;
        bytes32 seed;
        bool useToken;
        Path path;
        uint32 proven;
        uint32 wrong;
        Prices prices;
    }

    function _case(
        uint256 entropy,
        uint32 n1,
        uint32 n,
        uint64 num,
        uint64 den,
        uint256 e,
        uint256 z,
        uint256 p,
        uint256 fee
    ) internal pure returns (Case memory c) {
        c.n1 = uint32(bound(n1, 1, 12));
        c.n = uint32(bound(n, c.n1 + 1, c.n1 + 20));
        c.den = uint64(bound(den, 1, type(uint64).max));
        c.num = uint64(bound(num, 0, c.den));
        c.seed = keccak256(abi.encode(entropy, "seed"));
        c.useToken = (entropy >> 8) & 1 == 1;
        c.path = Path(entropy % PATHS);
        uint32 n2 = c.n - c.n1;
        c.proven = (entropy >> 16) & 1 == 0 ? n2 : uint32(bound(entropy >> 24, 0, n2));
        c.wrong = uint32(bound(entropy >> 64, 0, c.proven));
        // E > Z > P > 0, small enough that the stake 1000 * N1 * E and 4NE fit comfortably.
        c.prices.exampleE = bound(e, 3, 1e30);
        c.prices.proofZ = bound(z, 2, c.prices.exampleE - 1);
        c.prices.inferenceP = bound(p, 1, c.prices.proofZ - 1);
        c.prices.feeEpsilon = bound(fee, 0, 1e30);
    }

    /// @dev A fresh market with N1 = c.n1 and the case's prices for ETH and the token.
    function _deploy(Case memory c) internal returns (uint256 modelId) {
        TokenPrices[] memory list = new TokenPrices[](2);
        list[0] = TokenPrices(ETH, c.prices);
        list[1] = TokenPrices(address(usd), c.prices);
        _deployProtocols(list, c.n1);
        delete _icCache;
        modelId = c.useToken ? _registerToken(provider) : _registerEth(provider);
    }

    /// @dev Runs the audit along `c.path`; returns whether MP joined and how it ended.
    function _drive(Case memory c, uint256 id) internal returns (bool joined, GuardedOutcome outcome) {
        Path path = c.path;
        if (path == Path.Cancel) {
            vm.prank(consumer);
            guarded.cancel(id);
            return (false, GuardedOutcome.Aborted);
        }
        if (path == Path.JoinExpired) {
            vm.warp(block.timestamp + JOIN_WINDOW);
            guarded.finalize(id);
            return (false, GuardedOutcome.Aborted);
        }
        _joinG(id, c.seed);
        joined = true;
        if (path == Path.ConsumerAbortsSubset || path == Path.SubsetSendExpired) {
            _consumerDefaults(id, path == Path.ConsumerAbortsSubset);
            return (true, GuardedOutcome.ConsumerDefaulted);
        }
        uint256 t = _sendSubsetG(id, path == Path.SubsetCheated ? 0 : HONEST);
        if (path >= Path.SubsetNoAck && path <= Path.SubsetUndelivered) {
            return (true, _transferEnds(t, uint256(path) - uint256(Path.SubsetNoAck)));
        }
        _resolveG(t, TransferOutcome.Completed);
        if (path == Path.ProviderAborts) {
            vm.prank(provider);
            guarded.abort(id);
            return (true, GuardedOutcome.Aborted);
        }
        if (path == Path.DecisionExpired) {
            vm.warp(block.timestamp + GUARDED_DECISION_WINDOW);
            guarded.finalize(id);
            return (true, GuardedOutcome.Aborted);
        }
        _proceedG(id);
        if (path == Path.ConsumerAbortsRest || path == Path.RestSendExpired) {
            _consumerDefaults(id, path == Path.ConsumerAbortsRest);
            return (true, GuardedOutcome.ConsumerDefaulted);
        }
        t = _sendRestG(id, path == Path.RestCheated ? 0 : HONEST);
        if (path >= Path.RestNoAck && path <= Path.RestUndelivered) {
            return (true, _transferEnds(t, uint256(path) - uint256(Path.RestNoAck)));
        }
        _resolveG(t, TransferOutcome.Completed);
        return (true, _prove(c, id));
    }

    function _consumerDefaults(uint256 id, bool explicitAbort) internal {
        if (explicitAbort) {
            vm.prank(consumer);
            guarded.abortByConsumer(id);
        } else {
            vm.warp(block.timestamp + SEND_WINDOW);
            guarded.finalize(id);
        }
    }

    /// @dev Ends transfer `t` the k-th non-completing way (NoAck after a proof of delivery,
    /// NoReveal, Cheated, Rejected, NoContinue, NoAck without a proof of delivery) and returns
    /// the audit outcome appendix B assigns to it.
    function _transferEnds(uint256 t, uint256 k) internal returns (GuardedOutcome) {
        TransferOutcome[6] memory ends = [
            TransferOutcome.ReceiverNoAck,
            TransferOutcome.SenderNoReveal,
            TransferOutcome.SenderCheated,
            TransferOutcome.ContestRejected,
            TransferOutcome.ReceiverNoContinue,
            TransferOutcome.SenderUndelivered
        ];
        _resolveG(t, ends[k]);
        // MC at fault: no reveal, data that is not its commitment, or no proof of delivery; else MP.
        return k == 1 || k == 2 || k == 5 ? GuardedOutcome.ConsumerDefaulted : GuardedOutcome.Failed;
    }

    /// @dev Proves `c.proven` of the N2 examples (the first `c.wrong` mispredicted) in two
    /// batches and finalizes (after the deadline when some are missing).
    function _prove(Case memory c, uint256 id) internal returns (GuardedOutcome) {
        uint32[] memory rest = _restIndices(id);
        uint32 half = c.proven / 2;
        if (half > 0) _submitBatch(id, _slice(rest, 0, half), c.wrong < half ? c.wrong : half);
        if (c.proven > half) {
            _submitBatch(id, _slice(rest, half, c.proven), c.wrong > half ? c.wrong - half : 0);
        }
        uint32 n2 = c.n - c.n1;
        GuardedAudit memory a = guarded.audit(id);
        assertEq(uint256(a.submitted), c.proven, "submitted");
        assertEq(uint256(a.correct), c.proven - c.wrong, "correct");
        if (c.proven < n2) {
            _assertState(id, GuardedState.Proving);
            vm.warp(a.deadline);
        }
        _assertState(id, GuardedState.Finalizable);
        guarded.finalize(id);
        bool passed = c.proven == n2 && uint256(c.proven - c.wrong) * c.den >= uint256(c.num) * n2;
        return passed ? GuardedOutcome.Passed : GuardedOutcome.Failed;
    }

    function _submitBatch(uint256 id, uint32[] memory indices, uint256 wrong) internal {
        AuditProof[] memory list = _proofsG(id, indices, wrong);
        vm.prank(stranger);
        guarded.submitProofs(id, list);
    }

    /// @dev The audit run along `c.path`, with every credit checked against appendix B.
    function _run(Case memory c) internal {
        uint256 modelId = _deploy(c);
        address token = c.useToken ? address(usd) : ETH;
        uint256 escrow = 2 * uint256(c.n) * c.prices.exampleE + c.prices.feeEpsilon;
        uint256 id = _openG(modelId, c.n, c.num, c.den);
        assertEq(guarded.totalOwed(token), escrow, "opening escrow");
        (bool joined, GuardedOutcome outcome) = _drive(c, id);

        uint256 paidIn = joined ? 2 * escrow : escrow;
        uint256 twoNE = 2 * uint256(c.n) * c.prices.exampleE;
        (uint256 consumerPayout, uint256 providerPayout) = (escrow, 0);
        if (joined) (consumerPayout, providerPayout) = _payouts(c, outcome, twoNE);
        uint256 fees = joined ? 2 * c.prices.feeEpsilon : 0;
        assertEq(guarded.creditOf(consumer, token), consumerPayout, "consumer");
        assertEq(guarded.creditOf(provider, token), providerPayout, "provider");
        assertEq(guarded.creditOf(feeRecipient, token), fees, "fees");
        assertEq(consumerPayout + providerPayout + fees, paidIn, "conservation");
        assertEq(guarded.totalOwed(token), paidIn, "owed");
        assertEq(_balance(token), paidIn, "balance");
        _assertState(id, joined ? GuardedState.Settled : GuardedState.Cancelled);
        _assertRecord(modelId, joined, outcome);
        _withdrawAll(token);
        assertEq(_balance(token), 0, "emptied");
        assertEq(guarded.totalOwed(token), 0, "nothing owed");
    }

    /// @dev Appendix B's payouts of a joined audit (each party holds 2NE after the fees).
    function _payouts(Case memory c, GuardedOutcome outcome, uint256 twoNE)
        internal
        pure
        returns (uint256 consumerPayout, uint256 providerPayout)
    {
        Prices memory p = c.prices;
        if (outcome == GuardedOutcome.ConsumerDefaulted) return (0, 2 * twoNE);
        if (outcome == GuardedOutcome.Failed) return (2 * twoNE, 0);
        uint256 fee = outcome == GuardedOutcome.Aborted
            ? uint256(c.n1) * p.inferenceP
            : 2 * (uint256(c.n1) * p.inferenceP + uint256(c.n - c.n1) * p.proofZ);
        return (twoNE - fee, twoNE + fee);
    }

    function _assertRecord(uint256 modelId, bool joined, GuardedOutcome outcome) internal view {
        ModelRecord memory r = registry.record(modelId);
        assertEq(uint256(r.auditsPassed), joined && outcome == GuardedOutcome.Passed ? 1 : 0, "passed");
        assertEq(uint256(r.auditsFailed), joined && outcome == GuardedOutcome.Failed ? 1 : 0, "failed");
        assertEq(uint256(r.auditsAborted), joined && outcome == GuardedOutcome.Aborted ? 1 : 0, "aborted");
        assertEq(uint256(registry.model(modelId).openJobs), 0, "unlocked");
        assertEq(registry.locksHeld(modelId, address(guarded)), 0, "no lock");
    }

    function _balance(address token) internal view returns (uint256) {
        return token == ETH ? address(guarded).balance : usd.balanceOf(address(guarded));
    }

    function _withdrawAll(address token) internal {
        address[3] memory who = [consumer, provider, feeRecipient];
        for (uint256 k = 0; k < 3; ++k) {
            if (guarded.creditOf(who[k], token) == 0) continue;
            vm.prank(who[k]);
            guarded.withdraw(token);
        }
    }

    // ---------------------------------------------------------------- tests

    function testFuzz_audit_payoutsFollowAppendixB_succeeds(
        uint256 entropy,
        uint32 n1,
        uint32 n,
        uint64 num,
        uint64 den,
        uint256 e,
        uint256 z,
        uint256 p,
        uint256 fee
    ) public {
        _run(_case(entropy, n1, n, num, den, e, z, p, fee));
    }

    /// @notice Every path once, with fixed parameters (so no path depends on the fuzzer's luck).
    function test_audit_everyPath_succeeds() public {
        for (uint256 k = 0; k < PATHS; ++k) {
            // entropy % PATHS = k; even bits 16.. -> every N2 example proven.
            Case memory c = _case(k + PATHS * (k % 2) * 256, 3, 9, 1, 2, 1e15, 1e14, 1e13, 1e12);
            assertEq(uint256(c.path), k);
            _run(c);
        }
    }

    function testFuzz_subsetOf_matchesReference_succeeds(bytes32 seed, uint32 n, uint32 n1) public view {
        n = uint32(bound(n, 1, 200));
        n1 = uint32(bound(n1, 0, n));
        uint32[] memory sub = guarded.subsetOf(seed, n, n1);
        uint32[] memory ref = GuardedData.subset(seed, n, n1);
        assertEq(sub.length, n1, "length");
        bool[] memory seen = new bool[](n);
        for (uint256 k = 0; k < n1; ++k) {
            assertEq(uint256(sub[k]), uint256(ref[k]), "reference");
            assertTrue(sub[k] < n, "in range");
            assertFalse(seen[sub[k]], "distinct");
            seen[sub[k]] = true;
        }
        // Deterministic.
        assertEq(keccak256(abi.encode(guarded.subsetOf(seed, n, n1))), keccak256(abi.encode(sub)));
    }

    function testFuzz_isTransferItem_partitionsTestSet_succeeds(uint256 entropy, uint32 n1, uint32 n) public {
        Case memory c = _case(entropy, n1, n, 0, 1, 1e15, 1e14, 1e13, 1e12);
        uint256 modelId = _deploy(c);
        uint256 id = _openG(modelId, c.n, 0, 1);
        _joinG(id, c.seed);
        uint256 sub = _sendSubsetG(id, HONEST);
        _resolveG(sub, TransferOutcome.Completed);
        _proceedG(id);
        uint256 rest = _sendRestG(id, HONEST);
        uint256 inSub = 0;
        for (uint32 i = 0; i < c.n; ++i) {
            bool a = guarded.isTransferItem(sub, i);
            bool b = guarded.isTransferItem(rest, i);
            assertTrue(a != b, "exactly one transfer carries each example");
            assertEq(a, guarded.inSubset(id, i));
            if (a) ++inSub;
        }
        assertEq(inSub, c.n1);
        assertFalse(guarded.isTransferItem(sub, c.n));
        assertFalse(guarded.isTransferItem(rest, c.n));
        // The N2 examples' transfer ends and every one of them can be proven.
        _resolveG(rest, TransferOutcome.Completed);
        _submitBatch(id, _restIndices(id), 0);
        guarded.finalize(id);
        assertEq(uint256(registry.record(modelId).auditsPassed), 1);
    }
}
