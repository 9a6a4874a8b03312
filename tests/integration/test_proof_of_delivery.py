"""Proof of delivery in the appendix-B data transfer, on anvil with a deployment made by
zkmarket.market: a missing acknowledgement is MP's fault only if MC proved delivery on chain
(`publishItems` + `publishPlaintextLeaves` before the ack deadline).

(a) MC commits the subset but never delivers nor publishes: at the ack deadline the transfer
    expires SenderUndelivered, the audit settles ConsumerDefaulted and MP gets 4NE.
(b) MC delivers nothing off chain but publishes on chain: the provider agent (a real
    subprocess) rebuilds the delivery from the events, acknowledges, and the audit goes on
    through both transfers to the proofs.
(c) MP stays silent after a complete publication: ReceiverNoAck, the audit fails, MC gets 4NE.
"""

from __future__ import annotations

import os
import time

import pytest
from agent_process import AgentProcess, agent_args, free_port

from zkmarket.model.data import DIGITS_MODEL
from zkmarket.participants.connect import connect
from zkmarket.participants.delivery import delivery_from_chain, is_published
from zkmarket.participants.guarded_audit import GuardedAuditConsumer, GuardedAuditProvider
from zkmarket.protocol import commit_test_set
from zkmarket.protocol.rules import GuardedOutcome, guarded_audit_payouts
from zkmarket.protocol.rules import Prices as RulePrices
from zkmarket.protocol.states import GUARDED_STATES, TRANSFER_OUTCOMES, TRANSFER_STATES

pytestmark = pytest.mark.integration

ETH = "0x" + "00" * 20
N, N1, TARGET = 6, 2, (3, 4)


@pytest.fixture
def market(anvil, digits_market, digits_split):
    path, provider, mp, consumer = digits_market.path, digits_market.provider, digits_market.mp, anvil.accounts[7]
    model_id, deployment = digits_market.model_id, digits_market.deployment
    mc = connect(path, anvil.rpc_url, consumer)
    test_set = commit_test_set([bytes(digits_split.test_inputs[i].reshape(-1).tolist()) for i in range(N)],
                               [int(digits_split.test_labels[i]) for i in range(N)])
    return {"path": path, "model_id": model_id, "provider": provider, "consumer": consumer, "mc": mc, "mp": mp,
            "mc_role": GuardedAuditConsumer(mc, test_set), "start_block": deployment.start_block}


def _ack_window(m) -> int:
    return m.transfers.functions.ackWindow().call()


def _transfer(m, tid: int) -> list:
    return m.transfers.functions.getTransfer(tid).call()


def _joined_subset_committed(market) -> tuple[int, int, object]:
    """MC opens, MP joins (in-process), MC commits the subset; nothing is delivered."""
    mc_role = market["mc_role"]
    audit_id = mc_role.open(market["model_id"], *TARGET)
    GuardedAuditProvider(market["mp"], DIGITS_MODEL, None, None).join(audit_id)
    batch, delivery = mc_role.send_items(audit_id, rest=False)
    return audit_id, delivery.transfer_id, batch


def _settled(m, audit_id: int) -> dict:
    return dict(m.audits.events.AuditSettled.get_logs(argument_filters={"auditId": audit_id},
                                                      from_block=0)[-1]["args"])


def test_consumer_that_never_delivers_nor_publishes_defaults_and_mp_gets_4ne(market):
    mc, mp = market["mc"], market["mp"]
    audit_id, tid, _ = _joined_subset_committed(market)
    window = _ack_window(mc)
    mp.session.warp(window - 5)
    assert TRANSFER_STATES[mc.transfers.functions.transferState(tid).call()] == "AwaitingAck"
    assert delivery_from_chain(mp.transfers, tid) is None  # nothing to rebuild: MP cannot acknowledge
    mp.session.warp(10)
    receipt = mp.send(mp.transfers, "expireTransfer", [tid])  # MP (anyone) ends it
    (expired,) = mp.session.events(receipt, mp.transfers, "TransferExpired")
    assert TRANSFER_OUTCOMES[expired["args"]["outcome"]] == "SenderUndelivered"
    settled = _settled(mc, audit_id)
    prices = RulePrices(*mc.registry.functions.prices(ETH).call())
    assert (settled["outcome"], settled["consumerPayout"], settled["providerPayout"]) == (
        GuardedOutcome.CONSUMER_DEFAULTED, *guarded_audit_payouts(GuardedOutcome.CONSUMER_DEFAULTED, N, N1, prices))
    assert settled["providerPayout"] == 4 * N * prices.example_e
    assert mc.audits.functions.creditOf(market["provider"].address, ETH).call() == 4 * N * prices.example_e
    assert mc.audits.functions.creditOf(market["consumer"].address, ETH).call() == 0
    record = mc.registry.functions.record(market["model_id"]).call()
    assert tuple(record[:3]) == (0, 0, 0)  # a consumer's default says nothing about the model


def test_provider_silent_after_publication_fails_and_mc_gets_4ne(market):
    mc, mp, mc_role = market["mc"], market["mp"], market["mc_role"]
    audit_id, tid, batch = _joined_subset_committed(market)
    window = _ack_window(mc)
    mc.session.warp(window // 2)
    # A partial publication (the items alone) moves nothing.
    before = _transfer(mc, tid)[1]
    assert mc_role.publish(tid, batch, leaves=False) == 1
    t = _transfer(mc, tid)
    assert t.published == N1 and not t.leavesPublished and t.deadline == before and not is_published(t)
    receipt = mc.send(mc.transfers, "publishPlaintextLeaves",
                      [tid, mc_role.test_set.commitments, mc_role.test_set.labels])
    (published,) = mc.session.events(receipt, mc.transfers, "TransferPublished")
    now = mc.session.w3.eth.get_block("latest")["timestamp"]
    assert published["args"]["ackDeadline"] == now + window > before  # a fresh, whole ack window
    assert is_published(_transfer(mc, tid))
    # What MP could have acknowledged is on chain, checked by the contract and again here.
    rebuilt = delivery_from_chain(mp.transfers, tid)
    assert rebuilt.ciphertexts == batch.ciphertexts
    assert (rebuilt.commitments, rebuilt.labels) == (mc_role.test_set.commitments, mc_role.test_set.labels)
    GuardedAuditProvider(mp, DIGITS_MODEL, None, None).check_delivery(audit_id, rebuilt, rest=False)

    mc.session.warp(window - 1)
    assert TRANSFER_STATES[mc.transfers.functions.transferState(tid).call()] == "AwaitingAck"  # extended
    mc.session.warp(1)
    receipt = mc.send(mc.transfers, "expireTransfer", [tid])
    (expired,) = mc.session.events(receipt, mc.transfers, "TransferExpired")
    assert TRANSFER_OUTCOMES[expired["args"]["outcome"]] == "ReceiverNoAck"
    settled = _settled(mc, audit_id)
    prices = RulePrices(*mc.registry.functions.prices(ETH).call())
    assert (settled["outcome"], settled["consumerPayout"], settled["providerPayout"]) == (
        GuardedOutcome.FAILED, 4 * N * prices.example_e, 0)
    assert mc.audits.functions.creditOf(market["consumer"].address, ETH).call() == 4 * N * prices.example_e
    assert mc.registry.functions.record(market["model_id"]).call().auditsFailed == 1


def test_agent_acknowledges_a_delivery_published_on_chain_and_the_audit_goes_on(market, anvil, tmp_path):
    mc, mc_role = market["mc"], market["mc_role"]
    audits, transfers = mc.audits, mc.transfers
    port = free_port()
    env = dict(os.environ, ZKMARKET_PRIVATE_KEY=market["provider"].private_key)
    agent = AgentProcess.start(agent_args(market["path"], anvil.rpc_url, market["model_id"], tmp_path / "agent.sqlite",
                                          port, "--batch-size", "2"), env, port)

    def state(audit_id: int) -> str:
        return GUARDED_STATES[audits.functions.state(audit_id).call()]

    def tstate(tid: int) -> str:
        return TRANSFER_STATES[transfers.functions.transferState(tid).call()]

    try:
        audit_id = mc_role.open(market["model_id"], *TARGET)
        agent.wait_for("join", lambda: state(audit_id) == "AwaitingSubset")
        for rest in (False, True):
            # MC commits and sends nothing to the agent's endpoint: only the chain has the data.
            batch, delivery = mc_role.send_items(audit_id, rest)
            tid = delivery.transfer_id
            mc_role.publish(tid, batch, leaves=False)
            time.sleep(1.5)  # several agent ticks: items without the leaves are no delivery yet
            assert tstate(tid) == "AwaitingAck"
            assert not [e for e in agent.events("delivery read from chain") if e["transfer"] == tid]
            mc_role.publish(tid, batch, items=False)
            agent.wait_for(f"acknowledgement of transfer {tid}", lambda: tstate(tid) == "AwaitingKey")
            (read,) = [e for e in agent.events("delivery read from chain") if e["transfer"] == tid]
            assert read["items"] == len(batch.ciphertexts) == (N - N1 if rest else N1)
            mc_role.reveal(tid, batch)
            # The agent decrypts what it read from the chain: subset checked and proceeded; rest accepted.
            agent.wait_for("next stage", lambda: state(audit_id) == ("Proving" if rest else "AwaitingRest"),
                           timeout=240)
        assert agent.events("proceeded")
        a = audits.functions.audit(audit_id).call()
        for tid in (a.subsetTransfer, a.restTransfer):
            assert TRANSFER_OUTCOMES[transfers.functions.getTransfer(tid).call().outcome] == "Completed"
    finally:
        agent.stop()
