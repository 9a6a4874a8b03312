// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {TransferOutcome} from "./IDataTransfer.sol";

/// @title ITransferClient
/// @notice What a protocol contract implements to move data through DataTransferService: the
/// service asks it which items a transfer carries and tells it, exactly once, how each of its
/// transfers ended (paper appendix B: the protocol applies the penalties).
interface ITransferClient {
    /// @notice Transfer `transferId` (opened by this client) ended with `outcome`. Called by the
    /// service only, inside the service call that resolved the transfer.
    function onTransferResolved(uint256 transferId, TransferOutcome outcome) external;

    /// @notice Whether test example `index` is an item of transfer `transferId`, so that only
    /// items of the transfer can be contested.
    function isTransferItem(uint256 transferId, uint32 index) external view returns (bool);
}
