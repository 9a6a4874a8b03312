// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {BitMaps} from "@openzeppelin/contracts/utils/structs/BitMaps.sol";

import {EscrowBase} from "./EscrowBase.sol";
import {
    Audit,
    AuditConfig,
    AuditExample,
    AuditOutcome,
    AuditProof,
    AuditState,
    AuditStatus,
    IAccuracyAudit
} from "./interfaces/IAccuracyAudit.sol";
import {IModelRegistry} from "./interfaces/IModelRegistry.sol";
import {InferenceProofs} from "./lib/InferenceProofs.sol";
import {TestSetProofs} from "./lib/TestSetProofs.sol";
import {AggregatedProof, AggregationTerms, Outcome, Prices} from "./lib/Types.sol";

/// @title AccuracyAudit
/// @notice Verifying a model's accuracy on MC's committed test set (paper 5.2, the simple
/// protocol); see IAccuracyAudit for the flow, the leaf encoding and the payouts.
/// @dev Money: an audit holds 2NE + eps (MC) until MP joins, then 4NE (both fees are credited to
/// the fee recipient at join) until it is cancelled or settled, when the held amount is credited
/// out in full; the contract's balance per token equals the open escrows plus the credits
/// (invariant-tested).
contract AccuracyAudit is IAccuracyAudit, EscrowBase {
    using BitMaps for BitMaps.BitMap;

    /// @notice Upper bound of every configured window (and of maxN * proofTimePerExample), so
    /// deadlines can never overflow and lock an audit.
    uint256 public constant MAX_WINDOW = 3650 days;

    /// @notice The marketplace registry (models, prices, stakes, records).
    IModelRegistry public immutable registry;
    /// @notice Largest test set N.
    uint32 public immutable maxN;
    /// @notice Extra proving seconds per example.
    uint32 public immutable proofTimePerExample;
    /// @notice Seconds MP has to join an opened audit.
    uint64 public immutable joinWindow;
    /// @notice Seconds after joining for MP to proceed or abort.
    uint64 public immutable decisionWindow;
    /// @notice Base seconds after proceeding for the proofs.
    uint64 public immutable proofWindow;

    /// @inheritdoc IAccuracyAudit
    uint256 public auditCount;

    mapping(uint256 auditId => Audit) private _audits;
    mapping(uint256 auditId => BitMaps.BitMap) private _proven;

    constructor(IModelRegistry registry_, AuditConfig memory config) {
        if (address(registry_).code.length == 0) revert RegistryNotContract(address(registry_));
        if (config.maxN == 0 || config.joinWindow == 0 || config.decisionWindow == 0 || config.proofWindow == 0) {
            revert ZeroConfigValue();
        }
        _requireWindow(config.joinWindow);
        _requireWindow(config.decisionWindow);
        _requireWindow(config.proofWindow);
        _requireWindow(uint256(config.maxN) * config.proofTimePerExample);
        registry = registry_;
        maxN = config.maxN;
        proofTimePerExample = config.proofTimePerExample;
        joinWindow = config.joinWindow;
        decisionWindow = config.decisionWindow;
        proofWindow = config.proofWindow;
    }

    // ---------------------------------------------------------------- actions

    /// @inheritdoc IAccuracyAudit
    function openAudit(uint256 modelId, uint32 n, uint64 targetNum, uint64 targetDen, bytes32 testSetRoot)
        external
        payable
        nonReentrant
        returns (uint256 auditId)
    {
        // Only the named fields of the job terms are needed here.
        // slither-disable-next-line unused-return
        (address provider, address token,,,) = registry.jobTerms(modelId);
        if (!registry.isAvailable(modelId)) revert ModelUnavailable(modelId);
        if (n == 0 || n > maxN) revert TestSetSizeOutOfRange(n, maxN);
        if (targetDen == 0 || targetNum > targetDen) revert InvalidTarget(targetNum, targetDen);
        if (testSetRoot == bytes32(0)) revert ZeroRoot();
        Prices memory p = registry.prices(token);
        uint256 escrow = _escrow(n, p.exampleE, p.feeEpsilon);
        _collect(token, msg.sender, escrow);

        auditId = ++auditCount;
        Audit storage a = _audits[auditId];
        a.consumer = msg.sender;
        a.n = n;
        a.provider = provider;
        a.status = AuditStatus.Opened;
        uint64 joinDeadline = uint64(block.timestamp) + joinWindow;
        a.joinDeadline = joinDeadline;
        a.token = token;
        a.targetNum = targetNum;
        a.targetDen = targetDen;
        a.openedAt = uint64(block.timestamp);
        a.modelId = modelId;
        a.testSetRoot = testSetRoot;
        a.prices = p;
        emit AuditOpened(
            auditId, modelId, msg.sender, token, n, targetNum, targetDen, testSetRoot, escrow, joinDeadline
        );
    }

    /// @inheritdoc IAccuracyAudit
    function cancel(uint256 auditId) external nonReentrant {
        Audit storage a = _audits[auditId];
        _requireState(auditId, AuditState.Open);
        if (msg.sender != a.consumer) revert NotAuditConsumer(auditId, msg.sender, a.consumer);
        _cancel(auditId, a);
    }

    /// @inheritdoc IAccuracyAudit
    function join(uint256 auditId) external payable nonReentrant {
        Audit storage a = _audits[auditId];
        _requireState(auditId, AuditState.Open);
        if (msg.sender != a.provider) revert NotAuditProvider(auditId, msg.sender, a.provider);
        uint256 escrow = _escrow(a.n, a.prices.exampleE, a.prices.feeEpsilon);
        _collect(a.token, msg.sender, escrow);
        uint64 decisionDeadline = uint64(block.timestamp) + decisionWindow;
        a.status = AuditStatus.Joined;
        a.decisionDeadline = decisionDeadline;
        emit AuditJoined(auditId, msg.sender, escrow, decisionDeadline);
        // Paper 5.2 step 2: epsilon of each escrow goes to the escrow service.
        _credit(registry.feeRecipient(), a.token, 2 * a.prices.feeEpsilon);
        // Reverts (ModelNotAvailable) if the model started unbonding or was slashed since the
        // audit opened; MC can then cancel or let the join window run out.
        registry.lock(a.modelId);
    }

    /// @inheritdoc IAccuracyAudit
    function proceed(uint256 auditId) external {
        Audit storage a = _audits[auditId];
        // INVARIANT: MP decides only before the decision deadline; afterwards its silence is a failure.
        _requireState(auditId, AuditState.Deciding);
        if (msg.sender != a.provider) revert NotAuditProvider(auditId, msg.sender, a.provider);
        uint64 proofDeadline = uint64(block.timestamp) + proofWindow + uint64(a.n) * proofTimePerExample;
        a.status = AuditStatus.Proceeding;
        a.proofDeadline = proofDeadline;
        emit AuditProceeded(auditId, proofDeadline);
    }

    /// @inheritdoc IAccuracyAudit
    function abort(uint256 auditId) external nonReentrant {
        Audit storage a = _audits[auditId];
        _requireState(auditId, AuditState.Deciding);
        if (msg.sender != a.provider) revert NotAuditProvider(auditId, msg.sender, a.provider);
        // Paper 5.2 step 3: if MP aborts, MC loses N*P (at most its 2NE since P < E).
        uint256 held = _held(a);
        uint256 fee = uint256(a.n) * a.prices.inferenceP;
        _settle(auditId, a, AuditOutcome.Aborted, held - fee, held + fee);
    }

    /// @inheritdoc IAccuracyAudit
    function submitProofs(uint256 auditId, AuditProof[] calldata proofs) external {
        Audit storage a = _audits[auditId];
        // INVARIANT: proofs only while Proving (before the proof deadline and while some are missing).
        _requireState(auditId, AuditState.Proving);
        if (proofs.length == 0) revert NoProofs(auditId);
        // Only the named fields of the job terms are needed here.
        // slither-disable-next-line unused-return
        (,, address verifier, bytes32 codehash, bytes32 weightCommitment) = registry.jobTerms(a.modelId);
        for (uint256 i = 0; i < proofs.length; ++i) {
            _submit(auditId, a, proofs[i], verifier, codehash, weightCommitment);
        }
    }

    /// @inheritdoc IAccuracyAudit
    function submitAggregatedProofs(uint256 auditId, AuditExample[] calldata examples, AggregatedProof calldata agg)
        external
    {
        Audit storage a = _audits[auditId];
        // INVARIANT: proofs only while Proving, as submitProofs.
        _requireState(auditId, AuditState.Proving);
        (AggregationTerms memory terms, bytes32 weightCommitment) =
            InferenceProofs.batchTerms(registry, a.modelId, examples.length, a.openedAt);
        bytes32[] memory inputCommitments = new bytes32[](examples.length);
        uint256[] memory classes = new uint256[](examples.length);
        uint32 submitted = a.submitted;
        uint32 correct = a.correct;
        for (uint256 i = 0; i < examples.length; ++i) {
            AuditExample calldata e = examples[i];
            _requireCommitted(auditId, a, e.index, e.inputCommitment, e.label, e.leafProof);
            // Marked proven before the next example is checked: a duplicate index in the batch
            // reverts AlreadyProven, so no example counts twice.
            (submitted, correct) = _accept(auditId, e.index, e.predictedClass, e.label, submitted, correct);
            inputCommitments[i] = e.inputCommitment;
            classes[i] = e.predictedClass;
        }
        a.submitted = submitted;
        a.correct = correct;
        // A rejected aggregated proof reverts the whole batch (it changes nothing).
        if (!InferenceProofs.verifyBatch(terms, weightCommitment, inputCommitments, classes, agg)) {
            revert BatchProofRejected(auditId);
        }
    }

    /// @inheritdoc IAccuracyAudit
    function finalize(uint256 auditId) external nonReentrant {
        Audit storage a = _audits[auditId];
        AuditState current = state(auditId);
        if (current == AuditState.JoinExpired) {
            _cancel(auditId, a);
            return;
        }
        uint256 held = _held(a);
        if (current == AuditState.DecisionExpired) {
            // MP joined but neither proceeded nor aborted: an MP failure (it loses 2NE to MC).
            _settle(auditId, a, AuditOutcome.Failed, held * 2, 0);
            return;
        }
        // INVARIANT: settlement only when all N proofs are in or the proof deadline passed;
        // anyone may trigger it, so funds never stay stuck.
        if (current != AuditState.Finalizable) revert UnexpectedAuditState(auditId, current);
        if (a.submitted == a.n && _targetMet(a.correct, a.n, a.targetNum, a.targetDen)) {
            // Paper 5.2 step 5: target met, MC pays 2NZ (at most its 2NE since Z < E).
            uint256 fee = 2 * uint256(a.n) * a.prices.proofZ;
            _settle(auditId, a, AuditOutcome.Passed, held - fee, held + fee);
        } else {
            // Paper 5.2 step 5: target missed (missing proofs count as a miss), MP loses 2NE to MC.
            _settle(auditId, a, AuditOutcome.Failed, held * 2, 0);
        }
    }

    // ---------------------------------------------------------------- views

    /// @inheritdoc IAccuracyAudit
    function state(uint256 auditId) public view returns (AuditState) {
        Audit storage a = _audits[auditId];
        AuditStatus status = a.status;
        if (status == AuditStatus.None) return AuditState.None;
        if (status == AuditStatus.Settled) return AuditState.Settled;
        if (status == AuditStatus.Cancelled) return AuditState.Cancelled;
        // Deadlines are hours to days apart; a validator's few seconds of timestamp leeway do
        // not matter (and there is no randomness drawn from block data).
        if (status == AuditStatus.Opened) {
            return block.timestamp < a.joinDeadline ? AuditState.Open : AuditState.JoinExpired;
        }
        if (status == AuditStatus.Joined) {
            return block.timestamp < a.decisionDeadline ? AuditState.Deciding : AuditState.DecisionExpired;
        }
        if (a.submitted < a.n && block.timestamp < a.proofDeadline) return AuditState.Proving;
        return AuditState.Finalizable;
    }

    /// @inheritdoc IAccuracyAudit
    function audit(uint256 auditId) external view returns (Audit memory) {
        return _audits[auditId];
    }

    /// @inheritdoc IAccuracyAudit
    function isProven(uint256 auditId, uint32 index) external view returns (bool) {
        return _proven[auditId].get(index);
    }

    /// @inheritdoc IAccuracyAudit
    function escrowFor(uint32 n, uint256 exampleE, uint256 feeEpsilon) external pure returns (uint256) {
        return _escrow(n, exampleE, feeEpsilon);
    }

    /// @inheritdoc IAccuracyAudit
    function targetMet(uint32 correct, uint32 n, uint64 targetNum, uint64 targetDen) external pure returns (bool) {
        return _targetMet(correct, n, targetNum, targetDen);
    }

    /// @inheritdoc IAccuracyAudit
    function testLeaf(uint32 index, bytes32 inputCommitment, uint256 label) public pure returns (bytes32) {
        return TestSetProofs.leaf(index, inputCommitment, label);
    }

    // ---------------------------------------------------------------- internals

    function _escrow(uint32 n, uint256 exampleE, uint256 feeEpsilon) private pure returns (uint256) {
        return 2 * uint256(n) * exampleE + feeEpsilon;
    }

    /// @dev Each party's share of what a joined audit holds: 2NE (the fees are already paid out).
    function _held(Audit storage a) private view returns (uint256) {
        return 2 * uint256(a.n) * a.prices.exampleE;
    }

    /// @dev No division: accuracy correct/n >= num/den iff correct*den >= num*n (all < 2^96).
    function _targetMet(uint32 correct, uint32 n, uint64 targetNum, uint64 targetDen) private pure returns (bool) {
        return uint256(correct) * targetDen >= uint256(targetNum) * n;
    }

    function _requireWindow(uint256 window) private pure {
        if (window > MAX_WINDOW) revert WindowTooLong(window, MAX_WINDOW);
    }

    function _requireState(uint256 auditId, AuditState expected) private view {
        AuditState current = state(auditId);
        if (current != expected) revert UnexpectedAuditState(auditId, current);
    }

    function _submit(
        uint256 auditId,
        Audit storage a,
        AuditProof calldata p,
        address verifier,
        bytes32 codehash,
        bytes32 weightCommitment
    ) private {
        uint32 index = p.index;
        _requireCommitted(auditId, a, index, p.inputCommitment, p.label, p.leafProof);
        // A rejected proof reverts (it changes nothing): MP may retry until the proof deadline,
        // after which a missing proof fails the audit.
        if (!InferenceProofs.verify(verifier, codehash, weightCommitment, p.inputCommitment, p.predictedClass, p.proof))
        {
            revert ProofRejected(auditId, index);
        }
        (a.submitted, a.correct) = _accept(auditId, index, p.predictedClass, p.label, a.submitted, a.correct);
    }

    /// @dev The per-example binding, the same for single and aggregated proofs: an index in
    /// range, not yet proven, whose (index, input commitment, label) is a leaf of MC's test set.
    function _requireCommitted(
        uint256 auditId,
        Audit storage a,
        uint32 index,
        bytes32 inputCommitment,
        uint256 label,
        bytes32[] calldata leafProof
    ) private view {
        uint32 n = a.n;
        if (index >= n) revert IndexOutOfRange(auditId, index, n);
        if (_proven[auditId].get(index)) revert AlreadyProven(auditId, index);
        if (!TestSetProofs.isCommitted(a.testSetRoot, index, inputCommitment, label, leafProof)) {
            revert ExampleNotCommitted(auditId, index, inputCommitment, label);
        }
    }

    /// @dev Marks `index` proven and counts it; returns the new totals (the caller stores them,
    /// once per batch for an aggregated one).
    function _accept(
        uint256 auditId,
        uint32 index,
        uint256 predictedClass,
        uint256 label,
        uint32 submitted,
        uint32 correct
    ) private returns (uint32, uint32) {
        _proven[auditId].set(index);
        bool isCorrect = predictedClass == label;
        ++submitted;
        if (isCorrect) ++correct;
        emit ProofAccepted(auditId, index, predictedClass, isCorrect, submitted, correct);
        return (submitted, correct);
    }

    function _cancel(uint256 auditId, Audit storage a) private {
        uint256 refund = _escrow(a.n, a.prices.exampleE, a.prices.feeEpsilon);
        a.status = AuditStatus.Cancelled;
        emit AuditCancelled(auditId, refund);
        _credit(a.consumer, a.token, refund);
    }

    function _settle(
        uint256 auditId,
        Audit storage a,
        AuditOutcome outcome,
        uint256 consumerPayout,
        uint256 providerPayout
    ) private {
        a.status = AuditStatus.Settled;
        emit AuditSettled(auditId, outcome, consumerPayout, providerPayout);
        _credit(a.consumer, a.token, consumerPayout);
        _credit(a.provider, a.token, providerPayout);
        Outcome recorded = outcome == AuditOutcome.Passed
            ? Outcome.AuditPassed
            : outcome == AuditOutcome.Aborted ? Outcome.AuditAborted : Outcome.AuditFailed;
        registry.recordOutcome(a.modelId, recorded);
        registry.unlock(a.modelId);
    }
}
