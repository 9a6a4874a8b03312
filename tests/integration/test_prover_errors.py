"""Bad input to the prover gives a clear, typed error naming the problem, never a panic."""

from __future__ import annotations

import json

import pytest

from zkmarket import prover as zp
from zkmarket.model.data import DIGITS_MODEL as MODEL

pytestmark = pytest.mark.integration


def test_malformed_model_file(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(zp.ModelError, match="malformed JSON"):
        zp.compile_model(bad)


def test_model_with_out_of_range_weight(tmp_path):
    doc = json.loads(MODEL.read_text())
    doc["layers"][0]["weights"][0][0][0][0] = 300
    with pytest.raises(zp.ModelError, match=r"layer 0: weights\[0\] = 300"):
        zp.compile_model(doc)


def test_wrong_input_shape(digits_circuit, digits_keys):
    with pytest.raises(zp.InputError, match="the model expects"):
        zp.prove(digits_circuit, digits_keys, [0] * 10)


def test_input_value_out_of_range(digits_circuit, digits_keys):
    with pytest.raises(zp.InputError, match=r"input\[5\] = 256 is not a byte"):
        zp.prove(digits_circuit, digits_keys, [0] * 5 + [256] + [0] * 58)


def test_non_integer_input(digits_circuit, digits_keys):
    with pytest.raises(zp.InputError, match="integers"):
        zp.prove(digits_circuit, digits_keys, [0.5] * 64)


def test_srs_with_wrong_hash_is_refused(digits_circuit):
    srs = zp.dev_srs(digits_circuit.k)
    with pytest.raises(zp.SrsError, match="expected"):
        zp.load_srs(srs.path, "00" * 32, srs.k)


def test_published_srs_file_loads_when_its_hash_matches(digits_circuit):
    dev = zp.dev_srs(digits_circuit.k + 1)  # a larger file is shrunk to the circuit's size
    srs = zp.load_srs(dev.path, dev.sha256, dev.k)
    assert not srs.insecure
    assert zp.setup(digits_circuit, srs).vk_path.exists()


def test_garbage_proof_is_rejected_not_crashing(digits_circuit, digits_keys, digits_proof):
    forged = zp.Proof("0x1234", digits_proof.instances, [], 0, digits_proof.circuit_id)
    assert not zp.verify(digits_circuit, digits_keys, forged)
    with pytest.raises(zp.ProofError, match="not hex"):
        zp.verify(digits_circuit, digits_keys, zp.Proof("0xzz", digits_proof.instances, [], 0,
                                                        digits_proof.circuit_id))


def test_wrong_number_of_instances(digits_circuit, digits_keys, digits_proof):
    forged = zp.Proof(digits_proof.proof, digits_proof.instances[:2], [], 0, digits_proof.circuit_id)
    with pytest.raises(zp.ProofError, match="3 public instances, got 2"):
        zp.verify(digits_circuit, digits_keys, forged)
