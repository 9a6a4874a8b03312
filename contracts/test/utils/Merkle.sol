// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Hashes} from "@openzeppelin/contracts/utils/cryptography/Hashes.sol";

/// @notice Builds Merkle roots and proofs that OpenZeppelin's MerkleProof accepts (internal
/// nodes = keccak of the sorted pair; a node without a sibling moves up unchanged).
library Merkle {
    function root(bytes32[] memory leaves) internal pure returns (bytes32) {
        require(leaves.length > 0, "Merkle: no leaves");
        bytes32[] memory level = leaves;
        while (level.length > 1) {
            level = _up(level);
        }
        return level[0];
    }

    function proof(bytes32[] memory leaves, uint256 index) internal pure returns (bytes32[] memory path) {
        require(index < leaves.length, "Merkle: index");
        path = new bytes32[](64);
        uint256 n = 0;
        bytes32[] memory level = leaves;
        while (level.length > 1) {
            uint256 sibling = index ^ 1;
            if (sibling < level.length) path[n++] = level[sibling];
            level = _up(level);
            index >>= 1;
        }
        assembly ("memory-safe") {
            mstore(path, n)
        }
    }

    function _up(bytes32[] memory level) private pure returns (bytes32[] memory next) {
        next = new bytes32[]((level.length + 1) / 2);
        for (uint256 i = 0; i < next.length; ++i) {
            uint256 left = 2 * i;
            next[i] = left + 1 < level.length ? Hashes.commutativeKeccak256(level[left], level[left + 1]) : level[left];
        }
    }
}
