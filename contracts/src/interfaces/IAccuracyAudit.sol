// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IEscrow} from "./IEscrow.sol";
import {AggregatedProof, Prices} from "../lib/Types.sol";

/// @notice Stored life cycle of a simple accuracy audit; the phase is derived by
/// AccuracyAudit.state().
enum AuditStatus {
    None,
    Opened,
    Joined,
    Proceeding,
    Settled,
    Cancelled
}

/// @notice Phase of an accuracy audit, derived from its stored status, counters and deadlines.
/// Open: waiting for MP to join (before the join deadline).
/// JoinExpired: MP did not join in time; anyone may finalize (MC is refunded in full).
/// Deciding: joined; MC sends the test set off-chain; MP may proceed or abort until the
/// decision deadline.
/// DecisionExpired: MP neither proceeded nor aborted in time; anyone may finalize (MP failure).
/// Proving: MP proceeded; proofs may be submitted until the proof deadline.
/// Finalizable: all N proofs are in, or the proof deadline passed; anyone may finalize.
enum AuditState {
    None,
    Open,
    JoinExpired,
    Deciding,
    DecisionExpired,
    Proving,
    Finalizable,
    Settled,
    Cancelled
}

/// @notice How an audit ended (decides the payouts, see IAccuracyAudit.AuditSettled).
enum AuditOutcome {
    /// @dev MP aborted after receiving the test set: MC loses N*P to MP.
    Aborted,
    /// @dev All N proofs in and the accuracy target met: MC pays 2*N*Z to MP.
    Passed,
    /// @dev Target missed, proofs missing at the proof deadline, or MP silent at the decision
    /// deadline: MP loses 2*N*E to MC.
    Failed
}

/// @notice A simple accuracy audit (paper 5.2). N = `n`; target = targetNum / targetDen.
/// @param prices The model token's prices, copied at opening (E, Z, P, epsilon).
/// @param submitted Proofs accepted so far (distinct indices).
/// @param correct Accepted proofs whose class equals the committed label.
/// @param openedAt block.timestamp of `openAudit` (packed beside the target): the audit takes
/// aggregated proofs only if the model's aggregation verifier was registered before it.
struct Audit {
    address consumer;
    uint32 n;
    uint32 submitted;
    uint32 correct;
    address provider;
    AuditStatus status;
    uint64 joinDeadline;
    address token;
    uint64 decisionDeadline;
    uint64 proofDeadline;
    uint64 targetNum;
    uint64 targetDen;
    uint64 openedAt;
    uint256 modelId;
    bytes32 testSetRoot;
    Prices prices;
}

/// @notice One proven prediction on a test example.
/// @param index Position of the example in the test set (0 <= index < N).
/// @param inputCommitment The input's Poseidon commitment, as the circuit computes it.
/// @param label The committed label of the example.
/// @param predictedClass The model's top-1 class (the proof's third public instance).
/// @param leafProof Merkle proof of AccuracyAudit.testLeaf(index, inputCommitment, label).
/// @param proof halo2 proof with instances [inputCommitment, weightCommitment, predictedClass].
struct AuditProof {
    uint32 index;
    bytes32 inputCommitment;
    uint256 label;
    uint256 predictedClass;
    bytes32[] leafProof;
    bytes proof;
}

/// @notice One test example inside an aggregated batch (submitAggregatedProofs): an AuditProof
/// without its proof, which the batch's AggregatedProof covers.
struct AuditExample {
    uint32 index;
    bytes32 inputCommitment;
    uint256 label;
    uint256 predictedClass;
    bytes32[] leafProof;
}

/// @notice Limits of the accuracy audits, fixed at deployment.
/// @param maxN Largest test set N.
/// @param joinWindow Seconds MP has to join an opened audit.
/// @param decisionWindow Seconds after joining for MC to send the test set and MP to proceed or abort.
/// @param proofWindow Base seconds after proceeding for MP to submit all proofs.
/// @param proofTimePerExample Extra proving seconds per example (the proof deadline is
/// proceed time + proofWindow + N * proofTimePerExample).
struct AuditConfig {
    uint32 maxN;
    uint32 proofTimePerExample;
    uint64 joinWindow;
    uint64 decisionWindow;
    uint64 proofWindow;
}

/// @title IAccuracyAudit
/// @notice The simple accuracy audit of paper 5.2 (no griefing/timeout resistance; the
/// appendix-B variant is a separate contract).
/// @dev Flow and amounts (E, Z, P, eps = the prices of the model's payment token, N = test set size):
///  1. MP's architecture and weights are committed at registration (verifier + weight
///     commitment). MC `openAudit`s: commits the test set as the Merkle root over
///     `testLeaf(i, inputCommitment_i, label_i)`, i < N, and the target numerator/denominator,
///     and escrows 2*N*E + eps.
///  2. MP (the model's provider) `join`s before the join deadline, escrowing 2*N*E + eps; both
///     fees (2*eps) are credited to the registry's fee recipient; the model's stake is locked.
///  3. MC sends the test set off-chain. Before the decision deadline MP either `abort`s
///     (MC gets 2NE - NP, MP gets 2NE + NP: MC loses N*P) or `proceed`s. If MP does neither,
///     anyone may finalize it as an MP failure (MC gets 4NE, MP nothing): once joined, MP's
///     silence is not an abort, so MP cannot let the clock run to avoid the proof obligation
///     (if MC never sent the test set, MP's remedy is to `abort`).
///  4. Anyone (normally MP) `submitProofs` in batches before the proof deadline: each proof
///     has instances [inputCommitment_i, the registered weight commitment, class_i] and
///     carries the Merkle proof of (i, inputCommitment_i, label_i); each index counts once;
///     `correct` counts class_i == label_i. An audit of a model whose aggregation verifier was
///     registered before the audit was opened may instead be proven in batches of up to B
///     examples with one aggregated proof each (`submitAggregatedProofs`, same per-example
///     checks and counts).
///  5. Anyone `finalize`s once all N proofs are in or the proof deadline passed: all N in and
///     correct * targetDen >= targetNum * N -> MC gets 2NE - 2NZ, MP gets 2NE + 2NZ (MC pays
///     2NZ); otherwise (target missed or any proof missing) MC gets 4NE, MP nothing (MP loses 2NE).
/// If MP does not join by the join deadline, anyone may finalize and MC gets 2NE + eps back (MC
/// may also `cancel` before MP joins); no fee is charged for an audit that never started.
/// Payouts are credits, withdrawn with `withdraw(token)`. Leaves are double-hashed
/// `keccak256(bytes.concat(keccak256(abi.encode(uint256(index), inputCommitment, label))))`,
/// internal nodes hash the sorted pair (OpenZeppelin MerkleProof).
interface IAccuracyAudit is IEscrow {
    // ---------------------------------------------------------------- events

    /// @notice MC opened audit `auditId` of model `modelId`, escrowing `consumerEscrow` = 2*N*E + eps.
    event AuditOpened(
        uint256 indexed auditId,
        uint256 indexed modelId,
        address indexed consumer,
        address token,
        uint32 n,
        uint64 targetNum,
        uint64 targetDen,
        bytes32 testSetRoot,
        uint256 consumerEscrow,
        uint64 joinDeadline
    );

    /// @notice MP joined, escrowing `providerEscrow` = 2*N*E + eps; the fees went to the fee
    /// recipient; MP must proceed or abort by `decisionDeadline`.
    event AuditJoined(
        uint256 indexed auditId, address indexed provider, uint256 providerEscrow, uint64 decisionDeadline
    );

    /// @notice MP proceeded after receiving the test set; proofs are due by `proofDeadline`.
    event AuditProceeded(uint256 indexed auditId, uint64 proofDeadline);

    /// @notice The proof for test example `index` was accepted; `submitted` and `correct` are the new totals.
    event ProofAccepted(
        uint256 indexed auditId,
        uint32 indexed index,
        uint256 predictedClass,
        bool isCorrect,
        uint32 submitted,
        uint32 correct
    );

    /// @notice The audit ended before MP joined; MC's escrow `refund` was credited back.
    event AuditCancelled(uint256 indexed auditId, uint256 refund);

    /// @notice The audit was settled; the amounts were credited to MC and MP.
    event AuditSettled(uint256 indexed auditId, AuditOutcome outcome, uint256 consumerPayout, uint256 providerPayout);

    // ---------------------------------------------------------------- errors

    /// @notice The registry address holds no code.
    error RegistryNotContract(address registry);

    /// @notice A configured limit or window is zero.
    error ZeroConfigValue();

    /// @notice A configured window (or maxN * proofTimePerExample) exceeds `max` seconds.
    error WindowTooLong(uint256 window, uint256 max);

    /// @notice The model cannot take new jobs (see IModelRegistry.isAvailable).
    error ModelUnavailable(uint256 modelId);

    /// @notice N must satisfy 0 < N <= maxN.
    error TestSetSizeOutOfRange(uint32 n, uint32 maxN);

    /// @notice The accuracy target must satisfy 0 < targetDen and targetNum <= targetDen.
    error InvalidTarget(uint64 targetNum, uint64 targetDen);

    /// @notice The test set root must not be zero.
    error ZeroRoot();

    /// @notice The call is not allowed in the audit's current phase.
    error UnexpectedAuditState(uint256 auditId, AuditState current);

    /// @notice Only the audit's consumer (MC) may do this.
    error NotAuditConsumer(uint256 auditId, address caller, address consumer);

    /// @notice Only the audit's provider (MP) may do this.
    error NotAuditProvider(uint256 auditId, address caller, address provider);

    /// @notice No proof was given.
    error NoProofs(uint256 auditId);

    /// @notice `index` is not below N.
    error IndexOutOfRange(uint256 auditId, uint32 index, uint32 n);

    /// @notice A proof for `index` was already accepted.
    error AlreadyProven(uint256 auditId, uint32 index);

    /// @notice (index, inputCommitment, label) is not a leaf of MC's committed test set.
    error ExampleNotCommitted(uint256 auditId, uint32 index, bytes32 inputCommitment, uint256 label);

    /// @notice The model's verifier rejected the proof for `index`.
    error ProofRejected(uint256 auditId, uint32 index);

    /// @notice The model's aggregation verifier rejected the aggregated proof of a batch (the
    /// whole batch reverted).
    error BatchProofRejected(uint256 auditId);

    // ---------------------------------------------------------------- actions

    /// @notice MC opens an audit of `n` test examples for `modelId`, escrowing 2*n*E + eps
    /// (send it as `msg.value` for ETH; approve it first for an ERC-20).
    /// @param targetNum Accuracy target numerator (the target is targetNum / targetDen).
    /// @param targetDen Accuracy target denominator (> 0, >= targetNum).
    /// @param testSetRoot Merkle root over `testLeaf(i, inputCommitment_i, label_i)`, i < n.
    /// @return auditId The new audit's id (ids start at 1).
    function openAudit(uint256 modelId, uint32 n, uint64 targetNum, uint64 targetDen, bytes32 testSetRoot)
        external
        payable
        returns (uint256 auditId);

    /// @notice MC withdraws an audit MP has not joined; its escrow is credited back.
    function cancel(uint256 auditId) external;

    /// @notice MP joins, escrowing 2*N*E + eps; the model's stake is locked until settlement.
    function join(uint256 auditId) external payable;

    /// @notice MP, having received the test set, commits to proving it.
    function proceed(uint256 auditId) external;

    /// @notice MP aborts after receiving the test set: MC loses N*P to MP; the audit is settled.
    function abort(uint256 auditId) external;

    /// @notice Submits proofs for test examples (any number per transaction, each index once).
    function submitProofs(uint256 auditId, AuditProof[] calldata proofs) external;

    /// @notice Submits one aggregated proof for a batch of test examples (model with an
    /// aggregation verifier registered before the audit was opened only, see
    /// IModelRegistry.registerAggregationVerifier). Each example is checked and counted exactly
    /// as in `submitProofs` (index in range and not yet proven, a leaf of the test set, one
    /// ProofAccepted each, a duplicate index reverts AlreadyProven); then the aggregation
    /// verifier must accept `agg` for the instances the contract builds:
    /// `agg.accumulator`, then per slot [inputCommitment, registered weight commitment,
    /// predictedClass], the slots past the examples repeating the last one. Reverts
    /// InferenceProofs.NoAggregationVerifier / AggregationNotInJobTerms (registered at or after
    /// the audit's `openedAt`) / BatchEmpty / BatchTooLarge (more than B examples),
    /// BatchProofRejected if the verifier rejects (nothing is counted).
    function submitAggregatedProofs(uint256 auditId, AuditExample[] calldata examples, AggregatedProof calldata agg)
        external;

    /// @notice Ends an audit whose phase is JoinExpired (MC refunded), DecisionExpired (MP
    /// failure) or Finalizable (payouts as in the contract description). Anyone may call.
    function finalize(uint256 auditId) external;

    // ---------------------------------------------------------------- views

    /// @notice The audit's current phase.
    function state(uint256 auditId) external view returns (AuditState);

    /// @notice The stored audit.
    function audit(uint256 auditId) external view returns (Audit memory);

    /// @notice Whether a proof for `index` was accepted.
    function isProven(uint256 auditId, uint32 index) external view returns (bool);

    /// @notice Number of audits opened so far.
    function auditCount() external view returns (uint256);

    /// @notice What each party escrows for an audit of `n` examples: 2*n*E + eps.
    function escrowFor(uint32 n, uint256 exampleE, uint256 feeEpsilon) external pure returns (uint256);

    /// @notice Whether `correct` of `n` meets targetNum / targetDen: correct * den >= num * n.
    function targetMet(uint32 correct, uint32 n, uint64 targetNum, uint64 targetDen) external pure returns (bool);

    /// @notice Leaf of MC's test set tree.
    function testLeaf(uint32 index, bytes32 inputCommitment, uint256 label) external pure returns (bytes32);
}
