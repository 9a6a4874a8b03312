// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {AuditFixture} from "./utils/AuditFixture.sol";

import {AccuracyAudit} from "../src/AccuracyAudit.sol";
import {ModelRegistry} from "../src/ModelRegistry.sol";
import {Audit, AuditState} from "../src/interfaces/IAccuracyAudit.sol";
import {IModelRegistry} from "../src/interfaces/IModelRegistry.sol";
import {ModelRecord, Prices, TokenPrices} from "../src/lib/Types.sol";

/// @notice Fuzzed audits over N, the token's prices, the target and MP's accuracy: payouts
/// follow paper 5.2 exactly and every wei escrowed is paid out.
contract AccuracyAuditFuzzTest is AuditFixture {
    struct Case {
        uint32 n;
        uint64 num;
        uint64 den;
        uint32 wrong;
        uint32 proven;
        uint256 e;
        uint256 z;
        uint256 p;
        uint256 fee;
    }

    function _deploy(Case memory c) internal returns (uint256 modelId) {
        TokenPrices[] memory list = new TokenPrices[](1);
        list[0] = TokenPrices(ETH, Prices(c.e, c.z, c.p, c.fee));
        registry = new ModelRegistry(list, N1, feeRecipient, UNBONDING_DELAY);
        audits = new AccuracyAudit(IModelRegistry(address(registry)), _auditConfig());
        address[] memory protocols = new address[](1);
        protocols[0] = address(audits);
        registry.setProtocols(protocols);
        modelId = _registerEth(provider);
    }

    function _case(uint256 seed, uint32 n, uint64 num, uint64 den, uint256 e, uint256 z, uint256 p, uint256 fee)
        internal
        pure
        returns (Case memory c)
    {
        c.n = uint32(bound(n, 1, 48));
        c.den = uint64(bound(den, 1, type(uint64).max));
        c.num = uint64(bound(num, 0, c.den));
        c.wrong = uint32(bound(seed, 0, c.n));
        c.proven = uint32(bound(seed >> 32, 0, c.n));
        if ((seed >> 64) % 2 == 0) c.proven = c.n; // half the runs prove everything
        // E > Z > P > 0, small enough that 1000 * N1 * E and 4 * N * E fit comfortably.
        c.e = bound(e, 3, 1e30);
        c.z = bound(z, 2, c.e - 1);
        c.p = bound(p, 1, c.z - 1);
        c.fee = bound(fee, 0, 1e30);
    }

    function testFuzz_audit_payoutsFollowPaper_succeeds(
        uint256 seed,
        uint32 n,
        uint64 num,
        uint64 den,
        uint256 e,
        uint256 z,
        uint256 p,
        uint256 fee
    ) public {
        Case memory c = _case(seed, n, num, den, e, z, p, fee);
        uint256 modelId = _deploy(c);
        uint256 id = _openAudit(modelId, c.n, c.num, c.den);
        uint256 escrow = 2 * uint256(c.n) * c.e + c.fee;
        assertEq(address(audits).balance, escrow);
        _joinAudit(id);
        _proceed(id);
        if (c.proven > 0) {
            // Two batches, as MP would send them across transactions.
            uint32 half = c.proven / 2;
            uint32 wrongFirst = c.wrong < half ? c.wrong : half;
            if (half > 0) _submit(id, 0, half, wrongFirst);
            _submit(id, half, c.proven, c.wrong - wrongFirst < c.proven - half ? c.wrong - wrongFirst : c.proven - half);
        }
        Audit memory a = audits.audit(id);
        assertEq(uint256(a.submitted), c.proven);
        if (c.proven < c.n) vm.warp(a.proofDeadline);
        assertEq(uint256(audits.state(id)), uint256(AuditState.Finalizable));
        audits.finalize(id);

        uint256 twoNE = 2 * uint256(c.n) * c.e;
        bool passed = c.proven == c.n && uint256(a.correct) * c.den >= uint256(c.num) * c.n;
        uint256 consumerPayout = passed ? twoNE - 2 * uint256(c.n) * c.z : 2 * twoNE;
        uint256 providerPayout = passed ? twoNE + 2 * uint256(c.n) * c.z : 0;
        assertEq(audits.creditOf(consumer, ETH), consumerPayout, "consumer");
        assertEq(audits.creditOf(provider, ETH), providerPayout, "provider");
        assertEq(audits.creditOf(feeRecipient, ETH), 2 * c.fee, "fee");
        assertEq(consumerPayout + providerPayout + 2 * c.fee, 2 * escrow, "conservation");
        assertEq(address(audits).balance, audits.totalOwed(ETH));
        ModelRecord memory r = registry.record(modelId);
        assertEq(uint256(r.auditsPassed), passed ? 1 : 0);
        assertEq(uint256(r.auditsFailed), passed ? 0 : 1);
        assertEq(uint256(registry.model(modelId).openJobs), 0);
    }

    function testFuzz_abort_consumerLosesNP_succeeds(uint32 n, uint256 e, uint256 z, uint256 p, uint256 fee) public {
        Case memory c = _case(0, n, 0, 1, e, z, p, fee);
        uint256 modelId = _deploy(c);
        uint256 id = _openAudit(modelId, c.n, 0, 1);
        _joinAudit(id);
        vm.prank(provider);
        audits.abort(id);
        uint256 twoNE = 2 * uint256(c.n) * c.e;
        uint256 np = uint256(c.n) * c.p;
        assertEq(audits.creditOf(consumer, ETH), twoNE - np);
        assertEq(audits.creditOf(provider, ETH), twoNE + np);
        assertEq(audits.creditOf(feeRecipient, ETH), 2 * c.fee);
        assertEq(address(audits).balance, audits.totalOwed(ETH));
        assertEq(uint256(registry.record(modelId).auditsAborted), 1);
    }

    function testFuzz_targetMet_matchesRational_succeeds(uint32 correct, uint32 n, uint64 num, uint64 den) public view {
        n = uint32(bound(n, 1, type(uint32).max));
        correct = uint32(bound(correct, 0, n));
        den = uint64(bound(den, 1, type(uint64).max));
        num = uint64(bound(num, 0, den));
        // correct/n >= num/den, compared by cross-multiplication in 256 bits (no overflow, no rounding).
        bool expected = uint256(correct) * den >= uint256(num) * n;
        assertEq(audits.targetMet(correct, n, num, den), expected);
        if (correct == n) assertTrue(audits.targetMet(correct, n, num, den));
        if (num == 0) assertTrue(audits.targetMet(correct, n, num, den));
    }
}
