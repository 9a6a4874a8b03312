// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {GuardedData} from "./GuardedData.sol";
import {Merkle} from "./Merkle.sol";
import {ProtocolsFixture} from "./ProtocolsFixture.sol";

import {KeccakStreamCipher} from "../../src/crypto/KeccakStreamCipher.sol";
import {AuditProof} from "../../src/interfaces/IAccuracyAudit.sol";
import {ItemOpening, PublishedItem, TransferOutcome} from "../../src/interfaces/IDataTransfer.sol";
import {GuardedAudit, GuardedState, IGriefingResistantAudit} from "../../src/interfaces/IGriefingResistantAudit.sol";
import {Prices} from "../../src/lib/Types.sol";

/// @notice The marketplace with every protocol deployed, and helpers that drive griefing-resistant
/// audits through the real DataTransferService with real items (GuardedData): MC encrypts each
/// item under a fresh per-transfer key with the keccak keystream, commits the ciphertext root
/// and the key, MP acknowledges, MC reveals, MP accepts or contests.
abstract contract GuardedFixture is ProtocolsFixture {
    /// @dev `cheat` position meaning "send every item honestly".
    uint256 internal constant HONEST = type(uint256).max;

    /// @notice What MC sent in one data transfer (for the reveal and for contests).
    struct Sent {
        uint256 auditId;
        bytes32 key;
        bytes32 salt;
        uint32[] indices;
        bytes[] ciphertexts;
        bytes32[] leaves;
    }

    mapping(uint256 transferId => Sent) internal _sent;
    /// @dev Input commitments by example index (Poseidon is not free: computed once per test).
    bytes32[] internal _icCache;

    // ---------------------------------------------------------------- test set

    function _icOf(uint32 i) internal returns (bytes32) {
        while (_icCache.length <= i) {
            // forge-lint: disable-next-line(unsafe-typecast)
            _icCache.push(GuardedData.inputCommitment(uint32(_icCache.length)));
        }
        return _icCache[i];
    }

    function _testLeaves(uint32 n) internal returns (bytes32[] memory leaves) {
        leaves = new bytes32[](n);
        for (uint32 i = 0; i < n; ++i) {
            leaves[i] = GuardedData.leaf(i, _icOf(i), GuardedData.label(i));
        }
    }

    function _testRoot(uint32 n) internal returns (bytes32) {
        return Merkle.root(_testLeaves(n));
    }

    /// @dev The N2 examples (not in the subset), in increasing order.
    function _restIndices(uint256 id) internal view returns (uint32[] memory list) {
        GuardedAudit memory a = guarded.audit(id);
        list = new uint32[](a.n - a.n1);
        uint256 k = 0;
        for (uint32 i = 0; i < a.n; ++i) {
            if (!guarded.inSubset(id, i)) list[k++] = i;
        }
    }

    // ---------------------------------------------------------------- money

    function _fundG(address who, address token, uint256 amount) internal returns (uint256 value) {
        if (token == ETH) {
            vm.deal(who, who.balance + amount);
            return amount;
        }
        usd.mint(who, amount);
        vm.prank(who);
        usd.approve(address(guarded), amount);
        return 0;
    }

    /// @dev 2NE + eps at the token's prices.
    function _escrowOf(uint32 n, Prices memory p) internal pure returns (uint256) {
        return 2 * uint256(n) * p.exampleE + p.feeEpsilon;
    }

    // ---------------------------------------------------------------- stages

    function _openG(uint256 modelId, uint32 n, uint64 num, uint64 den) internal returns (uint256 id) {
        (, address token,,,) = registry.jobTerms(modelId);
        uint256 value = _fundG(consumer, token, _escrowOf(n, registry.prices(token)));
        bytes32 root = _testRoot(n);
        vm.prank(consumer);
        id = guarded.openAudit{value: value}(modelId, n, num, den, root);
    }

    function _joinG(uint256 id, bytes32 seed) internal {
        GuardedAudit memory a = guarded.audit(id);
        uint256 value = _fundG(a.provider, a.token, _escrowOf(a.n, a.prices));
        vm.prank(a.provider);
        guarded.join{value: value}(id, seed);
    }

    /// @dev Encrypts `indices` under a fresh key (the item at position `cheat` replaced by
    /// garbage) and records it for the transfer about to be opened; returns its roots.
    function _prepareSend(uint256 id, uint32[] memory indices, uint256 cheat)
        internal
        returns (uint256 transferId, bytes32 ciphertextRoot, bytes32 keyCommitment)
    {
        transferId = transfers.transferCount() + 1;
        delete _sent[transferId]; // a redeployed service reuses ids
        Sent storage s = _sent[transferId];
        s.auditId = id;
        s.key = keccak256(abi.encode("transfer key", transferId));
        s.salt = keccak256(abi.encode("transfer salt", transferId));
        for (uint256 k = 0; k < indices.length; ++k) {
            uint32 i = indices[k];
            bytes memory pt = k == cheat ? GuardedData.garbage(i) : GuardedData.plaintext(i);
            bytes memory ct = KeccakStreamCipher.encrypt(s.key, i, pt);
            s.indices.push(i);
            s.ciphertexts.push(ct);
            s.leaves.push(GuardedData.ciphertextLeaf(i, ct));
        }
        ciphertextRoot = Merkle.root(s.leaves);
        keyCommitment = GuardedData.keyCommitment(s.key, s.salt);
    }

    function _sendSubsetG(uint256 id, uint256 cheat) internal returns (uint256 transferId) {
        (uint256 expected, bytes32 croot, bytes32 kc) = _prepareSend(id, guarded.subsetIndices(id), cheat);
        vm.prank(guarded.audit(id).consumer);
        transferId = guarded.sendSubset(id, croot, kc);
        assertEq(transferId, expected, "transfer id");
    }

    function _sendRestG(uint256 id, uint256 cheat) internal returns (uint256 transferId) {
        (uint256 expected, bytes32 croot, bytes32 kc) = _prepareSend(id, _restIndices(id), cheat);
        vm.prank(guarded.audit(id).consumer);
        transferId = guarded.sendRest(id, croot, kc);
        assertEq(transferId, expected, "transfer id");
    }

    function _ackG(uint256 transferId) internal {
        vm.prank(transfers.getTransfer(transferId).receiver);
        transfers.acknowledge(transferId);
    }

    function _revealG(uint256 transferId) internal {
        Sent storage s = _sent[transferId];
        vm.prank(transfers.getTransfer(transferId).sender);
        transfers.revealKey(transferId, s.key, s.salt);
    }

    function _acceptG(uint256 transferId) internal {
        vm.prank(transfers.getTransfer(transferId).receiver);
        transfers.accept(transferId);
    }

    /// @dev The contest opening of the item MC sent at position `pos`.
    function _openingG(uint256 transferId, uint256 pos) internal returns (ItemOpening memory o) {
        Sent storage s = _sent[transferId];
        uint32 i = s.indices[pos];
        o.index = i;
        o.ciphertext = s.ciphertexts[pos];
        o.ciphertextProof = Merkle.proof(s.leaves, pos);
        o.inputCommitment = _icOf(i);
        o.label = GuardedData.label(i);
        o.plaintextProof = Merkle.proof(_testLeaves(guarded.audit(s.auditId).n), i);
    }

    function _contestG(uint256 transferId, uint256 pos) internal returns (TransferOutcome) {
        ItemOpening memory o = _openingG(transferId, pos);
        vm.prank(transfers.getTransfer(transferId).receiver);
        return transfers.contest(transferId, o);
    }

    /// @dev The items MC sent at positions [from, to), as `publishItems` takes them.
    function _publishedG(uint256 transferId, uint256 from, uint256 to) internal view returns (PublishedItem[] memory list) {
        Sent storage s = _sent[transferId];
        list = new PublishedItem[](to - from);
        for (uint256 pos = from; pos < to; ++pos) {
            list[pos - from] = PublishedItem(s.indices[pos], s.ciphertexts[pos], Merkle.proof(s.leaves, pos));
        }
    }

    /// @dev The test set's public leaves (all N examples), as `publishPlaintextLeaves` takes them.
    function _testSetG(uint256 auditId) internal returns (bytes32[] memory ics, uint256[] memory lbls) {
        uint32 n = guarded.audit(auditId).n;
        ics = new bytes32[](n);
        lbls = new uint256[](n);
        for (uint32 i = 0; i < n; ++i) {
            (ics[i], lbls[i]) = (_icOf(i), GuardedData.label(i));
        }
    }

    /// @dev MC proves delivery of transfer `transferId` on chain: every item, then the leaves.
    function _publishG(uint256 transferId) internal {
        Sent storage s = _sent[transferId];
        (bytes32[] memory ics, uint256[] memory lbls) = _testSetG(s.auditId);
        vm.startPrank(transfers.getTransfer(transferId).sender);
        transfers.publishItems(transferId, _publishedG(transferId, 0, s.indices.length));
        transfers.publishPlaintextLeaves(transferId, ics, lbls);
        vm.stopPrank();
    }

    /// @dev Drives an open transfer to `outcome` (SenderCheated needs a send that cheated at
    /// position 0; ContestRejected contests the last item, which is always honest here;
    /// ReceiverNoAck publishes the items first, SenderUndelivered does not).
    function _resolveG(uint256 transferId, TransferOutcome outcome) internal {
        if (outcome == TransferOutcome.ReceiverNoAck || outcome == TransferOutcome.SenderUndelivered) {
            if (outcome == TransferOutcome.ReceiverNoAck) _publishG(transferId);
            vm.warp(block.timestamp + ACK_WINDOW);
        } else {
            _ackG(transferId);
            if (outcome == TransferOutcome.SenderNoReveal) {
                vm.warp(block.timestamp + REVEAL_WINDOW);
            } else {
                _revealG(transferId);
                if (outcome == TransferOutcome.ReceiverNoContinue) vm.warp(block.timestamp + CONTEST_WINDOW);
            }
        }
        if (outcome == TransferOutcome.Completed) {
            _acceptG(transferId);
        } else if (outcome == TransferOutcome.SenderCheated) {
            assertEq(uint256(_contestG(transferId, 0)), uint256(outcome));
        } else if (outcome == TransferOutcome.ContestRejected) {
            assertEq(uint256(_contestG(transferId, _sent[transferId].indices.length - 1)), uint256(outcome));
        } else {
            vm.prank(stranger);
            assertEq(uint256(transfers.expireTransfer(transferId)), uint256(outcome));
        }
    }

    function _proceedG(uint256 id) internal {
        vm.prank(guarded.audit(id).provider);
        guarded.proceed(id);
    }

    /// @dev Proofs of `indices` of audit `id`; the first `wrong` predict a class other than the label.
    function _proofsG(uint256 id, uint32[] memory indices, uint256 wrong) internal returns (AuditProof[] memory list) {
        bytes32[] memory leaves = _testLeaves(guarded.audit(id).n);
        list = new AuditProof[](indices.length);
        for (uint256 k = 0; k < indices.length; ++k) {
            uint32 i = indices[k];
            AuditProof memory p = list[k];
            p.index = i;
            p.inputCommitment = _icOf(i);
            p.label = GuardedData.label(i);
            p.predictedClass = k < wrong ? p.label + 1 : p.label;
            p.leafProof = Merkle.proof(leaves, i);
            p.proof = hex"c0ffee";
        }
    }

    function _slice(uint32[] memory list, uint256 from, uint256 to) internal pure returns (uint32[] memory out) {
        out = new uint32[](to - from);
        for (uint256 k = from; k < to; ++k) {
            out[k - from] = list[k];
        }
    }

    function _expectGuardedState(uint256 id, GuardedState current) internal {
        vm.expectRevert(abi.encodeWithSelector(IGriefingResistantAudit.UnexpectedAuditState.selector, id, current));
    }

    function _assertState(uint256 id, GuardedState expected) internal view {
        assertEq(uint256(guarded.state(id)), uint256(expected), "audit state");
    }
}
