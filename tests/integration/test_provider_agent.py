"""The provider agent (`zkmarket provider run`, a real subprocess) runs an appendix-B audit on
anvil with real proofs, and survives SIGKILL in the middle of proving: restarted on the same
SQLite state it resumes from its last block and stored proofs, finishes the audit and is paid;
proving in itself, or on a Ray cluster (whose tasks of the killed agent die with it).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from agent_process import AgentProcess, agent_args, audit_to_proving, free_port
from ray_cluster import RayCluster

from zkmarket.participants.connect import connect
from zkmarket.participants.guarded_audit import GuardedAuditConsumer
from zkmarket.protocol import commit_test_set
from zkmarket.protocol.rules import GuardedOutcome, guarded_audit_payouts
from zkmarket.protocol.rules import Prices as RulePrices

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
ETH = "0x" + "00" * 20
N, TARGET = 6, (3, 4)


@pytest.fixture
def market(anvil, digits_market):
    return {"path": digits_market.path, "model_id": digits_market.model_id, "provider": digits_market.provider,
            "mc": connect(digits_market.path, anvil.rpc_url, anvil.accounts[7]), "mp": digits_market.mp}


@pytest.fixture(params=["local", "ray"])
def prover_args(request, tmp_path):
    """The agent's prover: its own pool, or a Ray cluster of a head and a worker node started
    here (as `--ray-address` with the cluster's token in the environment)."""
    if request.param == "local":
        yield [], {}
        return
    cluster = RayCluster(tmp_path / "worker-cache")
    try:
        cluster.start(workers=1)
        # both nodes busy: four proofs per poll, sent two per transaction
        yield ["--ray-address", cluster.address, "--prove-batch", "4"], cluster.auth
    finally:
        cluster.stop()


def test_agent_killed_while_proving_resumes_and_is_paid(market, anvil, tmp_path, digits_split, digits_keys,
                                                         prover_args):
    port = free_port()
    extra, prover_env = prover_args
    env = dict(os.environ, ZKMARKET_PRIVATE_KEY=market["provider"].private_key, **prover_env)
    args = agent_args(market["path"], anvil.rpc_url, market["model_id"], tmp_path / "agent.sqlite", port,
                      "--batch-size", "2", *extra)
    mc = market["mc"]
    audits = mc.audits
    test_set = commit_test_set([bytes(digits_split.test_inputs[i].reshape(-1).tolist()) for i in range(N)],
                               [int(digits_split.test_labels[i]) for i in range(N)])
    consumer = GuardedAuditConsumer(mc, test_set)
    agent = AgentProcess.start(args, env, port)
    try:
        audit_id, state = audit_to_proving(agent, consumer, market["model_id"], TARGET)
        agent.wait_for("first proof", lambda: agent.events("proved"))
        agent.kill()
        assert state() == "Proving"
        assert audits.functions.audit(audit_id).call().submitted < N - 2  # not all N2 proofs are in

        agent = AgentProcess(args, env)
        agent.wait_for("settlement", lambda: state() == "Settled", timeout=300)
        agent.wait_for("job done", lambda: agent.events("job done"))
        resumed = agent.events("proving")
        assert resumed and resumed[0]["done"] >= 1  # the stored proof was not made again
        assert {e["prover"] for e in resumed} == {"ray" if extra else "local"}
    finally:
        agent.stop()

    settled = audits.events.AuditSettled.get_logs(from_block=0)[-1]["args"]
    prices = RulePrices(*mc.registry.functions.prices(ETH).call())
    assert (settled["outcome"], settled["consumerPayout"], settled["providerPayout"]) == (
        GuardedOutcome.PASSED, *guarded_audit_payouts(GuardedOutcome.PASSED, N, 2, prices))
    withdrawn = [e["args"] for e in audits.events.Withdrawn.get_logs(from_block=0)]
    assert {"account": market["provider"].address, "amount": settled["providerPayout"]} in [
        {"account": w["account"], "amount": w["amount"]} for w in withdrawn]
    assert audits.functions.creditOf(market["provider"].address, ETH).call() == 0
