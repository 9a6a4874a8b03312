// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {BitMaps} from "@openzeppelin/contracts/utils/structs/BitMaps.sol";

import {DataTransferService} from "./DataTransferService.sol";
import {EscrowBase} from "./EscrowBase.sol";
import {AuditExample, AuditProof} from "./interfaces/IAccuracyAudit.sol";
import {TransferOutcome, isSenderFault} from "./interfaces/IDataTransfer.sol";
import {
    GuardedAudit,
    GuardedConfig,
    GuardedOutcome,
    GuardedState,
    GuardedStatus,
    IGriefingResistantAudit
} from "./interfaces/IGriefingResistantAudit.sol";
import {IModelRegistry} from "./interfaces/IModelRegistry.sol";
import {ITransferClient} from "./interfaces/ITransferClient.sol";
import {InferenceProofs} from "./lib/InferenceProofs.sol";
import {TestSetProofs} from "./lib/TestSetProofs.sol";
import {AggregatedProof, AggregationTerms, Outcome, Prices} from "./lib/Types.sol";

/// @title GriefingResistantAudit
/// @notice The accuracy audit of paper appendix B (stages 1-7, random N1 subset chosen by MP,
/// data moved through the DataTransferService); see IGriefingResistantAudit for the flow.
/// @dev Money: an audit holds 2NE + eps (MC) until MP joins, then 4NE (both fees are credited to
/// the fee recipient at join) until it is cancelled or settled, when the held amount is credited
/// out in full to MC and MP.
/// INVARIANT: per token, totalOwed = what the open audits hold + the credits, and the contract's
/// balance equals it (invariant-tested; only ETH forced in or tokens sent directly add more).
/// INVARIANT: money leaves an audit only as credits to its MC, its MP and (at the join) the fee
/// recipient, and only the credited account withdraws a credit (EscrowBase).
contract GriefingResistantAudit is IGriefingResistantAudit, EscrowBase {
    using BitMaps for BitMaps.BitMap;

    /// @notice Upper bound of every configured window (and of maxN * proofTimePerExample).
    uint256 public constant MAX_WINDOW = 3650 days;

    /// @notice The marketplace registry (models, prices, N1, stakes, records).
    IModelRegistry public immutable registry;
    /// @notice The data-transfer sub-protocol that moves the test examples.
    DataTransferService public immutable transfers;
    /// @notice Largest test set N.
    uint32 public immutable maxN;
    /// @notice Extra proving seconds per N2 example.
    uint32 public immutable proofTimePerExample;
    /// @notice Seconds MP has to join an opened audit.
    uint64 public immutable joinWindow;
    /// @notice Seconds MC has to open each data transfer.
    uint64 public immutable sendWindow;
    /// @notice Seconds MP has to proceed or abort after accepting the subset.
    uint64 public immutable decisionWindow;
    /// @notice Base seconds for the N2 proofs after accepting them.
    uint64 public immutable proofWindow;

    /// @inheritdoc IGriefingResistantAudit
    uint256 public auditCount;

    mapping(uint256 auditId => GuardedAudit) private _audits;
    mapping(uint256 auditId => BitMaps.BitMap) private _subset;
    mapping(uint256 auditId => BitMaps.BitMap) private _proven;
    mapping(uint256 transferId => uint256 auditId) private _auditOfTransfer;

    constructor(IModelRegistry registry_, DataTransferService transfers_, GuardedConfig memory config) {
        if (address(registry_).code.length == 0) revert NotContract(address(registry_));
        if (address(transfers_).code.length == 0) revert NotContract(address(transfers_));
        if (
            config.maxN == 0 || config.joinWindow == 0 || config.sendWindow == 0 || config.decisionWindow == 0
                || config.proofWindow == 0
        ) revert ZeroConfigValue();
        _requireWindow(config.joinWindow);
        _requireWindow(config.sendWindow);
        _requireWindow(config.decisionWindow);
        _requireWindow(config.proofWindow);
        _requireWindow(uint256(config.maxN) * config.proofTimePerExample);
        registry = registry_;
        transfers = transfers_;
        maxN = config.maxN;
        proofTimePerExample = config.proofTimePerExample;
        joinWindow = config.joinWindow;
        sendWindow = config.sendWindow;
        decisionWindow = config.decisionWindow;
        proofWindow = config.proofWindow;
    }

    // ---------------------------------------------------------------- actions

    /// @inheritdoc IGriefingResistantAudit
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
        // The registry bounds N1 far below 2^32 in practice; a larger one makes every N invalid.
        uint256 n1Wide = registry.n1();
        // casting to 'uint32' is safe because the value is capped at type(uint32).max first
        // forge-lint: disable-next-line(unsafe-typecast)
        uint32 n1 = n1Wide > type(uint32).max ? type(uint32).max : uint32(n1Wide);
        if (n <= n1 || n > maxN) revert TestSetSizeOutOfRange(n, n1, maxN);
        if (targetDen == 0 || targetNum > targetDen) revert InvalidTarget(targetNum, targetDen);
        if (testSetRoot == bytes32(0)) revert ZeroRoot();
        Prices memory p = registry.prices(token);
        uint256 escrow = _escrow(n, p.exampleE, p.feeEpsilon);
        // INVARIANT: an Opened audit holds exactly this 2NE + eps; every later amount comes from
        // the stored n and prices, so refunds and payouts match what was collected.
        _collect(token, msg.sender, escrow);

        auditId = ++auditCount;
        GuardedAudit storage a = _audits[auditId];
        uint64 joinDeadline = uint64(block.timestamp) + joinWindow;
        a.consumer = msg.sender;
        a.n = n;
        a.n1 = n1;
        a.provider = provider;
        a.status = GuardedStatus.Opened;
        a.deadline = joinDeadline;
        a.token = token;
        a.openedAt = uint64(block.timestamp);
        a.targetNum = targetNum;
        a.targetDen = targetDen;
        a.modelId = modelId;
        a.testSetRoot = testSetRoot;
        a.prices = p;
        _emitOpened(auditId, a, escrow);
    }

    /// @inheritdoc IGriefingResistantAudit
    function cancel(uint256 auditId) external nonReentrant {
        GuardedAudit storage a = _audits[auditId];
        // INVARIANT: MC cancels only while Open (after the join deadline anyone may, by finalize):
        // MP has escrowed nothing and the model is not locked yet.
        _requireState(auditId, GuardedState.Open);
        if (msg.sender != a.consumer) revert NotAuditConsumer(auditId, msg.sender, a.consumer);
        _cancel(auditId, a);
    }

    /// @inheritdoc IGriefingResistantAudit
    function join(uint256 auditId, bytes32 seed) external payable nonReentrant {
        GuardedAudit storage a = _audits[auditId];
        _requireState(auditId, GuardedState.Open);
        if (msg.sender != a.provider) revert NotAuditProvider(auditId, msg.sender, a.provider);
        // INVARIANT: from here until it settles the audit holds 4NE: both escrows less the two
        // fees credited below.
        uint256 escrow = _escrow(a.n, a.prices.exampleE, a.prices.feeEpsilon);
        _collect(a.token, msg.sender, escrow);
        // Stage 3: MP selects the subset; MC committed the test set before seeing the seed.
        uint32[] memory subset = subsetOf(seed, a.n, a.n1);
        BitMaps.BitMap storage members = _subset[auditId];
        for (uint256 i = 0; i < subset.length; ++i) {
            members.set(subset[i]);
        }
        uint64 sendDeadline = uint64(block.timestamp) + sendWindow;
        a.seed = seed;
        a.status = GuardedStatus.AwaitingSubset;
        a.deadline = sendDeadline;
        emit AuditJoined(auditId, msg.sender, seed, escrow, sendDeadline);
        // Stage 2: epsilon of each escrow goes to the escrow service.
        _credit(registry.feeRecipient(), a.token, 2 * a.prices.feeEpsilon);
        // INVARIANT: the model is locked only here and unlocked only in _settle: one lock per
        // joined audit until it settles.
        // Reverts if the model started unbonding or was slashed since the audit opened.
        registry.lock(a.modelId);
    }

    /// @inheritdoc IGriefingResistantAudit
    function sendSubset(uint256 auditId, bytes32 ciphertextRoot, bytes32 keyCommitment)
        external
        returns (uint256 transferId)
    {
        GuardedAudit storage a = _audits[auditId];
        // INVARIANT: one subset transfer per audit, opened by MC before the send deadline.
        _requireState(auditId, GuardedState.AwaitingSubset);
        // The only external call is to the immutable DataTransferService, whose openTransfer
        // calls nothing back; the status is written from the id it returns.
        // slither-disable-next-line reentrancy-no-eth
        transferId = _openTransfer(auditId, a, ciphertextRoot, keyCommitment, a.n1);
        a.subsetTransfer = transferId;
        a.status = GuardedStatus.SendingSubset;
        emit SubsetSent(auditId, transferId);
    }

    /// @inheritdoc IGriefingResistantAudit
    function proceed(uint256 auditId) external {
        GuardedAudit storage a = _audits[auditId];
        // INVARIANT: MP decides only before the decision deadline; afterwards its silence counts
        // as an abort (finalize).
        _requireState(auditId, GuardedState.Deciding);
        if (msg.sender != a.provider) revert NotAuditProvider(auditId, msg.sender, a.provider);
        uint64 sendDeadline = uint64(block.timestamp) + sendWindow;
        a.status = GuardedStatus.AwaitingRest;
        a.deadline = sendDeadline;
        emit AuditProceeded(auditId, sendDeadline);
    }

    /// @inheritdoc IGriefingResistantAudit
    function abort(uint256 auditId) external nonReentrant {
        GuardedAudit storage a = _audits[auditId];
        _requireState(auditId, GuardedState.Deciding);
        if (msg.sender != a.provider) revert NotAuditProvider(auditId, msg.sender, a.provider);
        _settleAborted(auditId, a);
    }

    /// @inheritdoc IGriefingResistantAudit
    function sendRest(uint256 auditId, bytes32 ciphertextRoot, bytes32 keyCommitment)
        external
        returns (uint256 transferId)
    {
        GuardedAudit storage a = _audits[auditId];
        // INVARIANT: one rest transfer per audit, opened by MC before the send deadline.
        _requireState(auditId, GuardedState.AwaitingRest);
        // The only external call is to the immutable DataTransferService, whose openTransfer
        // calls nothing back; the status is written from the id it returns.
        // slither-disable-next-line reentrancy-no-eth
        transferId = _openTransfer(auditId, a, ciphertextRoot, keyCommitment, a.n - a.n1);
        a.restTransfer = transferId;
        a.status = GuardedStatus.SendingRest;
        emit RestSent(auditId, transferId);
    }

    /// @inheritdoc IGriefingResistantAudit
    function abortByConsumer(uint256 auditId) external nonReentrant {
        GuardedAudit storage a = _audits[auditId];
        GuardedState current = state(auditId);
        if (current != GuardedState.AwaitingSubset && current != GuardedState.AwaitingRest) {
            revert UnexpectedAuditState(auditId, current);
        }
        if (msg.sender != a.consumer) revert NotAuditConsumer(auditId, msg.sender, a.consumer);
        _settleFault(auditId, a, GuardedOutcome.ConsumerDefaulted);
    }

    /// @inheritdoc IGriefingResistantAudit
    function submitProofs(uint256 auditId, AuditProof[] calldata proofs) external {
        GuardedAudit storage a = _audits[auditId];
        // INVARIANT: proofs only while Proving (before the proof deadline and while some are missing).
        _requireState(auditId, GuardedState.Proving);
        if (proofs.length == 0) revert NoProofs(auditId);
        // Only the named fields of the job terms are needed here.
        // slither-disable-next-line unused-return
        (,, address verifier, bytes32 codehash, bytes32 weightCommitment) = registry.jobTerms(a.modelId);
        for (uint256 i = 0; i < proofs.length; ++i) {
            _submit(auditId, a, proofs[i], verifier, codehash, weightCommitment);
        }
    }

    /// @inheritdoc IGriefingResistantAudit
    function submitAggregatedProofs(uint256 auditId, AuditExample[] calldata examples, AggregatedProof calldata agg)
        external
    {
        GuardedAudit storage a = _audits[auditId];
        // INVARIANT: proofs only while Proving, as submitProofs.
        _requireState(auditId, GuardedState.Proving);
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

    /// @inheritdoc IGriefingResistantAudit
    function finalize(uint256 auditId) external nonReentrant {
        GuardedAudit storage a = _audits[auditId];
        GuardedState current = state(auditId);
        if (current == GuardedState.JoinExpired) {
            _cancel(auditId, a);
        } else if (current == GuardedState.SubsetExpired || current == GuardedState.RestExpired) {
            // Appendix B: MC not responding in a stage where it must send data is slashed.
            _settleFault(auditId, a, GuardedOutcome.ConsumerDefaulted);
        } else if (current == GuardedState.DecisionExpired) {
            // Silence at stage 4 counts as the abort MP could have made (MC loses N1*P).
            _settleAborted(auditId, a);
        } else if (current == GuardedState.Finalizable) {
            // INVARIANT: settlement on the proofs only when all N2 are in or the proof deadline
            // passed; anyone may finalize (and expire a transfer), so funds never stay stuck.
            uint32 n2 = a.n - a.n1;
            if (a.submitted == n2 && uint256(a.correct) * a.targetDen >= uint256(a.targetNum) * n2) {
                // Stage 7: target met, MC pays 2(N1*P + N2*Z) (at most its 2NE since P, Z < E).
                uint256 fee = 2 * (uint256(a.n1) * a.prices.inferenceP + uint256(n2) * a.prices.proofZ);
                uint256 held = _held(a);
                _settle(auditId, a, GuardedOutcome.Passed, held - fee, held + fee);
            } else {
                // Stage 7: target missed (missing proofs count as a miss): MP loses 2NE to MC.
                _settleFault(auditId, a, GuardedOutcome.Failed);
            }
        } else {
            revert UnexpectedAuditState(auditId, current);
        }
    }

    // ---------------------------------------------------------------- transfer client

    /// @inheritdoc ITransferClient
    /// @dev Completed moves the audit on; every other outcome settles it against the party at
    /// fault (sender = MC, receiver = MP).
    function onTransferResolved(uint256 transferId, TransferOutcome outcome) external nonReentrant {
        if (msg.sender != address(transfers)) revert NotTransferService(msg.sender);
        uint256 auditId = _auditOfTransfer[transferId];
        GuardedAudit storage a = _audits[auditId];
        bool isSubset = a.status == GuardedStatus.SendingSubset && a.subsetTransfer == transferId;
        bool isRest = a.status == GuardedStatus.SendingRest && a.restTransfer == transferId;
        // INVARIANT: only the audit's current transfer moves it, once: a foreign, stale or
        // repeated resolution reverts (the status has moved on).
        if (!isSubset && !isRest) revert UnknownTransfer(transferId);
        if (outcome == TransferOutcome.Completed) {
            uint64 deadline = isSubset
                ? uint64(block.timestamp) + decisionWindow
                : uint64(block.timestamp) + proofWindow + uint64(a.n - a.n1) * proofTimePerExample;
            a.status = isSubset ? GuardedStatus.Deciding : GuardedStatus.Proving;
            a.deadline = deadline;
            if (isSubset) emit SubsetAccepted(auditId, deadline);
            else emit RestAccepted(auditId, deadline);
        } else if (isSenderFault(outcome)) {
            _settleFault(auditId, a, GuardedOutcome.ConsumerDefaulted);
        } else {
            // ReceiverNoAck, ContestRejected, ReceiverNoContinue: MP did not respond or griefed.
            _settleFault(auditId, a, GuardedOutcome.Failed);
        }
    }

    /// @inheritdoc ITransferClient
    function isTransferItem(uint256 transferId, uint32 index) external view returns (bool) {
        uint256 auditId = _auditOfTransfer[transferId];
        GuardedAudit storage a = _audits[auditId];
        // INVARIANT: the subset transfer carries exactly the N1 subset examples, the rest transfer
        // exactly the other N2.
        if (auditId == 0 || index >= a.n) return false;
        bool member = _subset[auditId].get(index);
        return transferId == a.subsetTransfer ? member : !member;
    }

    // ---------------------------------------------------------------- views

    /// @inheritdoc IGriefingResistantAudit
    function state(uint256 auditId) public view returns (GuardedState) {
        GuardedAudit storage a = _audits[auditId];
        GuardedStatus status = a.status;
        if (status == GuardedStatus.None) return GuardedState.None;
        if (status == GuardedStatus.Settled) return GuardedState.Settled;
        if (status == GuardedStatus.Cancelled) return GuardedState.Cancelled;
        // The transfers' deadlines live in the service (expireTransfer ends them).
        if (status == GuardedStatus.SendingSubset) return GuardedState.SendingSubset;
        if (status == GuardedStatus.SendingRest) return GuardedState.SendingRest;
        // Deadlines are hours to days apart; a validator's few seconds of timestamp leeway do
        // not matter (and no randomness is drawn from block data).
        bool open = block.timestamp < a.deadline;
        if (status == GuardedStatus.Opened) return open ? GuardedState.Open : GuardedState.JoinExpired;
        if (status == GuardedStatus.AwaitingSubset) {
            return open ? GuardedState.AwaitingSubset : GuardedState.SubsetExpired;
        }
        if (status == GuardedStatus.Deciding) return open ? GuardedState.Deciding : GuardedState.DecisionExpired;
        if (status == GuardedStatus.AwaitingRest) return open ? GuardedState.AwaitingRest : GuardedState.RestExpired;
        if (open && a.submitted < a.n - a.n1) return GuardedState.Proving;
        return GuardedState.Finalizable;
    }

    /// @inheritdoc IGriefingResistantAudit
    function audit(uint256 auditId) external view returns (GuardedAudit memory) {
        return _audits[auditId];
    }

    /// @inheritdoc IGriefingResistantAudit
    function subsetIndices(uint256 auditId) external view returns (uint32[] memory) {
        GuardedAudit storage a = _audits[auditId];
        if (a.status == GuardedStatus.None || a.status == GuardedStatus.Opened || a.status == GuardedStatus.Cancelled)
        {
            return new uint32[](0);
        }
        return subsetOf(a.seed, a.n, a.n1);
    }

    /// @inheritdoc IGriefingResistantAudit
    function inSubset(uint256 auditId, uint32 index) external view returns (bool) {
        return _subset[auditId].get(index);
    }

    /// @inheritdoc IGriefingResistantAudit
    function isProven(uint256 auditId, uint32 index) external view returns (bool) {
        return _proven[auditId].get(index);
    }

    /// @inheritdoc IGriefingResistantAudit
    /// @dev Partial Fisher-Yates: for i < n1, swap entry i with entry i + r_i mod (n - i), where
    /// r_i = uint256(keccak256(abi.encode(seed, i))); the modulo bias is below 2^-200.
    function subsetOf(bytes32 seed, uint32 n, uint32 n1) public pure returns (uint32[] memory subset) {
        uint32[] memory order = new uint32[](n);
        for (uint32 i = 0; i < n; ++i) {
            order[i] = i;
        }
        subset = new uint32[](n1);
        for (uint32 i = 0; i < n1; ++i) {
            uint256 j = i + uint256(keccak256(abi.encode(seed, uint256(i)))) % (n - i);
            (order[i], order[j]) = (order[j], order[i]);
            subset[i] = order[i];
        }
    }

    // ---------------------------------------------------------------- internals

    /// @dev From storage: the opening has too many values for one stack frame.
    function _emitOpened(uint256 auditId, GuardedAudit storage a, uint256 escrow) private {
        emit AuditOpened(
            auditId, a.modelId, a.consumer, a.token, a.n, a.n1, a.targetNum, a.targetDen, a.testSetRoot, escrow, a.deadline
        );
    }

    /// @dev What each party escrows: 2NE + eps.
    function _escrow(uint32 n, uint256 exampleE, uint256 feeEpsilon) private pure returns (uint256) {
        return 2 * uint256(n) * exampleE + feeEpsilon;
    }

    /// @dev Each party's share of what a joined audit holds: 2NE (the fees are already paid out).
    function _held(GuardedAudit storage a) private view returns (uint256) {
        return 2 * uint256(a.n) * a.prices.exampleE;
    }

    function _requireWindow(uint256 window) private pure {
        if (window > MAX_WINDOW) revert WindowTooLong(window, MAX_WINDOW);
    }

    /// @dev INVARIANT: every action checks the state first, so the stored status only moves
    /// forward (Opened, AwaitingSubset, SendingSubset, Deciding, AwaitingRest, SendingRest,
    /// Proving) and leaves that line only for Cancelled (from Opened) or Settled (after the
    /// join), both final.
    function _requireState(uint256 auditId, GuardedState expected) private view {
        GuardedState current = state(auditId);
        if (current != expected) revert UnexpectedAuditState(auditId, current);
    }

    /// @dev MC commits the ciphertexts of `itemCount` examples; they must decrypt to leaves of
    /// the test set (the plaintext root); the service asks `isTransferItem` which ones.
    function _openTransfer(
        uint256 auditId,
        GuardedAudit storage a,
        bytes32 ciphertextRoot,
        bytes32 keyCommitment,
        uint32 itemCount
    ) private returns (uint256 transferId) {
        if (msg.sender != a.consumer) revert NotAuditConsumer(auditId, msg.sender, a.consumer);
        transferId =
            transfers.openTransfer(a.consumer, a.provider, ciphertextRoot, keyCommitment, a.testSetRoot, itemCount);
        _auditOfTransfer[transferId] = auditId;
    }

    function _submit(
        uint256 auditId,
        GuardedAudit storage a,
        AuditProof calldata p,
        address verifier,
        bytes32 codehash,
        bytes32 weightCommitment
    ) private {
        uint32 index = p.index;
        _requireCommitted(auditId, a, index, p.inputCommitment, p.label, p.leafProof);
        // A rejected proof reverts (it changes nothing): MP may retry until the proof deadline.
        if (!InferenceProofs.verify(verifier, codehash, weightCommitment, p.inputCommitment, p.predictedClass, p.proof))
        {
            revert ProofRejected(auditId, index);
        }
        (a.submitted, a.correct) = _accept(auditId, index, p.predictedClass, p.label, a.submitted, a.correct);
    }

    /// @dev The per-example binding, the same for single and aggregated proofs.
    function _requireCommitted(
        uint256 auditId,
        GuardedAudit storage a,
        uint32 index,
        bytes32 inputCommitment,
        uint256 label,
        bytes32[] calldata leafProof
    ) private view {
        // INVARIANT: each N2 example (in range, outside the subset) counts once, so
        // correct <= submitted <= N2.
        uint32 n = a.n;
        if (index >= n) revert IndexOutOfRange(auditId, index, n);
        if (_subset[auditId].get(index)) revert IndexInSubset(auditId, index);
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

    function _cancel(uint256 auditId, GuardedAudit storage a) private {
        // INVARIANT: only an Opened audit is cancelled: MC gets back exactly the 2NE + eps held.
        uint256 refund = _escrow(a.n, a.prices.exampleE, a.prices.feeEpsilon);
        a.status = GuardedStatus.Cancelled;
        emit AuditCancelled(auditId, refund);
        _credit(a.consumer, a.token, refund);
    }

    /// @dev Stage 4 abort: MC loses N1*P to MP (at most its 2NE since P < E).
    function _settleAborted(uint256 auditId, GuardedAudit storage a) private {
        uint256 held = _held(a);
        uint256 fee = uint256(a.n1) * a.prices.inferenceP;
        _settle(auditId, a, GuardedOutcome.Aborted, held - fee, held + fee);
    }

    /// @dev The party at fault loses its whole 2NE to the other.
    function _settleFault(uint256 auditId, GuardedAudit storage a, GuardedOutcome outcome) private {
        uint256 held = _held(a);
        if (outcome == GuardedOutcome.ConsumerDefaulted) _settle(auditId, a, outcome, 0, held * 2);
        else _settle(auditId, a, outcome, held * 2, 0);
    }

    function _settle(
        uint256 auditId,
        GuardedAudit storage a,
        GuardedOutcome outcome,
        uint256 consumerPayout,
        uint256 providerPayout
    ) private {
        // INVARIANT: the payouts sum to 2 * _held(a) = 4NE, all the joined audit holds (the fees
        // stay within MC's 2NE since P, Z < E); Settled is final and written first, so an audit
        // pays out once.
        a.status = GuardedStatus.Settled;
        emit AuditSettled(auditId, outcome, consumerPayout, providerPayout);
        _credit(a.consumer, a.token, consumerPayout);
        _credit(a.provider, a.token, providerPayout);
        // A consumer's default says nothing about the model: only MP's outcomes are recorded.
        if (outcome == GuardedOutcome.Passed) registry.recordOutcome(a.modelId, Outcome.AuditPassed);
        else if (outcome == GuardedOutcome.Failed) registry.recordOutcome(a.modelId, Outcome.AuditFailed);
        else if (outcome == GuardedOutcome.Aborted) registry.recordOutcome(a.modelId, Outcome.AuditAborted);
        registry.unlock(a.modelId);
    }
}
