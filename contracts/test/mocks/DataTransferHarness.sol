// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";

import {DataTransfer} from "../../src/DataTransfer.sol";
import {TransferOutcome} from "../../src/interfaces/IDataTransfer.sol";

/// @notice The smallest protocol over DataTransfer: the caller of `open` is the sender, and the
/// hook records each outcome (and how often it was called) for the tests.
contract DataTransferHarness is DataTransfer {
    mapping(uint256 transferId => TransferOutcome) public reported;
    mapping(uint256 transferId => uint256) public reports;

    event HookCalled(uint256 indexed transferId, TransferOutcome outcome);

    constructor(uint64 ackWindow_, uint64 revealWindow_, uint64 contestWindow_)
        EIP712("zkmarket DataTransferHarness", "1")
        DataTransfer(ackWindow_, revealWindow_, contestWindow_)
    {}

    function open(
        address receiver,
        bytes32 ciphertextRoot,
        bytes32 keyCommitment,
        bytes32 plaintextRoot,
        uint32 itemCount
    ) external returns (uint256) {
        return _openTransfer(msg.sender, receiver, ciphertextRoot, keyCommitment, plaintextRoot, itemCount);
    }

    function _onTransferResolved(uint256 transferId, TransferOutcome outcome) internal override {
        reported[transferId] = outcome;
        reports[transferId] += 1;
        emit HookCalled(transferId, outcome);
    }
}
