// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ProofVerifier} from "../../src/ProofVerifier.sol";

/// @dev Exposes the library's internal functions as external calls (so reverts can be expected).
contract ProofVerifierHarness {
    function verify(address verifier, uint256[] memory instances, bytes memory proof) external view returns (bool) {
        return ProofVerifier.verify(verifier, instances, proof);
    }

    function verifyPinned(address verifier, bytes32 codehash, uint256[] memory instances, bytes memory proof)
        external
        view
        returns (bool)
    {
        return ProofVerifier.verifyPinned(verifier, codehash, instances, proof);
    }

    function encodeCalldata(uint256[] memory instances, bytes memory proof) external pure returns (bytes memory) {
        return ProofVerifier.encodeCalldata(instances, proof);
    }

    function classInstances(bytes32 ic, bytes32 wc, uint256 cls) external pure returns (uint256[] memory) {
        return ProofVerifier.classInstances(ic, wc, cls);
    }

    function checkLayout(uint256[] memory instances, bytes32 ic, bytes32 wc) external pure {
        ProofVerifier.checkLayout(instances, ic, wc);
    }

    function outputs(uint256[] memory instances) external pure returns (uint256[] memory) {
        return ProofVerifier.outputs(instances);
    }
}
