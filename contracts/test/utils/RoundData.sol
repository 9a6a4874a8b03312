// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Merkle} from "./Merkle.sol";

import {ProofVerifier} from "../../src/ProofVerifier.sol";
import {Answer} from "../../src/lib/Types.sol";

/// @notice Deterministic serving-round data for tests: input commitment ic(i) and class cls(i)
/// at index i, the two Merkle trees, answers, and MP's EIP-712 digest. Local copies of the
/// contract's encodings (pure, no external call, so they can be built after vm.prank or
/// vm.expectRevert); ServingRound.t.sol checks that they equal the contract's own.
library RoundData {
    function ic(uint256 i) internal pure returns (bytes32) {
        return bytes32(uint256(keccak256(abi.encode("input", i))) % ProofVerifier.SCALAR_FIELD);
    }

    function cls(uint256 i) internal pure returns (uint256) {
        return i % 10;
    }

    function inputLeaf(uint32 index, bytes32 inputCommitment) internal pure returns (bytes32) {
        return keccak256(bytes.concat(keccak256(abi.encode(uint256(index), inputCommitment))));
    }

    function predictionLeaf(uint32 index, bytes32 inputCommitment, uint256 predictedClass)
        internal
        pure
        returns (bytes32)
    {
        return keccak256(bytes.concat(keccak256(abi.encode(uint256(index), inputCommitment, predictedClass))));
    }

    function inputLeaves(uint32 k) internal pure returns (bytes32[] memory leaves) {
        leaves = new bytes32[](k);
        for (uint32 i = 0; i < k; ++i) {
            leaves[i] = inputLeaf(i, ic(i));
        }
    }

    function predictionLeaves(uint32 k) internal pure returns (bytes32[] memory leaves) {
        leaves = new bytes32[](k);
        for (uint32 i = 0; i < k; ++i) {
            leaves[i] = predictionLeaf(i, ic(i), cls(i));
        }
    }

    function inputsRoot(uint32 k) internal pure returns (bytes32) {
        return Merkle.root(inputLeaves(k));
    }

    function predictionsRoot(uint32 k) internal pure returns (bytes32) {
        return Merkle.root(predictionLeaves(k));
    }

    /// @dev A valid answer for index `index` of a round of `k` (the mock verifier accepts any proof).
    function answer(uint32 k, uint32 index) internal pure returns (Answer memory a) {
        a.index = index;
        a.inputCommitment = ic(index);
        a.predictedClass = cls(index);
        a.inputProof = Merkle.proof(inputLeaves(k), index);
        a.predictionProof = Merkle.proof(predictionLeaves(k), index);
        a.proof = hex"c0ffee";
    }

    /// @dev The EIP-712 digest of Predictions(roundId, inputsRoot, predictionsRoot) for the
    /// ServingRound at `target` on the current chain.
    function digest(address target, uint256 roundId, bytes32 inputs, bytes32 predictions)
        internal
        view
        returns (bytes32)
    {
        bytes32 domain = keccak256(
            abi.encode(
                keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"),
                keccak256("zkmarket ServingRound"),
                keccak256("1"),
                block.chainid,
                target
            )
        );
        bytes32 structHash = keccak256(
            abi.encode(
                keccak256("Predictions(uint256 roundId,bytes32 inputsRoot,bytes32 predictionsRoot)"),
                roundId,
                inputs,
                predictions
            )
        );
        return keccak256(abi.encodePacked("\x19\x01", domain, structHash));
    }
}
