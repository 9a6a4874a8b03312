// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Vm} from "../utils/Test.sol";
import {RoundData} from "../utils/RoundData.sol";
import {MockERC20} from "../mocks/Mocks.sol";

import {ModelRegistry} from "../../src/ModelRegistry.sol";
import {ServingRound} from "../../src/ServingRound.sol";
import {Answer, Model, ModelStatus, Round, RoundState, RoundStatus} from "../../src/lib/Types.sol";

/// @notice Random actors driving the registry and serving rounds for the invariant tests.
/// Every action picks its target from a seed and only does what is currently allowed, so the
/// runs get deep into the protocol; ghosts track what each contract should hold.
contract MarketHandler {
    Vm internal constant vm = Vm(0x7109709ECfa91a80626fF3989D68f67F5b1DD12D);
    address internal constant ETH = address(0);
    bytes internal constant WEIGHTS = abi.encode(uint256(0x0badc0ffee));

    ModelRegistry public immutable registry;
    ServingRound public immutable rounds;
    MockERC20 public immutable usd;
    address public immutable verifier;

    address[] internal _consumers;
    address[] internal _providers;
    mapping(address provider => uint256 key) internal _keys;
    uint256[] internal _models;
    uint256[] internal _rounds;

    /// @notice Escrows held by open (not cancelled, not settled) rounds, per token.
    mapping(address token => uint256 amount) public ghostRoundEscrow;
    /// @notice Stakes of models not yet withdrawn, per token.
    mapping(address token => uint256 amount) public ghostStakes;
    /// @notice Rounds joined and not yet settled (each holds one registry lock).
    uint256 public ghostLiveJoined;
    /// @notice How often each action did something (for a coverage check).
    mapping(bytes32 action => uint256 count) public done;

    constructor(ModelRegistry registry_, ServingRound rounds_, MockERC20 usd_, address verifier_) {
        registry = registry_;
        rounds = rounds_;
        usd = usd_;
        verifier = verifier_;
        for (uint256 i = 0; i < 3; ++i) {
            _consumers.push(vm.addr(1000 + i));
        }
        for (uint256 i = 0; i < 2; ++i) {
            uint256 key = 2000 + i;
            address p = vm.addr(key);
            _providers.push(p);
            _keys[p] = key;
            _register(p, ETH);
            _register(p, address(usd));
        }
    }

    // ---------------------------------------------------------------- views for the tests

    function actors() external view returns (address[] memory list) {
        list = new address[](_consumers.length + _providers.length);
        for (uint256 i = 0; i < _consumers.length; ++i) {
            list[i] = _consumers[i];
        }
        for (uint256 i = 0; i < _providers.length; ++i) {
            list[_consumers.length + i] = _providers[i];
        }
    }

    function modelIds() external view returns (uint256[] memory) {
        return _models;
    }

    function roundIds() external view returns (uint256[] memory) {
        return _rounds;
    }

    // ---------------------------------------------------------------- registry actions

    function registerModel(uint256 providerSeed, bool useToken) external {
        if (_models.length >= 8) return;
        _register(_providers[providerSeed % _providers.length], useToken ? address(usd) : ETH);
    }

    function requestUnbond(uint256 modelSeed) external {
        if (_models.length == 0) return;
        uint256 id = _models[modelSeed % _models.length];
        Model memory m = registry.model(id);
        if (m.status != ModelStatus.Active) return;
        vm.prank(m.provider);
        registry.requestUnbond(id);
        ++done["requestUnbond"];
    }

    function withdrawStake(uint256 modelSeed) external {
        if (_models.length == 0) return;
        uint256 id = _models[modelSeed % _models.length];
        if (!_withdrawStake(id)) return;
        ++done["withdrawStake"];
    }

    // ---------------------------------------------------------------- round actions

    function openRound(uint256 consumerSeed, uint256 modelSeed, uint32 k, uint16 beta, uint32 duration) external {
        if (_models.length == 0) return;
        uint256 modelId = _models[modelSeed % _models.length];
        if (!registry.isAvailable(modelId)) return;
        address consumer = _consumers[consumerSeed % _consumers.length];
        k = uint32(1 + k % 12);
        beta = uint16(rounds.minBeta() + beta % 4);
        duration = uint32(1 hours + duration % 3 days);
        address token = registry.model(modelId).token;
        uint256 escrow = 2 * uint256(k) * registry.prices(token).proofZ;
        bytes32 root = RoundData.inputsRoot(k);
        uint256 value = _fund(consumer, token, escrow);
        vm.prank(consumer);
        uint256 id = rounds.openRound{value: value}(modelId, k, beta, duration, root);
        _rounds.push(id);
        ghostRoundEscrow[token] += escrow;
        ++done["openRound"];
    }

    function cancel(uint256 roundSeed) external {
        (uint256 id, Round memory r, bool ok) = _pick(roundSeed);
        if (!ok || rounds.state(id) != RoundState.Open) return;
        vm.prank(r.consumer);
        rounds.cancel(id);
        ghostRoundEscrow[r.token] -= 2 * uint256(r.k) * r.proofZ;
        ++done["cancel"];
    }

    function join(uint256 roundSeed) external {
        (uint256 id, Round memory r, bool ok) = _pick(roundSeed);
        if (!ok || rounds.state(id) != RoundState.Open || !registry.isAvailable(r.modelId)) return;
        uint256 escrow = uint256(r.beta) * r.k * r.proofZ;
        uint256 value = _fund(r.provider, r.token, escrow);
        vm.prank(r.provider);
        rounds.join{value: value}(id);
        ghostRoundEscrow[r.token] += escrow;
        ++ghostLiveJoined;
        ++done["join"];
    }

    function commitPredictions(uint256 roundSeed, address submitter) external {
        (uint256 id, Round memory r, bool ok) = _pick(roundSeed);
        if (!ok || rounds.state(id) != RoundState.Serving || r.predictionsRoot != bytes32(0)) return;
        bytes32 root = RoundData.predictionsRoot(r.k);
        bytes32 digest = RoundData.digest(address(rounds), id, r.inputsRoot, root);
        (uint8 v, bytes32 rs, bytes32 s) = vm.sign(_keys[r.provider], digest);
        vm.prank(submitter);
        rounds.commitPredictions(id, root, abi.encodePacked(rs, s, v));
        ++done["commitPredictions"];
    }

    function contest(uint256 roundSeed, uint256 indexSeed, uint256 count) external {
        (uint256 id, Round memory r, bool ok) = _pick(roundSeed);
        if (!ok || rounds.state(id) != RoundState.Serving || r.predictionsRoot == bytes32(0)) return;
        count = 1 + count % 3;
        uint32[] memory buffer = new uint32[](count);
        uint256 n = 0;
        for (uint32 j = 0; j < r.k && n < count; ++j) {
            uint32 index = uint32((indexSeed % r.k + j) % r.k);
            if (!rounds.isContested(id, index)) buffer[n++] = index;
        }
        if (n == 0) return;
        uint32[] memory indices = new uint32[](n);
        for (uint256 j = 0; j < n; ++j) {
            indices[j] = buffer[j];
        }
        vm.prank(r.consumer);
        rounds.contest(id, indices);
        ++done["contest"];
    }

    /// @dev Proves up to `1 + count % 3` of the round's pending contests (answerBatch when more than one).
    function answer(uint256 roundSeed, uint256 count, address submitter) external {
        (uint256 id, Round memory r, bool ok) = _pick(roundSeed);
        RoundState s = ok ? rounds.state(id) : RoundState.None;
        if (s != RoundState.Serving && s != RoundState.AwaitingAnswers) return;
        count = 1 + count % 3;
        Answer[] memory buffer = new Answer[](count);
        uint256 n = 0;
        for (uint32 index = 0; index < r.k && n < count; ++index) {
            if (rounds.isContested(id, index) && !rounds.isAnswered(id, index)) {
                buffer[n++] = RoundData.answer(r.k, index);
            }
        }
        if (n == 0) return;
        vm.prank(submitter);
        if (n == 1) {
            rounds.answer(id, buffer[0]);
        } else {
            Answer[] memory list = new Answer[](n);
            for (uint256 j = 0; j < n; ++j) {
                list[j] = buffer[j];
            }
            rounds.answerBatch(id, list);
        }
        ++done["answer"];
    }

    function settle(uint256 roundSeed, address caller) external {
        (uint256 id,, bool ok) = _pick(roundSeed);
        if (!ok) return;
        RoundState s = rounds.state(id);
        if (s != RoundState.JoinExpired && s != RoundState.Settleable) return;
        _settle(id, caller);
        ++done["settle"];
        Round memory r = rounds.round(id);
        if (r.status == RoundStatus.Cancelled) ++done["settle:cancelled"];
        else if (r.predictionsRoot == bytes32(0)) ++done["settle:noPredictions"];
        else if (r.contested == 0) ++done["settle:uncontested"];
        else if (r.answered == r.contested) ++done["settle:answered"];
        else ++done["settle:unanswered"];
    }

    function warp(uint256 secondsSeed) external {
        vm.warp(block.timestamp + 1 + secondsSeed % 2 days);
        ++done["warp"];
    }

    function withdraw(uint256 actorSeed, bool fromRegistry, bool useToken) external {
        address[] memory list = this.actors();
        address actor = list[actorSeed % list.length];
        address token = useToken ? address(usd) : ETH;
        uint256 credit = fromRegistry ? registry.creditOf(actor, token) : rounds.creditOf(actor, token);
        if (credit == 0) return;
        vm.prank(actor);
        if (fromRegistry) registry.withdraw(token);
        else rounds.withdraw(token);
        ++done["withdraw"];
    }

    // ---------------------------------------------------------------- end of run

    /// @notice Ends everything through the permissionless timeout paths: settles every round,
    /// unbonds and withdraws every stake, withdraws every credit.
    function drain() external {
        vm.warp(
            block.timestamp + rounds.joinWindow() + rounds.maxDuration() + rounds.answerWindow()
                + uint256(rounds.maxK()) * rounds.proofWindow() + 1
        );
        for (uint256 i = 0; i < _rounds.length; ++i) {
            RoundState s = rounds.state(_rounds[i]);
            if (s == RoundState.JoinExpired || s == RoundState.Settleable) _settle(_rounds[i], address(0xdead));
            s = rounds.state(_rounds[i]);
            require(s == RoundState.Settled || s == RoundState.Cancelled, "round not final after timeouts");
        }
        for (uint256 i = 0; i < _models.length; ++i) {
            uint256 id = _models[i];
            Model memory m = registry.model(id);
            if (m.status == ModelStatus.Active) {
                vm.prank(m.provider);
                registry.requestUnbond(id);
            }
        }
        vm.warp(block.timestamp + registry.unbondingDelay());
        for (uint256 i = 0; i < _models.length; ++i) {
            if (registry.model(_models[i]).status == ModelStatus.Unbonding) {
                require(_withdrawStake(_models[i]), "stake not withdrawable");
            }
        }
        address[] memory list = this.actors();
        for (uint256 i = 0; i < list.length; ++i) {
            for (uint256 t = 0; t < 2; ++t) {
                address token = t == 0 ? ETH : address(usd);
                if (rounds.creditOf(list[i], token) > 0) {
                    vm.prank(list[i]);
                    rounds.withdraw(token);
                }
                if (registry.creditOf(list[i], token) > 0) {
                    vm.prank(list[i]);
                    registry.withdraw(token);
                }
            }
        }
    }

    // ---------------------------------------------------------------- internals

    function _register(address provider, address token) internal {
        uint256 stake = registry.requiredStake(token);
        uint256 value = _fund(provider, token, stake);
        vm.prank(provider);
        uint256 id = registry.registerModel{value: value}(verifier, abi.decode(WEIGHTS, (bytes32)), "ipfs://m", token);
        _models.push(id);
        ghostStakes[token] += stake;
    }

    function _withdrawStake(uint256 id) internal returns (bool) {
        Model memory m = registry.model(id);
        // forge-lint: disable-next-line(block-timestamp)
        if (m.status != ModelStatus.Unbonding || block.timestamp < m.unbondableAt || m.openJobs != 0) return false;
        vm.prank(m.provider);
        registry.withdrawStake(id);
        ghostStakes[m.token] -= m.stake;
        return true;
    }

    function _settle(uint256 id, address caller) internal {
        Round memory r = rounds.round(id);
        bool joined = r.status == RoundStatus.Joined;
        vm.prank(caller);
        rounds.settle(id);
        uint256 held = 2 * uint256(r.k) * r.proofZ;
        if (joined) {
            held += uint256(r.beta) * r.k * r.proofZ;
            --ghostLiveJoined;
        }
        ghostRoundEscrow[r.token] -= held;
    }

    /// @dev Gives `who` exactly `amount` more of `token` and approves `rounds` and the registry
    /// for it; returns the msg.value to send (ETH) or 0.
    function _fund(address who, address token, uint256 amount) internal returns (uint256 value) {
        if (token == ETH) {
            vm.deal(who, who.balance + amount);
            return amount;
        }
        usd.mint(who, amount);
        vm.startPrank(who);
        usd.approve(address(rounds), amount);
        usd.approve(address(registry), amount);
        vm.stopPrank();
        return 0;
    }

    /// @dev One of the three most recent rounds (so rounds progress to the end within a run).
    function _pick(uint256 seed) internal view returns (uint256 id, Round memory r, bool ok) {
        uint256 n = _rounds.length;
        if (n == 0) return (0, r, false);
        id = _rounds[n - 1 - seed % (n < 3 ? n : 3)];
        r = rounds.round(id);
        ok = true;
    }
}
