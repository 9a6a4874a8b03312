"""The length attack on an appendix-B audit, replayed against the real provider agent (a
`zkmarket provider run` subprocess) and the real contracts.

The consumer commits an honest test set, sends the N1 subset honestly, then sends the N2 rest
with each item's trailing zero pixel removed. Before commitments bound the byte length, every
63-byte item matched its 64-byte item's commitment: the agent acknowledged, could prove nothing
and the audit settled Failed (the consumer took the provider's escrow). Now the agent refuses the
off-chain delivery with the reason, and when the consumer publishes the items on chain instead,
the agent acknowledges and wins the contest: the consumer defaults and the provider is paid.
"""

from __future__ import annotations

import os

import pytest
from agent_process import AgentProcess, agent_args, free_port

from zkmarket.model import qmodel, reference
from zkmarket.model.data import DIGITS_MODEL
from zkmarket.participants.connect import connect
from zkmarket.participants.delivery import Delivery, DeliveryError
from zkmarket.participants.guarded_audit import GuardedAuditConsumer
from zkmarket.protocol import commit_test_set
from zkmarket.protocol.rules import GuardedOutcome, guarded_audit_payouts
from zkmarket.protocol.rules import Prices as RulePrices
from zkmarket.protocol.states import GUARDED_STATES, TRANSFER_STATES
from zkmarket.protocol.subset import subset_of
from zkmarket.protocol.transfer import encrypt_batch
from zkmarket.provider_api import post_delivery

pytestmark = pytest.mark.integration

ETH = "0x" + "00" * 20
N, N1, TARGET = 6, 2, (3, 4)


def _test_set(digits_split):
    """N digits the model classifies right (so MP proceeds) whose last pixel is 0 (so the
    truncated item is the one that used to share the commitment)."""
    model = qmodel.load(DIGITS_MODEL)
    chosen = [i for i, x in enumerate(digits_split.test_inputs)
              if x.reshape(-1)[-1] == 0 and reference.evaluate(model, x)[1] == digits_split.test_labels[i]][:N]
    return commit_test_set([bytes(digits_split.test_inputs[i].reshape(-1).tolist()) for i in chosen],
                           [int(digits_split.test_labels[i]) for i in chosen])


def test_items_without_their_trailing_zero_byte_cost_the_consumer_not_the_provider(anvil, digits_market, tmp_path,
                                                                                   digits_split, digits_keys):
    mc = connect(digits_market.path, anvil.rpc_url, anvil.accounts[7])
    audits, transfers = mc.audits, mc.transfers
    test_set = _test_set(digits_split)
    consumer = GuardedAuditConsumer(mc, test_set)
    port = free_port()
    env = dict(os.environ, ZKMARKET_PRIVATE_KEY=digits_market.provider.private_key)
    agent = AgentProcess.start(agent_args(digits_market.path, anvil.rpc_url, digits_market.model_id,
                                          tmp_path / "agent.sqlite", port), env, port)
    try:
        audit_id = consumer.open(digits_market.model_id, *TARGET)

        def state() -> str:
            return GUARDED_STATES[audits.functions.state(audit_id).call()]

        def transfer_state(tid: int) -> str:
            return TRANSFER_STATES[transfers.functions.transferState(tid).call()]

        agent.wait_for("join", lambda: state() == "AwaitingSubset")
        batch, delivery = consumer.send_items(audit_id, rest=False)
        post_delivery(agent.url, delivery)
        agent.wait_for("subset acknowledged", lambda: transfer_state(delivery.transfer_id) == "AwaitingKey")
        consumer.reveal(delivery.transfer_id, batch)
        agent.wait_for("proceed", lambda: state() == "AwaitingRest")

        # The attack: the rest, each item less its trailing zero byte, under the honest commitments.
        a = audits.functions.audit(audit_id).call()
        subset = set(subset_of(a.seed, N, N1))
        truncated = {i: test_set.items[i][:-1] for i in range(N) if i not in subset}
        batch = encrypt_batch(truncated)
        receipt = mc.send(audits, "sendRest", [audit_id, batch.root, batch.key_commitment])
        tid = mc.event(receipt, audits, "RestSent")["transferId"]
        with pytest.raises(DeliveryError, match=r"item \d+ has 63 bytes; the model takes 8x8x1 = 64-byte inputs"):
            post_delivery(agent.url, Delivery(tid, batch.ciphertexts, test_set.commitments, test_set.labels))
        assert transfer_state(tid) == "AwaitingAck"  # refused: nothing acknowledged

        # The consumer proves delivery on chain instead; the agent acknowledges, then contests.
        consumer.publish(tid, batch)
        agent.wait_for("rest acknowledged", lambda: transfer_state(tid) == "AwaitingKey")
        consumer.reveal(tid, batch)
        agent.wait_for("contest and settlement", lambda: state() == "Settled", timeout=120)
        # the contest transaction settles the audit before the agent logs it: wait for the line
        agent.wait_for("the agent's contest log line", lambda: bool(agent.events("contested")), timeout=30)
        assert agent.events("contested")
    finally:
        agent.stop()

    settled = audits.events.AuditSettled.get_logs(from_block=0)[-1]["args"]
    prices = RulePrices(*mc.registry.functions.prices(ETH).call())
    assert (settled["outcome"], settled["consumerPayout"], settled["providerPayout"]) == (
        GuardedOutcome.CONSUMER_DEFAULTED, *guarded_audit_payouts(GuardedOutcome.CONSUMER_DEFAULTED, N, N1, prices))
