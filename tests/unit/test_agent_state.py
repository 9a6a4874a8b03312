"""The agent's SQLite state: a file written by the audit-only agent (schema version 0) is
migrated in place and stays readable, job kinds never mix; and the HTTP endpoint maps the
role errors to statuses (400 wrong, 404 not ours, 409 not now) that the clients surface; a
duplicate proof (a retried task) is ignored, and proving progress is stored and shown."""

from __future__ import annotations

import dataclasses
import json
import logging
import sqlite3
from pathlib import Path

import pytest

from zkmarket import prover as zp
from zkmarket.agent.executors import ProvingFailed
from zkmarket.agent.jobs import ServedModel, prove_missing
from zkmarket.agent.server import DeliveryServer
from zkmarket.agent.state import AUDIT, REQUEST, ROUND, SCHEMA_VERSION, AgentState
from zkmarket.participants.retrieval import RetrievalError
from zkmarket.participants.serving_round import RoundInputs, ServedPredictions, ServingError
from zkmarket.provider_api import get_results, post_round_inputs

pytestmark = pytest.mark.unit

PROOF = zp.Proof(proof="0xab", instances=["0x1", "0x2", "0x3"], logits=[1, 2], predicted_class=1, circuit_id="c")


def old_state_file(path) -> None:
    """What the first agent (audits only, no user_version) wrote."""
    db = sqlite3.connect(path)
    db.executescript("""
        CREATE TABLE cursor (id INTEGER PRIMARY KEY CHECK (id = 0), last_block INTEGER NOT NULL);
        CREATE TABLE jobs (audit_id INTEGER PRIMARY KEY, model_id INTEGER NOT NULL, done INTEGER NOT NULL DEFAULT 0);
        CREATE TABLE deliveries (transfer_id INTEGER PRIMARY KEY, body TEXT NOT NULL);
        CREATE TABLE proofs (audit_id INTEGER NOT NULL, idx INTEGER NOT NULL, body TEXT NOT NULL,
                             PRIMARY KEY (audit_id, idx));
        INSERT INTO cursor VALUES (0, 41);
        INSERT INTO jobs VALUES (3, 1, 0), (2, 1, 1);
    """)
    db.execute("INSERT INTO proofs VALUES (3, 4, ?)", (json.dumps(PROOF.__dict__),))
    db.commit()
    db.close()


def test_version_0_file_is_migrated_and_its_audits_stay_readable(tmp_path):
    path = tmp_path / "agent.sqlite"
    old_state_file(path)
    state = AgentState(path)
    assert state.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert state.last_block() == 41 and state.last_block(AUDIT) == 41
    assert state.open_jobs() == [(3, 1)]
    assert state.proofs(3) == {4: PROOF}
    assert state.last_block(ROUND) is None and state.open_jobs(ROUND) == []
    # Opening it again changes nothing.
    again = AgentState(path)
    assert again.open_jobs() == [(3, 1)] and again.last_block() == 41


def test_kinds_keep_their_own_cursor_jobs_and_proofs(tmp_path):
    state = AgentState(tmp_path / "agent.sqlite")
    state.record_scan(10, [(1, 7)])
    state.record_scan(12, [(1, 7), (2, 7)], ROUND)
    state.save_proof(1, 0, PROOF, ROUND)
    state.finish_job(1)
    assert (state.last_block(AUDIT), state.last_block(ROUND), state.last_block(REQUEST)) == (10, 12, None)
    assert state.open_jobs(AUDIT) == [] and state.open_jobs(ROUND) == [(1, 7), (2, 7)]
    assert state.proofs(1) == {} and state.proofs(1, ROUND) == {0: PROOF}
    state.save_served_round(2, {"inputs": ["00"], "classes": [3]})
    state.save_dataset(5, b"\x01" * 32, [b"ab", b"cd"])
    state.save_results(9, {"requestId": 9})
    assert state.served_round(2) == {"inputs": ["00"], "classes": [3]} and state.served_round(1) is None
    assert state.dataset(5) == [b"ab", b"cd"] and state.datasets() == {5: b"\x01" * 32}
    assert state.results(9) == {"requestId": 9}


@pytest.fixture
def server():
    def serve_round(round_id: int, items: list[bytes]) -> str:
        if round_id == 1:
            raise ServingError("the inputs rebuild inputs root 0x11, but round 1 commits 0x22")
        if round_id == 2:
            raise ServingError("round 2 is not joined yet; retry once it is", 409)
        return ServedPredictions(round_id, b"\x01" * 32, [len(x) for x in items], b"\x02" * 32, [[b"\x03" * 32]],
                                 b"\x04" * 65).to_json()

    def results(request_id: int, positive: int, signature: bytes | None) -> str:
        if signature != b"\x05" * 65:
            raise RetrievalError("the results go only to the requester", 403)
        raise RetrievalError(f"request {request_id} (class {positive}) is not a request to a model this agent "
                             f"serves", 404)

    s = DeliveryServer("127.0.0.1", 0, lambda d: None, serve_round=serve_round, results=results).start()
    yield s
    s.stop()


def test_round_inputs_errors_reach_the_consumer_with_status_and_reason(server):
    inputs = RoundInputs([b"\x01\x02", b"\x03"], [bytes(32)] * 2, bytes(32), [[], []])
    with pytest.raises(ServingError, match="inputs root 0x11") as e:
        post_round_inputs(server.url, 1, inputs)
    assert e.value.status == 400
    with pytest.raises(ServingError, match="not joined yet") as e:
        post_round_inputs(server.url, 2, inputs)
    assert e.value.status == 409
    served = post_round_inputs(server.url, 3, inputs)
    assert (served.round_id, served.classes, served.signature) == (3, [2, 1], b"\x04" * 65)


def test_malformed_bodies_and_unknown_paths_are_refused(server):
    from urllib.error import HTTPError
    from urllib.request import Request, urlopen

    for path, body, status in [("/rounds/3/inputs", b'{"inputs": "zz"}', 400),
                               ("/rounds/3/inputs", b'{"inputs": ["0xzz"]}', 400),
                               ("/rounds/x/inputs", b'{"inputs": ["00"]}', 404),
                               ("/nothing", b"{}", 404)]:
        with pytest.raises(HTTPError) as e:
            urlopen(Request(server.url + path, data=body, method="POST"), timeout=10)
        assert e.value.code == status, path
    with pytest.raises(RetrievalError, match="only to the requester") as e:
        get_results(server.url, 7, 4)
    assert e.value.status == 403
    with pytest.raises(RetrievalError, match="class 4") as e:
        get_results(server.url, 7, 4, signature=b"\x05" * 65)
    assert e.value.status == 404


def test_documents_load_from_json_hex_byte_lists_and_npy(tmp_path):
    import numpy as np

    from zkmarket.participants.retrieval import load_documents

    (tmp_path / "hex.json").write_text(json.dumps(["0102", "0x0304"]))
    (tmp_path / "lists.json").write_text(json.dumps([[[1], [2]], [3, 4]]))
    np.save(tmp_path / "docs.npy", np.array([[[1], [2]], [[3], [4]]], dtype=np.uint8))
    for name in ("hex.json", "lists.json", "docs.npy"):
        assert load_documents(tmp_path / name) == [b"\x01\x02", b"\x03\x04"], name
    (tmp_path / "bad.json").write_text(json.dumps([[256]]))
    with pytest.raises(RetrievalError, match="cannot read documents"):
        load_documents(tmp_path / "bad.json")
    (tmp_path / "empty.json").write_text("[]")
    with pytest.raises(RetrievalError, match="non-empty"):
        load_documents(tmp_path / "empty.json")


def test_a_duplicate_proof_is_ignored_not_stored_twice(tmp_path):
    state = AgentState(tmp_path / "agent.sqlite")
    other = dataclasses.replace(PROOF, proof="0xcd")
    assert state.save_proof(4, 0, PROOF) and not state.save_proof(4, 0, other)
    assert state.proofs(4) == {0: PROOF} and state.proof_count(4) == 1


class Replaying:
    """An executor whose tasks ran twice (a retried task that had finished): index 1 comes back
    again after index 2, and index 3 fails."""

    name, in_flight = "replaying", 0

    def prove(self, circuit, keys, items, for_aggregation=False):
        yield 1, PROOF
        yield 2, PROOF
        yield 1, dataclasses.replace(PROOF, proof="0xcd")
        yield 3, zp.InputError("input[0] = 300 is not a byte (0..=255)")


def test_prove_missing_stores_each_index_once_and_records_progress(tmp_path):
    state, events = AgentState(tmp_path / "agent.sqlite"), []
    logger = logging.getLogger("zkmarket.test.replaying")
    logger.setLevel(logging.INFO)
    logger.addHandler(type("H", (logging.Handler,), {"emit": lambda self, r: events.append(r.getMessage())})())
    model = ServedModel(1, Path("m.json"), None, None)
    with pytest.raises(ProvingFailed, match="1 of 3 proofs failed .* InputError"):
        prove_missing(state, AUDIT, 9, {1: b"\x01", 2: b"\x02", 3: b"\x03"}, model, Replaying(), logger, total=5)
    assert state.proofs(9) == {1: PROOF, 2: PROOF}
    assert events.count("proved") == 2 and events.count("duplicate proof ignored") == 1
    [(kind, job, body)] = state.progress()
    assert (kind, job, body["done"], body["total"], body["failed"], body["prover"]) == (AUDIT, 9, 2, 5, 1, "replaying")
    assert body["per_minute"] > 0 and body["eta_s"] is not None


def test_provider_status_prints_each_jobs_progress(tmp_path):
    from click.testing import CliRunner

    from zkmarket.cli import main

    db = tmp_path / "agent.sqlite"
    AgentState(db).save_progress(9, {"done": 2, "total": 5, "in_flight": 1, "failed": 0}, AUDIT)
    out = CliRunner(mix_stderr=False).invoke(main, ["provider", "status", "--db", str(db)])
    assert out.exit_code == 0 and json.loads(out.stdout) == {"kind": AUDIT, "job": 9, "done": 2, "total": 5,
                                                               "in_flight": 1, "failed": 0}
    missing = CliRunner(mix_stderr=False).invoke(main, ["provider", "status", "--db", str(tmp_path / "none")])
    assert missing.exit_code == 1 and missing.stderr.count("\n") == 1 and "no agent state file" in missing.stderr
