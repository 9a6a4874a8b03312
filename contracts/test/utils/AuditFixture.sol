// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {AuditData} from "./AuditData.sol";
import {Fixture} from "./Fixture.sol";

import {AccuracyAudit} from "../../src/AccuracyAudit.sol";
import {ModelRegistry} from "../../src/ModelRegistry.sol";
import {ServingRound} from "../../src/ServingRound.sol";
import {Audit, AuditConfig, AuditProof, AuditState, IAccuracyAudit} from "../../src/interfaces/IAccuracyAudit.sol";
import {IModelRegistry} from "../../src/interfaces/IModelRegistry.sol";
import {Prices} from "../../src/lib/Types.sol";

/// @notice The marketplace fixture redeployed with an AccuracyAudit among the protocols.
abstract contract AuditFixture is Fixture {
    uint32 internal constant MAX_N = 256;
    uint32 internal constant PROOF_TIME = 1 minutes;
    uint64 internal constant DECISION_WINDOW = 1 days;
    uint64 internal constant PROOF_WINDOW_BASE = 2 days;

    AccuracyAudit internal audits;

    function setUp() public virtual override {
        super.setUp();
        // The fixture's registry already fixed its protocols; deploy a fresh one with the audit.
        registry = new ModelRegistry(_prices(address(usd)), N1, feeRecipient, UNBONDING_DELAY);
        rounds = new ServingRound(IModelRegistry(address(registry)), _config());
        audits = new AccuracyAudit(IModelRegistry(address(registry)), _auditConfig());
        address[] memory protocols = new address[](2);
        protocols[0] = address(rounds);
        protocols[1] = address(audits);
        registry.setProtocols(protocols);
    }

    function _auditConfig() internal pure returns (AuditConfig memory) {
        return AuditConfig({
            maxN: MAX_N,
            proofTimePerExample: PROOF_TIME,
            joinWindow: JOIN_WINDOW,
            decisionWindow: DECISION_WINDOW,
            proofWindow: PROOF_WINDOW_BASE
        });
    }

    /// @dev 2*N*E + eps.
    function _escrow(uint32 n) internal pure returns (uint256) {
        return 2 * uint256(n) * E + FEE;
    }

    function _fund(address who, address token, uint256 amount) internal returns (uint256 value) {
        if (token == ETH) {
            vm.deal(who, who.balance + amount);
            return amount;
        }
        usd.mint(who, amount);
        vm.prank(who);
        usd.approve(address(audits), amount);
        return 0;
    }

    function _openAudit(uint256 modelId, uint32 n, uint64 num, uint64 den) internal returns (uint256 id) {
        (, address token,,,) = registry.jobTerms(modelId);
        Prices memory prices = registry.prices(token);
        uint256 value = _fund(consumer, token, audits.escrowFor(n, prices.exampleE, prices.feeEpsilon));
        bytes32 root = AuditData.root(n);
        vm.prank(consumer);
        id = audits.openAudit{value: value}(modelId, n, num, den, root);
    }

    function _joinAudit(uint256 id) internal {
        Audit memory a = audits.audit(id);
        uint256 value = _fund(a.provider, a.token, audits.escrowFor(a.n, a.prices.exampleE, a.prices.feeEpsilon));
        vm.prank(a.provider);
        audits.join{value: value}(id);
    }

    function _proceed(uint256 id) internal {
        vm.prank(audits.audit(id).provider);
        audits.proceed(id);
    }

    function _submit(uint256 id, uint32 from, uint32 to, uint32 wrong) internal {
        AuditProof[] memory list = AuditData.batch(audits.audit(id).n, from, to, wrong);
        vm.prank(provider);
        audits.submitProofs(id, list);
    }

    function _expectAuditState(uint256 id, AuditState current) internal {
        vm.expectRevert(abi.encodeWithSelector(IAccuracyAudit.UnexpectedAuditState.selector, id, current));
    }
}
