// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {EscrowBase} from "./EscrowBase.sol";
import {ProofVerifier} from "./ProofVerifier.sol";
import {IModelRegistry} from "./interfaces/IModelRegistry.sol";
import {AggregationTerms, Model, ModelRecord, ModelStatus, Outcome, Prices, TokenPrices} from "./lib/Types.sol";

/// @title ModelRegistry
/// @notice Marketplace parameters, model registration with a Sybil-resistance stake of
/// 1000 * N1 * E, stake locking by the protocol contracts, unbonding, slashing, and each
/// model's public record (paper 5.2, appendix A and B).
/// @dev The registry holds the stakes and the credits of slashed stake (EscrowBase ledger):
/// its balance of each token equals the sum of the stakes of models not yet withdrawn plus the
/// credits (invariant-tested). The deployer's only power is to name the protocol contracts once.
contract ModelRegistry is IModelRegistry, EscrowBase {
    /// @notice The stake is this many times N1 * E (paper 5.2).
    uint256 public constant STAKE_MULTIPLIER = 1000;
    /// @notice Longest unbonding delay (keeps `unbondableAt` far from overflowing).
    uint64 public constant MAX_UNBONDING_DELAY = 3650 days;
    /// @notice Largest batch size B of an aggregation verifier (bounds the instance array a
    /// protocol builds per batch).
    uint32 public constant MAX_AGGREGATION_BATCH = 64;

    /// @inheritdoc IModelRegistry
    uint256 public immutable n1;
    /// @inheritdoc IModelRegistry
    address public immutable feeRecipient;
    /// @inheritdoc IModelRegistry
    uint64 public immutable unbondingDelay;
    /// @inheritdoc IModelRegistry
    address public immutable deployer;

    /// @inheritdoc IModelRegistry
    bool public protocolsSet;
    /// @inheritdoc IModelRegistry
    uint256 public modelCount;

    mapping(address account => bool) private _isProtocol;
    mapping(address token => Prices) private _prices;
    mapping(address token => bool) private _accepted;
    mapping(address token => uint256 stake) private _requiredStakes;
    address[] private _tokens;
    mapping(uint256 modelId => Model) private _models;
    mapping(uint256 modelId => ModelRecord) private _records;
    mapping(uint256 modelId => mapping(address protocol => uint256 count)) private _locks;
    /// @dev Beside the Model struct (whose layout the protocols and off-chain readers rely on).
    mapping(uint256 modelId => AggregationTerms) private _aggregation;

    /// @param tokenPrices The accepted payment tokens (address(0) = ETH) with E > Z > P > 0 and
    /// the fee epsilon of each, in the token's smallest unit.
    /// @param n1_ N1 > 0.
    /// @param feeRecipient_ The escrow service's account for the fee epsilon.
    /// @param unbondingDelay_ Seconds from `requestUnbond` to the earliest `withdrawStake` (> 0).
    constructor(TokenPrices[] memory tokenPrices, uint256 n1_, address feeRecipient_, uint64 unbondingDelay_) {
        if (tokenPrices.length == 0) revert NoPaymentTokens();
        if (n1_ == 0) revert ZeroN1();
        if (feeRecipient_ == address(0)) revert ZeroFeeRecipient();
        if (unbondingDelay_ == 0) revert ZeroUnbondingDelay();
        if (unbondingDelay_ > MAX_UNBONDING_DELAY) revert UnbondingDelayTooLong(unbondingDelay_, MAX_UNBONDING_DELAY);
        for (uint256 i = 0; i < tokenPrices.length; ++i) {
            address token = tokenPrices[i].token;
            Prices memory p = tokenPrices[i].prices;
            if (_accepted[token]) revert DuplicatePaymentToken(token);
            if (token != ETH && token.code.length == 0) revert PaymentTokenNotContract(token);
            if (!(p.exampleE > p.proofZ && p.proofZ > p.inferenceP && p.inferenceP > 0)) {
                revert PricesNotOrdered(token, p.exampleE, p.proofZ, p.inferenceP);
            }
            _accepted[token] = true;
            // Overflow here (an absurd E or N1) reverts the deployment with a panic.
            _requiredStakes[token] = STAKE_MULTIPLIER * n1_ * p.exampleE;
            _prices[token] = p;
            _tokens.push(token);
        }
        n1 = n1_;
        feeRecipient = feeRecipient_;
        unbondingDelay = unbondingDelay_;
        deployer = msg.sender;
    }

    modifier onlyProtocol() {
        if (!_isProtocol[msg.sender]) revert NotProtocol(msg.sender);
        _;
    }

    // ---------------------------------------------------------------- deployment

    /// @inheritdoc IModelRegistry
    function setProtocols(address[] calldata protocols) external {
        if (msg.sender != deployer) revert NotDeployer(msg.sender);
        if (protocolsSet) revert ProtocolsAlreadySet();
        for (uint256 i = 0; i < protocols.length; ++i) {
            if (protocols[i].code.length == 0) revert ProtocolNotContract(protocols[i]);
            _isProtocol[protocols[i]] = true;
        }
        protocolsSet = true;
        emit ProtocolsSet(protocols);
    }

    // ---------------------------------------------------------------- providers

    /// @inheritdoc IModelRegistry
    function registerModel(address verifier, bytes32 weightCommitment, string calldata metadataURI, address token)
        external
        payable
        nonReentrant
        returns (uint256 modelId)
    {
        if (!_accepted[token]) revert TokenNotAccepted(token);
        if (verifier.code.length == 0) revert VerifierNotContract(verifier);
        if (weightCommitment == bytes32(0) || uint256(weightCommitment) >= ProofVerifier.SCALAR_FIELD) {
            revert InvalidWeightCommitment(weightCommitment);
        }
        uint256 stake = _requiredStake(token);
        _collect(token, msg.sender, stake);

        modelId = ++modelCount;
        Model storage m = _models[modelId];
        m.provider = msg.sender;
        m.status = ModelStatus.Active;
        m.token = token;
        m.verifier = verifier;
        m.verifierCodehash = verifier.codehash;
        m.weightCommitment = weightCommitment;
        m.stake = stake;
        m.metadataURI = metadataURI;
        emit ModelRegistered(modelId, msg.sender, verifier, weightCommitment, token, stake, metadataURI);
    }

    /// @inheritdoc IModelRegistry
    function registerAggregationVerifier(uint256 modelId, address verifier, uint32 batchSize) external {
        Model storage m = _existing(modelId);
        if (msg.sender != m.provider) revert NotModelProvider(modelId, msg.sender, m.provider);
        if (m.status != ModelStatus.Active) revert ModelNotActive(modelId, m.status);
        // INVARIANT: a job's proof terms never change while it runs: the aggregation verifier
        // is added only while no job holds the model's stake, and never replaced; a job opened
        // but not yet joined (not counted in openJobs) takes it only if it was opened later
        // than this block (registeredAt, checked by InferenceProofs.batchTerms).
        if (m.openJobs != 0) revert ModelHasOpenJobs(modelId, m.openJobs);
        AggregationTerms storage t = _aggregation[modelId];
        if (t.verifier != address(0)) revert AggregationVerifierAlreadyRegistered(modelId, t.verifier);
        if (verifier.code.length == 0) revert VerifierNotContract(verifier);
        if (batchSize == 0 || batchSize > MAX_AGGREGATION_BATCH) {
            revert AggregationBatchSizeOutOfRange(batchSize, MAX_AGGREGATION_BATCH);
        }
        bytes32 codehash = verifier.codehash;
        t.verifier = verifier;
        t.batchSize = batchSize;
        t.registeredAt = uint64(block.timestamp);
        t.codehash = codehash;
        emit AggregationVerifierRegistered(modelId, verifier, codehash, batchSize);
    }

    /// @inheritdoc IModelRegistry
    function requestUnbond(uint256 modelId) external {
        Model storage m = _existing(modelId);
        if (msg.sender != m.provider) revert NotModelProvider(modelId, msg.sender, m.provider);
        if (m.status != ModelStatus.Active) revert ModelNotActive(modelId, m.status);
        uint64 unbondableAt = uint64(block.timestamp) + unbondingDelay;
        m.status = ModelStatus.Unbonding;
        m.unbondableAt = unbondableAt;
        emit UnbondRequested(modelId, unbondableAt);
    }

    /// @inheritdoc IModelRegistry
    function withdrawStake(uint256 modelId) external nonReentrant {
        Model storage m = _existing(modelId);
        if (msg.sender != m.provider) revert NotModelProvider(modelId, msg.sender, m.provider);
        if (m.status != ModelStatus.Unbonding) revert ModelNotUnbonding(modelId, m.status);
        if (block.timestamp < m.unbondableAt) revert UnbondingNotElapsed(modelId, m.unbondableAt, block.timestamp);
        // INVARIANT: a model with open jobs keeps its stake; jobs always end (every protocol
        // stage has a permissionless timeout that unlocks).
        if (m.openJobs != 0) revert ModelHasOpenJobs(modelId, m.openJobs);
        uint256 amount = m.stake;
        m.stake = 0;
        m.status = ModelStatus.Withdrawn;
        emit StakeWithdrawn(modelId, m.provider, amount);
        _credit(m.provider, m.token, amount);
    }

    // ---------------------------------------------------------------- protocols

    /// @inheritdoc IModelRegistry
    function lock(uint256 modelId) external onlyProtocol {
        Model storage m = _existing(modelId);
        uint256 required = _requiredStake(m.token);
        if (m.status != ModelStatus.Active || m.stake < required) {
            revert ModelNotAvailable(modelId, m.status, m.stake, required);
        }
        uint32 openJobs = m.openJobs + 1;
        m.openJobs = openJobs;
        ++_locks[modelId][msg.sender];
        emit ModelLocked(modelId, msg.sender, openJobs);
    }

    /// @inheritdoc IModelRegistry
    function unlock(uint256 modelId) external onlyProtocol {
        Model storage m = _lockedBySender(modelId);
        uint32 openJobs = m.openJobs - 1;
        m.openJobs = openJobs;
        --_locks[modelId][msg.sender];
        emit ModelUnlocked(modelId, msg.sender, openJobs);
    }

    /// @inheritdoc IModelRegistry
    function slash(uint256 modelId, uint256 amount, address to) external onlyProtocol {
        Model storage m = _lockedBySender(modelId);
        if (amount == 0) revert ZeroSlashAmount(modelId);
        if (amount > m.stake) revert SlashExceedsStake(modelId, amount, m.stake);
        if (to == address(0)) revert ZeroSlashRecipient(modelId);
        uint256 remaining = m.stake - amount;
        m.stake = remaining;
        emit StakeSlashed(modelId, msg.sender, to, amount, remaining);
        _credit(to, m.token, amount);
    }

    /// @inheritdoc IModelRegistry
    function recordOutcome(uint256 modelId, Outcome outcome) external onlyProtocol {
        _lockedBySender(modelId);
        ModelRecord storage r = _records[modelId];
        if (outcome == Outcome.AuditPassed) ++r.auditsPassed;
        else if (outcome == Outcome.AuditFailed) ++r.auditsFailed;
        else if (outcome == Outcome.AuditAborted) ++r.auditsAborted;
        else if (outcome == Outcome.RoundCompleted) ++r.roundsCompleted;
        else ++r.roundsFailed;
        emit OutcomeRecorded(modelId, msg.sender, outcome);
    }

    // ---------------------------------------------------------------- views

    /// @inheritdoc IModelRegistry
    function isProtocol(address account) external view returns (bool) {
        return _isProtocol[account];
    }

    /// @inheritdoc IModelRegistry
    function isAcceptedToken(address token) external view returns (bool) {
        return _accepted[token];
    }

    /// @inheritdoc IModelRegistry
    function paymentTokens() external view returns (address[] memory) {
        return _tokens;
    }

    /// @inheritdoc IModelRegistry
    function prices(address token) external view returns (Prices memory) {
        if (!_accepted[token]) revert TokenNotAccepted(token);
        return _prices[token];
    }

    /// @inheritdoc IModelRegistry
    function requiredStake(address token) external view returns (uint256) {
        if (!_accepted[token]) revert TokenNotAccepted(token);
        return _requiredStake(token);
    }

    /// @inheritdoc IModelRegistry
    function model(uint256 modelId) external view returns (Model memory) {
        return _existing(modelId);
    }

    /// @inheritdoc IModelRegistry
    function record(uint256 modelId) external view returns (ModelRecord memory) {
        _existing(modelId);
        return _records[modelId];
    }

    /// @inheritdoc IModelRegistry
    function isAvailable(uint256 modelId) external view returns (bool) {
        Model storage m = _models[modelId];
        return m.status == ModelStatus.Active && m.stake >= _requiredStake(m.token);
    }

    /// @inheritdoc IModelRegistry
    function jobTerms(uint256 modelId)
        external
        view
        returns (address provider, address token, address verifier, bytes32 verifierCodehash, bytes32 weightCommitment)
    {
        Model storage m = _existing(modelId);
        return (m.provider, m.token, m.verifier, m.verifierCodehash, m.weightCommitment);
    }

    /// @inheritdoc IModelRegistry
    function aggregationTerms(uint256 modelId)
        external
        view
        returns (address verifier, bytes32 codehash, uint32 batchSize, uint64 registeredAt)
    {
        AggregationTerms storage t = _aggregation[modelId];
        return (t.verifier, t.codehash, t.batchSize, t.registeredAt);
    }

    /// @inheritdoc IModelRegistry
    function locksHeld(uint256 modelId, address protocol) external view returns (uint256) {
        return _locks[modelId][protocol];
    }

    // ---------------------------------------------------------------- internals

    function _requiredStake(address token) private view returns (uint256) {
        return _requiredStakes[token];
    }

    function _existing(uint256 modelId) private view returns (Model storage m) {
        m = _models[modelId];
        if (m.status == ModelStatus.None) revert ModelNotFound(modelId);
    }

    function _lockedBySender(uint256 modelId) private view returns (Model storage m) {
        m = _existing(modelId);
        if (_locks[modelId][msg.sender] == 0) revert NoLockHeld(modelId, msg.sender);
    }
}
