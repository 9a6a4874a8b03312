// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Vm} from "../utils/Test.sol";
import {GuardedData} from "../utils/GuardedData.sol";
import {Merkle} from "../utils/Merkle.sol";
import {MockERC20} from "../mocks/Mocks.sol";

import {DataTransferService} from "../../src/DataTransferService.sol";
import {GriefingResistantAudit} from "../../src/GriefingResistantAudit.sol";
import {ModelRegistry} from "../../src/ModelRegistry.sol";
import {KeccakStreamCipher} from "../../src/crypto/KeccakStreamCipher.sol";
import {AuditProof} from "../../src/interfaces/IAccuracyAudit.sol";
import {
    ItemOpening, PublishedItem, Transfer, TransferOutcome, TransferState
} from "../../src/interfaces/IDataTransfer.sol";
import {GuardedAudit, GuardedState, GuardedStatus} from "../../src/interfaces/IGriefingResistantAudit.sol";

/// @notice Random actors driving griefing-resistant audits for the invariant tests, through the
/// real DataTransferService with real items (GuardedData): opening, cancelling, joining, sending
/// (honestly or with one garbage item), proving delivery on chain (items in batches, the test
/// set's leaves), acknowledging (by transaction or signature), revealing,
/// accepting or contesting, letting any deadline pass and expiring transfers, proceeding or
/// aborting, proving, finalizing and withdrawing. Every action picks its target from a seed and
/// only does what is currently allowed; ghosts track what the audit contract should hold.
contract GuardedAuditHandler {
    Vm internal constant vm = Vm(0x7109709ECfa91a80626fF3989D68f67F5b1DD12D);
    address internal constant ETH = address(0);
    bytes32 internal constant WEIGHTS = bytes32(uint256(0x0badc0ffee));
    /// @dev N ranges over N1 + 1 .. N1 + EXTRA.
    uint32 internal constant EXTRA = 5;
    uint256 internal constant PROVIDER_KEY = 5000;

    ModelRegistry public immutable registry;
    GriefingResistantAudit public immutable guarded;
    DataTransferService public immutable transfers;
    MockERC20 public immutable usd;
    uint32 internal immutable _n1;

    /// @notice What MC sent in one transfer (for the reveal and for contests).
    struct Sent {
        bytes32 key;
        bytes32 salt;
        uint256 cheated; // position of the garbage item, or type(uint256).max
        uint32[] indices;
        bytes[] ciphertexts;
        bytes32[] leaves;
    }

    address[] internal _consumers;
    address[] internal _providers;
    uint256[] internal _models;
    uint256[] internal _audits;
    /// @dev Input commitments of examples 0 .. N1 + EXTRA - 1 (Poseidon, computed once).
    bytes32[] internal _ics;
    mapping(uint256 transferId => Sent) internal _sent;
    /// @dev The audit status the ghosts last accounted for.
    mapping(uint256 auditId => GuardedStatus) internal _seen;

    /// @notice Escrows held by open audits (not cancelled, not settled), per token.
    mapping(address token => uint256 amount) public ghostAuditEscrow;
    /// @notice Audits joined and not yet settled (each holds one registry lock).
    uint256 public ghostLiveJoined;
    /// @notice How often each action (and each way of ending) happened, for a coverage check.
    mapping(bytes32 action => uint256 count) public done;

    constructor(
        ModelRegistry registry_,
        GriefingResistantAudit guarded_,
        DataTransferService transfers_,
        MockERC20 usd_,
        address verifier
    ) {
        registry = registry_;
        guarded = guarded_;
        transfers = transfers_;
        usd = usd_;
        // forge-lint: disable-next-line(unsafe-typecast)
        _n1 = uint32(registry_.n1());
        for (uint32 i = 0; i < _n1 + EXTRA; ++i) {
            _ics.push(GuardedData.inputCommitment(i));
        }
        for (uint256 i = 0; i < 3; ++i) {
            _consumers.push(vm.addr(3000 + i));
        }
        for (uint256 i = 0; i < 2; ++i) {
            address p = vm.addr(PROVIDER_KEY + i);
            _providers.push(p);
            for (uint256 t = 0; t < 2; ++t) {
                address token = t == 0 ? ETH : address(usd);
                uint256 value = _fund(p, token, registry.requiredStake(token), address(registry));
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

    function auditIds() external view returns (uint256[] memory) {
        return _audits;
    }

    // ---------------------------------------------------------------- actions: stages 1-2

    /// @dev At most two live audits among the three most recent ones, so that runs go deep.
    function openAudit(uint256 consumerSeed, uint256 modelSeed, uint32 extra, uint64 num) public {
        uint256 modelId = _models[modelSeed % _models.length];
        if (!registry.isAvailable(modelId) || _liveRecent() >= 2) return;
        address consumer = _consumers[consumerSeed % _consumers.length];
        uint32 n = _n1 + 1 + extra % EXTRA;
        address token = registry.model(modelId).token;
        uint256 escrow = _escrowOf(n, token);
        uint256 value = _fund(consumer, token, escrow, address(guarded));
        bytes32 root = Merkle.root(_leaves(n));
        vm.prank(consumer);
        uint256 id = guarded.openAudit{value: value}(modelId, n, num % 5, 4, root); // target num/4
        _audits.push(id);
        _seen[id] = GuardedStatus.Opened;
        ghostAuditEscrow[token] += escrow;
        ++done["openAudit"];
    }

    function cancel(uint256 auditSeed) public {
        (uint256 id, GuardedAudit memory a, bool ok) = _pick(auditSeed);
        if (!ok || guarded.state(id) != GuardedState.Open) return;
        vm.prank(a.consumer);
        guarded.cancel(id);
        _sync(id);
        ++done["cancel"];
    }

    function join(uint256 auditSeed, bytes32 seed) public {
        (uint256 id, GuardedAudit memory a, bool ok) = _pick(auditSeed);
        if (!ok || guarded.state(id) != GuardedState.Open || !registry.isAvailable(a.modelId)) return;
        uint256 escrow = _escrowOf(a.n, a.token);
        uint256 value = _fund(a.provider, a.token, escrow, address(guarded));
        vm.prank(a.provider);
        guarded.join{value: value}(id, seed);
        // Both fees move to the fee recipient's credit.
        ghostAuditEscrow[a.token] += escrow - 2 * a.prices.feeEpsilon;
        ++ghostLiveJoined;
        _seen[id] = GuardedStatus.AwaitingSubset;
        ++done["join"];
    }

    // ---------------------------------------------------------------- actions: stages 3 and 5 (MC)

    /// @dev MC sends the subset or the rest; one item in four sends is garbage.
    function send(uint256 auditSeed, uint256 cheatSeed) public {
        (uint256 id, GuardedAudit memory a, bool ok) = _pick(auditSeed);
        if (!ok) return;
        GuardedState s = guarded.state(id);
        if (s != GuardedState.AwaitingSubset && s != GuardedState.AwaitingRest) return;
        bool subset = s == GuardedState.AwaitingSubset;
        uint32[] memory indices = subset ? guarded.subsetIndices(id) : _restIndices(id, a);
        uint256 cheat = cheatSeed % 4 == 0 ? (cheatSeed >> 8) % indices.length : type(uint256).max;
        uint256 expected = transfers.transferCount() + 1;
        Sent storage sent = _sent[expected];
        sent.key = keccak256(abi.encode("key", expected));
        sent.salt = keccak256(abi.encode("salt", expected));
        sent.cheated = cheat;
        for (uint256 k = 0; k < indices.length; ++k) {
            uint32 i = indices[k];
            bytes memory pt = k == cheat ? GuardedData.garbage(i) : GuardedData.plaintext(i);
            bytes memory ct = KeccakStreamCipher.encrypt(sent.key, i, pt);
            sent.indices.push(i);
            sent.ciphertexts.push(ct);
            sent.leaves.push(GuardedData.ciphertextLeaf(i, ct));
        }
        bytes32 root = Merkle.root(sent.leaves);
        bytes32 kc = GuardedData.keyCommitment(sent.key, sent.salt);
        vm.prank(a.consumer);
        uint256 t = subset ? guarded.sendSubset(id, root, kc) : guarded.sendRest(id, root, kc);
        require(t == expected, "transfer id");
        _sync(id);
        if (subset) ++done["sendSubset"];
        else ++done["sendRest"];
    }

    function abortByConsumer(uint256 auditSeed) public {
        (uint256 id, GuardedAudit memory a, bool ok) = _pick(auditSeed);
        if (!ok) return;
        GuardedState s = guarded.state(id);
        if (s != GuardedState.AwaitingSubset && s != GuardedState.AwaitingRest) return;
        vm.prank(a.consumer);
        guarded.abortByConsumer(id);
        _sync(id);
        ++done["abortByConsumer"];
    }

    // ---------------------------------------------------------------- actions: the data transfers

    function acknowledge(uint256 auditSeed, bool bySignature, address submitter) public {
        (uint256 id, uint256 t, bool ok) = _transferOf(auditSeed);
        if (!ok || transfers.transferState(t) != TransferState.AwaitingAck) return;
        address receiver = transfers.getTransfer(t).receiver;
        if (bySignature) {
            uint256 key = receiver == _providers[0] ? PROVIDER_KEY : PROVIDER_KEY + 1;
            (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, transfers.acknowledgementDigest(t));
            vm.prank(submitter);
            transfers.acknowledgeWithSignature(t, abi.encodePacked(r, s, v));
            ++done["acknowledgeWithSignature"];
        } else {
            vm.prank(receiver);
            transfers.acknowledge(t);
        }
        _sync(id);
        ++done["acknowledge"];
    }

    function revealKey(uint256 auditSeed) public {
        (uint256 id, uint256 t, bool ok) = _transferOf(auditSeed);
        if (!ok || transfers.transferState(t) != TransferState.AwaitingKey) return;
        Sent storage sent = _sent[t];
        vm.prank(transfers.getTransfer(t).sender);
        transfers.revealKey(t, sent.key, sent.salt);
        _sync(id);
        ++done["revealKey"];
    }

    /// @dev MP accepts, contests the garbage item (if any), or contests an item at random.
    function respond(uint256 auditSeed, uint256 choice, uint256 posSeed) public {
        (uint256 id, uint256 t, bool ok) = _transferOf(auditSeed);
        if (!ok || transfers.transferState(t) != TransferState.Contestable) return;
        Sent storage sent = _sent[t];
        address receiver = transfers.getTransfer(t).receiver;
        choice %= 3;
        if (choice == 0 || (choice == 1 && sent.cheated == type(uint256).max)) {
            vm.prank(receiver);
            transfers.accept(t);
            ++done["accept"];
        } else {
            uint256 pos = choice == 1 ? sent.cheated : posSeed % sent.indices.length;
            ItemOpening memory o = _opening(id, t, pos);
            vm.prank(receiver);
            TransferOutcome outcome = transfers.contest(t, o);
            require(
                outcome == (pos == sent.cheated ? TransferOutcome.SenderCheated : TransferOutcome.ContestRejected),
                "contest decided wrongly"
            );
            if (pos == sent.cheated) ++done["contest:upheld"];
            else ++done["contest:rejected"];
        }
        _sync(id);
        ++done["respond"];
    }

    /// @dev Proof of delivery by `caller` (anyone may): the next `1 + count % 4` items MC sent
    /// that are not yet published, and the test set's leaves when `leaves`.
    function publish(uint256 auditSeed, uint256 count, bool leaves, address caller) public {
        (uint256 id, uint256 t, bool ok) = _transferOf(auditSeed);
        if (!ok || transfers.transferState(t) != TransferState.AwaitingAck) return;
        Sent storage sent = _sent[t];
        Transfer memory before = transfers.getTransfer(t);
        uint256 from = before.published; // published in position order
        uint256 to = from + 1 + count % 4;
        if (to > sent.indices.length) to = sent.indices.length;
        if (to > from) {
            PublishedItem[] memory list = new PublishedItem[](to - from);
            for (uint256 k = from; k < to; ++k) {
                list[k - from] = PublishedItem(sent.indices[k], sent.ciphertexts[k], Merkle.proof(sent.leaves, k));
            }
            vm.prank(caller);
            transfers.publishItems(t, list);
            ++done["publishItems"];
        }
        if (leaves && !before.leavesPublished) {
            uint32 n = guarded.audit(id).n;
            bytes32[] memory ics = new bytes32[](n);
            uint256[] memory lbls = new uint256[](n);
            for (uint32 i = 0; i < n; ++i) {
                (ics[i], lbls[i]) = (_ics[i], GuardedData.label(i));
            }
            vm.prank(caller);
            transfers.publishPlaintextLeaves(t, ics, lbls);
            ++done["publishLeaves"];
        }
        Transfer memory tr = transfers.getTransfer(t);
        if (_proven(tr) && !_proven(before)) {
            // Completed now: the receiver has a whole ack window from here, never less than before.
            require(tr.deadline == _max(before.deadline, block.timestamp + transfers.ackWindow()), "ack deadline");
            ++done["publish:complete"];
        } else {
            require(tr.deadline == before.deadline, "deadline moved before the publication completed");
        }
    }

    function expireTransfer(uint256 auditSeed, address caller) public {
        (uint256 id, uint256 t, bool ok) = _transferOf(auditSeed);
        if (!ok) return;
        TransferState s = transfers.transferState(t);
        if (s != TransferState.AckExpired && s != TransferState.KeyExpired && s != TransferState.ContestExpired) {
            return;
        }
        GuardedAudit memory a = guarded.audit(id);
        bool proven = _proven(transfers.getTransfer(t));
        uint256 consumerCredit = guarded.creditOf(a.consumer, a.token);
        uint256 providerCredit = guarded.creditOf(a.provider, a.token);
        vm.prank(caller);
        TransferOutcome outcome = transfers.expireTransfer(t);
        _sync(id);
        ++done["expireTransfer"];
        if (s == TransferState.AckExpired) {
            // Blame for a missing acknowledgement follows the proof of delivery; 4NE to the other party.
            uint256 all = 4 * uint256(a.n) * a.prices.exampleE;
            if (proven) {
                require(outcome == TransferOutcome.ReceiverNoAck, "published: MP at fault");
                require(guarded.creditOf(a.consumer, a.token) == consumerCredit + all, "MC gets 4NE");
                ++done["expire:noAck"];
            } else {
                require(outcome == TransferOutcome.SenderUndelivered, "unpublished: MC at fault");
                require(guarded.creditOf(a.provider, a.token) == providerCredit + all, "MP gets 4NE");
                ++done["expire:undelivered"];
            }
        } else if (s == TransferState.KeyExpired) {
            ++done["expire:noReveal"];
        } else {
            ++done["expire:noContinue"];
        }
    }

    // ---------------------------------------------------------------- actions: stages 4, 6, 7

    function decide(uint256 auditSeed, bool proceed) public {
        (uint256 id, GuardedAudit memory a, bool ok) = _pick(auditSeed);
        if (!ok || guarded.state(id) != GuardedState.Deciding) return;
        vm.prank(a.provider);
        if (proceed) {
            guarded.proceed(id);
            ++done["proceed"];
        } else {
            guarded.abort(id);
            ++done["abort"];
        }
        _sync(id);
    }

    /// @dev Proves up to `1 + count % 4` missing N2 examples; `wrongSeed` decides which predict wrong.
    function submitProofs(uint256 auditSeed, uint256 count, uint256 wrongSeed, address submitter) public {
        (uint256 id, GuardedAudit memory a, bool ok) = _pick(auditSeed);
        if (!ok || guarded.state(id) != GuardedState.Proving) return;
        count = 1 + count % 4;
        bytes32[] memory leaves = _leaves(a.n);
        AuditProof[] memory buffer = new AuditProof[](count);
        uint256 k = 0;
        for (uint32 i = 0; i < a.n && k < count; ++i) {
            if (guarded.inSubset(id, i) || guarded.isProven(id, i)) continue;
            AuditProof memory p = buffer[k++];
            p.index = i;
            p.inputCommitment = _ics[i];
            p.label = GuardedData.label(i);
            p.predictedClass = (wrongSeed >> i) & 3 == 0 ? p.label + 1 : p.label;
            p.leafProof = Merkle.proof(leaves, i);
            p.proof = hex"c0ffee";
        }
        AuditProof[] memory list = new AuditProof[](k);
        for (uint256 j = 0; j < k; ++j) {
            list[j] = buffer[j];
        }
        vm.prank(submitter);
        guarded.submitProofs(id, list);
        ++done["submitProofs"];
    }

    function finalize(uint256 auditSeed, address caller) public {
        (uint256 id,, bool ok) = _pick(auditSeed);
        if (!ok || !_finalizable(guarded.state(id))) return;
        _finalize(id, caller);
        ++done["finalize"];
    }

    /// @dev Mostly short steps (up to two hours), sometimes a whole day.
    function warp(uint256 secondsSeed) external {
        vm.warp(block.timestamp + 1 + (secondsSeed % 8 == 0 ? 1 days : secondsSeed % 2 hours));
        ++done["warp"];
    }

    /// @notice The next step of the picked audit's honest flow (or a new audit once it ended),
    /// so that runs reach the late stages; the other actions add the deviations.
    function advance(uint256 auditSeed, uint256 choice) external {
        // A live audit among the recent ones if there is one.
        auditSeed %= 3;
        for (uint256 k = 0; k < 3 && _liveRecent() > 0; ++k) {
            (uint256 live,, bool found) = _pick(auditSeed + k);
            if (found && !_ended(guarded.state(live))) {
                auditSeed += k;
                break;
            }
        }
        (uint256 id, GuardedAudit memory a, bool ok) = _pick(auditSeed);
        GuardedState s = ok ? guarded.state(id) : GuardedState.None;
        ++done["advance"];
        if (s == GuardedState.None || _ended(s)) {
            // Truncating the seed is the point.
            // forge-lint: disable-next-line(unsafe-typecast)
            openAudit(choice, choice >> 8, uint32(choice >> 16), uint64(choice >> 48));
        } else if (s == GuardedState.Open) {
            join(auditSeed, bytes32(choice));
        } else if (s == GuardedState.AwaitingSubset || s == GuardedState.AwaitingRest) {
            send(auditSeed, choice);
        } else if (s == GuardedState.SendingSubset || s == GuardedState.SendingRest) {
            TransferState ts =
                transfers.transferState(s == GuardedState.SendingSubset ? a.subsetTransfer : a.restTransfer);
            // MP acknowledges; one time in eight MC publishes instead (as when MP stays silent).
            if (ts == TransferState.AwaitingAck && choice % 8 == 7) publish(auditSeed, choice >> 3, true, address(0xbeef));
            else if (ts == TransferState.AwaitingAck) acknowledge(auditSeed, choice % 2 == 0, address(0xbeef));
            else if (ts == TransferState.AwaitingKey) revealKey(auditSeed);
            // Accept half the time; else contest the garbage item or a random one.
            else if (ts == TransferState.Contestable) respond(auditSeed, choice % 2 == 0 ? 0 : choice >> 1, choice >> 8);
            else expireTransfer(auditSeed, address(0xbeef));
        } else if (s == GuardedState.Deciding) {
            decide(auditSeed, choice % 4 != 0);
        } else if (s == GuardedState.Proving) {
            submitProofs(auditSeed, choice, choice >> 8, address(0xbeef));
        } else {
            finalize(auditSeed, address(0xbeef));
        }
    }

    function withdraw(uint256 actorSeed, bool useToken) external {
        address[] memory list = actors();
        address actor = list[actorSeed % list.length];
        address token = useToken ? address(usd) : ETH;
        if (guarded.creditOf(actor, token) == 0) return;
        vm.prank(actor);
        guarded.withdraw(token);
        ++done["withdraw"];
    }

    // ---------------------------------------------------------------- end of run

    /// @notice Ends every audit through the permissionless paths only (finalize and
    /// expireTransfer, by a stranger) and withdraws every credit.
    function drain() external {
        vm.warp(
            block.timestamp + guarded.joinWindow() + guarded.sendWindow() + guarded.decisionWindow()
                + guarded.proofWindow() + uint256(guarded.maxN()) * guarded.proofTimePerExample()
                + transfers.ackWindow() + transfers.revealWindow() + transfers.contestWindow() + 1
        );
        for (uint256 i = 0; i < _audits.length; ++i) {
            uint256 id = _audits[i];
            GuardedState s = guarded.state(id);
            if (s == GuardedState.SendingSubset || s == GuardedState.SendingRest) {
                GuardedAudit memory a = guarded.audit(id);
                vm.prank(address(0xdead));
                transfers.expireTransfer(s == GuardedState.SendingSubset ? a.subsetTransfer : a.restTransfer);
                _sync(id);
            } else if (_finalizable(s)) {
                _finalize(id, address(0xdead));
            }
            s = guarded.state(id);
            // One permissionless step ends any stage once every window has passed.
            require(s == GuardedState.Settled || s == GuardedState.Cancelled, "audit not final after timeouts");
        }
        address[] memory list = actors();
        for (uint256 i = 0; i < list.length; ++i) {
            for (uint256 t = 0; t < 2; ++t) {
                address token = t == 0 ? ETH : address(usd);
                if (guarded.creditOf(list[i], token) > 0) {
                    vm.prank(list[i]);
                    guarded.withdraw(token);
                }
            }
        }
    }

    // ---------------------------------------------------------------- internals

    function _proven(Transfer memory t) internal pure returns (bool) {
        return t.leavesPublished && t.published == t.itemCount;
    }

    function _max(uint256 x, uint256 y) internal pure returns (uint256) {
        return x > y ? x : y;
    }

    function _ended(GuardedState s) internal pure returns (bool) {
        return s == GuardedState.Settled || s == GuardedState.Cancelled;
    }

    /// @dev Live audits among the three most recent.
    function _liveRecent() internal view returns (uint256 live) {
        uint256 n = _audits.length;
        for (uint256 k = 0; k < 3 && k < n; ++k) {
            if (!_ended(guarded.state(_audits[n - 1 - k]))) ++live;
        }
    }

    function _finalizable(GuardedState s) internal pure returns (bool) {
        return s == GuardedState.JoinExpired || s == GuardedState.SubsetExpired || s == GuardedState.DecisionExpired
            || s == GuardedState.RestExpired || s == GuardedState.Finalizable;
    }

    function _finalize(uint256 id, address caller) internal {
        GuardedState s = guarded.state(id);
        GuardedAudit memory a = guarded.audit(id);
        vm.prank(caller);
        guarded.finalize(id);
        _sync(id);
        if (s == GuardedState.JoinExpired) {
            ++done["finalize:cancelled"];
        } else if (s == GuardedState.SubsetExpired || s == GuardedState.RestExpired) {
            ++done["finalize:consumerDefaulted"];
        } else if (s == GuardedState.DecisionExpired) {
            ++done["finalize:aborted"];
        } else {
            uint32 n2 = a.n - a.n1;
            bool passed = a.submitted == n2 && uint256(a.correct) * a.targetDen >= uint256(a.targetNum) * n2;
            if (passed) ++done["finalize:passed"];
            else ++done["finalize:failed"];
        }
    }

    /// @dev Books an audit's end in the ghosts (each end is seen exactly once).
    function _sync(uint256 id) internal {
        GuardedAudit memory a = guarded.audit(id);
        GuardedStatus before = _seen[id];
        if (a.status == before) return;
        _seen[id] = a.status;
        require(before != GuardedStatus.Settled && before != GuardedStatus.Cancelled, "ended audit moved");
        if (a.status == GuardedStatus.Cancelled) {
            ghostAuditEscrow[a.token] -= _escrowOf(a.n, a.token);
            ++done["end:cancelled"];
        } else if (a.status == GuardedStatus.Settled) {
            ghostAuditEscrow[a.token] -= 4 * uint256(a.n) * a.prices.exampleE;
            --ghostLiveJoined;
            ++done["end:settled"];
        }
    }

    /// @dev The audit's running data transfer, if any.
    function _transferOf(uint256 auditSeed) internal view returns (uint256 id, uint256 t, bool ok) {
        GuardedAudit memory a;
        (id, a, ok) = _pick(auditSeed);
        if (!ok) return (id, 0, false);
        if (a.status == GuardedStatus.SendingSubset) return (id, a.subsetTransfer, true);
        if (a.status == GuardedStatus.SendingRest) return (id, a.restTransfer, true);
        return (id, 0, false);
    }

    function _opening(uint256 id, uint256 t, uint256 pos) internal view returns (ItemOpening memory o) {
        Sent storage sent = _sent[t];
        uint32 i = sent.indices[pos];
        o.index = i;
        o.ciphertext = sent.ciphertexts[pos];
        o.ciphertextProof = Merkle.proof(sent.leaves, pos);
        o.inputCommitment = _ics[i];
        o.label = GuardedData.label(i);
        o.plaintextProof = Merkle.proof(_leaves(guarded.audit(id).n), i);
    }

    function _restIndices(uint256 id, GuardedAudit memory a) internal view returns (uint32[] memory list) {
        list = new uint32[](a.n - a.n1);
        uint256 k = 0;
        for (uint32 i = 0; i < a.n; ++i) {
            if (!guarded.inSubset(id, i)) list[k++] = i;
        }
    }

    function _escrowOf(uint32 n, address token) internal view returns (uint256) {
        return 2 * uint256(n) * registry.prices(token).exampleE + registry.prices(token).feeEpsilon;
    }

    function _leaves(uint32 n) internal view returns (bytes32[] memory leaves) {
        leaves = new bytes32[](n);
        for (uint32 i = 0; i < n; ++i) {
            leaves[i] = GuardedData.leaf(i, _ics[i], GuardedData.label(i));
        }
    }

    function _fund(address who, address token, uint256 amount, address spender) internal returns (uint256 value) {
        if (token == ETH) {
            vm.deal(who, who.balance + amount);
            return amount;
        }
        usd.mint(who, amount);
        vm.prank(who);
        usd.approve(spender, amount);
        return 0;
    }

    /// @dev One of the three most recent audits (so audits progress to the end within a run).
    function _pick(uint256 seed) internal view returns (uint256 id, GuardedAudit memory a, bool ok) {
        uint256 n = _audits.length;
        if (n == 0) return (0, a, false);
        id = _audits[n - 1 - seed % (n < 3 ? n : 3)];
        a = guarded.audit(id);
        ok = true;
    }
}
