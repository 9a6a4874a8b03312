// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {PoseidonT3} from "../../src/crypto/PoseidonT3.sol";
import {KeccakStreamCipher} from "../../src/crypto/KeccakStreamCipher.sol";
import {PoseidonVectors} from "./PoseidonVectors.sol";

/// @notice PoseidonT3 against vectors from the Rust prover (scripts/gen_poseidon_vectors.py),
/// its field check, its gas (printed with `forge test -vv`), and the stream cipher's round trip.
/// No forge-std (the npm copy is broken): tiny assertion helpers instead.
contract PoseidonT3Test {
    /// @dev ds-test's log event: Foundry prints it with -vv.
    event log_named_uint(string key, uint256 val);

    uint256 private constant P = PoseidonT3.P;

    function assertEq(uint256 a, uint256 b, string memory what) private pure {
        if (a != b) revert(string.concat(what, ": values differ"));
    }

    function assertEq(bytes memory a, bytes memory b, string memory what) private pure {
        if (keccak256(a) != keccak256(b)) revert(string.concat(what, ": bytes differ"));
    }

    function assertTrue(bool c, string memory what) private pure {
        if (!c) revert(what);
    }

    function test_hash_matches_prover_vectors() public pure {
        (uint256[][] memory inputs, uint256[] memory expected) = PoseidonVectors.fieldVectors();
        for (uint256 k; k < inputs.length; ++k) {
            assertEq(PoseidonT3.hash(inputs[k]), expected[k], "hash vector");
        }
    }

    function test_hashBytes_matches_prover_vectors() public pure {
        (bytes[] memory data, uint256[] memory expected) = PoseidonVectors.bytesVectors();
        for (uint256 k; k < data.length; ++k) {
            assertEq(PoseidonT3.hashBytes(data[k]), expected[k], "hashBytes vector");
        }
    }

    /// hashBytes is hash of the 31-byte little-endian packing of the bytes and the length
    /// marker 1, here built byte by byte.
    function test_hashBytes_equals_hash_of_packing() public pure {
        bytes memory data = new bytes(100);
        for (uint256 i; i < data.length; ++i) data[i] = bytes1(uint8(255 - i));
        uint256[] memory packed = new uint256[](4);
        for (uint256 i; i < data.length; ++i) packed[i / 31] += uint256(uint8(data[i])) << (8 * (i % 31));
        packed[data.length / 31] += 1 << (8 * (data.length % 31));
        assertEq(PoseidonT3.hashBytes(data), PoseidonT3.hash(packed), "hashBytes(100 bytes)");
    }

    /// The marker keeps byte strings of different lengths apart: a missing trailing zero byte,
    /// at every length around an element boundary, changes the hash.
    function test_hashBytes_binds_the_length() public pure {
        for (uint256 len = 1; len <= 64; ++len) {
            assertTrue(
                PoseidonT3.hashBytes(new bytes(len)) != PoseidonT3.hashBytes(new bytes(len - 1)), "trailing zero byte"
            );
        }
    }

    /// The padding keeps inputs of different lengths apart: [5] vs [5, 0], [] vs [0, 0].
    function test_padding_separates_lengths() public pure {
        uint256[] memory one = new uint256[](1);
        uint256[] memory two = new uint256[](2);
        one[0] = 5;
        two[0] = 5;
        assertTrue(PoseidonT3.hash(one) != PoseidonT3.hash(two), "[5] vs [5, 0]");
        assertTrue(PoseidonT3.hash(new uint256[](0)) != PoseidonT3.hash(two), "[] vs [0, 0]");
    }

    function hashExternal(uint256[] memory inputs) external pure returns (uint256) {
        return PoseidonT3.hash(inputs);
    }

    function test_rejects_inputs_outside_field() public {
        uint256[] memory inputs = new uint256[](3);
        inputs[2] = P;
        (bool ok, bytes memory ret) = address(this).call(abi.encodeCall(this.hashExternal, (inputs)));
        assertTrue(!ok, "P accepted");
        assertEq(ret, abi.encodeWithSelector(PoseidonT3.PoseidonInputNotInField.selector, 2, P), "revert data");
        inputs[2] = type(uint256).max;
        (ok,) = address(this).call(abi.encodeCall(this.hashExternal, (inputs)));
        assertTrue(!ok, "2^256-1 accepted");
        inputs[2] = P - 1;
        (ok,) = address(this).call(abi.encodeCall(this.hashExternal, (inputs)));
        assertTrue(ok, "P-1 rejected");
    }

    /// The permutation accepts unreduced lanes (< 4P) and returns canonical ones.
    function test_permute_reduces_lanes() public pure {
        (uint256 a0, uint256 a1, uint256 a2) = PoseidonT3.permute(1, 2, 3);
        (uint256 b0, uint256 b1, uint256 b2) = PoseidonT3.permute(1 + 3 * P, 2 + 3 * P, 3 + 3 * P);
        assertTrue(a0 == b0 && a1 == b1 && a2 == b2, "unreduced lanes");
        assertTrue(a0 < P && a1 < P && a2 < P, "canonical output");
    }

    function test_gas() public {
        uint256 g = gasleft();
        PoseidonT3.permute(1 << 64, 1, 2);
        uint256 used = g - gasleft();
        emit log_named_uint("gas: one permutation", used);
        require(used <= 25_000, "a permutation costs about 23k gas (README)");

        bytes memory data = new bytes(64);
        g = gasleft();
        PoseidonT3.hashBytes(data);
        emit log_named_uint("gas: hashBytes(64 bytes)", g - gasleft());

        data = new bytes(96 * 96 * 3);
        g = gasleft();
        PoseidonT3.hashBytes(data);
        used = g - gasleft();
        emit log_named_uint("gas: hashBytes(27648 bytes)", used);
        require(used <= 11_000_000, "a 96x96x3 item hashes in about 10.7M gas (README), under 2^24");

        g = gasleft();
        KeccakStreamCipher.decrypt(bytes32(uint256(1)), 0, data);
        used = g - gasleft();
        emit log_named_uint("gas: decrypt(27648 bytes)", used);
        require(used <= 150_000, "decryption costs about 160 gas per 32 bytes");
    }

    function test_cipher_round_trip() public pure {
        bytes32 key = keccak256("key");
        for (uint256 len; len <= 70; len += 7) {
            bytes memory plain = new bytes(len);
            for (uint256 i; i < len; ++i) plain[i] = bytes1(uint8(i * 37 + 11));
            bytes memory enc = KeccakStreamCipher.encrypt(key, 3, plain);
            assertTrue(enc.length == len, "ciphertext length");
            if (len >= 32) assertTrue(keccak256(enc) != keccak256(plain), "not encrypted");
            assertEq(KeccakStreamCipher.decrypt(key, 3, enc), plain, "round trip");
            if (len > 0) {
                assertTrue(keccak256(KeccakStreamCipher.decrypt(key, 4, enc)) != keccak256(plain), "item index ignored");
            }
        }
    }

    /// Block j of the ciphertext is the plaintext XOR keccak256(abi.encode(key, i, j)).
    function test_cipher_keystream_definition() public pure {
        bytes32 key = bytes32(uint256(0xabc));
        bytes memory enc = KeccakStreamCipher.encrypt(key, 7, new bytes(40));
        bytes32 block0;
        bytes32 block1;
        assembly {
            block0 := mload(add(enc, 32))
            block1 := mload(add(enc, 64))
        }
        assertTrue(block0 == keccak256(abi.encode(key, uint256(7), uint256(0))), "block 0");
        assertTrue(block1 == keccak256(abi.encode(key, uint256(7), uint256(1))) & bytes32(~uint256(0) << 192), "block 1");
    }

    /// The bytes past the end of the output's last word are zero (clean ABI encoding).
    function test_cipher_clears_tail() public pure {
        bytes memory enc = KeccakStreamCipher.encrypt(bytes32(uint256(1)), 0, hex"0102030405");
        uint256 word;
        assembly {
            word := mload(add(enc, 32))
        }
        assertTrue(word & ((1 << 216) - 1) == 0, "tail not cleared");
    }
}
