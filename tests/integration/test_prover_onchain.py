"""A real halo2 proof of the digits CNN, verified natively and through the generated Solidity
verifier deployed on anvil; any changed instance or flipped proof byte is rejected."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
from click.testing import CliRunner

from zkmarket import prover as zp
from zkmarket.chain import EIP170_CODE_SIZE_LIMIT, verify_onchain
from zkmarket.cli import main
from zkmarket.model import qmodel, reference
from zkmarket.model.data import DIGITS_MODEL as MODEL
from zkmarket.prover import stages

pytestmark = pytest.mark.integration


def _bump(hex_value: str) -> str:
    return hex(int(hex_value, 16) + 1)


def test_proof_public_instances_are_commitments_then_class(digits_proof, digits_split):
    image = digits_split.test_inputs[0]
    _, expected_class = reference.evaluate(qmodel.load(MODEL), image)
    assert digits_proof.input_commitment == zp.commit_input(image)
    assert digits_proof.weight_commitment == zp.commit_weights(MODEL)
    assert digits_proof.outputs == [expected_class]


def test_proof_verifies_natively(digits_circuit, digits_keys, digits_proof):
    assert zp.verify(digits_circuit, digits_keys, digits_proof)


def test_verifier_fits_the_contract_size_limit(verifier):
    assert 0 < verifier.code_size <= EIP170_CODE_SIZE_LIMIT


def test_proof_verifies_on_chain(anvil, verifier, digits_proof):
    result = verify_onchain(anvil.w3(), verifier.address, stages.calldata(digits_proof),
                            private_key=anvil.accounts[0].private_key)
    assert result.accepted and result.gas_used > 21_000


@pytest.mark.parametrize("index", [0, 1, 2])
def test_changed_instance_is_rejected_natively_and_on_chain(anvil, verifier, digits_circuit, digits_keys,
                                                            digits_proof, index):
    instances = list(digits_proof.instances)
    instances[index] = _bump(instances[index])
    forged = zp.Proof(digits_proof.proof, instances, digits_proof.logits, digits_proof.predicted_class,
                      digits_proof.circuit_id)
    assert not zp.verify(digits_circuit, digits_keys, forged)
    assert not verify_onchain(anvil.w3(), verifier.address, stages.calldata(forged)).accepted


@pytest.mark.parametrize("position", [0, 100, 1000, -1])
def test_flipped_proof_byte_is_rejected_natively_and_on_chain(anvil, verifier, digits_circuit, digits_keys,
                                                              digits_proof, position):
    raw = bytearray(bytes.fromhex(digits_proof.proof[2:]))
    raw[position] ^= 0x01
    forged = zp.Proof("0x" + raw.hex(), digits_proof.instances, digits_proof.logits,
                      digits_proof.predicted_class, digits_proof.circuit_id)
    assert not zp.verify(digits_circuit, digits_keys, forged)
    assert not verify_onchain(anvil.w3(), verifier.address, stages.calldata(forged)).accepted


def test_circuit_inference_is_bit_exact_with_the_python_reference_on_the_test_set(digits_split):
    model = qmodel.load(MODEL)
    for image in digits_split.test_inputs:
        assert zp.evaluate(MODEL, image) == reference.evaluate(model, image)


@pytest.mark.parametrize("visibility,output", [("hidden-input", "logits"), ("hidden-weights", "class")])
def test_other_visibility_modes_prove_and_verify(digits_split, visibility, output):
    circuit = zp.compile_model(MODEL, visibility, output)
    keys = zp.setup(circuit)
    image = digits_split.test_inputs[1]
    proof = zp.prove(circuit, keys, image)
    logits, cls = reference.evaluate(qmodel.load(MODEL), image)
    assert proof.outputs == (logits if output == "logits" else [cls])
    assert proof.instances[:2] == [zp.commit_input(image), zp.commit_weights(MODEL)]
    assert zp.verify(circuit, keys, proof)


def test_proof_for_another_circuit_is_refused(digits_circuit, digits_keys, digits_proof):
    other = zp.compile_model(MODEL, "hidden-input", "class")
    with pytest.raises(zp.ArtifactError, match="proof is for circuit"):
        zp.verify(other, zp.setup(other), digits_proof)
    relabelled = zp.Proof(digits_proof.proof, digits_proof.instances, digits_proof.logits,
                          digits_proof.predicted_class, other.id)
    assert not zp.verify(other, zp.setup(other), relabelled)


R = 21888242871839275222246405745257275088548364400416034343698204186575808495617  # BN254 scalar field


def _mutants(proof: zp.Proof, count: int, seed: int = 7) -> list[tuple[str, zp.Proof]]:
    """`count` random mutants of `proof`: bit flips, truncations, extensions, changed instances
    (kept canonical, below r: the contracts refuse the others before any verifier runs)."""
    rng = random.Random(seed)
    raw = bytes.fromhex(proof.proof[2:])
    out = []
    for i in range(count):
        data, instances = bytearray(raw), list(proof.instances)
        kind = ("flip", "truncate", "extend", "instance")[i % 4]
        if kind == "flip":
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        elif kind == "truncate":
            del data[rng.randrange(len(data)):]
        elif kind == "extend":
            data += bytes(rng.randrange(256) for _ in range(rng.choice([1, 31, 32, 64, rng.randrange(1, 200)])))
        else:
            j = rng.randrange(len(instances))
            instances[j] = hex((int(instances[j], 16) + rng.randrange(1, R)) % R)
        out.append((kind, zp.Proof("0x" + data.hex(), instances, proof.logits, proof.predicted_class,
                                   proof.circuit_id)))
    return out


def test_every_mutant_of_a_proof_is_refused_natively_and_on_chain(anvil, verifier, digits_circuit, digits_keys,
                                                                  digits_proof):
    assert zp.verify(digits_circuit, digits_keys, digits_proof)
    accepted = []
    for kind, mutant in _mutants(digits_proof, 300):
        if zp.verify(digits_circuit, digits_keys, mutant):
            accepted.append(("native", kind, mutant.proof[-80:]))
        if verify_onchain(anvil.w3(), verifier.address, stages.calldata(mutant)).accepted:
            accepted.append(("on chain", kind, mutant.proof[-80:]))
    assert accepted == []


def test_padded_proof_is_invalid_for_the_cli(tmp_path, digits_circuit, digits_proof):
    circuit, proof = tmp_path / "circuit.json", tmp_path / "proof.json"
    digits_circuit.save(circuit)
    padded = json.loads(digits_proof.to_json())
    padded["proof"] += "00" * 32
    proof.write_text(json.dumps(padded))
    result = CliRunner(mix_stderr=False).invoke(main, ["prover", "verify", str(circuit), str(proof)])
    assert result.exit_code == 1 and result.stdout.strip() == "INVALID"


@pytest.fixture(scope="module")
def reduced_mobilenet(tmp_path_factory):
    """MobileNet v2 at width 0.35 on 32x32 inputs with 10 classes: the full architecture (17
    blocks, 52 convolutions) at a size a test can prove."""
    from zkmarket.model.mobilenet import benchmark_model

    model = benchmark_model(0.35, 32, classes=10)
    path = tmp_path_factory.mktemp("mobilenet") / "mobilenet.json"
    qmodel.save(model, path)
    return model, path


def test_reduced_mobilenet_inference_is_bit_exact_with_the_reference(reduced_mobilenet):
    model, path = reduced_mobilenet
    for x in np.random.default_rng(11).integers(0, 256, (3, 32, 32, 3)):
        assert zp.evaluate(path, x) == reference.evaluate(model, x)


def test_reduced_mobilenet_proves_with_freivalds_and_verifies_on_chain(anvil, reduced_mobilenet):
    from zkmarket.chain import deploy_verifier

    model, path = reduced_mobilenet
    circuit = zp.compile_model(path, "hidden-input", "class")
    s = stages.stats(circuit)
    assert s["freivalds_layers"] == 35 and s["phases"] == 2
    keys = zp.setup(circuit)
    image = np.random.default_rng(12).integers(0, 256, (32, 32, 3))
    proof = zp.prove(circuit, keys, image)
    assert proof.outputs == [reference.evaluate(model, image)[1]]
    assert proof.instances[:2] == [zp.commit_input(image), zp.commit_weights(path)]
    assert zp.verify(circuit, keys, proof)
    verifier = deploy_verifier(anvil.w3(), zp.export_verifier(circuit, keys),
                               private_key=anvil.accounts[0].private_key)
    assert verify_onchain(anvil.w3(), verifier.address, stages.calldata(proof)).accepted
    forged = zp.Proof(proof.proof, [proof.instances[0], proof.instances[1], hex((proof.outputs[0] + 1) % 10)],
                      proof.logits, proof.predicted_class, proof.circuit_id)
    assert not zp.verify(circuit, keys, forged)
    assert not verify_onchain(anvil.w3(), verifier.address, stages.calldata(forged)).accepted


def test_freivalds_and_byte_pair_proof_verifies_on_chain_and_its_mutants_do_not(anvil, digits_split):
    """Freivalds' test draws its challenges in a second proof phase, and the byte-pair table
    tags its lookups: the generated EVM verifier must replay both exactly as the native one."""
    from zkmarket.chain import deploy_verifier

    circuit = zp.compile_model(MODEL, "hidden-both", "class", matmul="freivalds", byte_pairs=True)
    s = stages.stats(circuit)
    assert s["phases"] == 2 and s["freivalds_layers"] == 5 and s["k"] == 17
    assert json.loads(circuit.settings_json)["params"]["pairs"] is True
    keys = zp.setup(circuit)
    image = digits_split.test_inputs[2]
    proof = zp.prove(circuit, keys, image)
    assert proof.outputs == [reference.evaluate(qmodel.load(MODEL), image)[1]]
    assert zp.verify(circuit, keys, proof)
    verifier = deploy_verifier(anvil.w3(), zp.export_verifier(circuit, keys),
                               private_key=anvil.accounts[0].private_key)
    assert verify_onchain(anvil.w3(), verifier.address, stages.calldata(proof)).accepted
    accepted = [(where, kind) for kind, mutant in _mutants(proof, 40, seed=3)
                for where, ok in (("native", zp.verify(circuit, keys, mutant)),
                                  ("on chain", verify_onchain(anvil.w3(), verifier.address,
                                                              stages.calldata(mutant)).accepted)) if ok]
    assert accepted == []
