// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Vm} from "../utils/Test.sol";
import {RoundData} from "../utils/RoundData.sol";
import {Merkle} from "../utils/Merkle.sol";
import {MockERC20} from "../mocks/Mocks.sol";

import {AccuracyAudit} from "../../src/AccuracyAudit.sol";
import {ModelRegistry} from "../../src/ModelRegistry.sol";
import {Audit, AuditProof, AuditState, AuditStatus} from "../../src/interfaces/IAccuracyAudit.sol";

/// @notice Random actors driving accuracy audits for the invariant tests. Every action picks its
/// target from a seed and only does what is currently allowed; ghosts track what the audit
/// contract should hold.
contract AuditHandler {
    Vm internal constant vm = Vm(0x7109709ECfa91a80626fF3989D68f67F5b1DD12D);
    address internal constant ETH = address(0);
    bytes32 internal constant WEIGHTS = bytes32(uint256(0x0badc0ffee));

    ModelRegistry public immutable registry;
    AccuracyAudit public immutable audits;
    MockERC20 public immutable usd;

    address[] internal _consumers;
    address[] internal _providers;
    uint256[] internal _models;
    uint256[] internal _audits;

    /// @notice Escrows held by open audits (not cancelled, not settled), per token.
    mapping(address token => uint256 amount) public ghostAuditEscrow;
    /// @notice Audits joined and not yet settled (each holds one registry lock).
    uint256 public ghostLiveJoined;
    /// @notice How often each action did something (for a coverage check).
    mapping(bytes32 action => uint256 count) public done;

    constructor(ModelRegistry registry_, AccuracyAudit audits_, MockERC20 usd_, address verifier) {
        registry = registry_;
        audits = audits_;
        usd = usd_;
        for (uint256 i = 0; i < 3; ++i) {
            _consumers.push(vm.addr(3000 + i));
        }
        for (uint256 i = 0; i < 2; ++i) {
            address p = vm.addr(4000 + i);
            _providers.push(p);
            for (uint256 t = 0; t < 2; ++t) {
                address token = t == 0 ? ETH : address(usd);
                uint256 stake = registry.requiredStake(token);
                uint256 value = _fund(p, token, stake);
                vm.prank(p);
                _models.push(registry.registerModel{value: value}(verifier, WEIGHTS, "ipfs://m", token));
            }
        }
    }

    // ---------------------------------------------------------------- views for the tests

    /// @dev Every account that can hold a credit: consumers, providers and the fee recipient.
    function actors() public view returns (address[] memory list) {
        list = new address[](_consumers.length + _providers.length + 1);
        for (uint256 i = 0; i < _consumers.length; ++i) {
            list[i] = _consumers[i];
        }
        for (uint256 i = 0; i < _providers.length; ++i) {
            list[_consumers.length + i] = _providers[i];
        }
        list[list.length - 1] = registry.feeRecipient();
    }

    function modelIds() external view returns (uint256[] memory) {
        return _models;
    }

    // ---------------------------------------------------------------- actions

    function openAudit(uint256 consumerSeed, uint256 modelSeed, uint32 n, uint64 num) external {
        uint256 modelId = _models[modelSeed % _models.length];
        if (!registry.isAvailable(modelId)) return;
        address consumer = _consumers[consumerSeed % _consumers.length];
        n = uint32(1 + n % 10);
        address token = registry.model(modelId).token;
        uint256 escrow = _escrowOf(n, token);
        ghostAuditEscrow[token] += escrow;
        _open(consumer, modelId, n, num % 5, _fund(consumer, token, escrow)); // target num/4
        ++done["openAudit"];
    }

    function cancel(uint256 auditSeed) external {
        (uint256 id, Audit memory a, bool ok) = _pick(auditSeed);
        if (!ok || audits.state(id) != AuditState.Open) return;
        vm.prank(a.consumer);
        audits.cancel(id);
        ghostAuditEscrow[a.token] -= _escrowOf(a.n, a.token);
        ++done["cancel"];
    }

    function join(uint256 auditSeed) external {
        (uint256 id, Audit memory a, bool ok) = _pick(auditSeed);
        if (!ok || audits.state(id) != AuditState.Open || !registry.isAvailable(a.modelId)) return;
        uint256 escrow = _escrowOf(a.n, a.token);
        uint256 value = _fund(a.provider, a.token, escrow);
        vm.prank(a.provider);
        audits.join{value: value}(id);
        // Both fees move to the fee recipient's credit.
        ghostAuditEscrow[a.token] += escrow - 2 * a.prices.feeEpsilon;
        ++ghostLiveJoined;
        ++done["join"];
    }

    function decide(uint256 auditSeed, bool proceed) external {
        (uint256 id, Audit memory a, bool ok) = _pick(auditSeed);
        if (!ok || audits.state(id) != AuditState.Deciding) return;
        vm.prank(a.provider);
        if (proceed) {
            audits.proceed(id);
            ++done["proceed"];
        } else {
            audits.abort(id);
            _settled(a);
            ++done["abort"];
        }
    }

    /// @dev Proves up to `1 + count % 4` missing examples; `wrongSeed` decides which predict wrong.
    function submitProofs(uint256 auditSeed, uint256 count, uint256 wrongSeed, address submitter) external {
        (uint256 id, Audit memory a, bool ok) = _pick(auditSeed);
        if (!ok || audits.state(id) != AuditState.Proving) return;
        count = 1 + count % 4;
        bytes32[] memory leaves = _leaves(a.n);
        AuditProof[] memory buffer = new AuditProof[](count);
        uint256 k = 0;
        for (uint32 i = 0; i < a.n && k < count; ++i) {
            if (audits.isProven(id, i)) continue;
            AuditProof memory p = buffer[k++];
            p.index = i;
            p.inputCommitment = RoundData.ic(i);
            p.label = i % 10;
            p.predictedClass = (wrongSeed >> i) & 3 == 0 ? p.label + 1 : p.label;
            p.leafProof = Merkle.proof(leaves, i);
            p.proof = hex"c0ffee";
        }
        AuditProof[] memory list = new AuditProof[](k);
        for (uint256 j = 0; j < k; ++j) {
            list[j] = buffer[j];
        }
        vm.prank(submitter);
        audits.submitProofs(id, list);
        ++done["submitProofs"];
    }

    function finalize(uint256 auditSeed, address caller) external {
        (uint256 id,, bool ok) = _pick(auditSeed);
        if (!ok) return;
        AuditState s = audits.state(id);
        if (s != AuditState.JoinExpired && s != AuditState.DecisionExpired && s != AuditState.Finalizable) return;
        _finalize(id, caller);
        ++done["finalize"];
        Audit memory a = audits.audit(id);
        if (a.status == AuditStatus.Cancelled) {
            ++done["finalize:cancelled"];
        } else if (a.submitted == a.n && audits.targetMet(a.correct, a.n, a.targetNum, a.targetDen)) {
            ++done["finalize:passed"];
        } else {
            ++done["finalize:failed"];
        }
    }

    function warp(uint256 secondsSeed) external {
        vm.warp(block.timestamp + 1 + secondsSeed % 1 days);
        ++done["warp"];
    }

    function withdraw(uint256 actorSeed, bool useToken) external {
        address[] memory list = actors();
        address actor = list[actorSeed % list.length];
        address token = useToken ? address(usd) : ETH;
        if (audits.creditOf(actor, token) == 0) return;
        vm.prank(actor);
        audits.withdraw(token);
        ++done["withdraw"];
    }

    // ---------------------------------------------------------------- end of run

    /// @notice Ends every audit through the permissionless paths and withdraws every credit.
    function drain() external {
        vm.warp(
            block.timestamp + audits.joinWindow() + audits.decisionWindow() + audits.proofWindow()
                + uint256(audits.maxN()) * audits.proofTimePerExample() + 1
        );
        for (uint256 i = 0; i < _audits.length; ++i) {
            AuditState s = audits.state(_audits[i]);
            if (s == AuditState.JoinExpired || s == AuditState.DecisionExpired || s == AuditState.Finalizable) {
                _finalize(_audits[i], address(0xdead));
            }
            s = audits.state(_audits[i]);
            // Proving cannot outlive the warp above: its deadline is at most proofWindow + maxN * proofTime.
            require(s == AuditState.Settled || s == AuditState.Cancelled, "audit not final after timeouts");
        }
        address[] memory list = actors();
        for (uint256 i = 0; i < list.length; ++i) {
            for (uint256 t = 0; t < 2; ++t) {
                address token = t == 0 ? ETH : address(usd);
                if (audits.creditOf(list[i], token) > 0) {
                    vm.prank(list[i]);
                    audits.withdraw(token);
                }
            }
        }
    }

    // ---------------------------------------------------------------- internals

    function _open(address consumer, uint256 modelId, uint32 n, uint64 num, uint256 value) internal {
        bytes32 root = Merkle.root(_leaves(n));
        vm.prank(consumer);
        _audits.push(audits.openAudit{value: value}(modelId, n, num, 4, root));
    }

    function _finalize(uint256 id, address caller) internal {
        Audit memory a = audits.audit(id);
        vm.prank(caller);
        audits.finalize(id);
        if (a.status == AuditStatus.Opened) ghostAuditEscrow[a.token] -= _escrowOf(a.n, a.token);
        else _settled(a);
    }

    function _settled(Audit memory a) internal {
        ghostAuditEscrow[a.token] -= 4 * uint256(a.n) * a.prices.exampleE;
        --ghostLiveJoined;
    }

    function _escrowOf(uint32 n, address token) internal view returns (uint256) {
        return 2 * uint256(n) * registry.prices(token).exampleE + registry.prices(token).feeEpsilon;
    }

    function _leaves(uint32 n) internal pure returns (bytes32[] memory leaves) {
        leaves = new bytes32[](n);
        for (uint32 i = 0; i < n; ++i) {
            leaves[i] = keccak256(bytes.concat(keccak256(abi.encode(uint256(i), RoundData.ic(i), uint256(i % 10)))));
        }
    }

    function _fund(address who, address token, uint256 amount) internal returns (uint256 value) {
        if (token == ETH) {
            vm.deal(who, who.balance + amount);
            return amount;
        }
        usd.mint(who, amount);
        vm.startPrank(who);
        usd.approve(address(audits), amount);
        usd.approve(address(registry), amount);
        vm.stopPrank();
        return 0;
    }

    /// @dev One of the three most recent audits (so audits progress to the end within a run).
    function _pick(uint256 seed) internal view returns (uint256 id, Audit memory a, bool ok) {
        uint256 n = _audits.length;
        if (n == 0) return (0, a, false);
        id = _audits[n - 1 - seed % (n < 3 ? n : 3)];
        a = audits.audit(id);
        ok = true;
    }
}
