// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IEscrow} from "./IEscrow.sol";
import {AuditExample, AuditProof} from "./IAccuracyAudit.sol";
import {ITransferClient} from "./ITransferClient.sol";
import {AggregatedProof, Prices} from "../lib/Types.sol";

/// @notice Stored life cycle of a griefing-resistant audit; the phase is derived by
/// GriefingResistantAudit.state(). `deadline` always belongs to the current status.
enum GuardedStatus {
    None,
    Opened,
    AwaitingSubset,
    SendingSubset,
    Deciding,
    AwaitingRest,
    SendingRest,
    Proving,
    Settled,
    Cancelled
}

/// @notice Phase of a griefing-resistant audit (paper appendix B stages in brackets).
/// Open / JoinExpired: waiting for MP to join and pick the subset seed [2, 3].
/// AwaitingSubset / SubsetExpired: MC must send the N1 subset (open its data transfer) [3].
/// SendingSubset: the subset's data transfer runs on the DataTransferService [3].
/// Deciding / DecisionExpired: MP proceeds or aborts [4].
/// AwaitingRest / RestExpired: MC must send the other N2 examples [5].
/// SendingRest: the N2 examples' data transfer runs [5].
/// Proving: MP submits proofs of the N2 examples [6].
/// Finalizable: all N2 proofs are in or the proof deadline passed [7].
enum GuardedState {
    None,
    Open,
    JoinExpired,
    AwaitingSubset,
    SubsetExpired,
    SendingSubset,
    Deciding,
    DecisionExpired,
    AwaitingRest,
    RestExpired,
    SendingRest,
    Proving,
    Finalizable,
    Settled,
    Cancelled
}

/// @notice How a griefing-resistant audit ended (decides the payouts, see AuditSettled).
enum GuardedOutcome {
    /// @dev MP aborted (or stayed silent) at stage 4: MC loses N1*P to MP.
    Aborted,
    /// @dev All N2 proofs in and the target met: MC pays 2(N1*P + N2*Z) to MP.
    Passed,
    /// @dev MP at fault after joining (target missed, proofs missing, a data transfer it did not
    /// acknowledge although MC proved delivery on chain, did not continue or contested without
    /// cause): MP loses its 2NE to MC.
    Failed,
    /// @dev MC at fault after MP joined (aborted or silent at stage 3 or 5, data neither
    /// acknowledged nor proven delivered, key not revealed, data that does not match its
    /// commitment): MC loses its 2NE to MP.
    ConsumerDefaulted
}

/// @notice A griefing-resistant accuracy audit. N = `n`, N1 = `n1` (the registry's), N2 = n - n1.
/// @param seed MP's subset seed (stage 3); the subset is `subsetIndices`.
/// @param subsetTransfer / restTransfer DataTransferService ids of the stage-3 and stage-5 transfers.
/// @param openedAt block.timestamp of `openAudit` (packed beside the token, a slot the stage-6
/// proofs read anyway): the audit takes aggregated proofs only if the model's aggregation
/// verifier was registered before it.
struct GuardedAudit {
    address consumer;
    uint32 n;
    uint32 n1;
    uint32 submitted;
    address provider;
    GuardedStatus status;
    uint64 deadline;
    uint32 correct;
    address token;
    uint64 openedAt;
    uint64 targetNum;
    uint64 targetDen;
    uint256 modelId;
    bytes32 testSetRoot;
    bytes32 seed;
    uint256 subsetTransfer;
    uint256 restTransfer;
    Prices prices;
}

/// @notice Limits and windows of the griefing-resistant audits, fixed at deployment (seconds).
/// @param maxN Largest test set N.
/// @param proofTimePerExample Extra proving seconds per N2 example.
/// @param joinWindow MP joins (and picks the seed) after the opening.
/// @param sendWindow MC opens each data transfer (stage 3 after the join, stage 5 after proceeding).
/// @param decisionWindow MP proceeds or aborts after accepting the subset.
/// @param proofWindow Base proving time after accepting the N2 examples.
struct GuardedConfig {
    uint32 maxN;
    uint32 proofTimePerExample;
    uint64 joinWindow;
    uint64 sendWindow;
    uint64 decisionWindow;
    uint64 proofWindow;
}

/// @title IGriefingResistantAudit
/// @notice The accuracy audit of paper appendix B, resistant to griefing and timeouts.
/// @dev Flow and amounts (E, Z, P, eps = the prices of the model's token; N1 = the registry's n1):
///  1. MP's architecture and weights are committed at registration. MC `openAudit`s with the
///     test-set root (leaves as IAccuracyAudit.testLeaf) and the target, escrowing 2NE + eps.
///  2. MP `join`s before the join deadline, escrowing 2NE + eps (both fees go to the fee
///     recipient), and gives a seed: the N1 subset is the first N1 entries of a Fisher-Yates
///     shuffle of 0..N-1 driven by keccak256(abi.encode(seed, i)) (see `subsetIndices`).
///  3. MC `sendSubset`s (opens the data transfer of the N1 subset) before the send deadline, or
///     `abortByConsumer`s; an abort, silence, an unrevealed key or a ciphertext that does not
///     decrypt to its committed input (contest upheld) cost MC its 2NE (to MP).
///  4. Once MP accepted the subset it `proceed`s or `abort`s before the decision deadline; an
///     abort (or silence, which counts as one) costs MC N1*P.
///  5. MC `sendRest`s the other N2 examples the same way; from here on any MP fault (no
///     acknowledgement of data whose delivery MC proved, no continuation, a rejected contest,
///     missing proofs) costs MP its 2NE.
///  6. Anyone `submitProofs` of the N2 examples (not the subset) before the proof deadline
///     (or `submitAggregatedProofs`: one aggregated proof per batch of up to B examples, for a
///     model whose aggregation verifier was registered before the audit was opened).
///  7. Anyone `finalize`s: all N2 proofs in and correct * targetDen >= targetNum * N2 -> MC pays
///     2(N1*P + N2*Z) to MP; otherwise MP loses 2NE to MC.
/// In each data transfer a party that fails to act is at fault as in IDataTransfer; a stage-3
/// MP fault counts as MP's (Failed). Every stage ends by an action or by `finalize` /
/// DataTransferService.expireTransfer, callable by anyone, so funds never get stuck.
interface IGriefingResistantAudit is IEscrow, ITransferClient {
    // ---------------------------------------------------------------- events

    /// @notice MC opened audit `auditId`, escrowing `consumerEscrow` = 2NE + eps.
    event AuditOpened(
        uint256 indexed auditId,
        uint256 indexed modelId,
        address indexed consumer,
        address token,
        uint32 n,
        uint32 n1,
        uint64 targetNum,
        uint64 targetDen,
        bytes32 testSetRoot,
        uint256 consumerEscrow,
        uint64 joinDeadline
    );

    /// @notice MP joined with `seed` (the subset), escrowing 2NE + eps; MC must send the subset by `sendDeadline`.
    event AuditJoined(
        uint256 indexed auditId, address indexed provider, bytes32 seed, uint256 providerEscrow, uint64 sendDeadline
    );

    /// @notice MC opened data transfer `transferId` of the N1 subset (stage 3).
    event SubsetSent(uint256 indexed auditId, uint256 indexed transferId);

    /// @notice MP accepted the subset; it must proceed or abort by `decisionDeadline` (stage 4).
    event SubsetAccepted(uint256 indexed auditId, uint64 decisionDeadline);

    /// @notice MP proceeded; MC must send the N2 examples by `sendDeadline` (stage 5).
    event AuditProceeded(uint256 indexed auditId, uint64 sendDeadline);

    /// @notice MC opened data transfer `transferId` of the N2 examples (stage 5).
    event RestSent(uint256 indexed auditId, uint256 indexed transferId);

    /// @notice MP accepted the N2 examples; their proofs are due by `proofDeadline` (stage 6).
    event RestAccepted(uint256 indexed auditId, uint64 proofDeadline);

    /// @notice The proof for example `index` was accepted; `submitted` and `correct` are the new totals.
    event ProofAccepted(
        uint256 indexed auditId, uint32 indexed index, uint256 predictedClass, bool isCorrect, uint32 submitted, uint32 correct
    );

    /// @notice The audit ended before MP joined; MC's escrow `refund` was credited back.
    event AuditCancelled(uint256 indexed auditId, uint256 refund);

    /// @notice The audit was settled; the amounts were credited to MC and MP.
    event AuditSettled(uint256 indexed auditId, GuardedOutcome outcome, uint256 consumerPayout, uint256 providerPayout);

    // ---------------------------------------------------------------- errors

    /// @notice The registry or the transfer service address holds no code.
    error NotContract(address account);

    /// @notice A configured limit or window is zero.
    error ZeroConfigValue();

    /// @notice A configured window (or maxN * proofTimePerExample) exceeds `max` seconds.
    error WindowTooLong(uint256 window, uint256 max);

    /// @notice The model cannot take new jobs (see IModelRegistry.isAvailable).
    error ModelUnavailable(uint256 modelId);

    /// @notice N must satisfy N1 < N <= maxN (at least one example to prove).
    error TestSetSizeOutOfRange(uint32 n, uint32 n1, uint32 maxN);

    /// @notice The accuracy target must satisfy 0 < targetDen and targetNum <= targetDen.
    error InvalidTarget(uint64 targetNum, uint64 targetDen);

    /// @notice The test set root must not be zero.
    error ZeroRoot();

    /// @notice The call is not allowed in the audit's current phase.
    error UnexpectedAuditState(uint256 auditId, GuardedState current);

    /// @notice Only the audit's consumer (MC) may do this.
    error NotAuditConsumer(uint256 auditId, address caller, address consumer);

    /// @notice Only the audit's provider (MP) may do this.
    error NotAuditProvider(uint256 auditId, address caller, address provider);

    /// @notice Only the DataTransferService may report transfer outcomes.
    error NotTransferService(address caller);

    /// @notice The service reported a transfer this contract is not waiting for.
    error UnknownTransfer(uint256 transferId);

    /// @notice submitProofs needs at least one proof.
    error NoProofs(uint256 auditId);

    /// @notice The example index is outside the test set.
    error IndexOutOfRange(uint256 auditId, uint32 index, uint32 n);

    /// @notice The example is in the N1 subset: only the N2 examples are proven.
    error IndexInSubset(uint256 auditId, uint32 index);

    /// @notice A proof for this example was already accepted.
    error AlreadyProven(uint256 auditId, uint32 index);

    /// @notice (index, inputCommitment, label) is not a leaf of the committed test set.
    error ExampleNotCommitted(uint256 auditId, uint32 index, bytes32 inputCommitment, uint256 label);

    /// @notice The model's verifier rejected the proof.
    error ProofRejected(uint256 auditId, uint32 index);

    /// @notice The model's aggregation verifier rejected the aggregated proof of a batch (the
    /// whole batch reverted).
    error BatchProofRejected(uint256 auditId);

    // ---------------------------------------------------------------- actions

    /// @notice Stage 1 + MC's escrow: opens an audit of `modelId` on the N-example test set.
    function openAudit(uint256 modelId, uint32 n, uint64 targetNum, uint64 targetDen, bytes32 testSetRoot)
        external
        payable
        returns (uint256 auditId);

    /// @notice MC withdraws an audit MP has not joined; its escrow is credited back.
    function cancel(uint256 auditId) external;

    /// @notice Stages 2-3 (MP): escrows 2NE + eps and picks the N1 subset by `seed`.
    function join(uint256 auditId, bytes32 seed) external payable;

    /// @notice Stage 3 (MC): opens the subset's data transfer (ciphertext root over the subset's
    /// `ciphertextLeaf(index, ciphertext)` and the key commitment).
    function sendSubset(uint256 auditId, bytes32 ciphertextRoot, bytes32 keyCommitment)
        external
        returns (uint256 transferId);

    /// @notice Stage 4 (MP): go on to the N2 examples.
    function proceed(uint256 auditId) external;

    /// @notice Stage 4 (MP): stop; MC loses N1*P.
    function abort(uint256 auditId) external;

    /// @notice Stage 5 (MC): opens the data transfer of the N2 examples.
    function sendRest(uint256 auditId, bytes32 ciphertextRoot, bytes32 keyCommitment)
        external
        returns (uint256 transferId);

    /// @notice Stages 3 and 5 (MC): abort instead of sending; MC loses its 2NE to MP.
    function abortByConsumer(uint256 auditId) external;

    /// @notice Stage 6: proofs of N2 examples, in batches.
    function submitProofs(uint256 auditId, AuditProof[] calldata proofs) external;

    /// @notice Stage 6 with one aggregated proof for a batch of N2 examples (model with an
    /// aggregation verifier registered before the audit was opened only, see
    /// IModelRegistry.registerAggregationVerifier). Each example is checked and counted exactly
    /// as in `submitProofs` (in range, not in the subset, not yet proven, a leaf of the test set,
    /// one ProofAccepted each, a duplicate index reverts AlreadyProven); then the aggregation
    /// verifier must accept `agg` for `agg.accumulator` followed by one slot [inputCommitment,
    /// registered weight commitment, predictedClass] per example, the slots past the examples
    /// repeating the last one. Reverts InferenceProofs.NoAggregationVerifier /
    /// AggregationNotInJobTerms (registered at or after the audit's `openedAt`) / BatchEmpty /
    /// BatchTooLarge, or BatchProofRejected if the verifier rejects (nothing is counted).
    function submitAggregatedProofs(uint256 auditId, AuditExample[] calldata examples, AggregatedProof calldata agg)
        external;

    /// @notice Ends an audit whose current stage is over (join, send, decision or proof deadline
    /// passed, or all proofs in); anyone may call it.
    function finalize(uint256 auditId) external;

    // ---------------------------------------------------------------- views

    /// @notice Number of audits opened so far (ids are 1..auditCount).
    function auditCount() external view returns (uint256);

    /// @notice The audit's current phase.
    function state(uint256 auditId) external view returns (GuardedState);

    /// @notice The stored audit.
    function audit(uint256 auditId) external view returns (GuardedAudit memory);

    /// @notice The N1 subset's indices (in shuffle order) once MP has joined.
    function subsetIndices(uint256 auditId) external view returns (uint32[] memory);

    /// @notice Whether example `index` is in the N1 subset.
    function inSubset(uint256 auditId, uint32 index) external view returns (bool);

    /// @notice Whether the proof of example `index` was accepted.
    function isProven(uint256 auditId, uint32 index) external view returns (bool);

    /// @notice The subset a seed selects: the first n1 entries of the seeded shuffle of 0..n-1.
    function subsetOf(bytes32 seed, uint32 n, uint32 n1) external pure returns (uint32[] memory);
}
