// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";
import {BitMaps} from "@openzeppelin/contracts/utils/structs/BitMaps.sol";

import {EscrowBase} from "./EscrowBase.sol";
import {IModelRegistry} from "./interfaces/IModelRegistry.sol";
import {
    Dataset,
    IRetrieval,
    RequestState,
    RequestStatus,
    ResultExample,
    ResultProof,
    RetrievalConfig,
    RetrievalOutcome,
    RetrievalRequest
} from "./interfaces/IRetrieval.sol";
import {InferenceProofs} from "./lib/InferenceProofs.sol";
import {AggregatedProof, AggregationTerms, Outcome, Prices} from "./lib/Types.sol";

/// @title Retrieval
/// @notice Trustless retrieval of the documents matching a model's predicate (paper 5.4) with
/// spot-check challenges; see IRetrieval for the flow, the leaf encodings and the payouts.
/// @dev Money: each request holds exactly the requester's escrow (D*P + 2*C*Z) and, once
/// joined, the responder's bond (beta*D*Z) until it is cancelled or settled, when they are
/// credited out in full; the contract's balance per token equals the open escrows plus the
/// credits (invariant-tested). Registry outcomes reuse the serving-round ones: RoundCompleted
/// when the results stood, RoundFailed when the responder missed its results or a challenge.
contract Retrieval is IRetrieval, EscrowBase, EIP712 {
    using BitMaps for BitMaps.BitMap;

    /// @notice Upper bound of every configured window (and of maxDocuments * proofWindow), so
    /// deadlines can never overflow and lock a request.
    uint256 public constant MAX_WINDOW = 3650 days;

    /// @notice EIP-712 type of the responder's commitment to its results.
    bytes32 public constant RESULTS_TYPEHASH =
        keccak256("Results(uint256 requestId,bytes32 datasetRoot,bytes32 resultsRoot)");

    /// @notice The marketplace registry (models, prices, stakes, records).
    IModelRegistry public immutable registry;
    /// @notice Smallest beta a requester may propose (>= 2, as in paper 5.3).
    uint16 public immutable minBeta;
    /// @notice Largest beta a requester may propose.
    uint16 public immutable maxBeta;
    /// @notice Largest dataset size D.
    uint32 public immutable maxDocuments;
    /// @notice Longest results period a requester may propose (seconds from join).
    uint32 public immutable maxDuration;
    /// @notice Extra answer time per challenged result.
    uint32 public immutable proofWindow;
    /// @notice Seconds the responder has to join an opened request.
    uint64 public immutable joinWindow;
    /// @notice Seconds after the results are committed the requester has to challenge.
    uint64 public immutable challengeWindow;
    /// @notice Seconds after the challenge deadline the responder has to answer.
    uint64 public immutable answerWindow;

    /// @inheritdoc IRetrieval
    uint256 public datasetCount;
    /// @inheritdoc IRetrieval
    uint256 public requestCount;

    mapping(uint256 datasetId => Dataset) private _datasets;
    mapping(uint256 requestId => RetrievalRequest) private _requests;
    mapping(uint256 requestId => BitMaps.BitMap) private _challenged;
    mapping(uint256 requestId => BitMaps.BitMap) private _answered;

    constructor(IModelRegistry registry_, RetrievalConfig memory config) EIP712("zkmarket Retrieval", "1") {
        if (address(registry_).code.length == 0) revert RegistryNotContract(address(registry_));
        if (config.minBeta < 2 || config.maxBeta < config.minBeta) {
            revert InvalidBetaRange(config.minBeta, config.maxBeta);
        }
        if (
            config.maxDocuments == 0 || config.maxDuration == 0 || config.joinWindow == 0 || config.challengeWindow == 0
                || config.answerWindow == 0
        ) {
            revert ZeroConfigValue();
        }
        _requireWindow(config.maxDuration);
        _requireWindow(config.joinWindow);
        _requireWindow(config.challengeWindow);
        _requireWindow(config.answerWindow);
        _requireWindow(uint256(config.maxDocuments) * config.proofWindow);
        registry = registry_;
        minBeta = config.minBeta;
        maxBeta = config.maxBeta;
        maxDocuments = config.maxDocuments;
        maxDuration = config.maxDuration;
        proofWindow = config.proofWindow;
        joinWindow = config.joinWindow;
        challengeWindow = config.challengeWindow;
        answerWindow = config.answerWindow;
    }

    // ---------------------------------------------------------------- actions

    /// @inheritdoc IRetrieval
    function commitDataset(bytes32 root, uint32 size) external returns (uint256 datasetId) {
        if (root == bytes32(0)) revert ZeroRoot();
        if (size == 0 || size > maxDocuments) revert DatasetSizeOutOfRange(size, maxDocuments);
        datasetId = ++datasetCount;
        _datasets[datasetId] =
            Dataset({responder: msg.sender, size: size, committedAt: uint64(block.timestamp), root: root});
        emit DatasetCommitted(datasetId, msg.sender, size, root);
    }

    /// @inheritdoc IRetrieval
    function openRequest(uint256 datasetId, uint256 modelId, uint32 maxChallenges, uint16 beta, uint32 duration)
        external
        payable
        nonReentrant
        returns (uint256 requestId)
    {
        Dataset storage ds = _datasets[datasetId];
        if (ds.responder == address(0)) revert DatasetNotFound(datasetId);
        // Only the named fields of the job terms are needed here.
        // slither-disable-next-line unused-return
        (address provider, address token,,,) = registry.jobTerms(modelId);
        // INVARIANT: the dataset was committed by the model's provider before this request
        // (paper 5.4 step 1 precedes step 2), so it cannot be tailored to the predicate.
        if (ds.responder != provider) revert DatasetNotProviders(datasetId, ds.responder, provider);
        if (!registry.isAvailable(modelId)) revert ModelUnavailable(modelId);
        if (maxChallenges > ds.size) revert ChallengeBudgetOutOfRange(maxChallenges, ds.size);
        if (beta < minBeta || beta > maxBeta) revert BetaOutOfRange(beta, minBeta, maxBeta);
        if (duration == 0 || duration > maxDuration) revert DurationOutOfRange(duration, maxDuration);

        requestId = ++requestCount;
        RetrievalRequest storage q = _requests[requestId];
        q.requester = msg.sender;
        q.documents = ds.size;
        q.maxChallenges = maxChallenges;
        q.responder = provider;
        q.beta = beta;
        q.status = RequestStatus.Opened;
        q.joinDeadline = uint64(block.timestamp) + joinWindow;
        q.token = token;
        q.duration = duration;
        q.modelId = modelId;
        q.datasetId = datasetId;
        Prices memory prices = registry.prices(token);
        q.inferenceP = prices.inferenceP;
        q.proofZ = prices.proofZ;
        q.datasetRoot = ds.root;
        uint256 escrow = _requesterEscrow(q.documents, maxChallenges, prices.inferenceP, prices.proofZ);
        _collect(token, msg.sender, escrow);
        _emitOpened(requestId, q, escrow);
    }

    /// @inheritdoc IRetrieval
    function cancel(uint256 requestId) external nonReentrant {
        RetrievalRequest storage q = _requests[requestId];
        _requireState(requestId, RequestState.Open);
        if (msg.sender != q.requester) revert NotRequester(requestId, msg.sender, q.requester);
        _cancel(requestId, q);
    }

    /// @inheritdoc IRetrieval
    function join(uint256 requestId) external payable nonReentrant {
        RetrievalRequest storage q = _requests[requestId];
        _requireState(requestId, RequestState.Open);
        if (msg.sender != q.responder) revert NotResponder(requestId, msg.sender, q.responder);
        uint256 bond = _bond(q.documents, q.beta, q.proofZ);
        _collect(q.token, msg.sender, bond);
        uint64 resultsDeadline = uint64(block.timestamp) + q.duration;
        q.status = RequestStatus.Joined;
        q.resultsDeadline = resultsDeadline;
        emit RequestJoined(requestId, msg.sender, bond, resultsDeadline);
        // Reverts (ModelNotAvailable) if the model started unbonding or was slashed since the
        // request opened; the requester can then cancel or let the join window run out.
        registry.lock(q.modelId);
    }

    /// @inheritdoc IRetrieval
    function commitResults(uint256 requestId, bytes32 resultsRoot, bytes calldata signature) external {
        RetrievalRequest storage q = _requests[requestId];
        // INVARIANT: results only once (the phase moves on) and before the results deadline.
        _requireState(requestId, RequestState.Responding);
        if (resultsRoot == bytes32(0)) revert ZeroRoot();
        bytes32 digest = _resultsDigest(requestId, q.datasetRoot, resultsRoot);
        if (!SignatureChecker.isValidSignatureNowCalldata(q.responder, digest, signature)) {
            revert InvalidResponderSignature(requestId, q.responder);
        }
        uint64 challengeDeadline = uint64(block.timestamp) + challengeWindow;
        q.resultsRoot = resultsRoot;
        q.challengeDeadline = challengeDeadline;
        emit ResultsCommitted(requestId, resultsRoot, msg.sender, challengeDeadline);
    }

    /// @inheritdoc IRetrieval
    function challenge(uint256 requestId, uint32[] calldata indices) external {
        RetrievalRequest storage q = _requests[requestId];
        // INVARIANT: challenges only between the results commitment and the challenge deadline.
        _requireState(requestId, RequestState.Challenging);
        if (msg.sender != q.requester) revert NotRequester(requestId, msg.sender, q.requester);
        if (indices.length == 0) revert NoIndices(requestId);
        // INVARIANT: C1 <= C, so 2*C1*Z never exceeds the escrowed challenge budget.
        uint32 remaining = q.maxChallenges - q.challenged;
        if (indices.length > remaining) revert ChallengeBudgetExceeded(requestId, indices.length, remaining);
        BitMaps.BitMap storage challenged = _challenged[requestId];
        uint32 documents = q.documents;
        for (uint256 i = 0; i < indices.length; ++i) {
            uint32 index = indices[i];
            if (index >= documents) revert IndexOutOfRange(requestId, index, documents);
            if (challenged.get(index)) revert AlreadyChallenged(requestId, index);
            challenged.set(index);
        }
        uint32 total = q.maxChallenges - remaining + uint32(indices.length);
        q.challenged = total;
        emit ResultsChallenged(requestId, indices, total, _answerDeadline(q));
    }

    /// @inheritdoc IRetrieval
    function answer(uint256 requestId, ResultProof calldata a) external {
        RetrievalRequest storage q = _answerable(requestId);
        // Only the named fields of the job terms are needed here.
        // slither-disable-next-line unused-return
        (,, address verifier, bytes32 codehash, bytes32 weightCommitment) = registry.jobTerms(q.modelId);
        _answer(requestId, q, a, verifier, codehash, weightCommitment);
    }

    /// @inheritdoc IRetrieval
    function answerBatch(uint256 requestId, ResultProof[] calldata answers) external {
        RetrievalRequest storage q = _answerable(requestId);
        if (answers.length == 0) revert NoAnswers(requestId);
        // Only the named fields of the job terms are needed here.
        // slither-disable-next-line unused-return
        (,, address verifier, bytes32 codehash, bytes32 weightCommitment) = registry.jobTerms(q.modelId);
        for (uint256 i = 0; i < answers.length; ++i) {
            _answer(requestId, q, answers[i], verifier, codehash, weightCommitment);
        }
    }

    /// @inheritdoc IRetrieval
    function answerAggregated(uint256 requestId, ResultExample[] calldata answers, AggregatedProof calldata agg)
        external
    {
        RetrievalRequest storage q = _answerable(requestId);
        (AggregationTerms memory terms, bytes32 weightCommitment) =
            InferenceProofs.batchTerms(registry, q.modelId, answers.length, _openedAt(q));
        bytes32[] memory inputCommitments = new bytes32[](answers.length);
        uint256[] memory classes = new uint256[](answers.length);
        uint32 answered = q.answered;
        for (uint256 i = 0; i < answers.length; ++i) {
            ResultExample calldata e = answers[i];
            _requireBound(requestId, q, e.index, e.inputCommitment, e.predictedClass, e.documentProof, e.resultProof);
            // Marked answered before the next answer is checked: a duplicate index in the batch
            // reverts AlreadyAnswered, so no challenge counts twice.
            answered = _accept(requestId, e.index, e.predictedClass, answered);
            inputCommitments[i] = e.inputCommitment;
            classes[i] = e.predictedClass;
        }
        q.answered = answered;
        // A rejected aggregated proof reverts the whole batch (it changes nothing).
        if (!InferenceProofs.verifyBatch(terms, weightCommitment, inputCommitments, classes, agg)) {
            revert BatchProofRejected(requestId);
        }
    }

    /// @inheritdoc IRetrieval
    function settle(uint256 requestId) external nonReentrant {
        RetrievalRequest storage q = _requests[requestId];
        RequestState current = state(requestId);
        if (current == RequestState.JoinExpired) {
            _cancel(requestId, q);
            return;
        }
        // INVARIANT: settlement only after the results deadline (no results), or after the
        // challenge deadline with every challenge answered, or after the answer deadline;
        // anyone may trigger it, so funds never stay stuck.
        if (current != RequestState.Settleable) revert UnexpectedRequestState(requestId, current);

        uint256 escrow = _requesterEscrow(q.documents, q.maxChallenges, q.inferenceP, q.proofZ);
        uint256 bond = _bond(q.documents, q.beta, q.proofZ);
        RetrievalOutcome outcome;
        uint256 requesterPayout;
        uint256 responderPayout;
        if (q.resultsRoot == bytes32(0)) {
            // The responder accepted the query and delivered nothing: it loses its bond.
            outcome = RetrievalOutcome.NoResults;
            (requesterPayout, responderPayout) = (escrow + bond, 0);
        } else if (q.answered < q.challenged) {
            // A challenged result was not proven (as paper 5.3 step 5): the bond goes to the requester.
            outcome = RetrievalOutcome.ChallengesUnanswered;
            (requesterPayout, responderPayout) = (escrow + bond, 0);
        } else {
            // The results stood: the responder is paid the query D*P and 2*Z per challenge
            // (at most the 2*C*Z budget since C1 <= C).
            outcome = q.challenged == 0 ? RetrievalOutcome.Unchallenged : RetrievalOutcome.ChallengesAnswered;
            uint256 fee = uint256(q.documents) * q.inferenceP + 2 * uint256(q.challenged) * q.proofZ;
            (requesterPayout, responderPayout) = (escrow - fee, bond + fee);
        }
        q.status = RequestStatus.Settled;
        emit RequestSettled(requestId, outcome, requesterPayout, responderPayout);
        _credit(q.requester, q.token, requesterPayout);
        _credit(q.responder, q.token, responderPayout);
        bool failed = outcome == RetrievalOutcome.NoResults || outcome == RetrievalOutcome.ChallengesUnanswered;
        registry.recordOutcome(q.modelId, failed ? Outcome.RoundFailed : Outcome.RoundCompleted);
        registry.unlock(q.modelId);
    }

    // ---------------------------------------------------------------- views

    /// @inheritdoc IRetrieval
    function state(uint256 requestId) public view returns (RequestState) {
        RetrievalRequest storage q = _requests[requestId];
        RequestStatus status = q.status;
        if (status == RequestStatus.None) return RequestState.None;
        if (status == RequestStatus.Settled) return RequestState.Settled;
        if (status == RequestStatus.Cancelled) return RequestState.Cancelled;
        if (status == RequestStatus.Opened) {
            return block.timestamp < q.joinDeadline ? RequestState.Open : RequestState.JoinExpired;
        }
        // Deadlines are hours to days apart; a validator's few seconds of timestamp leeway do
        // not matter (and there is no randomness drawn from block data).
        if (q.resultsRoot == bytes32(0)) {
            return block.timestamp < q.resultsDeadline ? RequestState.Responding : RequestState.Settleable;
        }
        if (block.timestamp < q.challengeDeadline) return RequestState.Challenging;
        if (q.answered < q.challenged && block.timestamp < _answerDeadline(q)) return RequestState.AwaitingAnswers;
        return RequestState.Settleable;
    }

    /// @inheritdoc IRetrieval
    function request(uint256 requestId) external view returns (RetrievalRequest memory) {
        return _requests[requestId];
    }

    /// @inheritdoc IRetrieval
    function dataset(uint256 datasetId) external view returns (Dataset memory) {
        return _datasets[datasetId];
    }

    /// @inheritdoc IRetrieval
    function answerDeadline(uint256 requestId) external view returns (uint64) {
        RetrievalRequest storage q = _requests[requestId];
        return q.challengeDeadline == 0 ? 0 : _answerDeadline(q);
    }

    /// @inheritdoc IRetrieval
    function isChallenged(uint256 requestId, uint32 index) external view returns (bool) {
        return _challenged[requestId].get(index);
    }

    /// @inheritdoc IRetrieval
    function isAnswered(uint256 requestId, uint32 index) external view returns (bool) {
        return _answered[requestId].get(index);
    }

    /// @inheritdoc IRetrieval
    function requesterEscrowFor(uint32 documents, uint32 maxChallenges, uint256 inferenceP, uint256 proofZ)
        external
        pure
        returns (uint256)
    {
        return _requesterEscrow(documents, maxChallenges, inferenceP, proofZ);
    }

    /// @inheritdoc IRetrieval
    function bondFor(uint32 documents, uint16 beta, uint256 proofZ) external pure returns (uint256) {
        return _bond(documents, beta, proofZ);
    }

    /// @inheritdoc IRetrieval
    function documentLeaf(uint32 index, bytes32 inputCommitment) public pure returns (bytes32) {
        return keccak256(bytes.concat(keccak256(abi.encode(uint256(index), inputCommitment))));
    }

    /// @inheritdoc IRetrieval
    function resultLeaf(uint32 index, bytes32 inputCommitment, uint256 predictedClass) public pure returns (bytes32) {
        return keccak256(bytes.concat(keccak256(abi.encode(uint256(index), inputCommitment, predictedClass))));
    }

    /// @inheritdoc IRetrieval
    function resultsDigest(uint256 requestId, bytes32 datasetRoot, bytes32 resultsRoot)
        external
        view
        returns (bytes32)
    {
        return _resultsDigest(requestId, datasetRoot, resultsRoot);
    }

    // ---------------------------------------------------------------- internals

    function _requesterEscrow(uint32 documents, uint32 maxChallenges, uint256 inferenceP, uint256 proofZ)
        private
        pure
        returns (uint256)
    {
        return uint256(documents) * inferenceP + 2 * uint256(maxChallenges) * proofZ;
    }

    function _bond(uint32 documents, uint16 beta, uint256 proofZ) private pure returns (uint256) {
        return uint256(beta) * uint256(documents) * proofZ;
    }

    function _requireWindow(uint256 window) private pure {
        if (window > MAX_WINDOW) revert WindowTooLong(window, MAX_WINDOW);
    }

    /// @dev block.timestamp of `openRequest`: the join deadline is set once, there, to it plus
    /// the immutable join window.
    function _openedAt(RetrievalRequest storage q) private view returns (uint64) {
        return q.joinDeadline - joinWindow;
    }

    function _answerDeadline(RetrievalRequest storage q) private view returns (uint64) {
        return q.challengeDeadline + answerWindow + uint64(q.challenged) * proofWindow;
    }

    function _resultsDigest(uint256 requestId, bytes32 datasetRoot, bytes32 resultsRoot)
        private
        view
        returns (bytes32)
    {
        return _hashTypedDataV4(keccak256(abi.encode(RESULTS_TYPEHASH, requestId, datasetRoot, resultsRoot)));
    }

    function _requireState(uint256 requestId, RequestState expected) private view {
        RequestState current = state(requestId);
        if (current != expected) revert UnexpectedRequestState(requestId, current);
    }

    /// @dev Answers are accepted while the request is Challenging or AwaitingAnswers (before the
    /// answer deadline); an index must be challenged to be answered, which implies committed
    /// results.
    function _answerable(uint256 requestId) private view returns (RetrievalRequest storage q) {
        RequestState current = state(requestId);
        if (current != RequestState.Challenging && current != RequestState.AwaitingAnswers) {
            revert UnexpectedRequestState(requestId, current);
        }
        q = _requests[requestId];
    }

    function _answer(
        uint256 requestId,
        RetrievalRequest storage q,
        ResultProof calldata a,
        address verifier,
        bytes32 codehash,
        bytes32 weightCommitment
    ) private {
        uint32 index = a.index;
        _requireBound(requestId, q, index, a.inputCommitment, a.predictedClass, a.documentProof, a.resultProof);
        // A rejected proof reverts (it changes nothing): the responder may retry until the
        // answer deadline, after which an unanswered challenge costs it beta*D*Z.
        if (!InferenceProofs.verify(verifier, codehash, weightCommitment, a.inputCommitment, a.predictedClass, a.proof))
        {
            revert ProofRejected(requestId, index);
        }
        q.answered = _accept(requestId, index, a.predictedClass, q.answered);
    }

    /// @dev The per-answer binding, the same for single and aggregated proofs: a challenged,
    /// unanswered index whose input commitment is the committed document and whose class is the
    /// responder's signed result.
    function _requireBound(
        uint256 requestId,
        RetrievalRequest storage q,
        uint32 index,
        bytes32 inputCommitment,
        uint256 predictedClass,
        bytes32[] calldata documentProof,
        bytes32[] calldata resultProof
    ) private view {
        if (!_challenged[requestId].get(index)) revert NotChallenged(requestId, index);
        if (_answered[requestId].get(index)) revert AlreadyAnswered(requestId, index);
        if (!MerkleProof.verifyCalldata(documentProof, q.datasetRoot, documentLeaf(index, inputCommitment))) {
            revert DocumentNotCommitted(requestId, index, inputCommitment);
        }
        bytes32 leaf = resultLeaf(index, inputCommitment, predictedClass);
        if (!MerkleProof.verifyCalldata(resultProof, q.resultsRoot, leaf)) {
            revert ResultNotSigned(requestId, index, predictedClass);
        }
    }

    /// @dev Marks `index` answered; returns the new total (the caller stores it, once per batch
    /// for an aggregated one).
    function _accept(uint256 requestId, uint32 index, uint256 predictedClass, uint32 answered) private returns (uint32) {
        _answered[requestId].set(index);
        ++answered;
        emit ChallengeAnswered(requestId, index, predictedClass, answered);
        return answered;
    }

    function _emitOpened(uint256 requestId, RetrievalRequest storage q, uint256 escrow) private {
        emit RequestOpened(
            requestId,
            q.modelId,
            q.requester,
            q.datasetId,
            q.token,
            q.maxChallenges,
            q.beta,
            q.duration,
            escrow,
            q.joinDeadline
        );
    }

    function _cancel(uint256 requestId, RetrievalRequest storage q) private {
        uint256 refund = _requesterEscrow(q.documents, q.maxChallenges, q.inferenceP, q.proofZ);
        q.status = RequestStatus.Cancelled;
        emit RequestCancelled(requestId, refund);
        _credit(q.requester, q.token, refund);
    }
}
