// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IEscrow} from "./IEscrow.sol";
import {Model, ModelRecord, ModelStatus, Outcome, Prices} from "../lib/Types.sol";

/// @title IModelRegistry
/// @notice Marketplace parameters, registered models with their stakes, and each model's public
/// record (paper 5.2 and appendix B).
/// @dev Parameters are fixed at deployment: per accepted payment token the prices E > Z > P > 0
/// and the fee epsilon; marketplace-wide N1, the fee recipient and the unbonding delay. A model
/// is registered with a stake of exactly 1000 * N1 * E of its token. Only the protocol contracts
/// (set once by the deployer) may lock the stake for an open job, unlock it, slash it, or update
/// the record; they may slash or record only for models on which they hold a lock.
interface IModelRegistry is IEscrow {
    // ---------------------------------------------------------------- events

    /// @notice The deployer set the protocol contracts (once; nobody can change them later).
    event ProtocolsSet(address[] protocols);

    /// @notice `provider` registered model `modelId`, staking `stake` of `token`.
    event ModelRegistered(
        uint256 indexed modelId,
        address indexed provider,
        address indexed verifier,
        bytes32 weightCommitment,
        address token,
        uint256 stake,
        string metadataURI
    );

    /// @notice The provider asked to unbond; the model takes no new jobs and its stake can be
    /// withdrawn from `unbondableAt` on (once no job is open).
    event UnbondRequested(uint256 indexed modelId, uint64 unbondableAt);

    /// @notice The remaining stake `amount` was credited to the provider (withdraw it with
    /// `withdraw(token)`); the model is retired.
    event StakeWithdrawn(uint256 indexed modelId, address indexed provider, uint256 amount);

    /// @notice The provider registered `verifier` (code hash `codehash` pinned) as the model's
    /// aggregation verifier: it checks one aggregated proof of `batchSize` inference proofs.
    event AggregationVerifierRegistered(
        uint256 indexed modelId, address indexed verifier, bytes32 codehash, uint32 batchSize
    );

    /// @notice `protocol` opened a job on the model; `openJobs` is the new total.
    event ModelLocked(uint256 indexed modelId, address indexed protocol, uint32 openJobs);

    /// @notice `protocol` closed a job on the model; `openJobs` is the new total.
    event ModelUnlocked(uint256 indexed modelId, address indexed protocol, uint32 openJobs);

    /// @notice `protocol` slashed `amount` of the stake and credited it to `to`.
    event StakeSlashed(
        uint256 indexed modelId, address indexed protocol, address indexed to, uint256 amount, uint256 remainingStake
    );

    /// @notice `protocol` added `outcome` to the model's record.
    event OutcomeRecorded(uint256 indexed modelId, address indexed protocol, Outcome outcome);

    // ---------------------------------------------------------------- errors: deployment

    /// @notice The constructor got no accepted payment token.
    error NoPaymentTokens();

    /// @notice `token` is listed twice in the constructor's prices.
    error DuplicatePaymentToken(address token);

    /// @notice An ERC-20 payment token address holds no code.
    error PaymentTokenNotContract(address token);

    /// @notice The prices of `token` break E > Z > P > 0.
    error PricesNotOrdered(address token, uint256 exampleE, uint256 proofZ, uint256 inferenceP);

    /// @notice N1 must be positive.
    error ZeroN1();

    /// @notice The fee recipient must not be the zero address.
    error ZeroFeeRecipient();

    /// @notice The unbonding delay must be positive.
    error ZeroUnbondingDelay();

    /// @notice The unbonding delay exceeds `max` seconds.
    error UnbondingDelayTooLong(uint64 delay, uint64 max);

    /// @notice Only the deployer may set the protocol contracts.
    error NotDeployer(address caller);

    /// @notice The protocol contracts were already set.
    error ProtocolsAlreadySet();

    /// @notice A protocol address is zero or holds no code.
    error ProtocolNotContract(address protocol);

    // ---------------------------------------------------------------- errors: models

    /// @notice `token` is not an accepted payment token.
    error TokenNotAccepted(address token);

    /// @notice The verifier address holds no code.
    error VerifierNotContract(address verifier);

    /// @notice The weight commitment is zero or not a BN254 scalar field element.
    error InvalidWeightCommitment(bytes32 weightCommitment);

    /// @notice No model has id `modelId`.
    error ModelNotFound(uint256 modelId);

    /// @notice Only the model's provider may do this.
    error NotModelProvider(uint256 modelId, address caller, address provider);

    /// @notice The model is not Active (it is unbonding or withdrawn).
    error ModelNotActive(uint256 modelId, ModelStatus status);

    /// @notice The model is not unbonding.
    error ModelNotUnbonding(uint256 modelId, ModelStatus status);

    /// @notice The unbonding delay has not passed yet.
    error UnbondingNotElapsed(uint256 modelId, uint64 unbondableAt, uint256 nowTimestamp);

    /// @notice The stake is locked by open jobs.
    error ModelHasOpenJobs(uint256 modelId, uint32 openJobs);

    /// @notice The model cannot take a new job: not Active, or its stake was slashed below the
    /// required stake.
    error ModelNotAvailable(uint256 modelId, ModelStatus status, uint256 stake, uint256 requiredStake);

    /// @notice The model already has an aggregation verifier (it is registered at most once).
    error AggregationVerifierAlreadyRegistered(uint256 modelId, address verifier);

    /// @notice An aggregation batch size must satisfy 0 < batchSize <= max.
    error AggregationBatchSizeOutOfRange(uint32 batchSize, uint32 max);

    // ---------------------------------------------------------------- errors: protocols

    /// @notice Only a protocol contract may do this.
    error NotProtocol(address caller);

    /// @notice `protocol` holds no lock on the model (it has no open job to unlock, slash or record).
    error NoLockHeld(uint256 modelId, address protocol);

    /// @notice A slash of zero.
    error ZeroSlashAmount(uint256 modelId);

    /// @notice A slash larger than the remaining stake.
    error SlashExceedsStake(uint256 modelId, uint256 amount, uint256 stake);

    /// @notice A slash credited to the zero address.
    error ZeroSlashRecipient(uint256 modelId);

    // ---------------------------------------------------------------- deployment

    /// @notice Sets the protocol contracts; only the deployer, only once.
    function setProtocols(address[] calldata protocols) external;

    // ---------------------------------------------------------------- providers

    /// @notice Registers a model, staking exactly `requiredStake(token)` of `token` (send it as
    /// `msg.value` for ETH; approve it first for an ERC-20).
    /// @param verifier The generated verifier contract of the model's architecture.
    /// @param weightCommitment Poseidon commitment to the weights (`zkmarket prover commit weights`).
    /// @param metadataURI Where consumers find the model's description (e.g. an IPFS URI).
    /// @param token The payment token of the stake and of every job for the model.
    /// @return modelId The new model's id (ids start at 1).
    function registerModel(address verifier, bytes32 weightCommitment, string calldata metadataURI, address token)
        external
        payable
        returns (uint256 modelId);

    /// @notice Adds the model's aggregation verifier (provider only, at most once, while the
    /// model is Active and no job is open): a generated verifier of one aggregated proof of
    /// `batchSize` inference proofs of the model's circuit, whose public instances are 12
    /// accumulator limbs then, per slot, [inputCommitment, weightCommitment, predictedClass]
    /// (see InferenceProofs). Its EXTCODEHASH is pinned as the single verifier's and the block
    /// timestamp recorded (`registeredAt`); the protocols then also take aggregated batches
    /// (`submitAggregatedProofs`, `answerAggregated`) for the jobs opened after this block only
    /// (a job opened earlier, even one not yet joined, keeps to single proofs:
    /// InferenceProofs.AggregationNotInJobTerms).
    /// @dev Consumers should check it is the aggregation circuit of the model's verifier before
    /// opening a job: it decides batched proofs as the single verifier decides single ones.
    /// @param batchSize B, the slots of every aggregated proof (1..=64, ModelRegistry.MAX_AGGREGATION_BATCH).
    function registerAggregationVerifier(uint256 modelId, address verifier, uint32 batchSize) external;

    /// @notice Starts unbonding (provider only): the model takes no new jobs; the stake can be
    /// withdrawn after the unbonding delay, once no job is open.
    function requestUnbond(uint256 modelId) external;

    /// @notice Credits the remaining stake to the provider (provider only, after the unbonding
    /// delay, with no open job); then `withdraw(token)` pays it out.
    function withdrawStake(uint256 modelId) external;

    // ---------------------------------------------------------------- protocols

    /// @notice Opens a job on the model (its stake stays locked until `unlock`); the model must
    /// be available.
    function lock(uint256 modelId) external;

    /// @notice Closes a job the calling protocol opened on the model.
    function unlock(uint256 modelId) external;

    /// @notice Moves `amount` of the model's stake to `to`'s credit (calling protocol must hold
    /// a lock on the model).
    function slash(uint256 modelId, uint256 amount, address to) external;

    /// @notice Adds an outcome to the model's record (calling protocol must hold a lock on it).
    function recordOutcome(uint256 modelId, Outcome outcome) external;

    // ---------------------------------------------------------------- views

    /// @notice The account that deployed the registry (may call `setProtocols` once).
    function deployer() external view returns (address);

    /// @notice True once the protocol contracts are set.
    function protocolsSet() external view returns (bool);

    /// @notice Whether `account` is one of the protocol contracts.
    function isProtocol(address account) external view returns (bool);

    /// @notice N1, the size of the first audit subset (marketplace-wide).
    function n1() external view returns (uint256);

    /// @notice Where the escrow service's fee epsilon goes.
    function feeRecipient() external view returns (address);

    /// @notice Seconds between `requestUnbond` and the earliest `withdrawStake`.
    function unbondingDelay() external view returns (uint64);

    /// @notice Whether `token` is an accepted payment token.
    function isAcceptedToken(address token) external view returns (bool);

    /// @notice The accepted payment tokens, in constructor order.
    function paymentTokens() external view returns (address[] memory);

    /// @notice Prices of an accepted payment token (reverts TokenNotAccepted otherwise).
    function prices(address token) external view returns (Prices memory);

    /// @notice The stake a model paying in `token` needs: 1000 * N1 * E.
    function requiredStake(address token) external view returns (uint256);

    /// @notice Number of models registered so far (ids are 1..modelCount).
    function modelCount() external view returns (uint256);

    /// @notice A registered model (reverts ModelNotFound otherwise).
    function model(uint256 modelId) external view returns (Model memory);

    /// @notice The model's record of audits and serving rounds (reverts ModelNotFound otherwise).
    function record(uint256 modelId) external view returns (ModelRecord memory);

    /// @notice Whether the model can take a new job (Active and stake intact).
    function isAvailable(uint256 modelId) external view returns (bool);

    /// @notice What a protocol needs to open a job and verify proofs for the model.
    function jobTerms(uint256 modelId)
        external
        view
        returns (address provider, address token, address verifier, bytes32 verifierCodehash, bytes32 weightCommitment);

    /// @notice The model's aggregation verifier, its pinned code hash, its batch size B and the
    /// block timestamp of its registration (only jobs opened strictly later take aggregated
    /// proofs); all zero when the model has none, or no model has id `modelId`.
    function aggregationTerms(uint256 modelId)
        external
        view
        returns (address verifier, bytes32 codehash, uint32 batchSize, uint64 registeredAt);

    /// @notice How many open jobs `protocol` holds on the model.
    function locksHeld(uint256 modelId, address protocol) external view returns (uint256);
}
