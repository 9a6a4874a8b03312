"""Aggregation's pure logic: the aggregation circuit's default size, the aggregated proof's
instance layout, refusals made before any native work, the consumer's decoding of aggregated
submissions and its batch checks before it asks the verifier, and proof files written before
aggregation existed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from zkmarket import prover as zp
from zkmarket.consumer.proofs import SCALAR_FIELD, AggregatedBatch, AggregatedChecker, _sent_audit_proofs
from zkmarket.prover.aggregation import ACCUMULATOR_INSTANCES, default_k

CIRCUIT = zp.CompiledCircuit(json.dumps({"params": {"k": 13}, "num_instances": 3}))


def _proof(**overrides) -> zp.Proof:
    fields = {"proof": "0x00", "instances": ["0x1", "0x2", "0x3"], "logits": [], "predicted_class": 3,
              "circuit_id": CIRCUIT.id, "transcript": "poseidon"}
    return zp.Proof(**{**fields, **overrides})


def _agg_keys(batch: int = 2) -> zp.AggregationKeys:
    srs = zp.Srs(path=Path("/nonexistent"), sha256="00", k=21, insecure=True, origin="test")
    settings = json.dumps({"batch": batch, "params": {"degree": 21}, "num_instances": 12 + 3 * batch})
    return zp.AggregationKeys(settings, Path("/nonexistent/pk"), Path("/nonexistent/vk"), srs, CIRCUIT.id)


def test_default_k_keeps_about_five_advice_columns():
    assert [default_k(b) for b in (1, 2, 3, 4, 16)] == [20, 21, 22, 22, 24]


def test_aggregated_proof_layout():
    instances = [hex(i) for i in range(ACCUMULATOR_INSTANCES)] + ["0xa", "0xb", "0xc", "0xa", "0xb", "0xc"]
    p = zp.AggregatedProof("0x00", instances, 1, "agg", CIRCUIT.id)
    assert p.accumulator == list(range(ACCUMULATOR_INSTANCES))
    assert p.inner_instances(3) == [["0xa", "0xb", "0xc"]]  # the padding slot is not an example


@pytest.mark.parametrize("proofs, error, match", [
    ([], zp.InputError, "1 to 2"),
    ([_proof()] * 3, zp.InputError, "1 to 2"),
    ([_proof(), _proof(circuit_id="other")], zp.ArtifactError, "proof 1 is for circuit other"),
    ([_proof(transcript="keccak")], zp.ProofError, "made for the on-chain verifier"),
])
def test_aggregate_refuses_before_proving(proofs, error, match):
    keys = zp.Keys(Path("/nonexistent/pk"), Path("/nonexistent/vk"), _agg_keys().srs)
    with pytest.raises(error, match=match):
        zp.aggregate(CIRCUIT, keys, _agg_keys(), proofs)


def test_aggregate_refuses_keys_of_another_circuit():
    other = zp.CompiledCircuit(json.dumps({"params": {"k": 14}, "num_instances": 3}))
    keys = zp.Keys(Path("/nonexistent/pk"), Path("/nonexistent/vk"), _agg_keys().srs)
    with pytest.raises(zp.ArtifactError, match="aggregation keys are for circuit"):
        zp.aggregate(other, keys, _agg_keys(), [_proof()])


def test_setup_aggregation_refuses_batch_sizes_the_registry_refuses():
    keys = zp.Keys(Path("/nonexistent/pk"), Path("/nonexistent/vk"), _agg_keys().srs)
    for batch in (0, 65):
        with pytest.raises(zp.InputError, match="batch size"):
            zp.setup_aggregation(CIRCUIT, keys, batch)


def test_proof_files_without_a_transcript_are_single_proofs(tmp_path):
    fields = {"proof": "0x00", "instances": ["0x1"], "logits": [1], "predicted_class": 0, "circuit_id": "c"}
    (tmp_path / "old.json").write_text(json.dumps(fields))
    assert zp.Proof.load(tmp_path / "old.json").transcript == "keccak"
    (tmp_path / "bad.json").write_text(json.dumps({**fields, "transcript": "sha256"}))
    with pytest.raises(zp.ArtifactError, match="types"):
        zp.Proof.load(tmp_path / "bad.json")


def test_consumer_reads_an_aggregated_submission_per_example():
    examples = [(4, b"\x01" * 32, 7, 7, []), (9, b"\x02" * 32, 1, 2, [])]
    sent = dict(_sent_audit_proofs("submitAggregatedProofs", {"examples": examples, "agg": ([5] * 12, b"\xaa")}))
    assert sorted(sent) == [4, 9]
    batch = sent[4]["batch"]
    assert batch is sent[9]["batch"] and batch.accumulator == (5,) * 12 and batch.proof == b"\xaa"
    assert (sent[9]["label"], sent[9]["predictedClass"]) == (1, 2)
    assert _sent_audit_proofs("finalize", {}) == []


class _NoChain:
    """A checker whose verifier must never be asked: the batch is refused before the eth_call."""

    def __new__(cls, batch_size: int):
        checker = object.__new__(AggregatedChecker)
        checker.client, checker.weight_commitment, checker.batch_size = None, b"\x00" * 32, batch_size
        checker.verifier, checker.problem, checker._answers = "0x" + "00" * 20, None, {}
        return checker


def test_consumer_refuses_malformed_batches_before_asking_the_verifier():
    example = {"inputCommitment": b"\x01" * 32, "predictedClass": 3}
    too_many = AggregatedBatch((example,) * 3, (0,) * 12, b"")
    assert "1 to 2" in _NoChain(2)(too_many)
    out_of_field = AggregatedBatch((example,), (SCALAR_FIELD,) + (0,) * 11, b"")
    assert "not a field element" in _NoChain(2)(out_of_field)


def test_consumer_reads_aggregated_answers_of_rounds_and_requests():
    from zkmarket.consumer.answers import sent_answers

    answers = [{"index": 3, "inputCommitment": b"\x01" * 32, "predictedClass": 5, "inputProof": [b"\x02" * 32],
                "predictionProof": []},
               {"index": 8, "inputCommitment": b"\x03" * 32, "predictedClass": 1, "documentProof": [],
                "resultProof": [b"\x04" * 32]}]
    agg = {"accumulator": [7] * 12, "proof": b"\xbb"}
    sent = dict(sent_answers("answerAggregated", {"answers": answers, "agg": agg}))
    assert sorted(sent) == [3, 8]
    assert sent[3].batch is sent[8].batch and sent[3].batch.proof == b"\xbb" and sent[3].proof == b""
    assert (sent[3].leaf_proof, sent[8].result_proof) == ([b"\x02" * 32], [b"\x04" * 32])
    assert sent_answers("settle", {}) == []
