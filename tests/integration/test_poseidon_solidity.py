"""The on-chain Poseidon (contracts/src/crypto/PoseidonT3.sol) equals the circuit's, and the
Solidity stream cipher equals its Python twin: both run on a real anvil through a thin harness.

The Foundry test (contracts/test/crypto) checks fixed vectors; this one draws fresh (seeded)
inputs against the Rust prover and checks a real input commitment end to end.
"""

from __future__ import annotations

import random

import pytest
from eth_utils import keccak

from zkmarket.chain import Anvil, call_raw, compile_source, deploy
from zkmarket.crypto import decrypt, encrypt
from zkmarket.prover import commit_input
from zkmarket.prover.stages import poseidon_hash

pytestmark = pytest.mark.integration

P = 0x30644E72E131A029B85045B68181585D2833E84879B9709143E1F593F0000001

HARNESS = """// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {PoseidonT3} from "contracts/src/crypto/PoseidonT3.sol";
import {KeccakStreamCipher} from "contracts/src/crypto/KeccakStreamCipher.sol";

contract CryptoHarness {
    function hash(uint256[] memory inputs) external pure returns (uint256) {
        return PoseidonT3.hash(inputs);
    }

    function hashBytes(bytes memory data) external pure returns (uint256) {
        return PoseidonT3.hashBytes(data);
    }

    function encrypt(bytes32 key, uint256 item, bytes memory data) external pure returns (bytes memory) {
        return KeccakStreamCipher.encrypt(key, item, data);
    }

    function decrypt(bytes32 key, uint256 item, bytes memory data) external pure returns (bytes memory) {
        return KeccakStreamCipher.decrypt(key, item, data);
    }
}
"""


@pytest.fixture(scope="module")
def harness():
    with Anvil() as node:
        w3 = node.w3()
        compiled = compile_source(HARNESS, filename="CryptoHarness.sol")
        d = deploy(w3, compiled, private_key=node.accounts[0].private_key)
        yield w3.eth.contract(address=d.address, abi=compiled.abi, decode_tuples=True)


def test_hash_matches_prover_on_random_inputs(harness):
    rng = random.Random(20240607)
    edges = [0, 1, 2, P - 1, P - 2, 2**64, 2**253]
    for n in [*range(0, 9), 15, 16, 33]:
        inputs = [rng.choice(edges) if rng.random() < 0.3 else rng.randrange(P) for _ in range(n)]
        assert harness.functions.hash(inputs).call() == poseidon_hash(inputs), f"length {n}"


def test_hash_rejects_non_field_elements(harness):
    selector = keccak(text="PoseidonInputNotInField(uint256,uint256)")[:4]
    for bad in (P, 2**256 - 1):
        data = bytes.fromhex(harness.encode_abi("hash", args=[[1, bad]])[2:])
        res = call_raw(harness.w3, harness.address, data, estimate=False)
        assert not res.success
        assert res.returndata == selector + (1).to_bytes(32, "big") + bad.to_bytes(32, "big")


def test_hashBytes_of_digits_image_is_its_input_commitment(harness, digits_split):
    image = digits_split.test_inputs[0].reshape(-1)
    expected = int(commit_input(image), 16)
    assert harness.functions.hashBytes(bytes(image.tolist())).call() == expected


def test_hashBytes_of_96x96x3_image(harness):
    rng = random.Random(7)
    image = bytes(rng.randrange(256) for _ in range(96 * 96 * 3))
    expected = int(commit_input(list(image)), 16)
    assert harness.functions.hashBytes(image).call() == expected
    gas = harness.functions.hashBytes(image).estimate_gas()
    assert gas < 2**24, f"hashBytes(27648 bytes) needs {gas} gas, over EIP-7825's per-tx cap"


@pytest.mark.parametrize("length", [0, 1, 31, 32, 33, 1000])
def test_cipher_matches_python_twin(harness, length):
    rng = random.Random(length)
    key = bytes(rng.randrange(256) for _ in range(32))
    item = rng.randrange(2**64)
    plain = bytes(rng.randrange(256) for _ in range(length))
    cipher = encrypt(key, item, plain)
    assert harness.functions.encrypt(key, item, plain).call() == cipher
    assert harness.functions.decrypt(key, item, cipher).call() == plain
    assert decrypt(key, item, cipher) == plain
