"""The simple audit's pure parts: the test-set delivery (JSON both ways, MP's check against the
committed root with the reason on refusal), the submitProofs batches both audits share, the
agent's stored test sets and its decision step (wait for the test set, abort before the decision
deadline without one, decide with one), the HTTP route's statuses and MC's state-file names."""

from __future__ import annotations

import logging
import types

import pytest

from zkmarket import prover as zp
from zkmarket.agent.jobs import JoinPolicy, ServedModel
from zkmarket.agent.server import DeliveryServer
from zkmarket.agent.simple_audit import SimpleAuditJobs
from zkmarket.agent.state import AUDIT, SIMPLE_AUDIT, AgentState
from zkmarket.consumer.proofs import _process_proof
from zkmarket.consumer.state import find_state, state_path
from zkmarket.participants.audit_common import proof_batches
from zkmarket.participants.simple_audit import (
    TestSetDelivery,
    TestSetError,
    check_test_set,
)
from zkmarket.protocol import commit_test_set, example_leaf
from zkmarket.provider_api import post_test_set

pytestmark = pytest.mark.unit

ITEMS = [bytes([i, 2 * i, 255 - i]) for i in range(5)]
LABELS = [1, 0, 3, 3, 9]


@pytest.fixture(scope="module")
def committed():
    return commit_test_set(ITEMS, LABELS)


def audit_tuple(root: bytes, n: int = 5, target=(3, 4), decision_deadline: int = 1_000) -> types.SimpleNamespace:
    """The fields of an Audit struct the checks read, by name as the contract view gives them."""
    return types.SimpleNamespace(n=n, status=2, testSetRoot=root, modelId=1, targetNum=target[0], targetDen=target[1],
                           decisionDeadline=decision_deadline)


# ---------------------------------------------------------------------- the delivery


def test_delivery_round_trips_through_json():
    d = TestSetDelivery(ITEMS, LABELS)
    assert TestSetDelivery.from_json(d.to_json()) == d
    assert TestSetDelivery.from_json(d.to_json().encode()) == d


@pytest.mark.parametrize("body", ["not json", "{}", '{"items": "ab", "labels": []}', '{"items": ["zz"], "labels": [1]}',
                                  '{"items": ["ab"], "labels": [-1]}', '{"items": ["ab"], "labels": [true]}',
                                  '{"items": [1], "labels": [1]}'])
def test_malformed_delivery_is_a_400(body):
    with pytest.raises(TestSetError) as e:
        TestSetDelivery.from_json(body)
    assert e.value.status == 400 and str(e.value).startswith("malformed test set")


def test_check_accepts_the_committed_test_set(committed):
    got = check_test_set(audit_tuple(committed.root), 7, TestSetDelivery.of(committed))
    assert got.root == committed.root and got.commitments == committed.commitments


def test_check_refuses_changed_labels_naming_both_roots(committed):
    changed = TestSetDelivery(ITEMS, [LABELS[0] + 1, *LABELS[1:]])
    with pytest.raises(TestSetError) as e:
        check_test_set(audit_tuple(committed.root), 7, changed)
    assert e.value.status == 400
    assert "rebuild test-set root 0x" in str(e.value) and f"audit 7 committed 0x{committed.root.hex()}" in str(e.value)


def test_check_refuses_a_wrong_count(committed):
    with pytest.raises(TestSetError, match="audit 7 has N=5 examples, got 4 examples and 4 labels"):
        check_test_set(audit_tuple(committed.root), 7, TestSetDelivery(ITEMS[:4], LABELS[:4]))


# ---------------------------------------------------------------------- submitProofs batches


def _proof(cls: int) -> zp.Proof:
    return zp.Proof(proof="0x" + f"{cls:02x}" * 4, instances=[], logits=[], predicted_class=cls, circuit_id="c")


def test_proof_batches_carry_leaf_proofs_of_the_committed_root(committed):
    proofs = {i: _proof(i) for i in (0, 2, 3)}
    batches = proof_batches(committed.commitments, committed.labels, proofs, [0, 2, 3], 2)
    assert [[p[0] for p in b] for b in batches] == [[0, 2], [3]]
    for index, commitment, label, cls, leaf_proof, proof in (p for b in batches for p in b):
        assert (commitment, label, cls, proof) == (committed.commitments[index], LABELS[index], index,
                                                    bytes([index] * 4))
        assert _process_proof(example_leaf(index, commitment, label), leaf_proof) == committed.root
    assert proof_batches(committed.commitments, committed.labels, proofs, [], 2) == []
    with pytest.raises(ValueError):
        proof_batches(committed.commitments, committed.labels, proofs, [0], 0)


# ---------------------------------------------------------------------- the agent


def test_state_keeps_test_sets_and_adds_the_table_to_older_files(tmp_path):
    path = tmp_path / "agent.sqlite"
    state = AgentState(path)
    state.db.execute("DROP TABLE audit_test_sets")  # a file written before simple audits
    state = AgentState(path)
    assert state.test_set(3) is None
    state.save_test_set(3, ITEMS, LABELS)
    assert AgentState(path).test_set(3) == (ITEMS, LABELS)
    state.record_scan(10, [(3, 1)], SIMPLE_AUDIT)
    assert state.open_jobs(SIMPLE_AUDIT) == [(3, 1)] and state.open_jobs(AUDIT) == []


class FakeRole:
    def __init__(self, phase: str):
        self.phase, self.calls = phase, []

    def state(self, audit_id):
        return self.phase

    def join(self, audit_id):
        self.calls.append("join")
        return 1

    def abort(self, audit_id):
        self.calls.append("abort")

    def correct_on(self, test_set):
        return sum(1 for _ in test_set.items) - 1

    def decide(self, audit_id, correct):
        self.calls.append(("decide", correct))
        return True


class Jobs(SimpleAuditJobs):
    """The job kind over a fake contract and role, with the clock's seconds left given."""

    def __init__(self, state, audit, role, left=3_000, decision_window=3_600, **kwargs):
        contract = types.SimpleNamespace(functions=types.SimpleNamespace(
            audit=lambda i: types.SimpleNamespace(call=lambda: audit),
            decisionWindow=lambda: types.SimpleNamespace(call=lambda: decision_window)))
        model = ServedModel(1, None, None, None)
        super().__init__(None, contract, {1: model}, state, logging.getLogger("test"), **kwargs)
        self.fake, self.left = role, left

    def role(self, model_id):
        return self.fake

    def seconds_left(self, deadline):
        return self.left


def test_agent_waits_for_the_test_set_then_aborts_before_the_decision_deadline(tmp_path, committed):
    state = AgentState(tmp_path / "a.sqlite")
    role = FakeRole("Deciding")
    jobs = Jobs(state, audit_tuple(committed.root), role, left=1_000, abort_margin=300)
    jobs.step(1)
    assert role.calls == []  # still time for MC to deliver
    jobs.left = 300
    jobs.step(1)
    assert role.calls == ["abort"]  # silence at the deadline would cost MP 2NE
    # with a short decision window the margin is a quarter of it, not the whole window
    role = FakeRole("Deciding")
    jobs = Jobs(state, audit_tuple(committed.root), role, left=100, decision_window=120, abort_margin=300)
    jobs.step(1)
    assert role.calls == []
    jobs.left = 30
    jobs.step(1)
    assert role.calls == ["abort"]


def test_agent_decides_on_the_stored_test_set(tmp_path, committed):
    state = AgentState(tmp_path / "a.sqlite")
    state.save_test_set(1, ITEMS, LABELS)
    role = FakeRole("Deciding")
    Jobs(state, audit_tuple(committed.root), role).step(1)
    assert role.calls == [("decide", 4)]


def test_agent_aborts_when_the_model_cannot_run_on_the_test_set(tmp_path, committed):
    state = AgentState(tmp_path / "a.sqlite")
    state.save_test_set(1, ITEMS, LABELS)
    role = FakeRole("Deciding")

    def cannot(test_set):
        raise zp.ProverError("input has 3 values, the model expects 64")

    role.correct_on = cannot
    Jobs(state, audit_tuple(committed.root), role).step(1)
    assert role.calls == ["abort"]


def test_agent_declines_audits_outside_its_policy(tmp_path, committed):
    state = AgentState(tmp_path / "a.sqlite")
    state.record_scan(5, [(1, 1)], SIMPLE_AUDIT)
    role = FakeRole("Open")
    Jobs(state, audit_tuple(committed.root, target=(99, 100)), role,
         policy=JoinPolicy(max_target_num=9, max_target_den=10)).step(1)
    assert role.calls == [] and state.open_jobs(SIMPLE_AUDIT) == []
    state.record_scan(6, [(2, 1)], SIMPLE_AUDIT)
    role = FakeRole("Open")
    Jobs(state, audit_tuple(committed.root, target=(9, 10)), role,
         policy=JoinPolicy(max_target_num=9, max_target_den=10)).step(2)
    assert role.calls == ["join"]


# ---------------------------------------------------------------------- HTTP and MC's files


def test_testset_route_maps_errors_to_statuses(committed):
    received = []

    def take(audit_id, delivery):
        if audit_id == 404:
            raise TestSetError("not ours", 404)
        if delivery.labels != LABELS:
            raise TestSetError("labels differ")
        received.append(audit_id)
        return '{"auditId": %d, "root": "0x00"}' % audit_id

    server = DeliveryServer("127.0.0.1", 0, lambda d: None, testset=take).start()
    bare = DeliveryServer("127.0.0.1", 0, lambda d: None).start()
    try:
        assert post_test_set(server.url, 3, TestSetDelivery.of(committed)) == {"auditId": 3, "root": "0x00"}
        for audit_id, delivery, status, reason in (
                (3, TestSetDelivery(ITEMS, [0] * 5), 400, "labels differ"),
                (404, TestSetDelivery.of(committed), 404, "not ours")):
            with pytest.raises(TestSetError) as e:
                post_test_set(server.url, audit_id, delivery)
            assert e.value.status == status and reason in str(e.value)
        with pytest.raises(TestSetError) as e:
            post_test_set(bare.url, 3, TestSetDelivery.of(committed))
        assert e.value.status == 404
    finally:
        server.stop()
        bare.stop()
    assert received == [3]


def test_simple_audit_state_files_do_not_collide_with_appendix_b_ones(tmp_path):
    testset = tmp_path / "t.json"
    assert state_path(testset, 7).name == "t.audit-7.json"
    assert state_path(testset, 7, "simple-audit").name == "t.simple-audit-7.json"
    state_path(testset, 7, "simple-audit").write_text("{}")
    assert find_state(7, search=[tmp_path]) is None
    assert find_state(7, search=[tmp_path], kind="simple-audit") == state_path(testset, 7, "simple-audit")
    assert find_state(7, testset) is None
