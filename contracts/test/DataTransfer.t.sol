// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Test} from "./utils/Test.sol";
import {Merkle} from "./utils/Merkle.sol";
import {DataTransferHarness} from "./mocks/DataTransferHarness.sol";
import {ERC1271Wallet} from "./mocks/Mocks.sol";

import {DataTransfer} from "../src/DataTransfer.sol";
import {KeccakStreamCipher} from "../src/crypto/KeccakStreamCipher.sol";
import {PoseidonT3} from "../src/crypto/PoseidonT3.sol";
import {
    ContestOpening,
    ContestProgress,
    IDataTransfer,
    ItemOpening,
    PublishedItem,
    Transfer,
    TransferOutcome,
    TransferState,
    TransferStatus
} from "../src/interfaces/IDataTransfer.sol";

/// @notice The appendix-B data-transfer sub-protocol through a minimal harness: every stage,
/// every timeout, both contest decisions, the signature acknowledgement, and each refusal.
contract DataTransferTest is Test {
    /// @dev ds-test's log event: Foundry prints it with -vv.
    event log_named_uint(string key, uint256 val);

    uint64 internal constant ACK_WINDOW = 1 days;
    uint64 internal constant REVEAL_WINDOW = 2 days;
    uint64 internal constant CONTEST_WINDOW = 3 days;
    uint32 internal constant ITEMS = 4;
    /// @dev An 8x8 single-channel item.
    uint256 internal constant ITEM_BYTES = 64;
    /// @dev The item whose ciphertext the cheating sender replaces.
    uint32 internal constant BAD = 2;

    bytes32 internal constant KEY = keccak256("transfer key");
    bytes32 internal constant SALT = keccak256("transfer salt");

    DataTransferHarness internal dt;
    address internal sender;
    address internal receiver;
    uint256 internal receiverKey;
    address internal stranger;

    bytes[] internal plaintexts;
    bytes[] internal ciphertexts;
    bytes32[] internal inputCommitments;
    uint256[] internal labels;
    bytes32[] internal ciphertextLeaves;
    bytes32[] internal plaintextLeaves;

    function setUp() public {
        dt = new DataTransferHarness(ACK_WINDOW, REVEAL_WINDOW, CONTEST_WINDOW);
        sender = makeAddr("sender");
        (receiver, receiverKey) = makeAccount("receiver");
        stranger = makeAddr("stranger");
        vm.warp(1_000_000);
        for (uint32 i = 0; i < ITEMS; ++i) {
            bytes memory pt = _bytes(keccak256(abi.encode("item", i)), ITEM_BYTES);
            plaintexts.push(pt);
            inputCommitments.push(bytes32(PoseidonT3.hashBytes(pt)));
            labels.push(i % 3);
            plaintextLeaves.push(dt.plaintextLeaf(i, inputCommitments[i], labels[i]));
        }
    }

    // ---------------------------------------------------------------- helpers

    /// @dev `n` pseudo-random bytes from `seed`.
    function _bytes(bytes32 seed, uint256 n) internal pure returns (bytes memory out) {
        out = new bytes(n);
        for (uint256 i = 0; i < n; ++i) {
            out[i] = bytes1(uint8(uint256(keccak256(abi.encode(seed, i)))));
        }
    }

    /// @dev `n` pseudo-random bytes, one keccak per word (for large items).
    function _bigBytes(bytes32 seed, uint256 n) internal pure returns (bytes memory out) {
        out = new bytes(n);
        for (uint256 off = 0; off < n; off += 32) {
            bytes32 w = keccak256(abi.encode(seed, off));
            assembly ("memory-safe") {
                mstore(add(add(out, 32), off), w)
            }
        }
        assembly ("memory-safe") {
            mstore(add(add(out, 32), n), 0) // clear the spill past the end
        }
    }

    function _slice(bytes memory b, uint256 from, uint256 to) internal pure returns (bytes memory out) {
        out = new bytes(to - from);
        for (uint256 i = 0; i < out.length; ++i) {
            out[i] = b[from + i];
        }
    }

    /// @dev Encrypts the items (item BAD replaced by other bytes when `cheat`) and opens a transfer.
    function _open(bool cheat) internal returns (uint256 id) {
        delete ciphertexts;
        delete ciphertextLeaves;
        for (uint32 i = 0; i < ITEMS; ++i) {
            bytes memory pt = cheat && i == BAD ? _bytes(keccak256("garbage"), ITEM_BYTES) : plaintexts[i];
            ciphertexts.push(KeccakStreamCipher.encrypt(KEY, i, pt));
            ciphertextLeaves.push(dt.ciphertextLeaf(i, ciphertexts[i]));
        }
        vm.prank(sender);
        id = dt.open(
            receiver, Merkle.root(ciphertextLeaves), dt.keyCommitmentOf(KEY, SALT), Merkle.root(plaintextLeaves), ITEMS
        );
    }

    function _ack(uint256 id) internal {
        vm.prank(receiver);
        dt.acknowledge(id);
    }

    function _reveal(uint256 id) internal {
        vm.prank(sender);
        dt.revealKey(id, KEY, SALT);
    }

    function _revealed(bool cheat) internal returns (uint256 id) {
        id = _open(cheat);
        _ack(id);
        _reveal(id);
    }

    function _opening(uint32 i) internal view returns (ItemOpening memory o) {
        o.index = i;
        o.ciphertext = ciphertexts[i];
        o.ciphertextProof = Merkle.proof(ciphertextLeaves, i);
        o.inputCommitment = inputCommitments[i];
        o.label = labels[i];
        o.plaintextProof = Merkle.proof(plaintextLeaves, i);
    }

    function _expectState(uint256 id, TransferState current) internal {
        vm.expectRevert(abi.encodeWithSelector(IDataTransfer.UnexpectedTransferState.selector, id, current));
    }

    function _assertResolved(uint256 id, TransferOutcome outcome) internal view {
        assertEq(uint256(dt.transferState(id)), uint256(TransferState.Resolved));
        Transfer memory t = dt.getTransfer(id);
        assertEq(uint256(t.status), uint256(TransferStatus.Resolved));
        assertEq(uint256(t.outcome), uint256(outcome));
        assertEq(uint256(dt.reported(id)), uint256(outcome));
        assertEq(dt.reports(id), 1, "hook called once");
    }

    function _sign(uint256 key, bytes32 digest) internal pure returns (bytes memory) {
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, digest);
        return abi.encodePacked(r, s, v);
    }

    /// @dev The items at `indices` with their ciphertexts and proofs (as last opened by `_open`).
    function _items(uint32[] memory indices) internal view returns (PublishedItem[] memory list) {
        list = new PublishedItem[](indices.length);
        for (uint256 k = 0; k < indices.length; ++k) {
            uint32 i = indices[k];
            list[k] = PublishedItem(i, ciphertexts[i], Merkle.proof(ciphertextLeaves, i));
        }
    }

    function _range(uint32 from, uint32 to) internal pure returns (uint32[] memory list) {
        list = new uint32[](to - from);
        for (uint32 i = from; i < to; ++i) {
            list[i - from] = i;
        }
    }

    /// @dev Proof of delivery: every item, then every plaintext leaf (by a stranger: anyone may).
    function _publishAll(uint256 id) internal {
        vm.startPrank(stranger);
        dt.publishItems(id, _items(_range(0, ITEMS)));
        dt.publishPlaintextLeaves(id, inputCommitments, labels);
        vm.stopPrank();
    }

    // ---------------------------------------------------------------- constructor and open

    function test_constructor_windows_succeeds() public view {
        assertEq(uint256(dt.ackWindow()), ACK_WINDOW);
        assertEq(uint256(dt.revealWindow()), REVEAL_WINDOW);
        assertEq(uint256(dt.contestWindow()), CONTEST_WINDOW);
    }

    function test_constructor_zeroWindow_reverts() public {
        vm.expectRevert(IDataTransfer.ZeroTransferWindow.selector);
        new DataTransferHarness(1, 0, 1);
    }

    function test_constructor_windowTooLong_reverts() public {
        uint64 tooLong = 3650 days + 1;
        vm.expectRevert(abi.encodeWithSelector(IDataTransfer.TransferWindowTooLong.selector, tooLong, 3650 days));
        new DataTransferHarness(1, 1, tooLong);
    }

    function test_open_commits_succeeds() public {
        bytes32 croot = bytes32(uint256(1));
        bytes32 kc = dt.keyCommitmentOf(KEY, SALT);
        bytes32 proot = bytes32(uint256(2));
        vm.expectEmit(address(dt));
        emit IDataTransfer.TransferCommitted(
            1, sender, receiver, croot, kc, proot, ITEMS, uint64(block.timestamp) + ACK_WINDOW
        );
        vm.prank(sender);
        uint256 id = dt.open(receiver, croot, kc, proot, ITEMS);
        assertEq(id, 1);
        assertEq(dt.transferCount(), 1);
        Transfer memory t = dt.getTransfer(id);
        assertEq(t.sender, sender);
        assertEq(t.receiver, receiver);
        assertEq(t.ciphertextRoot, croot);
        assertEq(t.keyCommitment, kc);
        assertEq(t.plaintextRoot, proot);
        assertEq(uint256(t.itemCount), ITEMS);
        assertEq(uint256(t.deadline), block.timestamp + ACK_WINDOW);
        assertEq(uint256(dt.transferState(id)), uint256(TransferState.AwaitingAck));
        assertEq(uint256(dt.transferState(2)), uint256(TransferState.None));
    }

    function test_open_invalidParties_reverts() public {
        vm.expectRevert(abi.encodeWithSelector(IDataTransfer.InvalidTransferParties.selector, sender, sender));
        vm.prank(sender);
        dt.open(sender, bytes32(uint256(1)), bytes32(uint256(1)), bytes32(uint256(1)), 1);
        vm.expectRevert(abi.encodeWithSelector(IDataTransfer.InvalidTransferParties.selector, sender, address(0)));
        vm.prank(sender);
        dt.open(address(0), bytes32(uint256(1)), bytes32(uint256(1)), bytes32(uint256(1)), 1);
    }

    function test_open_empty_reverts() public {
        vm.expectRevert(IDataTransfer.EmptyTransfer.selector);
        vm.prank(sender);
        dt.open(receiver, bytes32(uint256(1)), bytes32(uint256(1)), bytes32(uint256(1)), 0);
    }

    function test_open_zeroCommitment_reverts() public {
        vm.expectRevert(IDataTransfer.ZeroTransferCommitment.selector);
        vm.prank(sender);
        dt.open(receiver, bytes32(0), bytes32(uint256(1)), bytes32(uint256(1)), 1);
        vm.expectRevert(IDataTransfer.ZeroTransferCommitment.selector);
        vm.prank(sender);
        dt.open(receiver, bytes32(uint256(1)), bytes32(0), bytes32(uint256(1)), 1);
        vm.expectRevert(IDataTransfer.ZeroTransferCommitment.selector);
        vm.prank(sender);
        dt.open(receiver, bytes32(uint256(1)), bytes32(uint256(1)), bytes32(0), 1);
    }

    // ---------------------------------------------------------------- happy path

    function test_transfer_happyPath_completes_succeeds() public {
        uint256 id = _open(false);

        vm.expectEmit(address(dt));
        emit IDataTransfer.TransferAcknowledged(id, receiver, uint64(block.timestamp) + REVEAL_WINDOW);
        _ack(id);
        assertEq(uint256(dt.transferState(id)), uint256(TransferState.AwaitingKey));

        vm.warp(block.timestamp + REVEAL_WINDOW - 1);
        vm.expectEmit(address(dt));
        emit IDataTransfer.TransferKeyRevealed(id, KEY, uint64(block.timestamp) + CONTEST_WINDOW);
        _reveal(id);
        assertEq(uint256(dt.transferState(id)), uint256(TransferState.Contestable));
        assertEq(dt.getTransfer(id).key, KEY);

        // The receiver can now decrypt every item to its committed input.
        for (uint32 i = 0; i < ITEMS; ++i) {
            bytes memory pt = KeccakStreamCipher.decrypt(KEY, i, ciphertexts[i]);
            assertEq(bytes32(PoseidonT3.hashBytes(pt)), inputCommitments[i]);
        }

        vm.warp(block.timestamp + CONTEST_WINDOW - 1);
        vm.expectEmit(address(dt));
        emit IDataTransfer.TransferAccepted(id);
        vm.prank(receiver);
        dt.accept(id);
        _assertResolved(id, TransferOutcome.Completed);
    }

    function test_transfer_ids_areIndependent_succeeds() public {
        uint256 a = _open(false);
        uint256 b = _open(true);
        assertEq(b, a + 1);
        _ack(b);
        assertEq(uint256(dt.transferState(a)), uint256(TransferState.AwaitingAck));
        assertEq(uint256(dt.transferState(b)), uint256(TransferState.AwaitingKey));
    }

    // ---------------------------------------------------------------- acknowledgement

    function test_acknowledge_notReceiver_reverts() public {
        uint256 id = _open(false);
        vm.expectRevert(abi.encodeWithSelector(IDataTransfer.NotTransferReceiver.selector, id, sender, receiver));
        vm.prank(sender);
        dt.acknowledge(id);
    }

    function test_acknowledge_afterDeadline_reverts() public {
        uint256 id = _open(false);
        vm.warp(block.timestamp + ACK_WINDOW);
        _expectState(id, TransferState.AckExpired);
        vm.prank(receiver);
        dt.acknowledge(id);
    }

    function test_acknowledge_twice_reverts() public {
        uint256 id = _open(false);
        _ack(id);
        _expectState(id, TransferState.AwaitingKey);
        vm.prank(receiver);
        dt.acknowledge(id);
    }

    function test_acknowledge_unknownTransfer_reverts() public {
        _expectState(7, TransferState.None);
        vm.prank(receiver);
        dt.acknowledge(7);
    }

    function test_acknowledgeWithSignature_senderSubmits_succeeds() public {
        uint256 id = _open(false);
        bytes memory sig = _sign(receiverKey, dt.acknowledgementDigest(id));
        vm.expectEmit(address(dt));
        emit IDataTransfer.TransferAcknowledged(id, sender, uint64(block.timestamp) + REVEAL_WINDOW);
        vm.prank(sender);
        dt.acknowledgeWithSignature(id, sig);
        assertEq(uint256(dt.transferState(id)), uint256(TransferState.AwaitingKey));
    }

    function test_acknowledgementDigest_isEip712_succeeds() public {
        uint256 id = _open(false);
        bytes32 domain = keccak256(
            abi.encode(
                keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"),
                keccak256("zkmarket DataTransferHarness"),
                keccak256("1"),
                block.chainid,
                address(dt)
            )
        );
        bytes32 structHash = keccak256(
            abi.encode(
                keccak256("Acknowledgement(uint256 transferId,bytes32 ciphertextRoot)"),
                id,
                dt.getTransfer(id).ciphertextRoot
            )
        );
        assertEq(dt.acknowledgementDigest(id), keccak256(abi.encodePacked(hex"1901", domain, structHash)));
    }

    function test_acknowledgeWithSignature_erc1271Receiver_succeeds() public {
        (address owner, uint256 ownerKey) = makeAccount("wallet owner");
        ERC1271Wallet wallet = new ERC1271Wallet(owner);
        vm.prank(sender);
        uint256 id =
            dt.open(address(wallet), bytes32(uint256(1)), dt.keyCommitmentOf(KEY, SALT), bytes32(uint256(2)), 1);
        dt.acknowledgeWithSignature(id, _sign(ownerKey, dt.acknowledgementDigest(id)));
        assertEq(uint256(dt.transferState(id)), uint256(TransferState.AwaitingKey));
    }

    function test_acknowledgeWithSignature_wrongSigner_reverts() public {
        uint256 id = _open(false);
        (, uint256 otherKey) = makeAccount("other");
        bytes memory sig = _sign(otherKey, dt.acknowledgementDigest(id));
        vm.expectRevert(abi.encodeWithSelector(IDataTransfer.InvalidAcknowledgement.selector, id, receiver));
        dt.acknowledgeWithSignature(id, sig);
    }

    function test_acknowledgeWithSignature_otherTransfer_reverts() public {
        uint256 a = _open(false);
        uint256 b = _open(false);
        bytes memory sigA = _sign(receiverKey, dt.acknowledgementDigest(a));
        vm.expectRevert(abi.encodeWithSelector(IDataTransfer.InvalidAcknowledgement.selector, b, receiver));
        dt.acknowledgeWithSignature(b, sigA);
    }

    function test_acknowledgeWithSignature_afterDeadline_reverts() public {
        uint256 id = _open(false);
        bytes memory sig = _sign(receiverKey, dt.acknowledgementDigest(id));
        vm.warp(block.timestamp + ACK_WINDOW);
        _expectState(id, TransferState.AckExpired);
        dt.acknowledgeWithSignature(id, sig);
    }

    // ---------------------------------------------------------------- key reveal

    function test_revealKey_wrongSalt_reverts() public {
        uint256 id = _open(false);
        _ack(id);
        bytes32 expected = dt.keyCommitmentOf(KEY, SALT);
        bytes32 actual = dt.keyCommitmentOf(KEY, bytes32(0));
        vm.expectRevert(abi.encodeWithSelector(IDataTransfer.KeyCommitmentMismatch.selector, id, expected, actual));
        vm.prank(sender);
        dt.revealKey(id, KEY, bytes32(0));
    }

    function test_revealKey_beforeAck_reverts() public {
        uint256 id = _open(false);
        _expectState(id, TransferState.AwaitingAck);
        _reveal(id);
    }

    function test_revealKey_afterDeadline_reverts() public {
        uint256 id = _open(false);
        _ack(id);
        vm.warp(block.timestamp + REVEAL_WINDOW);
        _expectState(id, TransferState.KeyExpired);
        _reveal(id);
    }

    // ---------------------------------------------------------------- timeouts

    /// @dev No acknowledgement and no proof of delivery: the sender may never have sent anything.
    function test_expireTransfer_noAck_undelivered_senderFails_succeeds() public {
        uint256 id = _open(false);
        vm.warp(block.timestamp + ACK_WINDOW);
        vm.expectEmit(address(dt));
        emit IDataTransfer.TransferExpired(id, TransferOutcome.SenderUndelivered, stranger);
        vm.prank(stranger);
        assertEq(uint256(dt.expireTransfer(id)), uint256(TransferOutcome.SenderUndelivered));
        _assertResolved(id, TransferOutcome.SenderUndelivered);
    }

    /// @dev Delivery proven on chain, still no acknowledgement: the receiver is at fault.
    function test_expireTransfer_noAck_published_receiverFails_succeeds() public {
        uint256 id = _open(false);
        _publishAll(id);
        vm.warp(block.timestamp + ACK_WINDOW);
        vm.expectEmit(address(dt));
        emit IDataTransfer.TransferExpired(id, TransferOutcome.ReceiverNoAck, stranger);
        vm.prank(stranger);
        assertEq(uint256(dt.expireTransfer(id)), uint256(TransferOutcome.ReceiverNoAck));
        _assertResolved(id, TransferOutcome.ReceiverNoAck);
    }

    function test_expireTransfer_noReveal_senderFails_succeeds() public {
        uint256 id = _open(false);
        _ack(id);
        vm.warp(block.timestamp + REVEAL_WINDOW);
        vm.prank(stranger);
        assertEq(uint256(dt.expireTransfer(id)), uint256(TransferOutcome.SenderNoReveal));
        _assertResolved(id, TransferOutcome.SenderNoReveal);
    }

    function test_expireTransfer_noContinue_receiverFails_succeeds() public {
        uint256 id = _revealed(false);
        vm.warp(block.timestamp + CONTEST_WINDOW);
        vm.prank(stranger);
        assertEq(uint256(dt.expireTransfer(id)), uint256(TransferOutcome.ReceiverNoContinue));
        _assertResolved(id, TransferOutcome.ReceiverNoContinue);
    }

    function test_expireTransfer_beforeDeadline_reverts() public {
        uint256 id = _open(false);
        vm.warp(block.timestamp + ACK_WINDOW - 1);
        _expectState(id, TransferState.AwaitingAck);
        dt.expireTransfer(id);
        _ack(id);
        _expectState(id, TransferState.AwaitingKey);
        dt.expireTransfer(id);
        _reveal(id);
        _expectState(id, TransferState.Contestable);
        dt.expireTransfer(id);
    }

    function test_expireTransfer_resolved_reverts() public {
        uint256 id = _open(false);
        vm.warp(block.timestamp + ACK_WINDOW);
        dt.expireTransfer(id);
        _expectState(id, TransferState.Resolved);
        dt.expireTransfer(id);
        _expectState(id, TransferState.Resolved);
        vm.prank(receiver);
        dt.acknowledge(id);
    }

    // ---------------------------------------------------------------- proof of delivery

    function test_publishItems_eventsAndCount_succeeds() public {
        uint256 id = _open(false);
        uint32[] memory first = _range(0, 3);
        for (uint32 i = 0; i < 3; ++i) {
            vm.expectEmit(address(dt));
            emit IDataTransfer.ItemPublished(id, i, ciphertexts[i]);
        }
        vm.prank(sender);
        dt.publishItems(id, _items(first));
        Transfer memory t = dt.getTransfer(id);
        assertEq(uint256(t.published), 3);
        assertFalse(t.leavesPublished);
        assertEq(uint256(t.deadline), block.timestamp + ACK_WINDOW, "deadline unchanged while incomplete");
        // The last item in a second call, by anyone.
        uint32[] memory last = _range(3, 4);
        vm.expectEmit(address(dt));
        emit IDataTransfer.ItemPublished(id, 3, ciphertexts[3]);
        vm.prank(stranger);
        dt.publishItems(id, _items(last));
        assertEq(uint256(dt.getTransfer(id).published), ITEMS);
        assertEq(uint256(dt.transferState(id)), uint256(TransferState.AwaitingAck));
    }

    function test_publishPlaintextLeaves_event_succeeds() public {
        uint256 id = _open(false);
        vm.expectEmit(address(dt));
        emit IDataTransfer.PlaintextLeavesPublished(id, inputCommitments, labels);
        vm.prank(stranger);
        dt.publishPlaintextLeaves(id, inputCommitments, labels);
        Transfer memory t = dt.getTransfer(id);
        assertTrue(t.leavesPublished);
        assertEq(uint256(t.published), 0);
        // Items still missing: not yet proof of delivery.
        vm.warp(block.timestamp + ACK_WINDOW);
        assertEq(uint256(dt.expireTransfer(id)), uint256(TransferOutcome.SenderUndelivered));
    }

    /// @dev Completing the publication late gives the receiver a whole ack window from then on.
    function test_publish_complete_extendsAckDeadline_succeeds() public {
        uint256 id = _open(false);
        vm.warp(block.timestamp + ACK_WINDOW - 10);
        vm.prank(sender);
        dt.publishPlaintextLeaves(id, inputCommitments, labels);
        uint64 extended = uint64(block.timestamp) + ACK_WINDOW;
        vm.expectEmit(address(dt));
        emit IDataTransfer.ItemPublished(id, ITEMS - 1, ciphertexts[ITEMS - 1]);
        vm.expectEmit(address(dt));
        emit IDataTransfer.TransferPublished(id, extended);
        vm.prank(sender);
        dt.publishItems(id, _items(_range(0, ITEMS)));
        assertEq(uint256(dt.getTransfer(id).deadline), extended);
        // Past the original deadline the receiver can still acknowledge ...
        vm.warp(extended - 1);
        assertEq(uint256(dt.transferState(id)), uint256(TransferState.AwaitingAck));
        // ... and at the extended one the missing acknowledgement is its fault.
        vm.warp(extended);
        assertEq(uint256(dt.expireTransfer(id)), uint256(TransferOutcome.ReceiverNoAck));
        _assertResolved(id, TransferOutcome.ReceiverNoAck);
    }

    /// @dev Items first, leaves last: the leaves complete it (TransferPublished comes with them).
    function test_publish_leavesLast_completes_succeeds() public {
        uint256 id = _open(false);
        vm.prank(sender);
        dt.publishItems(id, _items(_range(0, ITEMS)));
        vm.warp(block.timestamp + 100);
        vm.expectEmit(address(dt));
        emit IDataTransfer.PlaintextLeavesPublished(id, inputCommitments, labels);
        vm.expectEmit(address(dt));
        emit IDataTransfer.TransferPublished(id, uint64(block.timestamp) + ACK_WINDOW);
        vm.prank(sender);
        dt.publishPlaintextLeaves(id, inputCommitments, labels);
        assertEq(uint256(dt.getTransfer(id).deadline), block.timestamp + ACK_WINDOW);
    }

    /// @dev The deadline only ever moves later: a publication completed while now + ackWindow is
    /// before the ack deadline (here: the clock set back) keeps the deadline.
    function test_publish_complete_neverShortensDeadline_succeeds() public {
        uint256 id = _open(false);
        uint64 deadline = dt.getTransfer(id).deadline;
        vm.warp(block.timestamp - 500);
        dt.publishItems(id, _items(_range(0, ITEMS)));
        vm.expectEmit(address(dt));
        emit IDataTransfer.TransferPublished(id, deadline);
        dt.publishPlaintextLeaves(id, inputCommitments, labels);
        assertEq(uint256(dt.getTransfer(id).deadline), deadline);
        // In the same block as the commitment: now + ackWindow is the deadline itself.
        uint256 id2 = _open(false);
        deadline = dt.getTransfer(id2).deadline;
        _publishAll(id2);
        assertEq(uint256(dt.getTransfer(id2).deadline), deadline);
    }

    /// @dev Once complete, nothing (an empty list, the leaves again) emits or extends anew.
    function test_publish_afterComplete_changesNothing_succeeds() public {
        uint256 id = _open(false);
        _publishAll(id);
        uint64 deadline = dt.getTransfer(id).deadline;
        vm.warp(block.timestamp + ACK_WINDOW / 2);
        vm.recordLogs();
        vm.startPrank(receiver);
        dt.publishItems(id, new PublishedItem[](0));
        dt.publishPlaintextLeaves(id, inputCommitments, labels);
        vm.stopPrank();
        assertEq(vm.getRecordedLogs().length, 0, "no event");
        Transfer memory t = dt.getTransfer(id);
        assertEq(uint256(t.deadline), deadline, "deadline kept");
        assertEq(uint256(t.published), ITEMS);
        assertTrue(t.leavesPublished);
        vm.expectRevert(abi.encodeWithSelector(IDataTransfer.AlreadyPublished.selector, id, 0));
        dt.publishItems(id, _items(_range(0, 1)));
    }

    function test_publish_partial_stillSenderUndelivered_succeeds() public {
        // All leaves, all items but one.
        uint256 a = _open(false);
        vm.startPrank(sender);
        dt.publishPlaintextLeaves(a, inputCommitments, labels);
        dt.publishItems(a, _items(_range(0, ITEMS - 1)));
        vm.stopPrank();
        // Every item, no leaves.
        uint256 b = _open(false);
        vm.prank(sender);
        dt.publishItems(b, _items(_range(0, ITEMS)));
        vm.warp(block.timestamp + ACK_WINDOW);
        assertEq(uint256(dt.expireTransfer(a)), uint256(TransferOutcome.SenderUndelivered));
        assertEq(uint256(dt.expireTransfer(b)), uint256(TransferOutcome.SenderUndelivered));
        _assertResolved(a, TransferOutcome.SenderUndelivered);
        _assertResolved(b, TransferOutcome.SenderUndelivered);
    }

    /// @dev A publication does not stop the ordinary flow: the receiver acknowledges and it goes on.
    function test_publish_thenAcknowledge_completes_succeeds() public {
        uint256 id = _open(false);
        _publishAll(id);
        _ack(id);
        _reveal(id);
        vm.prank(receiver);
        dt.accept(id);
        _assertResolved(id, TransferOutcome.Completed);
    }

    function test_publishItems_duplicate_reverts() public {
        uint256 id = _open(false);
        uint32[] memory twice = new uint32[](2);
        twice[0] = 1;
        twice[1] = 1;
        vm.expectRevert(abi.encodeWithSelector(IDataTransfer.AlreadyPublished.selector, id, 1));
        dt.publishItems(id, _items(twice));
        dt.publishItems(id, _items(_range(1, 2)));
        vm.expectRevert(abi.encodeWithSelector(IDataTransfer.AlreadyPublished.selector, id, 1));
        dt.publishItems(id, _items(_range(0, 2)));
        assertEq(uint256(dt.getTransfer(id).published), 1, "the reverted call published nothing");
    }

    function test_publishItems_notItem_reverts() public {
        uint256 id = _open(false);
        PublishedItem[] memory list = _items(_range(0, 1));
        list[0].index = ITEMS;
        vm.expectRevert(abi.encodeWithSelector(IDataTransfer.ItemNotInTransfer.selector, id, ITEMS));
        dt.publishItems(id, list);
    }

    function test_publishItems_badProof_reverts() public {
        uint256 id = _open(true);
        PublishedItem[] memory list = _items(_range(BAD, BAD + 1));
        list[0].ciphertext = plaintexts[BAD]; // not the committed ciphertext
        vm.expectRevert(abi.encodeWithSelector(IDataTransfer.InvalidCiphertextProof.selector, id, BAD));
        dt.publishItems(id, list);
        list = _items(_range(1, 2)); // a committed ciphertext and proof, at another index
        list[0].index = BAD;
        vm.expectRevert(abi.encodeWithSelector(IDataTransfer.InvalidCiphertextProof.selector, id, BAD));
        dt.publishItems(id, list);
        list = _items(_range(BAD, BAD + 1));
        list[0].proof = new bytes32[](0);
        vm.expectRevert(abi.encodeWithSelector(IDataTransfer.InvalidCiphertextProof.selector, id, BAD));
        dt.publishItems(id, list);
        // The garbage item of a cheating sender is committed: it can be published (and contested later).
        dt.publishItems(id, _items(_range(BAD, BAD + 1)));
    }

    function test_publish_wrongState_reverts() public {
        uint256 id = _open(false);
        PublishedItem[] memory list = _items(_range(0, ITEMS));
        // Unknown transfer.
        _expectState(id + 1, TransferState.None);
        dt.publishItems(id + 1, list);
        _expectState(id + 1, TransferState.None);
        dt.publishPlaintextLeaves(id + 1, inputCommitments, labels);
        // After the acknowledgement there is nothing left to prove.
        _ack(id);
        _expectState(id, TransferState.AwaitingKey);
        dt.publishItems(id, list);
        _expectState(id, TransferState.AwaitingKey);
        dt.publishPlaintextLeaves(id, inputCommitments, labels);
        _reveal(id);
        _expectState(id, TransferState.Contestable);
        dt.publishItems(id, list);
        // Too late: after the ack deadline.
        uint256 late = _open(false);
        list = _items(_range(0, ITEMS));
        vm.warp(block.timestamp + ACK_WINDOW);
        _expectState(late, TransferState.AckExpired);
        dt.publishItems(late, list);
        _expectState(late, TransferState.AckExpired);
        dt.publishPlaintextLeaves(late, inputCommitments, labels);
        dt.expireTransfer(late);
        _expectState(late, TransferState.Resolved);
        dt.publishItems(late, list);
    }

    function test_publishPlaintextLeaves_length_reverts() public {
        uint256 id = _open(false);
        vm.expectRevert(abi.encodeWithSelector(IDataTransfer.PlaintextLeavesLength.selector, id, 0, 0));
        dt.publishPlaintextLeaves(id, new bytes32[](0), new uint256[](0));
        uint256[] memory short = new uint256[](ITEMS - 1);
        vm.expectRevert(abi.encodeWithSelector(IDataTransfer.PlaintextLeavesLength.selector, id, ITEMS, ITEMS - 1));
        dt.publishPlaintextLeaves(id, inputCommitments, short);
        vm.expectRevert(abi.encodeWithSelector(IDataTransfer.PlaintextLeavesLength.selector, id, 0, ITEMS));
        dt.publishPlaintextLeaves(id, new bytes32[](0), labels);
    }

    function test_publishPlaintextLeaves_mismatch_reverts() public {
        uint256 id = _open(false);
        bytes32 root = Merkle.root(plaintextLeaves);
        // A wrong label.
        uint256[] memory wrong = labels;
        wrong[1] += 1;
        bytes32[] memory leaves = plaintextLeaves;
        leaves[1] = dt.plaintextLeaf(1, inputCommitments[1], wrong[1]);
        vm.expectRevert(
            abi.encodeWithSelector(IDataTransfer.PlaintextLeavesMismatch.selector, id, root, Merkle.root(leaves))
        );
        dt.publishPlaintextLeaves(id, inputCommitments, wrong);
        // One leaf missing.
        bytes32[] memory ics = new bytes32[](ITEMS - 1);
        uint256[] memory lbls = new uint256[](ITEMS - 1);
        bytes32[] memory fewer = new bytes32[](ITEMS - 1);
        for (uint32 i = 0; i < ITEMS - 1; ++i) {
            (ics[i], lbls[i], fewer[i]) = (inputCommitments[i], labels[i], plaintextLeaves[i]);
        }
        vm.expectRevert(
            abi.encodeWithSelector(IDataTransfer.PlaintextLeavesMismatch.selector, id, root, Merkle.root(fewer))
        );
        dt.publishPlaintextLeaves(id, ics, lbls);
        // Two leaves swapped (the index is in each leaf).
        (ics[0], ics[1]) = (inputCommitments[1], inputCommitments[0]);
        fewer[0] = dt.plaintextLeaf(0, ics[0], lbls[0]);
        fewer[1] = dt.plaintextLeaf(1, ics[1], lbls[1]);
        vm.expectRevert(
            abi.encodeWithSelector(IDataTransfer.PlaintextLeavesMismatch.selector, id, root, Merkle.root(fewer))
        );
        dt.publishPlaintextLeaves(id, ics, lbls);
        assertFalse(dt.getTransfer(id).leavesPublished);
    }

    /// @dev Commitments and labels of `n` examples, their leaves, and a transfer whose plaintext
    /// root is theirs (built with the test Merkle library).
    function _leafSet(uint256 seed, uint256 n)
        internal
        returns (uint256 id, bytes32[] memory ics, uint256[] memory lbls, bytes32[] memory leaves)
    {
        ics = new bytes32[](n);
        lbls = new uint256[](n);
        leaves = new bytes32[](n);
        for (uint256 i = 0; i < n; ++i) {
            ics[i] = keccak256(abi.encode(seed, "ic", i));
            lbls[i] = uint256(keccak256(abi.encode(seed, "label", i))) % 10;
            // forge-lint: disable-next-line(unsafe-typecast)
            leaves[i] = dt.plaintextLeaf(uint32(i), ics[i], lbls[i]);
        }
        vm.prank(sender);
        id = dt.open(receiver, bytes32(uint256(1)), dt.keyCommitmentOf(KEY, SALT), Merkle.root(leaves), 1);
    }

    /// @dev Odd counts: a lone last node moves up unchanged (5: at the bottom level; 6: one up;
    /// 7: at two levels), as the off-chain trees are built.
    function test_publishPlaintextLeaves_loneNode_succeeds() public {
        uint256[4] memory counts = [uint256(1), 5, 6, 7];
        for (uint256 k = 0; k < counts.length; ++k) {
            (uint256 id, bytes32[] memory ics, uint256[] memory lbls,) = _leafSet(k, counts[k]);
            dt.publishPlaintextLeaves(id, ics, lbls);
            assertTrue(dt.getTransfer(id).leavesPublished);
        }
        // 3 leaves by hand: root = H(H(l0, l1), l2).
        (uint256 id3, bytes32[] memory ics3, uint256[] memory lbls3, bytes32[] memory l) = _leafSet(9, 3);
        bytes32 l01 = l[0] < l[1] ? keccak256(abi.encode(l[0], l[1])) : keccak256(abi.encode(l[1], l[0]));
        bytes32 byHand = l01 < l[2] ? keccak256(abi.encode(l01, l[2])) : keccak256(abi.encode(l[2], l01));
        assertEq(dt.getTransfer(id3).plaintextRoot, byHand);
        dt.publishPlaintextLeaves(id3, ics3, lbls3);
        assertTrue(dt.getTransfer(id3).leavesPublished);
    }

    /// @dev Any number of leaves rebuilds exactly the root the test Merkle library builds (and
    /// which the off-chain code builds): accepted as is, refused with one label changed, the
    /// error naming that tree's root.
    function testFuzz_publishPlaintextLeaves_rootMatchesMerkle_succeeds(uint256 seed, uint256 n, uint256 pos)
        public
    {
        n = bound(n, 1, 80);
        pos = bound(pos, 0, n - 1);
        (uint256 id, bytes32[] memory ics, uint256[] memory lbls, bytes32[] memory leaves) = _leafSet(seed, n);
        bytes32 root = Merkle.root(leaves);
        lbls[pos] += 1;
        // forge-lint: disable-next-line(unsafe-typecast)
        leaves[pos] = dt.plaintextLeaf(uint32(pos), ics[pos], lbls[pos]);
        vm.expectRevert(
            abi.encodeWithSelector(IDataTransfer.PlaintextLeavesMismatch.selector, id, root, Merkle.root(leaves))
        );
        dt.publishPlaintextLeaves(id, ics, lbls);
        lbls[pos] -= 1;
        vm.expectEmit(address(dt));
        emit IDataTransfer.PlaintextLeavesPublished(id, ics, lbls);
        dt.publishPlaintextLeaves(id, ics, lbls);
        assertTrue(dt.getTransfer(id).leavesPublished);
    }

    function test_publish_gas_succeeds() public {
        uint256 id = _open(false);
        PublishedItem[] memory list = _items(_range(0, ITEMS));
        uint256 g = gasleft();
        dt.publishItems(id, list);
        uint256 used = g - gasleft();
        emit log_named_uint("gas: publishItems(4 x 64-byte items)", used);
        vm.assertLe(used, 4 * 40_000, "about 35k gas per small item (README), calldata aside");
        g = gasleft();
        dt.publishPlaintextLeaves(id, inputCommitments, labels);
        used = g - gasleft();
        emit log_named_uint("gas: publishPlaintextLeaves(4 leaves)", used);
        vm.assertLe(used, 4 * 5_000 + 30_000, "a few thousand gas per leaf");
    }

    // ---------------------------------------------------------------- accept

    function test_accept_notReceiver_reverts() public {
        uint256 id = _revealed(false);
        vm.expectRevert(abi.encodeWithSelector(IDataTransfer.NotTransferReceiver.selector, id, sender, receiver));
        vm.prank(sender);
        dt.accept(id);
    }

    function test_accept_afterDeadline_reverts() public {
        uint256 id = _revealed(false);
        vm.warp(block.timestamp + CONTEST_WINDOW);
        _expectState(id, TransferState.ContestExpired);
        vm.prank(receiver);
        dt.accept(id);
    }

    function test_accept_beforeReveal_reverts() public {
        uint256 id = _open(false);
        _ack(id);
        _expectState(id, TransferState.AwaitingKey);
        vm.prank(receiver);
        dt.accept(id);
    }

    // ---------------------------------------------------------------- contest

    function test_contest_senderCheated_upheld_succeeds() public {
        uint256 id = _revealed(true);
        ItemOpening memory o = _opening(BAD);
        bytes32 computed = bytes32(PoseidonT3.hashBytes(_bytes(keccak256("garbage"), ITEM_BYTES)));
        vm.expectEmit(address(dt));
        emit IDataTransfer.TransferContested(id, BAD, inputCommitments[BAD], computed, TransferOutcome.SenderCheated);
        vm.prank(receiver);
        uint256 g = gasleft();
        TransferOutcome outcome = dt.contest(id, o);
        emit log_named_uint("gas: contest(64-byte item), upheld", g - gasleft());
        assertEq(uint256(outcome), uint256(TransferOutcome.SenderCheated));
        _assertResolved(id, TransferOutcome.SenderCheated);
    }

    function test_contest_honestItem_rejected_succeeds() public {
        uint256 id = _revealed(true); // even a cheating sender wins a contest of an honest item
        ItemOpening memory o = _opening(1);
        vm.expectEmit(address(dt));
        emit IDataTransfer.TransferContested(
            id, 1, inputCommitments[1], inputCommitments[1], TransferOutcome.ContestRejected
        );
        vm.prank(receiver);
        uint256 g = gasleft();
        TransferOutcome outcome = dt.contest(id, o);
        emit log_named_uint("gas: contest(64-byte item), rejected", g - gasleft());
        assertEq(uint256(outcome), uint256(TransferOutcome.ContestRejected));
        _assertResolved(id, TransferOutcome.ContestRejected);
    }

    function test_contest_lastItemOddTree_succeeds() public {
        uint256 id = _revealed(false);
        vm.prank(receiver);
        assertEq(uint256(dt.contest(id, _opening(ITEMS - 1))), uint256(TransferOutcome.ContestRejected));
    }

    function test_contest_notReceiver_reverts() public {
        uint256 id = _revealed(true);
        ItemOpening memory o = _opening(BAD);
        vm.expectRevert(abi.encodeWithSelector(IDataTransfer.NotTransferReceiver.selector, id, sender, receiver));
        vm.prank(sender);
        dt.contest(id, o);
    }

    function test_contest_beforeReveal_reverts() public {
        uint256 id = _open(true);
        _ack(id);
        ItemOpening memory o = _opening(BAD);
        _expectState(id, TransferState.AwaitingKey);
        vm.prank(receiver);
        dt.contest(id, o);
    }

    function test_contest_afterDeadline_reverts() public {
        uint256 id = _revealed(true);
        ItemOpening memory o = _opening(BAD);
        vm.warp(block.timestamp + CONTEST_WINDOW);
        _expectState(id, TransferState.ContestExpired);
        vm.prank(receiver);
        dt.contest(id, o);
    }

    function test_contest_twice_reverts() public {
        uint256 id = _revealed(true);
        ItemOpening memory o = _opening(1);
        vm.prank(receiver);
        dt.contest(id, o);
        _expectState(id, TransferState.Resolved);
        vm.prank(receiver);
        dt.contest(id, _opening(BAD));
    }

    function test_contest_indexOutOfRange_reverts() public {
        uint256 id = _revealed(true);
        ItemOpening memory o = _opening(BAD);
        o.index = ITEMS;
        vm.expectRevert(abi.encodeWithSelector(IDataTransfer.ItemNotInTransfer.selector, id, ITEMS));
        vm.prank(receiver);
        dt.contest(id, o);
    }

    function test_contest_badCiphertextProof_reverts() public {
        uint256 id = _revealed(true);
        ItemOpening memory o = _opening(BAD);
        o.ciphertext = plaintexts[BAD]; // not the committed ciphertext
        vm.expectRevert(abi.encodeWithSelector(IDataTransfer.InvalidCiphertextProof.selector, id, BAD));
        vm.prank(receiver);
        dt.contest(id, o);
    }

    function test_contest_ciphertextOfOtherIndex_reverts() public {
        uint256 id = _revealed(true);
        ItemOpening memory o = _opening(BAD);
        o.ciphertext = ciphertexts[1]; // a committed ciphertext, but at another index
        o.ciphertextProof = Merkle.proof(ciphertextLeaves, 1);
        vm.expectRevert(abi.encodeWithSelector(IDataTransfer.InvalidCiphertextProof.selector, id, BAD));
        vm.prank(receiver);
        dt.contest(id, o);
    }

    function test_contest_badPlaintextProof_reverts() public {
        uint256 id = _revealed(true);
        ItemOpening memory o = _opening(BAD);
        o.inputCommitment = bytes32(PoseidonT3.hashBytes(_bytes(keccak256("garbage"), ITEM_BYTES)));
        vm.expectRevert(abi.encodeWithSelector(IDataTransfer.InvalidPlaintextProof.selector, id, BAD));
        vm.prank(receiver);
        dt.contest(id, o);
    }

    function test_contest_wrongLabel_reverts() public {
        uint256 id = _revealed(true);
        ItemOpening memory o = _opening(BAD);
        o.label += 1;
        vm.expectRevert(abi.encodeWithSelector(IDataTransfer.InvalidPlaintextProof.selector, id, BAD));
        vm.prank(receiver);
        dt.contest(id, o);
    }

    // ---------------------------------------------------------------- gas

    /// @dev The contest's cost for a 96x96x3 item (27,648 bytes); 224x224x3 (150,528 bytes) is
    /// ~5.45x the Poseidon part, ~56M gas, over a block (see DataTransfer.contest).
    function test_contest_gas_96x96x3_succeeds() public {
        bytes memory pt = _bytes(keccak256("large"), 96 * 96 * 3);
        bytes32[] memory pLeaves = new bytes32[](1);
        pLeaves[0] = dt.plaintextLeaf(0, bytes32(PoseidonT3.hashBytes(pt)), 7);
        bytes memory ct = KeccakStreamCipher.encrypt(KEY, 0, pt);
        bytes32[] memory cLeaves = new bytes32[](1);
        cLeaves[0] = dt.ciphertextLeaf(0, ct);
        vm.prank(sender);
        uint256 id = dt.open(receiver, cLeaves[0], dt.keyCommitmentOf(KEY, SALT), pLeaves[0], 1);
        _ack(id);
        _reveal(id);
        ItemOpening memory o;
        o.index = 0;
        o.ciphertext = ct;
        o.ciphertextProof = new bytes32[](0);
        o.inputCommitment = bytes32(PoseidonT3.hashBytes(pt));
        o.label = 7;
        o.plaintextProof = new bytes32[](0);
        vm.prank(receiver);
        uint256 g = gasleft();
        TransferOutcome outcome = dt.contest(id, o);
        emit log_named_uint("gas: contest(27648-byte item), rejected", g - gasleft());
        assertEq(uint256(outcome), uint256(TransferOutcome.ContestRejected));
    }

    // ---------------------------------------------------------------- chunked contest

    uint256 internal constant CHUNK = 31_744;

    /// @dev One large item `pt` committed as item 0 of a one-item transfer; the ciphertext is the
    /// encryption of `sent`. Returns the id (key revealed) and the ciphertext.
    function _revealedLarge(bytes memory pt, bytes memory sent) internal returns (uint256 id, bytes memory ct) {
        ct = KeccakStreamCipher.encrypt(KEY, 0, sent);
        bytes32 croot = dt.ciphertextLeaf(0, ct);
        bytes32 proot = dt.plaintextLeaf(0, bytes32(PoseidonT3.hashBytes(pt)), 5);
        vm.prank(sender);
        id = dt.open(receiver, croot, dt.keyCommitmentOf(KEY, SALT), proot, 1);
        _ack(id);
        _reveal(id);
    }

    function _largeOpening(bytes memory pt, bytes memory ct) internal view returns (ContestOpening memory o) {
        o.index = 0;
        o.ciphertextDigest = dt.ciphertextDigest(ct);
        o.ciphertextProof = new bytes32[](0);
        o.inputCommitment = bytes32(PoseidonT3.hashBytes(pt));
        o.label = 5;
        o.plaintextProof = new bytes32[](0);
    }

    /// @dev Sends every chunk of `ct`; returns the outcome of the last one.
    function _sendChunks(uint256 id, bytes memory ct, bool logGas) internal returns (TransferOutcome outcome) {
        uint256 chunks = (ct.length + CHUNK - 1) / CHUNK;
        for (uint256 k = 0; k < chunks; ++k) {
            uint256 end = k + 1 == chunks ? ct.length : (k + 1) * CHUNK;
            bytes32 next = k + 1 == chunks ? bytes32(0) : dt.ciphertextDigest(_slice(ct, end, ct.length));
            bytes memory chunk = _slice(ct, k * CHUNK, end);
            uint256 g = gasleft();
            outcome = dt.contestChunk(id, chunk, next);
            if (logGas) emit log_named_uint("gas: contestChunk", g - gasleft());
            if (k + 1 < chunks) {
                assertEq(uint256(outcome), uint256(TransferOutcome.None));
                assertEq(uint256(dt.contestProgress(id).chunksDone), k + 1);
            }
        }
    }

    function test_ciphertextDigest_oneChunk_isKeccak_succeeds() public view {
        bytes memory ct = _bigBytes("d", CHUNK);
        assertEq(dt.ciphertextDigest(ct), keccak256(ct));
        assertEq(dt.ciphertextLeaf(3, ct), dt.ciphertextLeafOfDigest(3, keccak256(ct)));
        assertEq(
            dt.ciphertextLeafOfDigest(3, keccak256(ct)),
            keccak256(bytes.concat(keccak256(abi.encode(uint256(3), keccak256(ct)))))
        );
    }

    function test_ciphertextDigest_chunks_areHashChain_succeeds() public view {
        bytes memory ct = _bigBytes("d", 2 * CHUNK + 5);
        bytes32 h2 = keccak256(_slice(ct, 2 * CHUNK, ct.length));
        bytes32 h1 = keccak256(bytes.concat(_slice(ct, CHUNK, 2 * CHUNK), h2));
        bytes32 h0 = keccak256(bytes.concat(_slice(ct, 0, CHUNK), h1));
        assertEq(dt.ciphertextDigest(ct), h0);
    }

    /// @dev 224x224x3 (150,528 bytes = 4 full chunks + 23,552 bytes) honest: rejected; each
    /// transaction fits in EIP-7825's 2^24 cap.
    function test_contestChunk_224x224x3_honest_rejected_succeeds() public {
        bytes memory pt = _bigBytes("image", 224 * 224 * 3);
        (uint256 id, bytes memory ct) = _revealedLarge(pt, pt);
        ContestOpening memory o = _largeOpening(pt, ct);
        vm.expectEmit(address(dt));
        emit IDataTransfer.ContestBegun(id, 0, uint64(block.timestamp) + CONTEST_WINDOW);
        vm.prank(receiver);
        dt.beginContest(id, o);
        assertEq(uint256(dt.transferState(id)), uint256(TransferState.Contesting));
        vm.startPrank(stranger); // chunks are permissionless
        assertEq(uint256(_sendChunks(id, ct, true)), uint256(TransferOutcome.ContestRejected));
        vm.stopPrank();
        _assertResolved(id, TransferOutcome.ContestRejected);
        assertEq(dt.contestProgress(id).nextDigest, bytes32(0));
    }

    function test_contestChunk_224x224x3_cheated_upheld_succeeds() public {
        bytes memory pt = _bigBytes("image", 224 * 224 * 3);
        bytes memory sent = _bigBytes("image", 224 * 224 * 3);
        sent[CHUNK + 100] = bytes1(uint8(sent[CHUNK + 100]) ^ 1); // one byte differs, in chunk 1
        (uint256 id, bytes memory ct) = _revealedLarge(pt, sent);
        ContestOpening memory o = _largeOpening(pt, ct);
        vm.prank(receiver);
        dt.beginContest(id, o);
        assertEq(uint256(_sendChunks(id, ct, false)), uint256(TransferOutcome.SenderCheated));
        _assertResolved(id, TransferOutcome.SenderCheated);
    }

    /// @dev An item of exactly two chunks (an even number of elements: padding permutation
    /// alone) agrees with PoseidonT3.hashBytes, chunked and in one transaction.
    function test_contestChunk_exactChunks_matchesHashBytes_succeeds() public {
        bytes memory pt = _bigBytes("even", 2 * CHUNK);
        (uint256 id, bytes memory ct) = _revealedLarge(pt, pt);
        ContestOpening memory o = _largeOpening(pt, ct);
        vm.prank(receiver);
        dt.beginContest(id, o);
        assertEq(uint256(_sendChunks(id, ct, false)), uint256(TransferOutcome.ContestRejected));

        (uint256 id2, bytes memory ct2) = _revealedLarge(pt, pt);
        ItemOpening memory single;
        single.ciphertext = ct2;
        single.inputCommitment = bytes32(PoseidonT3.hashBytes(pt));
        single.label = 5;
        vm.prank(receiver);
        assertEq(uint256(dt.contest(id2, single)), uint256(TransferOutcome.ContestRejected));
    }

    function test_contestChunk_shortItem_oneChunk_succeeds() public {
        uint32 i = BAD;
        uint256 id = _revealed(true);
        ContestOpening memory o;
        o.index = i;
        o.ciphertextDigest = keccak256(ciphertexts[i]);
        o.ciphertextProof = Merkle.proof(ciphertextLeaves, i);
        o.inputCommitment = inputCommitments[i];
        o.label = labels[i];
        o.plaintextProof = Merkle.proof(plaintextLeaves, i);
        vm.prank(receiver);
        dt.beginContest(id, o);
        assertEq(uint256(dt.contestChunk(id, ciphertexts[i], bytes32(0))), uint256(TransferOutcome.SenderCheated));
        _assertResolved(id, TransferOutcome.SenderCheated);
    }

    function test_beginContest_notReceiver_reverts() public {
        bytes memory pt = _bigBytes("x", 100);
        (uint256 id, bytes memory ct) = _revealedLarge(pt, pt);
        ContestOpening memory o = _largeOpening(pt, ct);
        vm.expectRevert(abi.encodeWithSelector(IDataTransfer.NotTransferReceiver.selector, id, sender, receiver));
        vm.prank(sender);
        dt.beginContest(id, o);
    }

    function test_beginContest_badDigest_reverts() public {
        bytes memory pt = _bigBytes("x", 100);
        (uint256 id, bytes memory ct) = _revealedLarge(pt, pt);
        ContestOpening memory o = _largeOpening(pt, ct);
        o.ciphertextDigest = keccak256(pt);
        vm.expectRevert(abi.encodeWithSelector(IDataTransfer.InvalidCiphertextProof.selector, id, 0));
        vm.prank(receiver);
        dt.beginContest(id, o);
    }

    function test_beginContest_badPlaintextProof_reverts() public {
        bytes memory pt = _bigBytes("x", 100);
        (uint256 id, bytes memory ct) = _revealedLarge(pt, pt);
        ContestOpening memory o = _largeOpening(pt, ct);
        o.label = 6;
        vm.expectRevert(abi.encodeWithSelector(IDataTransfer.InvalidPlaintextProof.selector, id, 0));
        vm.prank(receiver);
        dt.beginContest(id, o);
    }

    function test_contestChunk_notContesting_reverts() public {
        uint256 id = _revealed(false);
        _expectState(id, TransferState.Contestable);
        dt.contestChunk(id, ciphertexts[0], bytes32(0));
    }

    function test_contestChunk_wrongChunk_reverts() public {
        bytes memory pt = _bigBytes("image", 2 * CHUNK + 1);
        (uint256 id, bytes memory ct) = _revealedLarge(pt, pt);
        ContestOpening memory o = _largeOpening(pt, ct);
        vm.prank(receiver);
        dt.beginContest(id, o);
        bytes memory first = _slice(ct, 0, CHUNK);
        bytes32 next = dt.ciphertextDigest(_slice(ct, CHUNK, ct.length));
        // wrong next digest
        vm.expectRevert(abi.encodeWithSelector(IDataTransfer.InvalidChunk.selector, id, 0));
        dt.contestChunk(id, first, bytes32(uint256(1)));
        // wrong length (non-final chunk must be a whole chunk)
        vm.expectRevert(abi.encodeWithSelector(IDataTransfer.InvalidChunkLength.selector, id, 0, CHUNK - 1));
        dt.contestChunk(id, _slice(ct, 0, CHUNK - 1), next);
        // a final chunk may not exceed a chunk
        vm.expectRevert(abi.encodeWithSelector(IDataTransfer.InvalidChunkLength.selector, id, 0, CHUNK + 1));
        dt.contestChunk(id, _slice(ct, 0, CHUNK + 1), bytes32(0));
        // the right first chunk, then the last chunk out of order
        dt.contestChunk(id, first, next);
        vm.expectRevert(abi.encodeWithSelector(IDataTransfer.InvalidChunk.selector, id, 1));
        dt.contestChunk(id, _slice(ct, 2 * CHUNK, ct.length), bytes32(0));
    }

    function test_contestChunk_abandoned_receiverFails_succeeds() public {
        bytes memory pt = _bigBytes("image", 2 * CHUNK);
        (uint256 id, bytes memory ct) = _revealedLarge(pt, pt);
        vm.warp(block.timestamp + CONTEST_WINDOW - 1);
        ContestOpening memory o = _largeOpening(pt, ct);
        vm.prank(receiver);
        dt.beginContest(id, o); // a late start gets a fresh window
        vm.warp(block.timestamp + CONTEST_WINDOW - 1);
        dt.contestChunk(id, _slice(ct, 0, CHUNK), dt.ciphertextDigest(_slice(ct, CHUNK, ct.length)));
        vm.warp(block.timestamp + 1);
        _expectState(id, TransferState.ContestExpired);
        dt.contestChunk(id, _slice(ct, CHUNK, ct.length), bytes32(0));
        assertEq(uint256(dt.expireTransfer(id)), uint256(TransferOutcome.ReceiverNoContinue));
        _assertResolved(id, TransferOutcome.ReceiverNoContinue);
        assertEq(uint256(dt.contestProgress(id).chunksDone), 0);
    }
}
