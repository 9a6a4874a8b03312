// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IEscrow} from "./IEscrow.sol";
import {AggregatedProof} from "../lib/Types.sol";

/// @notice A responder's commitment to a dataset of D documents (paper 5.4 step 1).
/// @param responder The account that committed it; only requests to models it provides may
/// name the dataset.
/// @param size D, the number of documents.
/// @param committedAt When it was committed (before any request naming it).
/// @param root Merkle root over `documentLeaf(i, inputCommitment_i)`, i < D.
struct Dataset {
    address responder;
    uint32 size;
    uint64 committedAt;
    bytes32 root;
}

/// @notice Stored life cycle of a retrieval request; the phase is derived by Retrieval.state().
enum RequestStatus {
    None,
    Opened,
    Joined,
    Settled,
    Cancelled
}

/// @notice Phase of a retrieval request, derived from its stored status, counters and deadlines.
/// Open: waiting for the responder to join (before the join deadline).
/// JoinExpired: the responder did not join in time; anyone may settle (requester refunded).
/// Responding: joined, before the results deadline, no results root committed yet.
/// Challenging: results committed, before the challenge deadline: the requester may challenge,
/// the responder may answer.
/// AwaitingAnswers: the challenge window is over, some challenges are unanswered and the
/// answer deadline has not passed.
/// Settleable: anyone may settle (results missed, or challenges over and answered or expired).
enum RequestState {
    None,
    Open,
    JoinExpired,
    Responding,
    Challenging,
    AwaitingAnswers,
    Settleable,
    Settled,
    Cancelled
}

/// @notice How a retrieval request ended (decides the payouts, see IRetrieval.RequestSettled).
enum RetrievalOutcome {
    /// @dev The responder joined but committed no results by the results deadline: it loses its
    /// bond beta*D*Z to the requester, who is also refunded.
    NoResults,
    /// @dev Results committed, nothing challenged: the responder is paid D*P.
    Unchallenged,
    /// @dev Every challenged result was proven: the responder is paid D*P + 2*C1*Z.
    ChallengesAnswered,
    /// @dev Some challenged result was not proven in time: the responder loses beta*D*Z to the
    /// requester, who is also refunded.
    ChallengesUnanswered
}

/// @notice A retrieval request (paper 5.4). D = `documents`, C = `maxChallenges`, C1 = `challenged`.
/// @param inferenceP P of the model's token at opening (the query pays D*P).
/// @param proofZ Z of the model's token at opening (2*Z per challenge, bond beta*D*Z).
/// @dev The request was opened at `joinDeadline - Retrieval.joinWindow` (the join deadline is set
/// once, at opening, and the window is immutable): the request takes aggregated proofs only if
/// the model's aggregation verifier was registered before that. (Not stored: no slot the opening
/// writes has room left for it.)
struct RetrievalRequest {
    address requester;
    uint32 documents;
    uint32 maxChallenges;
    address responder;
    uint16 beta;
    RequestStatus status;
    uint64 joinDeadline;
    address token;
    uint32 duration;
    uint32 challenged;
    uint32 answered;
    uint64 resultsDeadline;
    uint64 challengeDeadline;
    uint256 modelId;
    uint256 datasetId;
    uint256 inferenceP;
    uint256 proofZ;
    bytes32 datasetRoot;
    bytes32 resultsRoot;
}

/// @notice The responder's answer to one challenged result.
/// @param index Position of the document in the dataset (0 <= index < D).
/// @param inputCommitment The document's Poseidon commitment (a leaf of the dataset root).
/// @param predictedClass The committed result (a leaf of the signed results root).
/// @param documentProof Merkle proof of Retrieval.documentLeaf(index, inputCommitment).
/// @param resultProof Merkle proof of Retrieval.resultLeaf(index, inputCommitment, predictedClass).
/// @param proof halo2 proof with instances [inputCommitment, weightCommitment, predictedClass].
struct ResultProof {
    uint32 index;
    bytes32 inputCommitment;
    uint256 predictedClass;
    bytes32[] documentProof;
    bytes32[] resultProof;
    bytes proof;
}

/// @notice The responder's answer to one challenged result inside an aggregated batch
/// (answerAggregated): a ResultProof without its proof, which the batch's AggregatedProof covers.
struct ResultExample {
    uint32 index;
    bytes32 inputCommitment;
    uint256 predictedClass;
    bytes32[] documentProof;
    bytes32[] resultProof;
}

/// @notice Limits of the retrieval requests, fixed at deployment.
/// @param minBeta Smallest bond multiplier beta a requester may propose (>= 2).
/// @param maxBeta Largest beta a requester may propose.
/// @param maxDocuments Largest dataset size D.
/// @param maxDuration Longest time (seconds from join to the results deadline) a requester may
/// give the responder to run the model and commit its results.
/// @param proofWindow Extra seconds of answer time per challenged result (may be 0).
/// @param joinWindow Seconds the responder has to join an opened request.
/// @param challengeWindow Seconds after the results are committed for the requester to check the
/// delivered documents and challenge.
/// @param answerWindow Seconds after the challenge deadline the responder has to answer.
struct RetrievalConfig {
    uint16 minBeta;
    uint16 maxBeta;
    uint32 maxDocuments;
    uint32 maxDuration;
    uint32 proofWindow;
    uint64 joinWindow;
    uint64 challengeWindow;
    uint64 answerWindow;
}

/// @title IRetrieval
/// @notice Trustless retrieval of the documents matching a model's predicate (paper 5.4), with
/// spot-check challenges as in the serving rounds (5.3).
/// @dev Flow and amounts (P, Z = the prices of the model's payment token, D = dataset size,
/// C = the challenge budget, C1 = number of challenged results):
///  1. The responder `commitDataset`s: the Merkle root over `documentLeaf(i, inputCommitment_i)`,
///     i < D, and D. The commitment predates any request naming it.
///  2. The requester `openRequest`s naming the dataset and a model of the dataset's responder,
///     escrowing D*P (the query) + 2*C*Z (the challenge budget), C <= D.
///  3. The responder `join`s before the join deadline, escrowing the bond beta*D*Z; the model's
///     stake is locked; the results deadline is join time + the request's duration.
///  4. The responder runs the model on every document, signs (EIP-712, `resultsDigest`) the
///     Merkle root over `resultLeaf(i, inputCommitment_i, class_i)` and delivers the documents
///     of the positive class off-chain. Anyone posts the root with `commitResults` before the
///     results deadline; the challenge deadline is then commit time + the challenge window.
///  5. The requester `challenge`s any results (at most C in all) before the challenge deadline.
///  6. Anyone (normally the responder) `answer`s a challenged index with a halo2 proof whose
///     instances are [inputCommitment_i, the registered weight commitment, class_i], plus the
///     two Merkle proofs, before the answer deadline (challenge deadline + answer window + C1 *
///     proof window); a model whose aggregation verifier was registered before the request was
///     opened may answer up to B challenges with one aggregated proof (`answerAggregated`).
///  7. Anyone `settle`s after the challenge deadline (with challenges outstanding, after the
///     answer deadline). Payouts (credits, withdrawn with `withdraw(token)`):
///       all challenges answered (or none made): requester 2*C*Z - 2*C1*Z,
///         responder beta*D*Z + D*P + 2*C1*Z;
///       some challenge unanswered: requester D*P + 2*C*Z + beta*D*Z, responder nothing;
///       no results committed by the results deadline: as unanswered.
/// If the responder does not join by the join deadline, anyone may settle and the requester gets
/// its escrow back (it may also `cancel` before the responder joins). Merkle trees hash internal
/// nodes as the sorted pair (OpenZeppelin MerkleProof); leaves are double-hashed
/// `keccak256(bytes.concat(keccak256(abi.encode(...))))`, the same encodings as ServingRound's
/// input and prediction leaves.
interface IRetrieval is IEscrow {
    // ---------------------------------------------------------------- events

    /// @notice `responder` committed dataset `datasetId` of `size` documents.
    event DatasetCommitted(uint256 indexed datasetId, address indexed responder, uint32 size, bytes32 root);

    /// @notice The requester opened request `requestId` for model `modelId` on dataset
    /// `datasetId`, escrowing `requesterEscrow` = D*P + 2*C*Z.
    event RequestOpened(
        uint256 indexed requestId,
        uint256 indexed modelId,
        address indexed requester,
        uint256 datasetId,
        address token,
        uint32 maxChallenges,
        uint16 beta,
        uint32 duration,
        uint256 requesterEscrow,
        uint64 joinDeadline
    );

    /// @notice The responder joined, bonding `bond` = beta*D*Z; results are due by `resultsDeadline`.
    event RequestJoined(uint256 indexed requestId, address indexed responder, uint256 bond, uint64 resultsDeadline);

    /// @notice The responder's signed results root was posted by `submitter`; challenges are
    /// open until `challengeDeadline`.
    event ResultsCommitted(
        uint256 indexed requestId, bytes32 resultsRoot, address indexed submitter, uint64 challengeDeadline
    );

    /// @notice The requester challenged `indices`; `challenged` is the new total C1 and
    /// `answerDeadline` the new answer deadline.
    event ResultsChallenged(uint256 indexed requestId, uint32[] indices, uint32 challenged, uint64 answerDeadline);

    /// @notice Challenged result `index` was proven (class `predictedClass`); `answered` is the new total.
    event ChallengeAnswered(uint256 indexed requestId, uint32 indexed index, uint256 predictedClass, uint32 answered);

    /// @notice The request ended before the responder joined; the escrow `refund` was credited back.
    event RequestCancelled(uint256 indexed requestId, uint256 refund);

    /// @notice The request was settled; the amounts were credited to the requester and responder.
    event RequestSettled(
        uint256 indexed requestId, RetrievalOutcome outcome, uint256 requesterPayout, uint256 responderPayout
    );

    // ---------------------------------------------------------------- errors

    /// @notice The registry address holds no code.
    error RegistryNotContract(address registry);

    /// @notice The configured beta range is not 2 <= minBeta <= maxBeta.
    error InvalidBetaRange(uint16 minBeta, uint16 maxBeta);

    /// @notice A configured limit or window is zero.
    error ZeroConfigValue();

    /// @notice A configured window (or maxDocuments * proofWindow) exceeds `max` seconds.
    error WindowTooLong(uint256 window, uint256 max);

    /// @notice A commitment root must not be zero.
    error ZeroRoot();

    /// @notice D must satisfy 0 < D <= maxDocuments.
    error DatasetSizeOutOfRange(uint32 size, uint32 maxDocuments);

    /// @notice No dataset has this id.
    error DatasetNotFound(uint256 datasetId);

    /// @notice The dataset was committed by `responder`, not by the model's provider.
    error DatasetNotProviders(uint256 datasetId, address responder, address provider);

    /// @notice The model cannot take new jobs (see IModelRegistry.isAvailable).
    error ModelUnavailable(uint256 modelId);

    /// @notice The challenge budget must satisfy C <= D.
    error ChallengeBudgetOutOfRange(uint32 maxChallenges, uint32 documents);

    /// @notice beta must satisfy minBeta <= beta <= maxBeta.
    error BetaOutOfRange(uint16 beta, uint16 minBeta, uint16 maxBeta);

    /// @notice The duration must satisfy 0 < duration <= maxDuration.
    error DurationOutOfRange(uint32 duration, uint32 maxDuration);

    /// @notice The call is not allowed in the request's current phase.
    error UnexpectedRequestState(uint256 requestId, RequestState current);

    /// @notice Only the request's requester may do this.
    error NotRequester(uint256 requestId, address caller, address requester);

    /// @notice Only the request's responder may do this.
    error NotResponder(uint256 requestId, address caller, address responder);

    /// @notice The signature over the results root is not the responder's.
    error InvalidResponderSignature(uint256 requestId, address responder);

    /// @notice A challenge named no index.
    error NoIndices(uint256 requestId);

    /// @notice The challenge names `requested` indices but only `remaining` of the budget C are left.
    error ChallengeBudgetExceeded(uint256 requestId, uint256 requested, uint32 remaining);

    /// @notice `index` is not below D.
    error IndexOutOfRange(uint256 requestId, uint32 index, uint32 documents);

    /// @notice `index` was already challenged.
    error AlreadyChallenged(uint256 requestId, uint32 index);

    /// @notice `index` was not challenged.
    error NotChallenged(uint256 requestId, uint32 index);

    /// @notice `index` was already answered.
    error AlreadyAnswered(uint256 requestId, uint32 index);

    /// @notice No answer was given.
    error NoAnswers(uint256 requestId);

    /// @notice The input commitment is not the committed document at `index`.
    error DocumentNotCommitted(uint256 requestId, uint32 index, bytes32 inputCommitment);

    /// @notice The class is not the responder's signed result for `index`.
    error ResultNotSigned(uint256 requestId, uint32 index, uint256 predictedClass);

    /// @notice The model's verifier rejected the proof for `index`.
    error ProofRejected(uint256 requestId, uint32 index);

    /// @notice The model's aggregation verifier rejected the aggregated proof of a batch (the
    /// whole batch reverted).
    error BatchProofRejected(uint256 requestId);

    // ---------------------------------------------------------------- actions

    /// @notice The responder commits to a dataset of `size` documents.
    /// @param root Merkle root over `documentLeaf(i, inputCommitment_i)`, i < size.
    /// @return datasetId The new dataset's id (ids start at 1).
    function commitDataset(bytes32 root, uint32 size) external returns (uint256 datasetId);

    /// @notice The requester asks for the documents of `datasetId` matching model `modelId`,
    /// escrowing D*P + 2*maxChallenges*Z (send it as `msg.value` for ETH; approve it first for
    /// an ERC-20).
    /// @param beta The bond multiplier the requester proposes (the responder accepts it by joining).
    /// @param duration Seconds from the join to the results deadline.
    /// @return requestId The new request's id (ids start at 1).
    function openRequest(uint256 datasetId, uint256 modelId, uint32 maxChallenges, uint16 beta, uint32 duration)
        external
        payable
        returns (uint256 requestId);

    /// @notice The requester withdraws a request the responder has not joined; its escrow is
    /// credited back.
    function cancel(uint256 requestId) external;

    /// @notice The responder joins, bonding beta*D*Z; the model's stake is locked until settlement.
    function join(uint256 requestId) external payable;

    /// @notice Posts the responder's results root with its EIP-712 signature over
    /// `resultsDigest(requestId, datasetRoot, resultsRoot)` (EOA or ERC-1271 signer).
    function commitResults(uint256 requestId, bytes32 resultsRoot, bytes calldata signature) external;

    /// @notice The requester challenges the results at `indices` (each below D, each at most
    /// once, at most C in all).
    function challenge(uint256 requestId, uint32[] calldata indices) external;

    /// @notice Proves one challenged result.
    function answer(uint256 requestId, ResultProof calldata a) external;

    /// @notice Proves several challenged results in one transaction.
    function answerBatch(uint256 requestId, ResultProof[] calldata answers) external;

    /// @notice Proves several challenged results with one aggregated proof (model with an
    /// aggregation verifier registered before the request was opened only, see
    /// IModelRegistry.registerAggregationVerifier). Each answer is checked and counted exactly
    /// as in `answer` (challenged, not yet answered, the committed document, the signed result,
    /// one ChallengeAnswered each, a duplicate index reverts AlreadyAnswered); then the
    /// aggregation verifier must accept `agg` for `agg.accumulator` followed by one slot
    /// [inputCommitment, registered weight commitment, predictedClass] per answer, the slots
    /// past the answers repeating the last one. Reverts
    /// InferenceProofs.NoAggregationVerifier / AggregationNotInJobTerms (registered at or after
    /// the request was opened, `joinDeadline - joinWindow`) / BatchEmpty / BatchTooLarge, or
    /// BatchProofRejected if the verifier rejects (nothing is counted).
    function answerAggregated(uint256 requestId, ResultExample[] calldata answers, AggregatedProof calldata agg)
        external;

    /// @notice Ends a request whose phase is JoinExpired (requester refunded) or Settleable
    /// (payouts as in the contract description). Anyone may call.
    function settle(uint256 requestId) external;

    // ---------------------------------------------------------------- views

    /// @notice The request's current phase.
    function state(uint256 requestId) external view returns (RequestState);

    /// @notice The stored request.
    function request(uint256 requestId) external view returns (RetrievalRequest memory);

    /// @notice The stored dataset commitment.
    function dataset(uint256 datasetId) external view returns (Dataset memory);

    /// @notice The answer deadline: challenge deadline + answer window + C1 * proof window (0
    /// before results are committed).
    function answerDeadline(uint256 requestId) external view returns (uint64);

    /// @notice Whether `index` was challenged.
    function isChallenged(uint256 requestId, uint32 index) external view returns (bool);

    /// @notice Whether `index` was answered.
    function isAnswered(uint256 requestId, uint32 index) external view returns (bool);

    /// @notice Number of datasets committed so far.
    function datasetCount() external view returns (uint256);

    /// @notice Number of requests opened so far.
    function requestCount() external view returns (uint256);

    /// @notice The requester's escrow: D*P + 2*C*Z.
    function requesterEscrowFor(uint32 documents, uint32 maxChallenges, uint256 inferenceP, uint256 proofZ)
        external
        pure
        returns (uint256);

    /// @notice The responder's bond: beta*D*Z.
    function bondFor(uint32 documents, uint16 beta, uint256 proofZ) external pure returns (uint256);

    /// @notice Leaf of the dataset tree.
    function documentLeaf(uint32 index, bytes32 inputCommitment) external pure returns (bytes32);

    /// @notice Leaf of the results tree.
    function resultLeaf(uint32 index, bytes32 inputCommitment, uint256 predictedClass) external pure returns (bytes32);

    /// @notice The EIP-712 digest the responder signs:
    /// Results(uint256 requestId,bytes32 datasetRoot,bytes32 resultsRoot) in the domain
    /// (name "zkmarket Retrieval", version "1", chain id, this contract).
    function resultsDigest(uint256 requestId, bytes32 datasetRoot, bytes32 resultsRoot) external view returns (bytes32);
}
