"""The simple accuracy audit (paper 5.2, AccuracyAudit) end to end: the provider agent (`zkmarket
provider run`, a real subprocess) against the consumer's `zkmarket audit run --protocol simple`.

- Pass: MC opens (2NE + eps), the agent joins (2NE + eps), MC hands it the N = 4 examples and
  labels, the agent checks them against the committed root, decides by local inference,
  proceeds, proves all four for real and submits them two per transaction; MC checks the
  proofs locally and finalizes; after both withdraw, MC is 2NZ + eps poorer and MP 2NZ - eps
  richer, in wei net of gas.
- Abort: the model misses the target on the delivered test set; the agent aborts and MC loses N*P.
- Timeout: the agent refuses a test set whose labels were changed (HTTP 400, nothing stored),
  is stopped after joining, the decision deadline passes, and finalizing makes it an MP failure
  (MC gets 4NE).
"""

from __future__ import annotations

import json
import os
import re
from urllib.error import HTTPError
from urllib.request import Request, urlopen

import pytest
from agent_process import AgentProcess, agent_args, free_port
from cli_checks import cli_as, fails, ok

from zkmarket.agent.server import DeliveryServer
from zkmarket.agent.state import SIMPLE_AUDIT, AgentState
from zkmarket.consumer.client import format_amount
from zkmarket.consumer.testsets import load_committed
from zkmarket.market import MarketParams, deploy_market
from zkmarket.market.deployment import MarketDeployment
from zkmarket.model.data import DIGITS_MODEL
from zkmarket.participants.connect import connect
from zkmarket.participants.simple_audit import TestSetDelivery, TestSetError
from zkmarket.protocol.rules import AuditOutcome, simple_audit_payouts
from zkmarket.protocol.rules import Prices as RulePrices
from zkmarket.protocol.states import AUDIT_STATES
from zkmarket.provider_api import post_test_set

pytestmark = pytest.mark.integration

ETH = "0x" + "00" * 20
N = 4
HOUR = 3_600


@pytest.fixture
def env(chain, anvil, tmp_path, verifier, monkeypatch):
    """A fresh marketplace, the digits model registered by MP, and the CLI as a dev account."""
    monkeypatch.chdir(tmp_path)
    dep = deploy_market(chain, anvil.accounts[5], MarketParams(n1=2))
    path = dep.save(tmp_path / "deployment.json")
    provider, consumer = anvil.accounts[6], anvil.accounts[7]
    cli = cli_as(path, anvil.rpc_url, consumer)
    out = ok(cli("model", "register", str(DIGITS_MODEL), "--verifier", verifier.address, account=provider))
    model_id = int(re.search(r"registered model (\d+)", out).group(1))
    mc = connect(path, anvil.rpc_url, consumer)
    port = free_port()
    return {"cli": cli, "path": path, "provider": provider, "consumer": consumer, "tmp": tmp_path, "mc": mc,
            "audits": MarketDeployment.load(path).contracts(mc.session.w3)["AccuracyAudit"], "model_id": model_id,
            "agent_args": agent_args(path, anvil.rpc_url, model_id, tmp_path / "agent.sqlite", port,
                                     "--batch-size", "2"),
            "port": port, "url": f"http://127.0.0.1:{port}",
            "agent_env": dict(os.environ, ZKMARKET_PRIVATE_KEY=provider.private_key),
            "prices": RulePrices(*mc.registry.functions.prices(ETH).call())}


def gas_spent(w3, address: str, from_block: int) -> int:
    """Wei `address` paid for gas in blocks from `from_block` on (anvil: a block per transaction)."""
    total = 0
    for number in range(from_block, w3.eth.block_number + 1):
        for tx in w3.eth.get_block(number, full_transactions=True)["transactions"]:
            if tx["from"] == address:
                receipt = w3.eth.get_transaction_receipt(tx["hash"])
                total += receipt["gasUsed"] * receipt["effectiveGasPrice"]
    return total


def test_agent_passes_a_simple_audit_driven_by_the_consumer_cli(env):
    testset = env["tmp"] / "testset.json"
    ok(env["cli"]("testset", "commit", "--digits", str(N), "-o", str(testset)))
    w3, audits = env["mc"].session.w3, env["audits"]
    provider, consumer = env["provider"].address, env["consumer"].address
    start = w3.eth.block_number + 1
    before = {a: w3.eth.get_balance(a) for a in (provider, consumer)}
    agent = AgentProcess.start(env["agent_args"], env["agent_env"], env["port"])
    try:
        out = ok(env["cli"]("audit", "run", "--protocol", "simple", "--model", str(env["model_id"]), "--testset",
                            str(testset), "--target", "0.9", "--provider-url", env["url"], "--poll", "0.2",
                            "--timeout", "240"))
        agent.wait_for("withdrawal", lambda: agent.events("job done"))
    finally:
        agent.stop()
    prices = env["prices"]
    consumer_payout, provider_payout = simple_audit_payouts(AuditOutcome.PASSED, N, prices)
    assert "opened simple audit 1" in out and f"delivered the test set ({N} examples and labels)" in out
    assert "MP proceeded" in out and f"all {N} proofs are in" in out
    assert f"{N} valid, {N}/{N} correct" in out
    assert "audit 1 settled: Passed" in out
    assert f"consumer (MC) credited {format_amount(consumer_payout)}" in out
    assert f"provider (MP) credited {format_amount(provider_payout)}" in out

    # the agent checked the test set, decided on all N, proved them (stored as made) and sent
    # them in batches of two
    (decided,) = agent.events("proceeded")
    assert (decided["correct"], decided["n"]) == (N, N)
    submitted = agent.events("proofs submitted")
    assert [e["indices"] for e in submitted] == [[0, 1], [2, 3]]
    assert sorted(AgentState(env["tmp"] / "agent.sqlite").proofs(1, SIMPLE_AUDIT)) == list(range(N))
    assert len(audits.events.ProofAccepted.get_logs(from_block=start)) == N

    shown = json.loads(ok(env["cli"]("audit", "show", "--protocol", "simple", "1", "--json")))
    assert shown["state"] == "Settled" and (shown["submitted"], shown["correct"]) == (N, N)
    assert shown["settlement"]["outcome"] == "Passed" and shown["settlement"]["provider_payout"] == provider_payout
    assert "Passed" in ok(env["cli"]("audit", "show", "--protocol", "simple", "1"))
    assert json.loads(ok(env["cli"]("model", "show", str(env["model_id"]), "--json")))["record"]["audits_passed"] == 1
    fails(env["cli"]("audit", "show", "1"), "no audit 1")  # the appendix-B contract has none

    assert "from AccuracyAudit" in ok(env["cli"]("withdraw"))
    for account in (provider, consumer):
        assert audits.functions.creditOf(account, ETH).call() == 0
    net = {a: w3.eth.get_balance(a) - before[a] + gas_spent(w3, a, start) for a in (provider, consumer)}
    fee = prices.fee_epsilon
    assert net[consumer] == -(2 * N * prices.proof_z + fee)  # MC pays 2NZ, and eps to the escrow service
    assert net[provider] == 2 * N * prices.proof_z - fee


def test_agent_aborts_when_the_model_misses_the_target(env):
    real = load_committed(_commit(env, "real.json"))
    labels = [(y + 1) % 10 for y in real.labels]  # the model is wrong on every example now
    (env["tmp"] / "x.json").write_text(json.dumps([list(x) for x in real.items]))
    (env["tmp"] / "y.json").write_text(json.dumps(labels))
    testset = env["tmp"] / "wrong.json"
    ok(env["cli"]("testset", "commit", "--images", str(env["tmp"] / "x.json"), "--labels",
                  str(env["tmp"] / "y.json"), "-o", str(testset)))
    agent = AgentProcess.start(env["agent_args"], env["agent_env"], env["port"])
    try:
        out = ok(env["cli"]("audit", "run", "--protocol", "simple", "--model", str(env["model_id"]), "--testset",
                            str(testset), "--target", "1/2", "--provider-url", env["url"], "--poll", "0.2",
                            "--timeout", "120"))
    finally:
        agent.stop()
    (aborted,) = agent.events("aborted")
    assert aborted["correct"] == 0 and not agent.events("proving")
    consumer_payout, provider_payout = simple_audit_payouts(AuditOutcome.ABORTED, N, env["prices"])
    assert "audit 1 settled: Aborted" in out
    assert f"consumer (MC) credited {format_amount(consumer_payout)}" in out
    assert provider_payout - consumer_payout == 2 * N * env["prices"].inference_p  # MC lost N*P to MP
    settled = env["audits"].events.AuditSettled.get_logs(from_block=0)[-1]["args"]
    assert (settled["consumerPayout"], settled["providerPayout"]) == (consumer_payout, provider_payout)


def _commit(env, name: str):
    path = env["tmp"] / name
    ok(env["cli"]("testset", "commit", "--digits", str(N), "-o", str(path)))
    return path


def test_wrong_test_set_is_refused_then_mp_silent_at_the_decision_deadline_fails(env):
    testset = _commit(env, "testset.json")
    audits, prices = env["audits"], env["prices"]
    health_only = DeliveryServer("127.0.0.1", 0, lambda d: None).start()  # no test-set route: 404
    agent = AgentProcess.start(env["agent_args"], env["agent_env"], env["port"])
    try:
        # MC names an endpoint that will not take the test set; it gives up waiting, resumably
        fails(env["cli"]("audit", "run", "--protocol", "simple", "--model", str(env["model_id"]), "--testset",
                         str(testset), "--target", "0.9", "--provider-url", health_only.url, "--poll", "0.05",
                         "--timeout", "0.3"), "zkmarket audit resume --protocol simple 1", code=3)
        agent.wait_for("join", lambda: agent.events("joined"))
        assert AUDIT_STATES[audits.functions.state(1).call()] == "Deciding"

        # a delivery whose labels were changed does not rebuild the committed root: 400, the reason
        committed = load_committed(testset)
        changed = TestSetDelivery(committed.items, [(committed.labels[0] + 1) % 10, *committed.labels[1:]])
        with pytest.raises(TestSetError) as refused:
            post_test_set(env["url"], 1, changed)
        assert refused.value.status == 400
        assert "rebuild test-set root" in str(refused.value) and committed.root.hex() in str(refused.value)
        assert _post(env["url"] + "/audits/simple/1/testset", b'{"items": "nope"}')[0] == 400
        assert _post(env["url"] + "/audits/simple/7/testset", TestSetDelivery.of(committed).to_json().encode())[0] \
            == 404
        assert AgentState(env["tmp"] / "agent.sqlite").test_set(1) is None
        agent.stop()  # MP goes away before deciding
    finally:
        agent.stop()
        health_only.stop()

    shown = json.loads(ok(env["cli"]("audit", "show", "--protocol", "simple", "1", "--json")))
    assert (shown["state"], shown["joined"]) == ("Deciding", True)
    env["mc"].session.warp(HOUR + 1)  # past the decision deadline
    assert AUDIT_STATES[audits.functions.state(1).call()] == "DecisionExpired"
    assert "DEADLINE PASSED" in ok(env["cli"]("audit", "show", "--protocol", "simple", "1"))
    out = ok(env["cli"]("audit", "resume", "--protocol", "simple", "1", "--poll", "0.05"))
    assert "MP neither proceeded nor aborted before the decision deadline" in out
    assert "audit 1 settled: Failed" in out
    consumer_payout, provider_payout = simple_audit_payouts(AuditOutcome.FAILED, N, prices)
    assert (consumer_payout, provider_payout) == (4 * N * prices.example_e, 0)
    assert audits.functions.creditOf(env["consumer"].address, ETH).call() == consumer_payout
    assert audits.functions.creditOf(env["provider"].address, ETH).call() == 0
    record = json.loads(ok(env["cli"]("model", "show", str(env["model_id"]), "--json")))["record"]
    assert record["audits_failed"] == 1
    out = ok(env["cli"]("audit", "finalize", "--protocol", "simple", "1"))
    assert "was already settled" in out and "settled: Failed" in out


def _post(url: str, body: bytes) -> tuple[int, dict]:
    try:
        with urlopen(Request(url, data=body, headers={"Content-Type": "application/json"}), timeout=30) as r:
            return r.status, json.loads(r.read())
    except HTTPError as e:
        return e.code, json.loads(e.read())
