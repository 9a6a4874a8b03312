// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Test} from "./utils/Test.sol";
import {GuardedData} from "./utils/GuardedData.sol";
import {Merkle} from "./utils/Merkle.sol";
import {TransferClientMock} from "./mocks/TransferClientMock.sol";

import {DataTransferService} from "../src/DataTransferService.sol";
import {KeccakStreamCipher} from "../src/crypto/KeccakStreamCipher.sol";
import {PoseidonT3} from "../src/crypto/PoseidonT3.sol";
import {
    ContestOpening,
    IDataTransfer,
    ItemOpening,
    PublishedItem,
    Transfer,
    TransferOutcome,
    TransferState
} from "../src/interfaces/IDataTransfer.sol";

/// @notice The DataTransferService as a shared service: only contracts open transfers, each
/// transfer's outcome goes to the client that opened it, and the client (not itemCount) says
/// which items may be contested.
contract DataTransferServiceTest is Test {
    uint64 internal constant ACK_WINDOW = 1 days;
    uint64 internal constant REVEAL_WINDOW = 2 days;
    uint64 internal constant CONTEST_WINDOW = 3 days;
    /// @dev The committed plaintext set has 4 items; the client's transfers carry items 1 and 3.
    uint32 internal constant SET = 4;
    bytes32 internal constant KEY = keccak256("service key");
    bytes32 internal constant SALT = keccak256("service salt");

    DataTransferService internal service;
    TransferClientMock internal clientA;
    TransferClientMock internal clientB;
    address internal sender;
    address internal receiver;
    uint256 internal receiverKey;
    address internal stranger;

    bytes32[] internal plaintextLeaves;
    uint32[] internal items;
    /// @dev Per transfer: the ciphertexts sent (in `items` order) and their leaves.
    mapping(uint256 transferId => bytes[]) internal ciphertexts;
    mapping(uint256 transferId => bytes32[]) internal ciphertextLeaves;

    function setUp() public {
        service = new DataTransferService(ACK_WINDOW, REVEAL_WINDOW, CONTEST_WINDOW);
        clientA = new TransferClientMock(service);
        clientB = new TransferClientMock(service);
        sender = makeAddr("sender");
        (receiver, receiverKey) = makeAccount("receiver");
        stranger = makeAddr("stranger");
        vm.warp(1_000_000);
        for (uint32 i = 0; i < SET; ++i) {
            plaintextLeaves.push(GuardedData.leaf(i, GuardedData.inputCommitment(i), GuardedData.label(i)));
        }
        items.push(1);
        items.push(3);
    }

    // ---------------------------------------------------------------- helpers

    /// @dev `client` opens a transfer of items 1 and 3 (item 3 replaced by garbage when `cheat`).
    function _open(TransferClientMock client, bool cheat) internal returns (uint256 id) {
        id = service.transferCount() + 1;
        for (uint256 k = 0; k < items.length; ++k) {
            uint32 i = items[k];
            bytes memory pt = cheat && i == 3 ? GuardedData.garbage(i) : GuardedData.plaintext(i);
            bytes memory ct = KeccakStreamCipher.encrypt(KEY, i, pt);
            ciphertexts[id].push(ct);
            ciphertextLeaves[id].push(GuardedData.ciphertextLeaf(i, ct));
        }
        bytes32 croot = Merkle.root(ciphertextLeaves[id]);
        uint256 got = client.open(
            sender, receiver, croot, GuardedData.keyCommitment(KEY, SALT), Merkle.root(plaintextLeaves), items
        );
        assertEq(got, id);
    }

    function _revealed(TransferClientMock client, bool cheat) internal returns (uint256 id) {
        id = _open(client, cheat);
        vm.prank(receiver);
        service.acknowledge(id);
        service.revealKey(id, KEY, SALT);
    }

    /// @dev Opening of item `items[pos]`.
    function _opening(uint256 id, uint256 pos) internal view returns (ItemOpening memory o) {
        uint32 i = items[pos];
        o.index = i;
        o.ciphertext = ciphertexts[id][pos];
        o.ciphertextProof = Merkle.proof(ciphertextLeaves[id], pos);
        o.inputCommitment = GuardedData.inputCommitment(i);
        o.label = GuardedData.label(i);
        o.plaintextProof = Merkle.proof(plaintextLeaves, i);
    }

    function _assertReported(TransferClientMock client, uint256 id, TransferOutcome outcome) internal view {
        assertEq(uint256(client.reported(id)), uint256(outcome), "reported outcome");
        assertEq(client.reports(id), 1, "reported once");
        assertEq(uint256(service.getTransfer(id).outcome), uint256(outcome), "stored outcome");
        assertEq(uint256(service.transferState(id)), uint256(TransferState.Resolved));
    }

    // ---------------------------------------------------------------- deployment and opening

    function test_constructor_windowsAndDomain_succeeds() public {
        assertEq(uint256(service.ackWindow()), ACK_WINDOW);
        assertEq(uint256(service.revealWindow()), REVEAL_WINDOW);
        assertEq(uint256(service.contestWindow()), CONTEST_WINDOW);
        uint256 id = _open(clientA, false);
        bytes32 domain = keccak256(
            abi.encode(
                keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"),
                keccak256("zkmarket DataTransfer"),
                keccak256("1"),
                block.chainid,
                address(service)
            )
        );
        bytes32 structHash = keccak256(
            abi.encode(
                keccak256("Acknowledgement(uint256 transferId,bytes32 ciphertextRoot)"),
                id,
                service.getTransfer(id).ciphertextRoot
            )
        );
        assertEq(service.acknowledgementDigest(id), keccak256(abi.encodePacked(hex"1901", domain, structHash)));
    }

    function test_constructor_zeroWindow_reverts() public {
        vm.expectRevert(IDataTransfer.ZeroTransferWindow.selector);
        new DataTransferService(ACK_WINDOW, 0, CONTEST_WINDOW);
    }

    function test_openTransfer_eoa_reverts() public {
        vm.expectRevert(abi.encodeWithSelector(DataTransferService.ClientNotContract.selector, stranger));
        vm.prank(stranger);
        service.openTransfer(sender, receiver, bytes32(uint256(1)), bytes32(uint256(2)), bytes32(uint256(3)), 1);
        // Not even the transfer's own sender may open one directly.
        vm.expectRevert(abi.encodeWithSelector(DataTransferService.ClientNotContract.selector, sender));
        vm.prank(sender);
        service.openTransfer(sender, receiver, bytes32(uint256(1)), bytes32(uint256(2)), bytes32(uint256(3)), 1);
        assertEq(service.transferCount(), 0);
    }

    function test_openTransfer_clientOf_succeeds() public {
        assertEq(service.clientOf(1), address(0));
        bytes32 croot = bytes32(uint256(1));
        bytes32 kc = GuardedData.keyCommitment(KEY, SALT);
        bytes32 proot = bytes32(uint256(2));
        vm.expectEmit(address(service));
        emit IDataTransfer.TransferCommitted(
            1, sender, receiver, croot, kc, proot, 2, uint64(block.timestamp + ACK_WINDOW)
        );
        uint256 a = clientA.open(sender, receiver, croot, kc, proot, items);
        uint256 b = clientB.open(receiver, sender, croot, kc, proot, items);
        uint256 c = clientA.open(sender, receiver, croot, kc, proot, items);
        assertEq(a, 1);
        assertEq(b, 2);
        assertEq(c, 3);
        assertEq(service.clientOf(a), address(clientA));
        assertEq(service.clientOf(b), address(clientB));
        assertEq(service.clientOf(c), address(clientA));
        assertEq(service.clientOf(4), address(0));
        Transfer memory t = service.getTransfer(b);
        // The client names the parties: the service records them, not the client.
        assertEq(t.sender, receiver);
        assertEq(t.receiver, sender);
        assertEq(uint256(t.itemCount), 2);
    }

    function test_openTransfer_invalidCommitments_reverts() public {
        vm.expectRevert(abi.encodeWithSelector(IDataTransfer.InvalidTransferParties.selector, sender, sender));
        clientA.open(sender, sender, bytes32(uint256(1)), bytes32(uint256(2)), bytes32(uint256(3)), items);
        vm.expectRevert(IDataTransfer.EmptyTransfer.selector);
        clientA.open(sender, receiver, bytes32(uint256(1)), bytes32(uint256(2)), bytes32(uint256(3)), new uint32[](0));
        vm.expectRevert(IDataTransfer.ZeroTransferCommitment.selector);
        clientA.open(sender, receiver, bytes32(uint256(1)), bytes32(uint256(2)), bytes32(0), items);
    }

    // ---------------------------------------------------------------- outcomes reach the right client

    function test_callbacks_reachOwnClient_succeeds() public {
        uint256 a = _open(clientA, false);
        uint256 b = _revealed(clientB, false);
        vm.expectEmit(address(clientB));
        emit TransferClientMock.Reported(b, TransferOutcome.Completed);
        vm.prank(receiver);
        service.accept(b);
        _assertReported(clientB, b, TransferOutcome.Completed);
        assertEq(clientA.reports(b), 0, "other client not told");
        assertEq(clientB.reports(a), 0);

        vm.warp(block.timestamp + ACK_WINDOW);
        vm.prank(stranger);
        service.expireTransfer(a);
        _assertReported(clientA, a, TransferOutcome.SenderUndelivered);
        assertEq(clientB.reports(a), 0, "other client not told");
    }

    function test_callbacks_receiverNoAck_afterPublication_succeeds() public {
        uint256 id = _open(clientA, false);
        _publish(id);
        vm.warp(block.timestamp + ACK_WINDOW);
        service.expireTransfer(id);
        _assertReported(clientA, id, TransferOutcome.ReceiverNoAck);
    }

    // ---------------------------------------------------------------- proof of delivery: the client's items

    /// @dev Item `items[pos]` as published.
    function _published(uint256 id, uint256 pos) internal view returns (PublishedItem memory) {
        return PublishedItem(items[pos], ciphertexts[id][pos], Merkle.proof(ciphertextLeaves[id], pos));
    }

    function _publish(uint256 id) internal {
        PublishedItem[] memory list = new PublishedItem[](items.length);
        for (uint256 pos = 0; pos < items.length; ++pos) {
            list[pos] = _published(id, pos);
        }
        service.publishItems(id, list);
        bytes32[] memory ics = new bytes32[](SET);
        uint256[] memory lbls = new uint256[](SET);
        for (uint32 i = 0; i < SET; ++i) {
            (ics[i], lbls[i]) = (GuardedData.inputCommitment(i), GuardedData.label(i));
        }
        service.publishPlaintextLeaves(id, ics, lbls);
    }

    function test_publishItems_clientItems_succeeds() public {
        uint256 id = _open(clientA, false);
        // Item 3 is >= itemCount (2), yet the client says it is carried: it can be published.
        PublishedItem[] memory list = new PublishedItem[](1);
        list[0] = _published(id, 1);
        vm.expectEmit(address(service));
        emit IDataTransfer.ItemPublished(id, 3, ciphertexts[id][1]);
        service.publishItems(id, list);
        // Index 0 is below itemCount but not one of the client's items.
        list[0] = _published(id, 0);
        list[0].index = 0;
        vm.expectRevert(abi.encodeWithSelector(IDataTransfer.ItemNotInTransfer.selector, id, 0));
        service.publishItems(id, list);
        assertEq(uint256(service.getTransfer(id).published), 1);
        assertEq(clientA.reports(id), 0, "publishing reports nothing");
    }

    function test_callbacks_senderNoReveal_succeeds() public {
        uint256 id = _open(clientA, false);
        vm.prank(receiver);
        service.acknowledge(id);
        vm.warp(block.timestamp + REVEAL_WINDOW);
        service.expireTransfer(id);
        _assertReported(clientA, id, TransferOutcome.SenderNoReveal);
    }

    function test_callbacks_receiverNoContinue_succeeds() public {
        uint256 id = _revealed(clientA, false);
        vm.warp(block.timestamp + CONTEST_WINDOW);
        service.expireTransfer(id);
        _assertReported(clientA, id, TransferOutcome.ReceiverNoContinue);
    }

    function test_callbacks_signatureAcknowledgement_succeeds() public {
        uint256 id = _open(clientA, false);
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(receiverKey, service.acknowledgementDigest(id));
        vm.prank(stranger);
        service.acknowledgeWithSignature(id, abi.encodePacked(r, s, v));
        assertEq(uint256(service.transferState(id)), uint256(TransferState.AwaitingKey));
        assertEq(clientA.reports(id), 0, "no report before the end");
    }

    function test_contest_cheatedItem_upheld_succeeds() public {
        uint256 id = _revealed(clientA, true);
        ItemOpening memory o = _opening(id, 1); // item 3, garbage
        bytes32 computed = bytes32(PoseidonT3.hashBytes(GuardedData.garbage(3)));
        vm.expectEmit(address(service));
        emit IDataTransfer.TransferContested(
            id, 3, GuardedData.inputCommitment(3), computed, TransferOutcome.SenderCheated
        );
        vm.expectEmit(address(clientA));
        emit TransferClientMock.Reported(id, TransferOutcome.SenderCheated);
        vm.prank(receiver);
        assertEq(uint256(service.contest(id, o)), uint256(TransferOutcome.SenderCheated));
        _assertReported(clientA, id, TransferOutcome.SenderCheated);
    }

    function test_contest_honestItem_rejected_succeeds() public {
        uint256 id = _revealed(clientB, true);
        ItemOpening memory o = _opening(id, 0); // item 1, honest
        vm.prank(receiver);
        assertEq(uint256(service.contest(id, o)), uint256(TransferOutcome.ContestRejected));
        _assertReported(clientB, id, TransferOutcome.ContestRejected);
        assertEq(clientA.reports(id), 0);
    }

    // ---------------------------------------------------------------- item membership is the client's

    function test_contest_notClientItem_reverts() public {
        uint256 id = _revealed(clientA, false);
        // Index 0 is below itemCount (2) but not one of the client's items.
        ItemOpening memory o = _opening(id, 0);
        o.index = 0;
        vm.expectRevert(abi.encodeWithSelector(IDataTransfer.ItemNotInTransfer.selector, id, 0));
        vm.prank(receiver);
        service.contest(id, o);
        o.index = 2;
        vm.expectRevert(abi.encodeWithSelector(IDataTransfer.ItemNotInTransfer.selector, id, 2));
        vm.prank(receiver);
        service.contest(id, o);
        assertEq(uint256(service.transferState(id)), uint256(TransferState.Contestable));
    }

    function test_contest_clientItemAboveItemCount_succeeds() public {
        // Item 3 is >= itemCount (2), yet the client says it is carried: it can be contested.
        uint256 id = _revealed(clientA, false);
        assertTrue(clientA.isTransferItem(id, 3));
        vm.prank(receiver);
        assertEq(uint256(service.contest(id, _opening(id, 1))), uint256(TransferOutcome.ContestRejected));
    }

    function test_beginContest_notClientItem_reverts() public {
        uint256 id = _revealed(clientA, false);
        ContestOpening memory o;
        o.index = 0;
        o.ciphertextDigest = keccak256(ciphertexts[id][0]);
        o.ciphertextProof = Merkle.proof(ciphertextLeaves[id], 0);
        o.inputCommitment = GuardedData.inputCommitment(0);
        o.label = GuardedData.label(0);
        o.plaintextProof = Merkle.proof(plaintextLeaves, 0);
        vm.expectRevert(abi.encodeWithSelector(IDataTransfer.ItemNotInTransfer.selector, id, 0));
        vm.prank(receiver);
        service.beginContest(id, o);
    }

    function test_isTransferItem_askedOfOwnClient_succeeds() public {
        // Transfer a (client A) carries items 1 and 3; transfer b (client B) items 0 and 2.
        uint256 a = _revealed(clientA, false);
        uint32[] memory others = new uint32[](2);
        others[0] = 0;
        others[1] = 2;
        uint256 b = clientB.open(
            sender,
            receiver,
            bytes32(uint256(1)),
            GuardedData.keyCommitment(KEY, SALT),
            Merkle.root(plaintextLeaves),
            others
        );
        vm.prank(receiver);
        service.acknowledge(b);
        service.revealKey(b, KEY, SALT);
        ItemOpening memory o = _opening(a, 0); // item 1
        vm.expectRevert(abi.encodeWithSelector(IDataTransfer.ItemNotInTransfer.selector, b, 1));
        vm.prank(receiver);
        service.contest(b, o);
        vm.prank(receiver);
        assertEq(uint256(service.contest(a, o)), uint256(TransferOutcome.ContestRejected));
        _assertReported(clientA, a, TransferOutcome.ContestRejected);
        assertEq(clientB.reports(b), 0);
    }

    // ---------------------------------------------------------------- a client that refuses reports

    function test_callbacks_clientRevert_bubbles_reverts() public {
        uint256 id = _revealed(clientA, false);
        clientA.setRefuseReports(true);
        vm.expectRevert(bytes("client refuses"));
        vm.prank(receiver);
        service.accept(id);
        // Nothing changed: the transfer is still open and resolves once the client accepts reports.
        assertEq(uint256(service.transferState(id)), uint256(TransferState.Contestable));
        clientA.setRefuseReports(false);
        vm.prank(receiver);
        service.accept(id);
        _assertReported(clientA, id, TransferOutcome.Completed);
    }
}
