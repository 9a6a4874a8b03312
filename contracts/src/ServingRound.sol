// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";
import {BitMaps} from "@openzeppelin/contracts/utils/structs/BitMaps.sol";

import {EscrowBase} from "./EscrowBase.sol";
import {IModelRegistry} from "./interfaces/IModelRegistry.sol";
import {IServingRound} from "./interfaces/IServingRound.sol";
import {InferenceProofs} from "./lib/InferenceProofs.sol";
import {
    AggregatedProof,
    AggregationTerms,
    Answer,
    AnswerExample,
    Outcome,
    Round,
    RoundConfig,
    RoundOutcome,
    RoundState,
    RoundStatus
} from "./lib/Types.sol";

/// @title ServingRound
/// @notice Verifying served predictions with spot-check contests (paper 5.3); see IServingRound
/// for the flow, the leaf encodings and the payouts.
/// @dev Money: each round holds exactly its two escrows (2*K*Z from MC, beta*K*Z from MP once
/// joined) until it is cancelled or settled, when they are credited out in full; the contract's
/// balance per token equals the open escrows plus the credits (invariant-tested).
contract ServingRound is IServingRound, EscrowBase, EIP712 {
    using BitMaps for BitMaps.BitMap;

    /// @notice Upper bound of every configured window (and of maxK * proofWindow), so deadlines
    /// can never overflow and lock a round.
    uint256 public constant MAX_WINDOW = 3650 days;

    /// @notice EIP-712 type of MP's commitment to its predictions.
    bytes32 public constant PREDICTIONS_TYPEHASH =
        keccak256("Predictions(uint256 roundId,bytes32 inputsRoot,bytes32 predictionsRoot)");

    /// @notice The marketplace registry (models, prices, stakes, records).
    IModelRegistry public immutable registry;
    /// @notice Smallest beta MC may propose (>= 2, paper 5.3).
    uint16 public immutable minBeta;
    /// @notice Largest beta MC may propose.
    uint16 public immutable maxBeta;
    /// @notice Largest round size K.
    uint32 public immutable maxK;
    /// @notice Longest round MC may propose (seconds from join to round deadline).
    uint32 public immutable maxDuration;
    /// @notice Seconds MP has to join an opened round.
    uint64 public immutable joinWindow;
    /// @notice Seconds after the round deadline MP has to answer contests.
    uint64 public immutable answerWindow;
    /// @notice Extra answer time per contested prediction.
    uint32 public immutable proofWindow;

    /// @inheritdoc IServingRound
    uint256 public roundCount;

    mapping(uint256 roundId => Round) private _rounds;
    mapping(uint256 roundId => BitMaps.BitMap) private _contested;
    mapping(uint256 roundId => BitMaps.BitMap) private _answered;

    constructor(IModelRegistry registry_, RoundConfig memory config) EIP712("zkmarket ServingRound", "1") {
        if (address(registry_).code.length == 0) revert RegistryNotContract(address(registry_));
        if (config.minBeta < 2 || config.maxBeta < config.minBeta) {
            revert InvalidBetaRange(config.minBeta, config.maxBeta);
        }
        if (config.maxK == 0 || config.maxDuration == 0 || config.joinWindow == 0 || config.answerWindow == 0) {
            revert ZeroConfigValue();
        }
        _requireWindow(config.maxDuration);
        _requireWindow(config.joinWindow);
        _requireWindow(config.answerWindow);
        _requireWindow(uint256(config.maxK) * config.proofWindow);
        registry = registry_;
        minBeta = config.minBeta;
        maxBeta = config.maxBeta;
        maxK = config.maxK;
        maxDuration = config.maxDuration;
        joinWindow = config.joinWindow;
        answerWindow = config.answerWindow;
        proofWindow = config.proofWindow;
    }

    // ---------------------------------------------------------------- actions

    /// @inheritdoc IServingRound
    function openRound(uint256 modelId, uint32 k, uint16 beta, uint32 duration, bytes32 inputsRoot)
        external
        payable
        nonReentrant
        returns (uint256 roundId)
    {
        // Only the named fields of the job terms are needed here.
        // slither-disable-next-line unused-return
        (address provider, address token,,,) = registry.jobTerms(modelId);
        if (!registry.isAvailable(modelId)) revert ModelUnavailable(modelId);
        if (k == 0 || k > maxK) revert RoundSizeOutOfRange(k, maxK);
        if (beta < minBeta || beta > maxBeta) revert BetaOutOfRange(beta, minBeta, maxBeta);
        if (duration == 0 || duration > maxDuration) revert DurationOutOfRange(duration, maxDuration);
        if (inputsRoot == bytes32(0)) revert ZeroRoot();
        uint256 proofZ = registry.prices(token).proofZ;
        uint256 escrow = _consumerEscrow(k, proofZ);
        _collect(token, msg.sender, escrow);

        roundId = ++roundCount;
        Round storage r = _rounds[roundId];
        r.consumer = msg.sender;
        r.k = k;
        r.provider = provider;
        r.beta = beta;
        r.status = RoundStatus.Opened;
        uint64 joinDeadline = uint64(block.timestamp) + joinWindow;
        r.joinDeadline = joinDeadline;
        r.token = token;
        r.duration = duration;
        r.modelId = modelId;
        r.proofZ = proofZ;
        r.inputsRoot = inputsRoot;
        emit RoundOpened(roundId, modelId, msg.sender, token, k, beta, duration, inputsRoot, escrow, joinDeadline);
    }

    /// @inheritdoc IServingRound
    function cancel(uint256 roundId) external nonReentrant {
        Round storage r = _rounds[roundId];
        _requireState(roundId, RoundState.Open);
        if (msg.sender != r.consumer) revert NotRoundConsumer(roundId, msg.sender, r.consumer);
        _cancel(roundId, r);
    }

    /// @inheritdoc IServingRound
    function join(uint256 roundId) external payable nonReentrant {
        Round storage r = _rounds[roundId];
        _requireState(roundId, RoundState.Open);
        if (msg.sender != r.provider) revert NotRoundProvider(roundId, msg.sender, r.provider);
        uint256 escrow = _providerEscrow(r.k, r.beta, r.proofZ);
        _collect(r.token, msg.sender, escrow);
        uint64 roundDeadline = uint64(block.timestamp) + r.duration;
        r.status = RoundStatus.Joined;
        r.roundDeadline = roundDeadline;
        emit RoundJoined(roundId, msg.sender, escrow, roundDeadline);
        // Reverts (ModelNotAvailable) if the model started unbonding or was slashed since the
        // round opened; MC can then cancel or let the join window run out.
        registry.lock(r.modelId);
    }

    /// @inheritdoc IServingRound
    function commitPredictions(uint256 roundId, bytes32 predictionsRoot, bytes calldata signature) external {
        Round storage r = _rounds[roundId];
        _requireState(roundId, RoundState.Serving);
        if (r.predictionsRoot != bytes32(0)) revert PredictionsAlreadyCommitted(roundId);
        if (predictionsRoot == bytes32(0)) revert ZeroRoot();
        bytes32 digest = _predictionsDigest(roundId, r.inputsRoot, predictionsRoot);
        if (!SignatureChecker.isValidSignatureNowCalldata(r.provider, digest, signature)) {
            revert InvalidProviderSignature(roundId, r.provider);
        }
        r.predictionsRoot = predictionsRoot;
        emit PredictionsCommitted(roundId, predictionsRoot, msg.sender);
    }

    /// @inheritdoc IServingRound
    function contest(uint256 roundId, uint32[] calldata indices) external {
        Round storage r = _rounds[roundId];
        // INVARIANT: contests only before the round deadline (paper 5.3: not after the round).
        _requireState(roundId, RoundState.Serving);
        if (msg.sender != r.consumer) revert NotRoundConsumer(roundId, msg.sender, r.consumer);
        if (r.predictionsRoot == bytes32(0)) revert PredictionsNotCommitted(roundId);
        if (indices.length == 0) revert NoIndices(roundId);
        BitMaps.BitMap storage contested = _contested[roundId];
        uint32 k = r.k;
        for (uint256 i = 0; i < indices.length; ++i) {
            uint32 index = indices[i];
            if (index >= k) revert IndexOutOfRange(roundId, index, k);
            if (contested.get(index)) revert AlreadyContested(roundId, index);
            contested.set(index);
        }
        // K1 <= K because every index is below K and counted once.
        uint32 total = r.contested + uint32(indices.length);
        r.contested = total;
        emit PredictionsContested(roundId, indices, total, _answerDeadline(r));
    }

    /// @inheritdoc IServingRound
    function answer(uint256 roundId, Answer calldata a) external {
        Round storage r = _answerable(roundId);
        // Only the named fields of the job terms are needed here.
        // slither-disable-next-line unused-return
        (,, address verifier, bytes32 codehash, bytes32 weightCommitment) = registry.jobTerms(r.modelId);
        _answer(roundId, r, a, verifier, codehash, weightCommitment);
    }

    /// @inheritdoc IServingRound
    function answerBatch(uint256 roundId, Answer[] calldata answers) external {
        Round storage r = _answerable(roundId);
        if (answers.length == 0) revert NoAnswers(roundId);
        // Only the named fields of the job terms are needed here.
        // slither-disable-next-line unused-return
        (,, address verifier, bytes32 codehash, bytes32 weightCommitment) = registry.jobTerms(r.modelId);
        for (uint256 i = 0; i < answers.length; ++i) {
            _answer(roundId, r, answers[i], verifier, codehash, weightCommitment);
        }
    }

    /// @inheritdoc IServingRound
    function answerAggregated(uint256 roundId, AnswerExample[] calldata answers, AggregatedProof calldata agg)
        external
    {
        Round storage r = _answerable(roundId);
        (AggregationTerms memory terms, bytes32 weightCommitment) =
            InferenceProofs.batchTerms(registry, r.modelId, answers.length, _openedAt(r));
        bytes32[] memory inputCommitments = new bytes32[](answers.length);
        uint256[] memory classes = new uint256[](answers.length);
        uint32 answered = r.answered;
        for (uint256 i = 0; i < answers.length; ++i) {
            AnswerExample calldata e = answers[i];
            _requireBound(roundId, r, e.index, e.inputCommitment, e.predictedClass, e.inputProof, e.predictionProof);
            // Marked answered before the next answer is checked: a duplicate index in the batch
            // reverts AlreadyAnswered, so no contest counts twice.
            answered = _accept(roundId, e.index, e.predictedClass, answered);
            inputCommitments[i] = e.inputCommitment;
            classes[i] = e.predictedClass;
        }
        r.answered = answered;
        // A rejected aggregated proof reverts the whole batch (it changes nothing).
        if (!InferenceProofs.verifyBatch(terms, weightCommitment, inputCommitments, classes, agg)) {
            revert BatchProofRejected(roundId);
        }
    }

    /// @inheritdoc IServingRound
    function settle(uint256 roundId) external nonReentrant {
        Round storage r = _rounds[roundId];
        RoundState current = state(roundId);
        if (current == RoundState.JoinExpired) {
            _cancel(roundId, r);
            return;
        }
        // INVARIANT: settlement only after the round deadline, and with contests outstanding
        // only after the answer deadline; anyone may trigger it, so funds never stay stuck.
        if (current != RoundState.Settleable) revert UnexpectedRoundState(roundId, current);

        uint256 consumerEscrow = _consumerEscrow(r.k, r.proofZ);
        uint256 providerEscrow = _providerEscrow(r.k, r.beta, r.proofZ);
        RoundOutcome outcome;
        uint256 consumerPayout;
        uint256 providerPayout;
        if (r.predictionsRoot == bytes32(0)) {
            outcome = RoundOutcome.NoPredictions;
            (consumerPayout, providerPayout) = (consumerEscrow, providerEscrow);
        } else if (r.contested == 0) {
            outcome = RoundOutcome.Uncontested;
            (consumerPayout, providerPayout) = (consumerEscrow, providerEscrow);
        } else if (r.answered == r.contested) {
            // Paper 5.3 step 6: MC loses 2*K1*Z (at most its 2*K*Z escrow since K1 <= K).
            outcome = RoundOutcome.ContestsAnswered;
            uint256 fee = 2 * uint256(r.contested) * r.proofZ;
            (consumerPayout, providerPayout) = (consumerEscrow - fee, providerEscrow + fee);
        } else {
            // Paper 5.3 step 5: MP loses beta*K*Z to MC.
            outcome = RoundOutcome.ContestsUnanswered;
            (consumerPayout, providerPayout) = (consumerEscrow + providerEscrow, 0);
        }
        r.status = RoundStatus.Settled;
        emit RoundSettled(roundId, outcome, consumerPayout, providerPayout);
        _credit(r.consumer, r.token, consumerPayout);
        _credit(r.provider, r.token, providerPayout);
        if (outcome == RoundOutcome.ContestsUnanswered) {
            registry.recordOutcome(r.modelId, Outcome.RoundFailed);
        } else if (outcome != RoundOutcome.NoPredictions) {
            registry.recordOutcome(r.modelId, Outcome.RoundCompleted);
        }
        registry.unlock(r.modelId);
    }

    // ---------------------------------------------------------------- views

    /// @inheritdoc IServingRound
    function state(uint256 roundId) public view returns (RoundState) {
        Round storage r = _rounds[roundId];
        RoundStatus status = r.status;
        if (status == RoundStatus.None) return RoundState.None;
        if (status == RoundStatus.Settled) return RoundState.Settled;
        if (status == RoundStatus.Cancelled) return RoundState.Cancelled;
        if (status == RoundStatus.Opened) {
            return block.timestamp < r.joinDeadline ? RoundState.Open : RoundState.JoinExpired;
        }
        // Deadlines are hours to days apart; a validator's few seconds of timestamp leeway do
        // not matter (and there is no randomness drawn from block data).
        if (block.timestamp < r.roundDeadline) return RoundState.Serving;
        if (r.answered < r.contested && block.timestamp < _answerDeadline(r)) return RoundState.AwaitingAnswers;
        return RoundState.Settleable;
    }

    /// @inheritdoc IServingRound
    function round(uint256 roundId) external view returns (Round memory) {
        return _rounds[roundId];
    }

    /// @inheritdoc IServingRound
    function answerDeadline(uint256 roundId) external view returns (uint64) {
        Round storage r = _rounds[roundId];
        return r.roundDeadline == 0 ? 0 : _answerDeadline(r);
    }

    /// @inheritdoc IServingRound
    function isContested(uint256 roundId, uint32 index) external view returns (bool) {
        return _contested[roundId].get(index);
    }

    /// @inheritdoc IServingRound
    function isAnswered(uint256 roundId, uint32 index) external view returns (bool) {
        return _answered[roundId].get(index);
    }

    /// @inheritdoc IServingRound
    function consumerEscrowFor(uint32 k, uint256 proofZ) external pure returns (uint256) {
        return _consumerEscrow(k, proofZ);
    }

    /// @inheritdoc IServingRound
    function providerEscrowFor(uint32 k, uint16 beta, uint256 proofZ) external pure returns (uint256) {
        return _providerEscrow(k, beta, proofZ);
    }

    /// @inheritdoc IServingRound
    function inputLeaf(uint32 index, bytes32 inputCommitment) public pure returns (bytes32) {
        return keccak256(bytes.concat(keccak256(abi.encode(uint256(index), inputCommitment))));
    }

    /// @inheritdoc IServingRound
    function predictionLeaf(uint32 index, bytes32 inputCommitment, uint256 predictedClass)
        public
        pure
        returns (bytes32)
    {
        return keccak256(bytes.concat(keccak256(abi.encode(uint256(index), inputCommitment, predictedClass))));
    }

    /// @inheritdoc IServingRound
    function predictionsDigest(uint256 roundId, bytes32 inputsRoot, bytes32 predictionsRoot)
        external
        view
        returns (bytes32)
    {
        return _predictionsDigest(roundId, inputsRoot, predictionsRoot);
    }

    // ---------------------------------------------------------------- internals

    function _consumerEscrow(uint32 k, uint256 proofZ) private pure returns (uint256) {
        return 2 * uint256(k) * proofZ;
    }

    function _providerEscrow(uint32 k, uint16 beta, uint256 proofZ) private pure returns (uint256) {
        return uint256(beta) * uint256(k) * proofZ;
    }

    function _requireWindow(uint256 window) private pure {
        if (window > MAX_WINDOW) revert WindowTooLong(window, MAX_WINDOW);
    }

    /// @dev block.timestamp of `openRound`: the join deadline is set once, there, to it plus the
    /// immutable join window.
    function _openedAt(Round storage r) private view returns (uint64) {
        return r.joinDeadline - joinWindow;
    }

    function _answerDeadline(Round storage r) private view returns (uint64) {
        return r.roundDeadline + answerWindow + uint64(r.contested) * proofWindow;
    }

    function _predictionsDigest(uint256 roundId, bytes32 inputsRoot, bytes32 predictionsRoot)
        private
        view
        returns (bytes32)
    {
        return _hashTypedDataV4(keccak256(abi.encode(PREDICTIONS_TYPEHASH, roundId, inputsRoot, predictionsRoot)));
    }

    function _requireState(uint256 roundId, RoundState expected) private view {
        RoundState current = state(roundId);
        if (current != expected) revert UnexpectedRoundState(roundId, current);
    }

    /// @dev Answers are accepted while the round is Serving or AwaitingAnswers (before the
    /// answer deadline); an index must be contested to be answered, which implies committed
    /// predictions.
    function _answerable(uint256 roundId) private view returns (Round storage r) {
        RoundState current = state(roundId);
        if (current != RoundState.Serving && current != RoundState.AwaitingAnswers) {
            revert UnexpectedRoundState(roundId, current);
        }
        r = _rounds[roundId];
    }

    function _answer(
        uint256 roundId,
        Round storage r,
        Answer calldata a,
        address verifier,
        bytes32 codehash,
        bytes32 weightCommitment
    ) private {
        uint32 index = a.index;
        _requireBound(roundId, r, index, a.inputCommitment, a.predictedClass, a.inputProof, a.predictionProof);
        // A rejected proof reverts (it changes nothing): MP may retry until the answer
        // deadline, after which an unanswered contest costs it beta*K*Z.
        if (!InferenceProofs.verify(verifier, codehash, weightCommitment, a.inputCommitment, a.predictedClass, a.proof))
        {
            revert ProofRejected(roundId, index);
        }
        r.answered = _accept(roundId, index, a.predictedClass, r.answered);
    }

    /// @dev The per-answer binding, the same for single and aggregated proofs: a contested,
    /// unanswered index whose input commitment is MC's committed input and whose class is MP's
    /// signed prediction.
    function _requireBound(
        uint256 roundId,
        Round storage r,
        uint32 index,
        bytes32 inputCommitment,
        uint256 predictedClass,
        bytes32[] calldata inputProof,
        bytes32[] calldata predictionProof
    ) private view {
        if (!_contested[roundId].get(index)) revert NotContested(roundId, index);
        if (_answered[roundId].get(index)) revert AlreadyAnswered(roundId, index);
        if (!MerkleProof.verifyCalldata(inputProof, r.inputsRoot, inputLeaf(index, inputCommitment))) {
            revert InputNotCommitted(roundId, index, inputCommitment);
        }
        bytes32 leaf = predictionLeaf(index, inputCommitment, predictedClass);
        if (!MerkleProof.verifyCalldata(predictionProof, r.predictionsRoot, leaf)) {
            revert PredictionNotSigned(roundId, index, predictedClass);
        }
    }

    /// @dev Marks `index` answered; returns the new total (the caller stores it, once per batch
    /// for an aggregated one).
    function _accept(uint256 roundId, uint32 index, uint256 predictedClass, uint32 answered) private returns (uint32) {
        _answered[roundId].set(index);
        ++answered;
        emit ContestAnswered(roundId, index, predictedClass, answered);
        return answered;
    }

    function _cancel(uint256 roundId, Round storage r) private {
        uint256 refund = _consumerEscrow(r.k, r.proofZ);
        r.status = RoundStatus.Cancelled;
        emit RoundCancelled(roundId, refund);
        _credit(r.consumer, r.token, refund);
    }
}
