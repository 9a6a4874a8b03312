// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {PoseidonT3} from "../../src/crypto/PoseidonT3.sol";
import {KeccakStreamCipher} from "../../src/crypto/KeccakStreamCipher.sol";
import {PoseidonVectors} from "./PoseidonVectors.sol";

/// @notice PoseidonT3 against vectors from the Rust prover (scripts/gen_poseidon_vectors.py),
/// its field check, its gas (printed with `forge test -vv`), the stream cipher's round trip, and
/// the chunked entry points (absorbBytes, decryptAt) against the whole-item ones.
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
        require(used <= 150_000, "decryption costs about 155 gas per 32 bytes");
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

    // ---------------------------------------------------------------- chunked entry points

    /// absorbBytes over pieces (all but the last a multiple of 62 bytes, as DataTransfer's
    /// contest chunks) equals hashBytes of the whole, at lengths around the element boundaries.
    function test_absorbBytes_pieces_equal_hashBytes() public pure {
        uint8[15] memory lens = [0, 1, 30, 31, 32, 61, 62, 63, 92, 93, 123, 124, 125, 155, 186];
        for (uint256 k; k < lens.length; ++k) {
            bytes memory data = _bytes(k, lens[k]);
            uint256 whole = PoseidonT3.hashBytes(data);
            // One cut at every multiple of 62, then every piece 62 bytes (the last one shorter).
            for (uint256 cut; cut <= data.length; cut += 62) {
                assertEq(_absorbCut(data, cut), whole, "one cut");
            }
            assertEq(_absorbEvery62(data), whole, "62-byte pieces");
        }
    }

    /// The same for random lengths and random cuts (each non-final piece 62 * k bytes, k >= 1).
    function testFuzz_absorbBytes_pieces_equal_hashBytes(uint256 seed) public pure {
        uint256 len = seed % 400;
        bytes memory data = _bytes(seed, len);
        (uint256 s0, uint256 s1, uint256 s2) = (PoseidonT3.INITIAL_S0, 0, 0);
        uint256 off;
        for (uint256 r = seed;;) {
            r = uint256(keccak256(abi.encode(r)));
            uint256 pairs = r % ((len - off) / 62 + 1);
            if (pairs == 0) break;
            (s0, s1, s2) = PoseidonT3.absorbBytes(s0, s1, s2, _slice(data, off, off + 62 * pairs), false);
            off += 62 * pairs;
        }
        (, s1,) = PoseidonT3.absorbBytes(s0, s1, s2, _slice(data, off, len), true);
        assertEq(s1, PoseidonT3.hashBytes(data), "pieces vs whole");
    }

    /// decryptAt of a 32-byte-aligned piece (any length) equals the same bytes of decrypt of
    /// the whole item, and clears the bytes past its end.
    function testFuzz_decryptAt_equals_decrypt_slice(uint256 seed) public view {
        uint256 len = seed % 300;
        bytes memory ciphertext = _bytes(seed, len);
        bytes32 key = keccak256(abi.encode(seed, "key"));
        uint256 itemIndex = uint256(keccak256(abi.encode(seed, "index")));
        bytes memory whole = KeccakStreamCipher.decrypt(key, itemIndex, ciphertext);
        uint256 r = uint256(keccak256(abi.encode(seed, "piece")));
        uint256 firstBlock = r % (len / 32 + 1);
        uint256 from = firstBlock * 32;
        uint256 to = from + (r >> 128) % (len - from + 1);
        bytes memory piece = this.decryptAtExternal(key, itemIndex, firstBlock, _slice(ciphertext, from, to));
        assertEq(piece, _slice(whole, from, to), "piece vs whole");
    }

    /// @dev decryptAt takes calldata; checks the cleared tail before the ABI encoder pads it.
    function decryptAtExternal(bytes32 key, uint256 itemIndex, uint256 firstBlock, bytes calldata piece)
        external
        pure
        returns (bytes memory out)
    {
        out = KeccakStreamCipher.decryptAt(key, itemIndex, firstBlock, piece);
        uint256 tail = out.length % 32;
        if (tail != 0) {
            uint256 word;
            assembly ("memory-safe") {
                word := mload(add(add(out, 32), sub(mload(out), tail)))
            }
            assertTrue(word & ((1 << (8 * (32 - tail))) - 1) == 0, "decryptAt tail not cleared");
        }
    }

    function _absorbCut(bytes memory data, uint256 cut) private pure returns (uint256 h) {
        (uint256 s0, uint256 s1, uint256 s2) =
            PoseidonT3.absorbBytes(PoseidonT3.INITIAL_S0, 0, 0, _slice(data, 0, cut), false);
        (, h,) = PoseidonT3.absorbBytes(s0, s1, s2, _slice(data, cut, data.length), true);
    }

    function _absorbEvery62(bytes memory data) private pure returns (uint256 h) {
        (uint256 s0, uint256 s1, uint256 s2) = (PoseidonT3.INITIAL_S0, 0, 0);
        uint256 off;
        for (; off + 62 <= data.length; off += 62) {
            (s0, s1, s2) = PoseidonT3.absorbBytes(s0, s1, s2, _slice(data, off, off + 62), false);
        }
        (, h,) = PoseidonT3.absorbBytes(s0, s1, s2, _slice(data, off, data.length), true);
    }

    /// @dev `len` pseudo-random bytes; the bytes past the end of the last word are left dirty.
    function _bytes(uint256 seed, uint256 len) private pure returns (bytes memory data) {
        data = new bytes(len);
        for (uint256 w; w * 32 < len; ++w) {
            bytes32 v = keccak256(abi.encode(seed, w));
            assembly ("memory-safe") {
                mstore(add(add(data, 32), mul(w, 32)), v)
            }
        }
    }

    function _slice(bytes memory data, uint256 from, uint256 to) private pure returns (bytes memory out) {
        out = new bytes(to - from);
        for (uint256 i = from; i < to; ++i) {
            out[i - from] = data[i];
        }
    }
}
