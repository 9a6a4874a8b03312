"""Aggregation's pure logic: the aggregation tree's default levels, how a batch is split and
padded over them (the native prover replaced by a recorder), the aggregated proof's instance
layout, refusals made before any native work, the consumer's decoding of aggregated
submissions and its batch checks before it asks the verifier (including an aggregation verifier
registered at or after the job's opening, refused as the contracts refuse it), and proof files
written before aggregation existed."""

from __future__ import annotations

import json
import types
from pathlib import Path

import pytest
from eth_utils import keccak

from zkmarket import prover as zp
from zkmarket.consumer.proofs import (
    SCALAR_FIELD,
    AggregatedBatch,
    AggregatedChecker,
    _sent_audit_proofs,
    aggregation_terms_problem,
)
from zkmarket.participants.audit_common import Aggregation
from zkmarket.prover import aggregation
from zkmarket.prover.aggregation import ACCUMULATOR_INSTANCES, default_levels, level_k, parse_levels

CIRCUIT = zp.CompiledCircuit(json.dumps({"params": {"k": 13}, "num_instances": 3}))


def _proof(**overrides) -> zp.Proof:
    fields = {"proof": "0x00", "instances": ["0x1", "0x2", "0x3"], "logits": [], "predicted_class": 3,
              "circuit_id": CIRCUIT.id, "transcript": "poseidon"}
    return zp.Proof(**{**fields, **overrides})


def _level(batch: int, k: int = 21, num_instances: int | None = None) -> zp.AggregationLevel:
    srs = zp.Srs(path=Path("/nonexistent"), sha256="00", k=k, insecure=True, origin="test")
    settings = json.dumps({"batch": batch, "params": {"degree": k}, "num_instances": num_instances or 12 + 3 * batch})
    return zp.AggregationLevel(settings, Path(f"/nonexistent/pk{batch}"), Path("/nonexistent/vk"), srs)


def _agg_keys(batch: int = 2) -> zp.AggregationKeys:
    return zp.AggregationKeys((_level(batch),), CIRCUIT.id)


def test_level_k_keeps_about_five_advice_columns():
    assert [level_k(b) for b in (1, 2, 3, 4)] == [20, 21, 22, 22]


def test_default_levels_are_one_circuit_up_to_four_then_a_tree_closed_by_compression():
    assert default_levels(1) == [(1, 20)] and default_levels(4) == [(4, 22)]
    assert default_levels(8) == [(4, 22), (2, 21), (1, 22)]
    assert default_levels(16) == [(4, 22), (4, 22), (1, 22)]
    assert default_levels(64) == [(4, 22), (4, 22), (4, 22), (1, 22)]
    with pytest.raises(zp.InputError, match="give the levels"):
        default_levels(6)


def test_the_agent_keeps_time_for_one_full_tree_before_the_deadline():
    from zkmarket.agent.guarded_audit import MARGIN_PER_TREE_PROOF, GuardedAuditJobs

    assert [_tree(t).tree_proofs for t in ([4, 4, 1], [4, 2, 1], [2], [2, 2, 2])] == [6, 4, 1, 7]
    assert GuardedAuditJobs.margin(types.SimpleNamespace(aggregation_margin=None), _tree([4, 4, 1])) \
        == 6 * MARGIN_PER_TREE_PROOF
    assert GuardedAuditJobs.margin(types.SimpleNamespace(aggregation_margin=60), _tree([4, 4, 1])) == 60


def test_parse_levels():
    assert parse_levels("4:22,4:22,1:22") == [(4, 22), (4, 22), (1, 22)]
    for bad in ("4", "4:x", "0:22", "4:30", ""):
        with pytest.raises(zp.InputError):
            parse_levels(bad)


def test_setup_aggregation_refuses_levels_that_do_not_make_the_batch():
    keys = zp.Keys(Path("/nonexistent/pk"), Path("/nonexistent/vk"), _level(1).srs)
    with pytest.raises(zp.InputError, match="aggregate 8 proofs, not 16"):
        zp.setup_aggregation(CIRCUIT, keys, 16, levels=[(4, 22), (2, 21)])


class _Recorder:
    """Stands in for the native aggregation: a proof is the list of its inputs' names, its
    instances the accumulator then its inputs' non-accumulator instances (as the circuit does)."""

    def __init__(self):
        self.calls = []

    def __call__(self, settings_json, srs_path, srs_sha, pk_path, inner_json, inner_is_aggregation, inner_srs,
                 inner_sha, inner_vk, group, evm):
        self.calls.append((json.loads(settings_json)["batch"], [p for p, _ in group], evm))
        skip = ACCUMULATOR_INSTANCES if inner_is_aggregation else 0
        instances = ["0xacc"] * ACCUMULATOR_INSTANCES + [x for _, inst in group for x in inst[skip:]]
        return json.dumps({"proof": "(" + " ".join(p for p, _ in group) + ")", "instances": instances})


def _tree(levels: list[int]) -> zp.AggregationKeys:
    per_example, made = 3, []
    examples = 1
    for b in levels:
        examples *= b
        made.append(_level(b, num_instances=12 + per_example * examples))
    return zp.AggregationKeys(tuple(made), CIRCUIT.id)


def test_a_tree_pads_every_level_with_the_last_example_only(monkeypatch, tmp_path):
    recorder = _Recorder()
    monkeypatch.setattr(aggregation.native, "aggregate_proofs", recorder)
    keys = zp.Keys(Path("/nonexistent/pk"), Path("/nonexistent/vk"), _level(1).srs)
    proofs = [_proof(proof=f"p{i}", instances=[f"0x{i}a", f"0x{i}b", f"0x{i}c"]) for i in range(6)]
    out = zp.aggregate(CIRCUIT, keys, _tree([4, 4, 1]), proofs, work_dir=tmp_path)
    assert out.count == 6 and out.inner_instances(3) == [p.instances for p in proofs]
    body = out.instances[ACCUMULATOR_INSTANCES:]
    assert len(body) == 16 * 3 and body[6 * 3:] == proofs[-1].instances * 10, "padding: the last example"
    assert recorder.calls == [
        (4, ["p0", "p1", "p2", "p3"], False),
        (4, ["p4", "p5", "p5", "p5"], False),
        (4, ["p5", "p5", "p5", "p5"], False),  # the padding node of level 2, made once
        (4, ["(p0 p1 p2 p3)", "(p4 p5 p5 p5)", "(p5 p5 p5 p5)", "(p5 p5 p5 p5)"], False),
        (1, ["((p0 p1 p2 p3) (p4 p5 p5 p5) (p5 p5 p5 p5) (p5 p5 p5 p5))"], True),  # only the root is for the EVM
    ]
    # Killed and run again: every node is read back from the work dir, nothing is proved twice.
    again = _Recorder()
    monkeypatch.setattr(aggregation.native, "aggregate_proofs", again)
    assert zp.aggregate(CIRCUIT, keys, _tree([4, 4, 1]), proofs, work_dir=tmp_path) == out
    assert again.calls == []


def test_a_stored_node_that_does_not_verify_is_made_again(monkeypatch, tmp_path):
    monkeypatch.setattr(aggregation.native, "aggregate_proofs", _Recorder())
    keys = zp.Keys(Path("/nonexistent/pk"), Path("/nonexistent/vk"), _level(1).srs)
    proofs = [_proof(proof=f"p{i}") for i in range(4)]
    out = zp.aggregate(CIRCUIT, keys, _tree([2, 2]), proofs, work_dir=tmp_path)
    files = {json.loads(f.read_text())[0]: f for f in tmp_path.iterdir()}
    files["(p2 p3)"].write_text(json.dumps(["tampered", ["0x1"]]))  # a changed first-level node
    files["((p0 p1) (p2 p3))"].write_text('["((p0 p1)')  # the root, cut short
    checked = []

    def verify(settings_json, srs_path, srs_sha, vk_path, proof, instances, evm):
        checked.append((proof, evm))
        return proof != "tampered"

    monkeypatch.setattr(aggregation.native, "verify_aggregated", verify)
    again = _Recorder()
    monkeypatch.setattr(aggregation.native, "aggregate_proofs", again)
    assert zp.aggregate(CIRCUIT, keys, _tree([2, 2]), proofs, work_dir=tmp_path) == out
    assert checked == [("tampered", False)], "files this process wrote are not verified again"
    assert [c[1] for c in again.calls] == [["p2", "p3"], ["(p0 p1)", "(p2 p3)"]]


def test_a_tree_can_be_proved_a_node_per_call(monkeypatch, tmp_path):
    recorder = _Recorder()
    monkeypatch.setattr(aggregation.native, "aggregate_proofs", recorder)
    keys = zp.Keys(Path("/nonexistent/pk"), Path("/nonexistent/vk"), _level(1).srs)
    proofs = [_proof(proof=f"p{i}") for i in range(4)]
    calls = 0
    while True:
        calls += 1
        try:
            out = zp.aggregate(CIRCUIT, keys, _tree([2, 2]), proofs, work_dir=tmp_path, max_new_nodes=1)
            break
        except zp.AggregationPending:
            assert len(recorder.calls) == calls
    assert calls == 3 and len(recorder.calls) == 3 and out.count == 4
    with pytest.raises(zp.InputError, match="work_dir"):
        zp.aggregate(CIRCUIT, keys, _tree([2, 2]), proofs, max_new_nodes=1)


def test_padding_below_a_full_level_is_made_from_the_last_example(monkeypatch):
    recorder = _Recorder()
    monkeypatch.setattr(aggregation.native, "aggregate_proofs", recorder)
    keys = zp.Keys(Path("/nonexistent/pk"), Path("/nonexistent/vk"), _level(1).srs)
    proofs = [_proof(proof=f"p{i}") for i in range(4)]
    zp.aggregate(CIRCUIT, keys, _tree([2, 2, 2]), proofs)
    assert [c[1] for c in recorder.calls] == [
        ["p0", "p1"], ["p2", "p3"], ["(p0 p1)", "(p2 p3)"],
        ["p3", "p3"], ["(p3 p3)", "(p3 p3)"],  # level 3's padding: level 2 of level 1 of the last proof
        ["((p0 p1) (p2 p3))", "((p3 p3) (p3 p3))"]]


def test_a_full_tree_needs_no_padding_nodes(monkeypatch):
    recorder = _Recorder()
    monkeypatch.setattr(aggregation.native, "aggregate_proofs", recorder)
    keys = zp.Keys(Path("/nonexistent/pk"), Path("/nonexistent/vk"), _level(1).srs)
    proofs = [_proof(proof=f"p{i}") for i in range(4)]
    zp.aggregate(CIRCUIT, keys, _tree([2, 2]), proofs)
    assert [c[1] for c in recorder.calls] == [["p0", "p1"], ["p2", "p3"], ["(p0 p1)", "(p2 p3)"]]


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
    keys = zp.Keys(Path("/nonexistent/pk"), Path("/nonexistent/vk"), _level(1).srs)
    with pytest.raises(error, match=match):
        zp.aggregate(CIRCUIT, keys, _agg_keys(), proofs)


def test_aggregate_refuses_keys_of_another_circuit():
    other = zp.CompiledCircuit(json.dumps({"params": {"k": 14}, "num_instances": 3}))
    keys = zp.Keys(Path("/nonexistent/pk"), Path("/nonexistent/vk"), _level(1).srs)
    with pytest.raises(zp.ArtifactError, match="aggregation keys are for circuit"):
        zp.aggregate(other, keys, _agg_keys(), [_proof()])


def test_setup_aggregation_refuses_batch_sizes_the_registry_refuses():
    keys = zp.Keys(Path("/nonexistent/pk"), Path("/nonexistent/vk"), _level(1).srs)
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
        checker.registered_at, checker.opened_at = 100, 101
        checker.verifier, checker.problem, checker._answers = "0x" + "00" * 20, None, {}
        return checker


def test_consumer_refuses_malformed_batches_before_asking_the_verifier():
    example = {"inputCommitment": b"\x01" * 32, "predictedClass": 3}
    too_many = AggregatedBatch((example,) * 3, (0,) * 12, b"")
    assert "1 to 2" in _NoChain(2)(too_many)
    out_of_field = AggregatedBatch((example,), (SCALAR_FIELD,) + (0,) * 11, b"")
    assert "not a field element" in _NoChain(2)(out_of_field)


VERIFIER_CODE = b"\x60\x00"


def _chain(batch_size: int, registered_at: int):
    """A client whose registry reports these aggregation terms (verifier code as registered)."""
    verifier = "0x" + "11" * 20
    terms = (verifier, keccak(VERIFIER_CODE), batch_size, registered_at)
    functions = types.SimpleNamespace(aggregationTerms=lambda model_id: types.SimpleNamespace(call=lambda: terms))
    eth = types.SimpleNamespace(get_code=lambda address: VERIFIER_CODE)
    return types.SimpleNamespace(registry=types.SimpleNamespace(functions=functions), w3=types.SimpleNamespace(eth=eth))


def test_consumer_refuses_batches_of_a_job_opened_before_the_aggregation_verifier():
    """As InferenceProofs.batchTerms: the verifier must be registered strictly before the job was
    opened (the same block counts as after); every batch of such a job is refused by name."""
    example = {"inputCommitment": b"\x01" * 32, "predictedClass": 3}
    batch = AggregatedBatch((example,) * 3, (0,) * 12, b"")
    for opened_at in (1000, 999):  # the same block as the registration, or before it
        checker = AggregatedChecker(_chain(2, 1000), 1, b"\x00" * 32, opened_at)
        assert (checker.registered_at, checker.opened_at) == (1000, opened_at)
        assert "not among the job's terms" in checker(batch) and "registered (block time 1000)" in checker(batch)
    later = AggregatedChecker(_chain(2, 1000), 1, b"\x00" * 32, 1001)
    assert later.problem is None and "1 to 2" in later(batch)  # on to the batch's own checks
    assert aggregation_terms_problem(0, 0, 5) == "the model has no aggregation verifier"
    assert aggregation_terms_problem(4, 5, 5) is not None and aggregation_terms_problem(4, 4, 5) is None
    # MP's agent mirrors it: an audit opened before the registration takes single proofs.
    assert [Aggregation(CIRCUIT, None, None, registered_at=1000).takes(t) for t in (999, 1000, 1001)] == [
        False, False, True]
    assert Aggregation(CIRCUIT, None, None).takes(0)  # registration time unknown: left to the chain


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
