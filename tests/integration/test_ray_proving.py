"""Proving on a real Ray cluster started here (a head and a worker node, `ray start` processes):
an audit's examples proved through RayProver give what local proving gives; a worker node
SIGKILLed mid-proof has its task retried on the other node; a cluster that disappears makes the
agent finish on its local pool and say so in its log; every index is stored exactly once."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from ray_cluster import RayCluster

from zkmarket import prover as zp
from zkmarket.agent.executors import LocalProver, RayProver
from zkmarket.agent.jobs import ServedModel, prove_missing
from zkmarket.agent.state import AUDIT, AgentState
from zkmarket.model.data import DIGITS_MODEL

pytestmark = pytest.mark.integration


class Events(logging.Handler):
    """The agent's log events (name plus fields), as they come."""

    def __init__(self):
        super().__init__()
        self.entries: list[dict] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.entries.append({"event": record.getMessage(), **getattr(record, "fields", {})})

    def named(self, name: str) -> list[dict]:
        return [e for e in list(self.entries) if e["event"] == name]


@pytest.fixture
def logger():
    logger, events = logging.getLogger(f"zkmarket.test.ray.{time.monotonic_ns()}"), Events()
    logger.addHandler(events)
    logger.setLevel(logging.INFO)
    logger.events = events
    return logger


def wait_until(what: str, cond, timeout: float = 120) -> None:
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def in_background(fn) -> dict:
    """Runs fn in a thread; the dict gets its "result" or "error" and the thread as "thread"."""
    out: dict = {}

    def run():
        try:
            out["result"] = fn()
        except BaseException as e:  # re-raised by the test
            out["error"] = e

    out["thread"] = threading.Thread(target=run, daemon=True)
    out["thread"].start()
    return out


def finished(out: dict, timeout: float = 240) -> dict:
    out["thread"].join(timeout)
    assert not out["thread"].is_alive(), "proving did not finish"
    if "error" in out:
        raise out["error"]
    return out["result"]


def ray_processes_of_this_session() -> list[int]:
    """Ray processes started from this test process' session (the cluster's nodes have theirs)."""
    pids = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and os.getsid(int(proc.name)) == os.getsid(0) and \
                    (proc / "cmdline").read_bytes().startswith(b"ray::"):
                pids.append(int(proc.name))
        except OSError:  # ended meanwhile
            continue
    return pids


def digits_items(split, n: int) -> dict[int, bytes]:
    return {i: bytes(split.test_inputs[i].reshape(-1).tolist()) for i in range(n)}


def check_as_local(proofs: dict[int, zp.Proof], items, circuit, keys, local: zp.Proof) -> None:
    """Each proof verifies and has the public instances local proving gives: the input's
    commitment, the weights' and the class the circuit computes (proofs themselves are blinded)."""
    assert proofs[0].instances == local.instances
    for i, proof in proofs.items():
        assert zp.verify(circuit, keys, proof)
        assert proof.input_commitment == zp.commit_input(list(items[i]))
        assert proof.predicted_class == zp.evaluate(DIGITS_MODEL, list(items[i]))[1]


@pytest.fixture
def cluster(tmp_path, monkeypatch):
    """A cluster not started yet (the test says how many worker nodes), stopped after the test;
    this process holds its token, as the agent would."""
    cluster = RayCluster(tmp_path / "worker-cache")
    for name, value in cluster.auth.items():
        monkeypatch.setenv(name, value)
    yield cluster
    cluster.stop()


def test_audit_on_ray_survives_a_killed_worker_then_a_lost_cluster(cluster, tmp_path, logger, monkeypatch,
                                                                    digits_split, digits_circuit, digits_keys,
                                                                    digits_proof):
    # one connection for both parts, as in the agent (one Ray client per process)
    monkeypatch.setenv("RAY_CLIENT_RECONNECT_GRACE_PERIOD", "2")  # how long the client waits for a lost head
    state, items = AgentState(tmp_path / "agent.sqlite"), digits_items(digits_split, 6)
    model = ServedModel(1, DIGITS_MODEL, digits_circuit, digits_keys)
    first, second = {i: items[i] for i in range(4)}, {i: items[i] for i in range(4, 6)}
    prover = None
    try:
        cluster.start(workers=1)
        prover = RayProver(cluster.address, LocalProver(2), logger)
        # 1. a worker node SIGKILLed in the middle of a proof: its task is redone on the head
        run = in_background(lambda: prove_missing(state, AUDIT, 7, first, model, prover, logger))
        wait_until("a proof on the worker node", lambda: cluster.busy(1, "prove_on_worker"))
        victim = cluster.busy(1, "prove_on_worker")
        time.sleep(2)  # inside the proof (the keys were fetched first)
        cluster.kill(1)
        proofs = finished(run)
        assert not prover.lost and len(prover.made) == len(first)
        assert not {m.pid for m in prover.made} & set(victim)  # the killed task was made again elsewhere
        # the circuit and keys went to each worker process at most once, not with every task
        assert 1 <= sum(m.fetched for m in prover.made) <= len({m.pid for m in prover.made})
        progress = {(kind, job): body for kind, job, body in state.progress()}[(AUDIT, 7)]
        assert (progress["done"], progress["total"], progress["failed"], progress["in_flight"],
                progress["prover"]) == (4, 4, 0, 0, "ray")

        # 2. the whole cluster gone in the middle of a job: the agent's own pool finishes it
        run = in_background(lambda: prove_missing(state, AUDIT, 8, second, model, prover, logger))
        wait_until("a proof on the head", lambda: cluster.busy(0, "prove_on_worker"))
        cluster.kill(0)
        proofs.update(finished(run))
    finally:
        if prover:
            prover.close()

    assert prover.lost and len(logger.events.named("ray cluster lost: proving locally")) == 1
    assert not ray_processes_of_this_session()  # no Ray instance was started in the agent meanwhile
    assert logger.events.named("proved")[-1]["prover"] == "local (ray cluster lost)"
    assert sorted(state.proofs(7)) == list(range(4)) and sorted(state.proofs(8)) == [4, 5]
    # every index stored exactly once, none failed or duplicated, none lost
    assert sorted(e["index"] for e in logger.events.named("proved")) == list(range(6))
    assert not logger.events.named("duplicate proof ignored") and not logger.events.named("proof failed")
    check_as_local(proofs, items, digits_circuit, digits_keys, digits_proof)


DRIVER = """
import json, logging, sys
from zkmarket import prover as zp
from zkmarket.agent.executors import LocalProver, RayProver
from zkmarket.model.data import DIGITS_MODEL
items = {int(i): bytes.fromhex(x) for i, x in json.loads(sys.argv[1]).items()}
circuit = zp.compile_model(DIGITS_MODEL, "hidden-both", "class")
keys = zp.setup(circuit)
prover = RayProver("auto", LocalProver(1), logging.getLogger("driver"))
try:
    single = dict(prover.prove(circuit, keys, {0: items[0]}))
    inner = dict(prover.prove(circuit, keys, {1: items[1]}, for_aggregation=True))
finally:
    prover.close()
print(json.dumps({"lost": prover.lost, "made": len(prover.made), "single": single[0].to_json(),
                  "inner": inner[1].to_json()}))
"""


def test_auto_address_proves_as_a_driver_on_a_cluster_node(cluster, digits_split, digits_circuit, digits_keys,
                                                           digits_proof):
    """`--ray-address auto`: the agent is a driver on a node of the cluster (found from
    RAY_ADDRESS, as on a node started by `ray start`; its own process, as an agent is) and its
    tasks run there; proofs made for aggregation travel the same way. (`HOST:PORT` is the same
    driver mode; here Ray rewrites 127.0.0.1 to the machine's own address, which this sandbox
    does not route, so it is untested.)"""
    cluster.start(workers=0)
    items = digits_items(digits_split, 2)
    env = dict(os.environ, RAY_ADDRESS=f"127.0.0.1:{cluster.port}", **cluster.auth)
    out = subprocess.run([sys.executable, "-c", DRIVER, json.dumps({i: x.hex() for i, x in items.items()})],
                         env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert not result["lost"] and result["made"] == 2  # both made by the cluster, not the local pool
    single, inner = (zp.Proof(**json.loads(result[k])) for k in ("single", "inner"))
    check_as_local({0: single}, items, digits_circuit, digits_keys, digits_proof)
    assert inner.transcript == "poseidon" and not zp.verify(digits_circuit, digits_keys, inner)
    assert inner.input_commitment == zp.commit_input(list(items[1]))
