"""The provider agent (`zkmarket provider run`, a real subprocess) with an aggregation verifier
registered for its model: an appendix-B audit's proof goes on chain as one aggregated proof (B = 1,
the smallest aggregation whose verifier fits the EVM; about two minutes an aggregation here), and
the agent killed (SIGKILL) while it aggregates resumes on restart from its stored inner proof
(made once), aggregates again, finishes the audit and is paid exactly what single proofs pay.
"""

from __future__ import annotations

import os

import pytest
from agent_process import AgentProcess, agent_args, audit_to_proving, free_port
from eth_utils import function_abi_to_4byte_selector

from zkmarket import prover as zp
from zkmarket.chain import deploy_verifier
from zkmarket.participants.connect import connect
from zkmarket.participants.guarded_audit import GuardedAuditConsumer
from zkmarket.protocol import commit_test_set
from zkmarket.protocol.rules import GuardedOutcome, guarded_audit_payouts
from zkmarket.protocol.rules import Prices as RulePrices

pytestmark = pytest.mark.integration

ETH = "0x" + "00" * 20
N, TARGET = 3, (1, 2)  # N1 = 2 (digits_market): one example to prove


@pytest.fixture
def aggregated_market(anvil, digits_market, digits_circuit, digits_keys):
    """The digits market with an aggregation verifier of one proof registered for its model."""
    agg = zp.setup_aggregation(digits_circuit, digits_keys, 1)
    verifier = deploy_verifier(anvil.w3(), zp.export_aggregation_verifier(agg),
                               private_key=anvil.accounts[0].private_key)
    mp = digits_market.mp
    mp.send(mp.registry, "registerAggregationVerifier", [digits_market.model_id, verifier.address, 1])
    mp.w3.provider.make_request("evm_increaseTime", [1])  # audits opened from now on take aggregated proofs
    return digits_market


def test_agent_killed_while_aggregating_resumes_and_is_paid(anvil, aggregated_market, tmp_path, digits_split):
    m = aggregated_market
    port = free_port()
    env = dict(os.environ, ZKMARKET_PRIVATE_KEY=m.provider.private_key)
    args = agent_args(m.path, anvil.rpc_url, m.model_id, tmp_path / "agent.sqlite", port, "--min-aggregate", "1")
    mc = connect(m.path, anvil.rpc_url, anvil.accounts[7])
    audits = mc.audits
    test_set = commit_test_set([bytes(digits_split.test_inputs[i].reshape(-1).tolist()) for i in range(N)],
                               [int(digits_split.test_labels[i]) for i in range(N)])
    consumer = GuardedAuditConsumer(mc, test_set)
    agent = AgentProcess.start(args, env, port)
    try:
        audit_id, state = audit_to_proving(agent, consumer, m.model_id, TARGET)
        agent.wait_for("aggregation started", lambda: agent.events("aggregating"), timeout=300)
        assert len(agent.events("proved")) == 1
        agent.kill()
        assert state() == "Proving" and audits.functions.audit(audit_id).call().submitted == 0

        agent = AgentProcess(args, env)
        agent.wait_for("settlement", lambda: state() == "Settled", timeout=600)
        agent.wait_for("job done", lambda: agent.events("job done"))
        assert not agent.events("proved"), "the stored inner proof is not made again"
        assert agent.events("aggregating")
    finally:
        agent.stop()

    (accepted,) = audits.events.ProofAccepted.get_logs(from_block=0)
    tx = mc.w3.eth.get_transaction(accepted["transactionHash"])
    submit_aggregated = next(f for f in audits.abi if f.get("name") == "submitAggregatedProofs")
    assert bytes(tx["input"][:4]) == function_abi_to_4byte_selector(submit_aggregated)
    settled = audits.events.AuditSettled.get_logs(from_block=0)[-1]["args"]
    prices = RulePrices(*mc.registry.functions.prices(ETH).call())
    assert (settled["outcome"], settled["consumerPayout"], settled["providerPayout"]) == (
        GuardedOutcome.PASSED, *guarded_audit_payouts(GuardedOutcome.PASSED, N, 2, prices))
