// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IEscrow} from "./IEscrow.sol";
import {AggregatedProof, Answer, AnswerExample, Round, RoundOutcome, RoundState} from "../lib/Types.sol";

/// @title IServingRound
/// @notice Spot-checked serving of predictions in rounds of K (paper 5.3).
/// @dev Flow and amounts (Z = the proof price of the model's payment token, K1 = number of
/// contested predictions):
///  1. MC `openRound`: escrows 2*K*Z and commits the Merkle root of its K input commitments,
///     leaves `inputLeaf(i, inputCommitment_i)` for i = 0..K-1.
///  2. MP (the model's provider) `join`s before the join deadline: escrows beta*K*Z, the model's
///     stake is locked; the round deadline is join time + the round's duration.
///  3. MP serves predictions off-chain and signs (EIP-712, `predictionsDigest`) the Merkle root of
///     leaves `predictionLeaf(i, inputCommitment_i, class_i)`. Anyone (normally MC) posts it with
///     `commitPredictions` before the round deadline.
///  4. MC `contest`s any subset of indices before the round deadline.
///  5. Anyone (normally MP) `answer`s a contested index with a halo2 proof whose instances are
///     [inputCommitment_i, the registered weight commitment, class_i], plus the two Merkle proofs,
///     before the answer deadline (round deadline + answer window + K1 * proof window); a model
///     whose aggregation verifier was registered before the round was opened may answer up to B
///     contests with one aggregated proof (`answerAggregated`).
///  6. Anyone `settle`s: all contests answered -> MC gets 2KZ - 2*K1*Z, MP gets beta*K*Z + 2*K1*Z;
///     some contest unanswered at the answer deadline -> MC gets 2KZ + beta*K*Z, MP nothing;
///     nothing contested, or no predictions committed -> both escrows are returned.
///     Payouts are credits, withdrawn with `withdraw(token)`.
/// If MP does not join by the join deadline, anyone may settle and MC gets its escrow back
/// (MC may also `cancel` before MP joins). Merkle trees hash internal nodes as the sorted pair
/// (OpenZeppelin MerkleProof; e.g. StandardMerkleTree of the npm package openzeppelin merkle-tree); leaves are
/// double-hashed `keccak256(bytes.concat(keccak256(abi.encode(...))))`.
interface IServingRound is IEscrow {
    // ---------------------------------------------------------------- events

    /// @notice MC opened round `roundId` for model `modelId`, escrowing `consumerEscrow` = 2*K*Z.
    event RoundOpened(
        uint256 indexed roundId,
        uint256 indexed modelId,
        address indexed consumer,
        address token,
        uint32 k,
        uint16 beta,
        uint32 duration,
        bytes32 inputsRoot,
        uint256 consumerEscrow,
        uint64 joinDeadline
    );

    /// @notice MP joined, escrowing `providerEscrow` = beta*K*Z; predictions may be committed and
    /// contested until `roundDeadline`.
    event RoundJoined(uint256 indexed roundId, address indexed provider, uint256 providerEscrow, uint64 roundDeadline);

    /// @notice MP's signed predictions root was posted by `submitter`.
    event PredictionsCommitted(uint256 indexed roundId, bytes32 predictionsRoot, address indexed submitter);

    /// @notice MC contested `indices`; `contested` is the new total K1 and `answerDeadline` the
    /// new answer deadline (round deadline + answer window + K1 * proof window).
    event PredictionsContested(uint256 indexed roundId, uint32[] indices, uint32 contested, uint64 answerDeadline);

    /// @notice Contested prediction `index` was proven (class `predictedClass`); `answered` is the new total.
    event ContestAnswered(uint256 indexed roundId, uint32 indexed index, uint256 predictedClass, uint32 answered);

    /// @notice The round ended before MP joined; MC's escrow `refund` was credited back.
    event RoundCancelled(uint256 indexed roundId, uint256 refund);

    /// @notice The round was settled; the amounts were credited to MC and MP.
    event RoundSettled(uint256 indexed roundId, RoundOutcome outcome, uint256 consumerPayout, uint256 providerPayout);

    // ---------------------------------------------------------------- errors

    /// @notice The registry address holds no code.
    error RegistryNotContract(address registry);

    /// @notice The configured beta range is not 2 <= minBeta <= maxBeta.
    error InvalidBetaRange(uint16 minBeta, uint16 maxBeta);

    /// @notice A configured limit or window is zero.
    error ZeroConfigValue();

    /// @notice A configured window (or maxK * proofWindow) exceeds `max` seconds.
    error WindowTooLong(uint256 window, uint256 max);

    /// @notice The model cannot take new jobs (see IModelRegistry.isAvailable).
    error ModelUnavailable(uint256 modelId);

    /// @notice K must satisfy 0 < K <= maxK.
    error RoundSizeOutOfRange(uint32 k, uint32 maxK);

    /// @notice beta must satisfy minBeta <= beta <= maxBeta.
    error BetaOutOfRange(uint16 beta, uint16 minBeta, uint16 maxBeta);

    /// @notice The duration must satisfy 0 < duration <= maxDuration.
    error DurationOutOfRange(uint32 duration, uint32 maxDuration);

    /// @notice A commitment root must not be zero.
    error ZeroRoot();

    /// @notice The call is not allowed in the round's current phase.
    error UnexpectedRoundState(uint256 roundId, RoundState current);

    /// @notice Only the round's consumer (MC) may do this.
    error NotRoundConsumer(uint256 roundId, address caller, address consumer);

    /// @notice Only the round's provider (MP) may do this.
    error NotRoundProvider(uint256 roundId, address caller, address provider);

    /// @notice The predictions root was already committed.
    error PredictionsAlreadyCommitted(uint256 roundId);

    /// @notice No predictions root was committed yet.
    error PredictionsNotCommitted(uint256 roundId);

    /// @notice The signature over the predictions root is not the provider's.
    error InvalidProviderSignature(uint256 roundId, address provider);

    /// @notice A contest named no index.
    error NoIndices(uint256 roundId);

    /// @notice `index` is not below K.
    error IndexOutOfRange(uint256 roundId, uint32 index, uint32 k);

    /// @notice `index` was already contested.
    error AlreadyContested(uint256 roundId, uint32 index);

    /// @notice `index` was not contested.
    error NotContested(uint256 roundId, uint32 index);

    /// @notice `index` was already answered.
    error AlreadyAnswered(uint256 roundId, uint32 index);

    /// @notice No answer was given.
    error NoAnswers(uint256 roundId);

    /// @notice The input commitment is not MC's committed input at `index`.
    error InputNotCommitted(uint256 roundId, uint32 index, bytes32 inputCommitment);

    /// @notice The class is not MP's signed prediction for `index`.
    error PredictionNotSigned(uint256 roundId, uint32 index, uint256 predictedClass);

    /// @notice The model's verifier rejected the proof for `index`.
    error ProofRejected(uint256 roundId, uint32 index);

    /// @notice The model's aggregation verifier rejected the aggregated proof of a batch (the
    /// whole batch reverted).
    error BatchProofRejected(uint256 roundId);

    // ---------------------------------------------------------------- actions

    /// @notice MC opens a round of `k` predictions for `modelId`, escrowing 2*k*Z (send it as
    /// `msg.value` for ETH; approve it first for an ERC-20).
    /// @param beta The provider escrow multiplier MC proposes (MP accepts it by joining).
    /// @param duration Seconds from MP's join to the round deadline.
    /// @param inputsRoot Merkle root over `inputLeaf(i, inputCommitment_i)`, i < k.
    /// @return roundId The new round's id (ids start at 1).
    function openRound(uint256 modelId, uint32 k, uint16 beta, uint32 duration, bytes32 inputsRoot)
        external
        payable
        returns (uint256 roundId);

    /// @notice MC withdraws an offer MP has not joined; its escrow is credited back.
    function cancel(uint256 roundId) external;

    /// @notice MP joins, escrowing beta*K*Z; the model's stake is locked until settlement.
    function join(uint256 roundId) external payable;

    /// @notice Posts MP's predictions root with MP's EIP-712 signature over
    /// `predictionsDigest(roundId, inputsRoot, predictionsRoot)` (EOA or ERC-1271 signer).
    function commitPredictions(uint256 roundId, bytes32 predictionsRoot, bytes calldata signature) external;

    /// @notice MC contests the predictions at `indices` (each below K, each at most once).
    function contest(uint256 roundId, uint32[] calldata indices) external;

    /// @notice Proves one contested prediction.
    function answer(uint256 roundId, Answer calldata a) external;

    /// @notice Proves several contested predictions in one transaction.
    function answerBatch(uint256 roundId, Answer[] calldata answers) external;

    /// @notice Proves several contested predictions with one aggregated proof (model with an
    /// aggregation verifier registered before the round was opened only, see
    /// IModelRegistry.registerAggregationVerifier). Each answer is checked and counted exactly
    /// as in `answer` (contested, not yet answered, MC's committed input, MP's signed class, one
    /// ContestAnswered each, a duplicate index reverts AlreadyAnswered); then the aggregation
    /// verifier must accept `agg` for `agg.accumulator` followed by one slot [inputCommitment,
    /// registered weight commitment, predictedClass] per answer, the slots past the answers
    /// repeating the last one. Reverts
    /// InferenceProofs.NoAggregationVerifier / AggregationNotInJobTerms (registered at or after
    /// the round was opened, `joinDeadline - joinWindow`) / BatchEmpty / BatchTooLarge, or
    /// BatchProofRejected if the verifier rejects (nothing is counted).
    function answerAggregated(uint256 roundId, AnswerExample[] calldata answers, AggregatedProof calldata agg) external;

    /// @notice Ends a round whose phase is JoinExpired (MC refunded) or Settleable (payouts as
    /// in the contract description). Anyone may call.
    function settle(uint256 roundId) external;

    // ---------------------------------------------------------------- views

    /// @notice The round's current phase.
    function state(uint256 roundId) external view returns (RoundState);

    /// @notice The stored round.
    function round(uint256 roundId) external view returns (Round memory);

    /// @notice The round's answer deadline: round deadline + answer window + K1 * proof window
    /// (0 before MP joins).
    function answerDeadline(uint256 roundId) external view returns (uint64);

    /// @notice Whether `index` was contested / answered.
    function isContested(uint256 roundId, uint32 index) external view returns (bool);

    /// @notice Whether `index` was answered.
    function isAnswered(uint256 roundId, uint32 index) external view returns (bool);

    /// @notice Number of rounds opened so far.
    function roundCount() external view returns (uint256);

    /// @notice MC's escrow for a round of `k` at proof price `proofZ`: 2*k*Z.
    function consumerEscrowFor(uint32 k, uint256 proofZ) external pure returns (uint256);

    /// @notice MP's escrow: beta*k*Z.
    function providerEscrowFor(uint32 k, uint16 beta, uint256 proofZ) external pure returns (uint256);

    /// @notice Leaf of MC's inputs tree.
    function inputLeaf(uint32 index, bytes32 inputCommitment) external pure returns (bytes32);

    /// @notice Leaf of MP's predictions tree.
    function predictionLeaf(uint32 index, bytes32 inputCommitment, uint256 predictedClass)
        external
        pure
        returns (bytes32);

    /// @notice The EIP-712 digest MP signs:
    /// Predictions(uint256 roundId,bytes32 inputsRoot,bytes32 predictionsRoot) in the domain
    /// (name "zkmarket ServingRound", version "1", chain id, this contract).
    function predictionsDigest(uint256 roundId, bytes32 inputsRoot, bytes32 predictionsRoot)
        external
        view
        returns (bytes32);
}
