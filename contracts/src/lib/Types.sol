// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

// Value types shared by the marketplace contracts (paper section 5 and appendix B).
// Amounts are integers in the smallest unit of a payment token (wei for ETH); there is no
// division anywhere in the protocols, so every payout is exact.

/// @notice Marketplace prices of one payment token, in its smallest unit (paper 5.2: E > Z > P).
/// @param exampleE E: the cost of obtaining one labeled test example.
/// @param proofZ Z: the cost of proving (ZK-SNARKing) one inference.
/// @param inferenceP P: the cost of one plain inference.
/// @param feeEpsilon epsilon: the escrow service's fee per accuracy audit and party (paper 5.2 step 2).
struct Prices {
    uint256 exampleE;
    uint256 proofZ;
    uint256 inferenceP;
    uint256 feeEpsilon;
}

/// @notice A payment token accepted by the marketplace with its prices (token address(0) = ETH).
struct TokenPrices {
    address token;
    Prices prices;
}

/// @notice Stored life cycle of a registered model.
/// Active: takes new jobs (while its stake is intact). Unbonding: takes no new jobs, the stake
/// can be withdrawn once the unbonding delay has passed and no job is open. Withdrawn: final.
enum ModelStatus {
    None,
    Active,
    Unbonding,
    Withdrawn
}

/// @notice A registered model (paper 5.2 step 1: the verifier is the architecture, the weight
/// commitment the weights).
/// @param provider MP, the only account that may join jobs for the model, sign its predictions
/// and withdraw its stake.
/// @param token Payment token of every job for the model, and of its stake (address(0) = ETH).
/// @param verifier Generated halo2 verifier contract (raw calldata: instances then proof).
/// @param verifierCodehash EXTCODEHASH of `verifier` at registration; a verifier whose code
/// changed afterwards is refused (see ProofVerifier.verifyPinned).
/// @param weightCommitment Poseidon commitment to the weights, as the circuit computes it (a
/// BN254 scalar field element): the second public instance of every proof.
/// @param stake Stake still held (1000 * N1 * E at registration, less what was slashed).
/// @param unbondableAt When `withdrawStake` opens (0 until `requestUnbond`).
/// @param openJobs Jobs of the protocol contracts that currently lock the stake.
struct Model {
    address provider;
    ModelStatus status;
    address token;
    uint64 unbondableAt;
    uint32 openJobs;
    address verifier;
    bytes32 verifierCodehash;
    bytes32 weightCommitment;
    uint256 stake;
    string metadataURI;
}

/// @notice A model's aggregation verifier (IModelRegistry.registerAggregationVerifier): a second
/// generated verifier that checks one aggregated proof of `batchSize` inference proofs of the
/// model's circuit. Its public instances are the 12 accumulator limbs, then for each slot
/// j < batchSize [inputCommitment_j, weightCommitment, predictedClass_j] (InferenceProofs).
/// @param verifier Generated aggregation verifier (raw calldata: instances then proof), or
/// address(0) when the model has none.
/// @param batchSize B, the number of slots of every aggregated proof (1..=64).
/// @param registeredAt block.timestamp of the registration: only jobs opened strictly later
/// take aggregated proofs (InferenceProofs.batchTerms), so none is proven under terms its
/// consumer did not see when it opened the job.
/// @param codehash EXTCODEHASH of `verifier` at registration (pinned like the single verifier's).
/// @dev verifier, batchSize and registeredAt share one storage slot.
struct AggregationTerms {
    address verifier;
    uint32 batchSize;
    uint64 registeredAt;
    bytes32 codehash;
}

/// @notice One aggregated proof of a batch of inference proofs, as the submitter sends it.
/// @param accumulator The 12 accumulator limbs (the first public instances; each must be a
/// BN254 scalar field element). The only instances a submitter supplies: the per-slot
/// instances are built by the contract from the examples it checks.
/// @param proof The aggregation proof bytes.
struct AggregatedProof {
    uint256[12] accumulator;
    bytes proof;
}

/// @notice What consumers read to pick providers (paper appendix A: a failure rate of at most 1%).
struct ModelRecord {
    uint64 auditsPassed;
    uint64 auditsFailed;
    /// @dev Audits the provider aborted at stage 4 (after seeing the N1 subset).
    uint64 auditsAborted;
    /// @dev Serving rounds and retrieval requests settled with every contested prediction or
    /// challenged result proven (or none contested).
    uint64 roundsCompleted;
    /// @dev Serving rounds and retrieval requests in which a contest or challenge was not
    /// proven by the deadline (or, for retrieval, no results were committed).
    uint64 roundsFailed;
}

/// @notice Outcomes the protocol contracts report to the registry's per-model record.
enum Outcome {
    AuditPassed,
    AuditFailed,
    AuditAborted,
    RoundCompleted,
    RoundFailed
}

/// @notice Stored life cycle of a serving round; the phase is derived by ServingRound.state().
enum RoundStatus {
    None,
    Opened,
    Joined,
    Settled,
    Cancelled
}

/// @notice Phase of a serving round, derived from its stored status, counters and deadlines.
/// Open: waiting for MP to join (before the join deadline).
/// JoinExpired: MP did not join in time; anyone may settle (MC is refunded).
/// Serving: joined, before the round deadline: predictions may be committed, MC may contest,
/// MP may answer.
/// AwaitingAnswers: the round is over but some contested predictions are unanswered and the
/// answer deadline has not passed.
/// Settleable: anyone may settle.
enum RoundState {
    None,
    Open,
    JoinExpired,
    Serving,
    AwaitingAnswers,
    Settleable,
    Settled,
    Cancelled
}

/// @notice How a serving round ended (decides the payouts, see IServingRound.RoundSettled).
enum RoundOutcome {
    /// @dev No predictions root was committed: both escrows are returned.
    NoPredictions,
    /// @dev Predictions committed, nothing contested: both escrows are returned.
    Uncontested,
    /// @dev Every contested prediction was proven: MC pays 2*K1*Z to MP.
    ContestsAnswered,
    /// @dev Some contested prediction was not proven in time: MP loses beta*K*Z to MC.
    ContestsUnanswered
}

/// @notice A serving round (paper 5.3). K = `k`, K1 = `contested`.
/// @dev The round was opened at `joinDeadline - ServingRound.joinWindow` (the join deadline is
/// set once, at opening, and the window is immutable): the round takes aggregated proofs only if
/// the model's aggregation verifier was registered before that. (Not stored: the struct's packed
/// slots have no room left for it.)
struct Round {
    address consumer;
    uint32 k;
    uint32 contested;
    uint32 answered;
    address provider;
    uint16 beta;
    RoundStatus status;
    uint64 joinDeadline;
    address token;
    uint32 duration;
    uint64 roundDeadline;
    uint256 modelId;
    uint256 proofZ;
    bytes32 inputsRoot;
    bytes32 predictionsRoot;
}

/// @notice MP's answer to one contested prediction.
/// @param index Position of the prediction in the round (0 <= index < K).
/// @param inputCommitment The input's Poseidon commitment (a leaf of MC's inputs root).
/// @param predictedClass The class MP served (a leaf of MP's signed predictions root).
/// @param inputProof Merkle proof of ServingRound.inputLeaf(index, inputCommitment).
/// @param predictionProof Merkle proof of ServingRound.predictionLeaf(index, inputCommitment,
/// predictedClass).
/// @param proof halo2 proof with instances [inputCommitment, weightCommitment, predictedClass].
struct Answer {
    uint32 index;
    bytes32 inputCommitment;
    uint256 predictedClass;
    bytes32[] inputProof;
    bytes32[] predictionProof;
    bytes proof;
}

/// @notice MP's answer to one contested prediction inside an aggregated batch
/// (IServingRound.answerAggregated): an Answer without its proof, which the batch's
/// AggregatedProof covers.
struct AnswerExample {
    uint32 index;
    bytes32 inputCommitment;
    uint256 predictedClass;
    bytes32[] inputProof;
    bytes32[] predictionProof;
}

/// @notice Limits of the serving rounds, fixed at deployment.
/// @param minBeta Smallest provider escrow multiplier beta a consumer may propose (>= 2).
/// @param maxBeta Largest beta a consumer may propose.
/// @param maxK Largest round size K.
/// @param joinWindow Seconds MP has to join an opened round.
/// @param maxDuration Longest round (seconds from join to the round deadline) MC may propose.
/// @param answerWindow Seconds after the round deadline MP has to answer contests.
/// @param proofWindow Extra seconds of answer time per contested prediction, so that MC cannot
/// contest more predictions late in the round than MP can prove before the deadline (may be 0).
struct RoundConfig {
    uint16 minBeta;
    uint16 maxBeta;
    uint32 maxK;
    uint32 maxDuration;
    uint32 proofWindow;
    uint64 joinWindow;
    uint64 answerWindow;
}
