// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Test} from "./utils/Test.sol";
import {MockVerifier} from "./mocks/Mocks.sol";
import {ProofVerifierHarness} from "./mocks/ProofVerifierHarness.sol";

import {ProofVerifier} from "../src/ProofVerifier.sol";

contract ProofVerifierTest is Test {
    ProofVerifierHarness internal h;
    MockVerifier internal verifier;

    bytes32 internal constant IC = bytes32(uint256(111));
    bytes32 internal constant WC = bytes32(uint256(222));
    bytes internal constant PROOF = hex"0102030405";

    function setUp() public {
        h = new ProofVerifierHarness();
        verifier = new MockVerifier();
    }

    function _instances() internal pure returns (uint256[] memory i) {
        i = new uint256[](3);
        i[0] = uint256(IC);
        i[1] = uint256(WC);
        i[2] = 7;
    }

    function test_encodeCalldata_wordsThenProof_succeeds() public view {
        bytes memory expected = bytes.concat(IC, WC, bytes32(uint256(7)), PROOF);
        vm.assertEq(h.encodeCalldata(_instances(), PROOF), expected);
    }

    function test_verify_exactCalldata_succeeds() public {
        verifier.expectCalldata(bytes.concat(IC, WC, bytes32(uint256(7)), PROOF));
        assertTrue(h.verify(address(verifier), _instances(), PROOF));
        // Any other instance or proof is a different calldata: rejected.
        uint256[] memory other = _instances();
        other[2] = 8;
        assertFalse(h.verify(address(verifier), other, PROOF));
        assertFalse(h.verify(address(verifier), _instances(), hex"0102030406"));
    }

    function test_verify_verifierReverts_succeeds() public {
        verifier.setMode(MockVerifier.Mode.Reject);
        assertFalse(h.verify(address(verifier), _instances(), PROOF));
    }

    function test_verify_trueWord_succeeds() public {
        verifier.setMode(MockVerifier.Mode.ReturnTrueWord);
        assertTrue(h.verify(address(verifier), _instances(), PROOF));
    }

    function test_verify_falseWord_succeeds() public {
        verifier.setMode(MockVerifier.Mode.ReturnFalseWord);
        assertFalse(h.verify(address(verifier), _instances(), PROOF));
    }

    function test_verify_malformedReturn_succeeds() public {
        verifier.setMode(MockVerifier.Mode.ReturnTwoWords);
        assertFalse(h.verify(address(verifier), _instances(), PROOF));
    }

    function test_verify_noCode_reverts() public {
        address eoa = address(0xabcdef);
        vm.expectRevert(abi.encodeWithSelector(ProofVerifier.VerifierNotContract.selector, eoa));
        h.verify(eoa, _instances(), PROOF);
    }

    function test_verify_instanceNotInField_reverts() public {
        uint256[] memory i = _instances();
        i[1] = ProofVerifier.SCALAR_FIELD;
        vm.expectRevert(
            abi.encodeWithSelector(ProofVerifier.InstanceNotInField.selector, 1, ProofVerifier.SCALAR_FIELD)
        );
        h.verify(address(verifier), i, PROOF);
    }

    function test_verifyPinned_codehashMismatch_reverts() public {
        bytes32 actual = address(verifier).codehash;
        vm.expectRevert(
            abi.encodeWithSelector(
                ProofVerifier.VerifierCodehashMismatch.selector, address(verifier), bytes32(uint256(1)), actual
            )
        );
        h.verifyPinned(address(verifier), bytes32(uint256(1)), _instances(), PROOF);
    }

    function test_verifyPinned_matchingCodehash_succeeds() public view {
        assertTrue(h.verifyPinned(address(verifier), address(verifier).codehash, _instances(), PROOF));
    }

    function test_classInstances_layout_succeeds() public view {
        uint256[] memory i = h.classInstances(IC, WC, 7);
        assertEq(i.length, 3);
        assertEq(i[0], uint256(IC));
        assertEq(i[1], uint256(WC));
        assertEq(i[2], 7);
    }

    function test_checkLayout_matching_succeeds() public view {
        h.checkLayout(_instances(), IC, WC);
    }

    function test_checkLayout_tooFewInstances_reverts() public {
        uint256[] memory i = new uint256[](2);
        vm.expectRevert(abi.encodeWithSelector(ProofVerifier.InstanceCountTooSmall.selector, 2, 3));
        h.checkLayout(i, IC, WC);
    }

    function test_checkLayout_wrongInput_reverts() public {
        vm.expectRevert(abi.encodeWithSelector(ProofVerifier.InstanceMismatch.selector, 0, 112, uint256(IC)));
        h.checkLayout(_instances(), bytes32(uint256(112)), WC);
    }

    function test_checkLayout_wrongWeights_reverts() public {
        vm.expectRevert(abi.encodeWithSelector(ProofVerifier.InstanceMismatch.selector, 1, 223, uint256(WC)));
        h.checkLayout(_instances(), IC, bytes32(uint256(223)));
    }

    function test_outputs_afterCommitments_succeeds() public view {
        uint256[] memory o = h.outputs(_instances());
        assertEq(o.length, 1);
        assertEq(o[0], 7);
    }

    function testFuzz_encodeCalldata_layout_succeeds(uint256[] memory instances, bytes memory proof) public view {
        bytes memory data = h.encodeCalldata(instances, proof);
        assertEq(data.length, 32 * instances.length + proof.length);
        for (uint256 i = 0; i < instances.length; ++i) {
            bytes32 word;
            assembly ("memory-safe") {
                word := mload(add(add(data, 32), mul(i, 32)))
            }
            assertEq(uint256(word), instances[i]);
        }
        for (uint256 j = 0; j < proof.length; ++j) {
            assertTrue(data[32 * instances.length + j] == proof[j]);
        }
    }
}
