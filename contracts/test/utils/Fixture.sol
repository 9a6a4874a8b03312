// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Test} from "./Test.sol";
import {RoundData} from "./RoundData.sol";
import {MockERC20, MockVerifier} from "../mocks/Mocks.sol";

import {ModelRegistry} from "../../src/ModelRegistry.sol";
import {ServingRound} from "../../src/ServingRound.sol";
import {IModelRegistry} from "../../src/interfaces/IModelRegistry.sol";
import {Answer, Prices, Round, RoundConfig, TokenPrices} from "../../src/lib/Types.sol";

/// @notice A deployed marketplace (registry + serving rounds, ETH and one ERC-20) with accounts
/// and helpers to register models and drive rounds.
abstract contract Fixture is Test {
    // Prices (per token, in its smallest unit): E > Z > P, fee epsilon.
    uint256 internal constant E = 1e15;
    uint256 internal constant Z = 1e14;
    uint256 internal constant P = 1e13;
    uint256 internal constant FEE = 1e12;
    uint256 internal constant N1 = 10;
    uint64 internal constant UNBONDING_DELAY = 7 days;
    /// @dev 1000 * N1 * E.
    uint256 internal constant STAKE = 1000 * N1 * E;

    uint16 internal constant MIN_BETA = 2;
    uint16 internal constant MAX_BETA = 100;
    uint32 internal constant MAX_K = 1024;
    uint32 internal constant MAX_DURATION = 30 days;
    uint64 internal constant JOIN_WINDOW = 1 days;
    uint64 internal constant ANSWER_WINDOW = 2 days;
    uint32 internal constant PROOF_WINDOW = 1 hours;

    bytes32 internal constant WEIGHTS = bytes32(uint256(0x0badc0ffee));
    address internal constant ETH = address(0);

    ModelRegistry internal registry;
    ServingRound internal rounds;
    MockVerifier internal verifier;
    MockERC20 internal usd;

    address internal feeRecipient;
    address internal provider;
    uint256 internal providerKey;
    address internal consumer;
    address internal stranger;

    function setUp() public virtual {
        feeRecipient = makeAddr("feeRecipient");
        (provider, providerKey) = makeAccount("provider");
        consumer = makeAddr("consumer");
        stranger = makeAddr("stranger");
        verifier = new MockVerifier();
        usd = new MockERC20("USD", "USD");
        registry = new ModelRegistry(_prices(address(usd)), N1, feeRecipient, UNBONDING_DELAY);
        rounds = new ServingRound(IModelRegistry(address(registry)), _config());
        address[] memory protocols = _protocols();
        registry.setProtocols(protocols);
    }

    /// @dev The protocol contracts the fixture registers; tests may add themselves.
    function _protocols() internal view virtual returns (address[] memory protocols) {
        protocols = new address[](1);
        protocols[0] = address(rounds);
    }

    function _prices(address token) internal pure returns (TokenPrices[] memory list) {
        list = new TokenPrices[](2);
        list[0] = TokenPrices(ETH, Prices(E, Z, P, FEE));
        list[1] = TokenPrices(token, Prices(E, Z, P, FEE));
    }

    function _config() internal pure returns (RoundConfig memory) {
        return RoundConfig({
            minBeta: MIN_BETA,
            maxBeta: MAX_BETA,
            maxK: MAX_K,
            maxDuration: MAX_DURATION,
            proofWindow: PROOF_WINDOW,
            joinWindow: JOIN_WINDOW,
            answerWindow: ANSWER_WINDOW
        });
    }

    // ---------------------------------------------------------------- models

    function _registerEth(address who) internal returns (uint256 modelId) {
        uint256 stake = registry.requiredStake(ETH);
        vm.deal(who, who.balance + stake);
        vm.prank(who);
        modelId = registry.registerModel{value: stake}(address(verifier), WEIGHTS, "ipfs://model", ETH);
    }

    function _registerToken(address who) internal returns (uint256 modelId) {
        uint256 stake = registry.requiredStake(address(usd));
        usd.mint(who, stake);
        vm.prank(who);
        usd.approve(address(registry), stake);
        vm.prank(who);
        modelId = registry.registerModel(address(verifier), WEIGHTS, "ipfs://model", address(usd));
    }

    // ---------------------------------------------------------------- round data (see RoundData)

    function _ic(uint256 i) internal pure returns (bytes32) {
        return RoundData.ic(i);
    }

    function _cls(uint256 i) internal pure returns (uint256) {
        return RoundData.cls(i);
    }

    function _inputLeaf(uint32 index, bytes32 ic) internal pure returns (bytes32) {
        return RoundData.inputLeaf(index, ic);
    }

    function _predictionLeaf(uint32 index, bytes32 ic, uint256 cls) internal pure returns (bytes32) {
        return RoundData.predictionLeaf(index, ic, cls);
    }

    function _inputLeaves(uint32 k) internal pure returns (bytes32[] memory) {
        return RoundData.inputLeaves(k);
    }

    function _inputsRoot(uint32 k) internal pure returns (bytes32) {
        return RoundData.inputsRoot(k);
    }

    function _predictionsRoot(uint32 k) internal pure returns (bytes32) {
        return RoundData.predictionsRoot(k);
    }

    function _answer(uint32 k, uint32 index) internal pure returns (Answer memory) {
        return RoundData.answer(k, index);
    }

    function _digest(address target, uint256 roundId, bytes32 inputs, bytes32 predictions)
        internal
        view
        returns (bytes32)
    {
        return RoundData.digest(target, roundId, inputs, predictions);
    }

    function _sign(uint256 key, bytes32 digest) internal pure returns (bytes memory) {
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, digest);
        return abi.encodePacked(r, s, v);
    }

    function _providerSignature(uint256 roundId, uint32 k) internal view returns (bytes memory) {
        return _sign(providerKey, _digest(address(rounds), roundId, _inputsRoot(k), _predictionsRoot(k)));
    }

    // ---------------------------------------------------------------- round steps

    function _open(uint256 modelId, uint32 k, uint16 beta) internal returns (uint256 roundId) {
        (, address token,,,) = registry.jobTerms(modelId);
        uint256 escrow = 2 * uint256(k) * registry.prices(token).proofZ;
        bytes32 root = _inputsRoot(k);
        if (token == ETH) {
            vm.deal(consumer, consumer.balance + escrow);
            vm.prank(consumer);
            roundId = rounds.openRound{value: escrow}(modelId, k, beta, 1 days, root);
        } else {
            usd.mint(consumer, escrow);
            vm.prank(consumer);
            usd.approve(address(rounds), escrow);
            vm.prank(consumer);
            roundId = rounds.openRound(modelId, k, beta, 1 days, root);
        }
    }

    function _join(uint256 roundId) internal {
        Round memory r = rounds.round(roundId);
        uint256 escrow = uint256(r.beta) * r.k * r.proofZ;
        address token = r.token;
        if (token == ETH) {
            vm.deal(provider, provider.balance + escrow);
            vm.prank(provider);
            rounds.join{value: escrow}(roundId);
        } else {
            usd.mint(provider, escrow);
            vm.prank(provider);
            usd.approve(address(rounds), escrow);
            vm.prank(provider);
            rounds.join(roundId);
        }
    }

    function _commit(uint256 roundId) internal {
        uint32 k = rounds.round(roundId).k;
        rounds.commitPredictions(roundId, _predictionsRoot(k), _providerSignature(roundId, k));
    }

    function _contest(uint256 roundId, uint32[] memory indices) internal {
        vm.prank(consumer);
        rounds.contest(roundId, indices);
    }

    function _indices(uint32 a) internal pure returns (uint32[] memory list) {
        list = new uint32[](1);
        list[0] = a;
    }

    function _indices(uint32 a, uint32 b) internal pure returns (uint32[] memory list) {
        list = new uint32[](2);
        list[0] = a;
        list[1] = b;
    }

    function _indices(uint32 a, uint32 b, uint32 c) internal pure returns (uint32[] memory list) {
        list = new uint32[](3);
        list[0] = a;
        list[1] = b;
        list[2] = c;
    }

    function _roundDeadline(uint256 roundId) internal view returns (uint256) {
        return rounds.round(roundId).roundDeadline;
    }

    function _answerDeadline(uint256 roundId) internal view returns (uint256) {
        return rounds.answerDeadline(roundId);
    }
}
