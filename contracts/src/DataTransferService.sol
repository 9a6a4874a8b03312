// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";

import {DataTransfer} from "./DataTransfer.sol";
import {TransferOutcome} from "./interfaces/IDataTransfer.sol";
import {ITransferClient} from "./interfaces/ITransferClient.sol";

/// @title DataTransferService
/// @notice The appendix-B data-transfer sub-protocol as a deployed service that protocol
/// contracts (its clients) open transfers on, so that a protocol which moves data (the
/// griefing-resistant accuracy audit) stays under the EIP-170 code size limit: the contest
/// code (keystream decryption, Poseidon) lives here, once.
/// @dev The client is the contract that opened the transfer: only it learns the outcome and
/// only it says which items a transfer carries. The service holds no funds; penalties are the
/// client's business. Sender and receiver act on this contract directly (acknowledge, reveal,
/// accept, contest, expire), exactly as on any DataTransfer.
contract DataTransferService is DataTransfer {
    /// @notice Transfers can only be opened by contracts (the outcome is reported by a call).
    error ClientNotContract(address client);

    /// @notice The protocol contract that opened each transfer.
    mapping(uint256 transferId => address client) public clientOf;

    constructor(uint64 ackWindow_, uint64 revealWindow_, uint64 contestWindow_)
        EIP712("zkmarket DataTransfer", "1")
        DataTransfer(ackWindow_, revealWindow_, contestWindow_)
    {}

    /// @notice Opens a transfer from `sender` to `receiver` for the calling protocol (stage 1);
    /// see DataTransfer._openTransfer for the commitments.
    function openTransfer(
        address sender,
        address receiver,
        bytes32 ciphertextRoot,
        bytes32 keyCommitment,
        bytes32 plaintextRoot,
        uint32 itemCount
    ) external returns (uint256 transferId) {
        if (msg.sender.code.length == 0) revert ClientNotContract(msg.sender);
        transferId = _openTransfer(sender, receiver, ciphertextRoot, keyCommitment, plaintextRoot, itemCount);
        clientOf[transferId] = msg.sender;
    }

    function _onTransferResolved(uint256 transferId, TransferOutcome outcome) internal override {
        ITransferClient(clientOf[transferId]).onTransferResolved(transferId, outcome);
    }

    function _isTransferItem(uint256 transferId, uint32 index) internal view override returns (bool) {
        return ITransferClient(clientOf[transferId]).isTransferItem(transferId, index);
    }
}
