// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {DataTransferService} from "../../src/DataTransferService.sol";
import {TransferOutcome} from "../../src/interfaces/IDataTransfer.sol";
import {ITransferClient} from "../../src/interfaces/ITransferClient.sol";

/// @notice The smallest client of the DataTransferService: it opens transfers carrying an
/// arbitrary set of item indices, records each reported outcome (and how often it was
/// reported), and can be told to refuse reports.
contract TransferClientMock is ITransferClient {
    DataTransferService public immutable service;
    bool public refuseReports;

    mapping(uint256 transferId => TransferOutcome) public reported;
    mapping(uint256 transferId => uint256) public reports;
    mapping(uint256 transferId => mapping(uint32 index => bool)) internal _items;

    event Reported(uint256 indexed transferId, TransferOutcome outcome);

    constructor(DataTransferService service_) {
        service = service_;
    }

    function open(
        address sender,
        address receiver,
        bytes32 ciphertextRoot,
        bytes32 keyCommitment,
        bytes32 plaintextRoot,
        uint32[] calldata indices
    ) external returns (uint256 transferId) {
        // forge-lint: disable-next-line(unsafe-typecast)
        uint32 count = uint32(indices.length);
        transferId = service.openTransfer(sender, receiver, ciphertextRoot, keyCommitment, plaintextRoot, count);
        for (uint256 i = 0; i < indices.length; ++i) {
            _items[transferId][indices[i]] = true;
        }
    }

    function setRefuseReports(bool refuse) external {
        refuseReports = refuse;
    }

    function onTransferResolved(uint256 transferId, TransferOutcome outcome) external {
        require(msg.sender == address(service), "not the service");
        require(!refuseReports, "client refuses");
        reported[transferId] = outcome;
        reports[transferId] += 1;
        emit Reported(transferId, outcome);
    }

    function isTransferItem(uint256 transferId, uint32 index) external view returns (bool) {
        return _items[transferId][index];
    }
}
