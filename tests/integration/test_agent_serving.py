"""Serving rounds (paper 5.3) against the provider agent as a real subprocess, on anvil with the
real verifier and real proofs: MC posts its K inputs over HTTP and gets predictions signed by MP
(EIP-712, recovered here to MP's address), commits them, contests two, the agent answers with
proofs before the deadline (after a SIGKILL and restart in between), settles and withdraws, and
MC is paid exactly as the rules say; an agent stopped before answering loses beta*K*Z; inputs
that do not rebuild the round's on-chain inputs root are refused with HTTP 400 and the reason."""

from __future__ import annotations

import os

import pytest
from agent_process import AgentProcess, agent_args, free_port

from zkmarket import prover as zp
from zkmarket.model.data import DIGITS_MODEL
from zkmarket.participants.connect import connect
from zkmarket.participants.serving_round import (
    RoundInputs,
    ServingConsumer,
    ServingError,
)
from zkmarket.protocol.rules import serving_round_payouts
from zkmarket.protocol.states import ROUND_STATES
from zkmarket.provider_api import post_round_inputs

pytestmark = pytest.mark.integration

ETH = "0x" + "00" * 20
K, BETA, DURATION = 4, 3, 3_600
OUTCOME_ANSWERED, OUTCOME_UNANSWERED = 2, 3


@pytest.fixture
def market(chain, anvil, digits_market):
    consumer, deployment = anvil.accounts[7], digits_market.deployment
    return {"path": digits_market.path, "model_id": digits_market.model_id, "provider": digits_market.provider,
            "consumer": consumer, "mc": connect(digits_market.path, anvil.rpc_url, consumer),
            "rounds": deployment.contract(chain, "ServingRound"), "config": deployment.params.serving_round}


@pytest.fixture
def agent(market, anvil, tmp_path):
    port = free_port()
    env = dict(os.environ, ZKMARKET_PRIVATE_KEY=market["provider"].private_key)
    args = agent_args(market["path"], anvil.rpc_url, market["model_id"], tmp_path / "agent.sqlite", port)
    started = []

    def start() -> AgentProcess:
        proc = AgentProcess.start(args, env, port)
        started.append(proc)
        proc.restart = start
        return proc

    yield start()
    for proc in started:
        proc.stop()


def open_joined_round(market, agent, images) -> tuple[ServingConsumer, int]:
    consumer = ServingConsumer(market["mc"], market["rounds"], RoundInputs.commit(images))
    round_id = consumer.open(market["model_id"], BETA, DURATION)
    agent.wait_for("join", lambda: state(market, round_id) == "Serving")
    return consumer, round_id


def state(market, round_id: int) -> str:
    return ROUND_STATES[market["rounds"].functions.state(round_id).call()]


def images(digits_split, start: int = 0) -> list[bytes]:
    return [bytes(digits_split.test_inputs[i].reshape(-1).tolist()) for i in range(start, start + K)]


def test_agent_serves_signed_predictions_answers_contests_and_is_paid(market, agent, digits_split, digits_keys):
    mc, rounds = market["mc"], market["rounds"]
    consumer, round_id = open_joined_round(market, agent, images(digits_split))

    served = post_round_inputs(agent.url, round_id, consumer.inputs)
    assert served.signer(mc.session.w3.eth.chain_id, rounds.address) == market["provider"].address
    assert served.classes == [zp.evaluate(DIGITS_MODEL, list(x))[1] for x in consumer.inputs.items]
    consumer.check(round_id, served)  # signature, inputs root, the classes rebuild the signed root
    again = post_round_inputs(agent.url, round_id, consumer.inputs)  # idempotent
    assert (again.root, again.signature) == (served.root, served.signature)

    consumer.commit(round_id, served)
    agent.kill()  # SIGKILL: the restarted agent answers from the inputs it stored while serving
    agent = agent.restart()
    consumer.contest(round_id, [1, 3])
    agent.wait_for("answers", lambda: agent.events("contests answered"))
    answered = agent.events("contests answered")
    assert answered[-1]["indices"] == [1, 3] and answered[-1]["seconds_left"] > 0
    assert rounds.functions.round(round_id).call().answered == 2
    assert [e["args"]["predictedClass"] for e in rounds.events.ContestAnswered.get_logs(from_block=0)] == [
        served.classes[1], served.classes[3]]

    mc.session.warp(DURATION)
    agent.wait_for("settlement and withdrawal", lambda: agent.events("job done"))
    settled = rounds.events.RoundSettled.get_logs(from_block=0)[-1]["args"]
    z = mc.registry.functions.prices(ETH).call().proofZ
    assert (settled["outcome"], settled["consumerPayout"], settled["providerPayout"]) == (
        OUTCOME_ANSWERED, *serving_round_payouts(True, 2, K, BETA, z))
    assert rounds.functions.creditOf(market["provider"].address, ETH).call() == 0  # the agent withdrew
    withdrawn = [e["args"] for e in rounds.events.Withdrawn.get_logs(from_block=0)]
    assert [(w["account"], w["amount"]) for w in withdrawn] == [(market["provider"].address,
                                                                 settled["providerPayout"])]
    assert rounds.functions.creditOf(market["consumer"].address, ETH).call() == settled["consumerPayout"]


def test_agent_stopped_before_answering_loses_beta_k_z(market, agent, digits_split):
    mc = market["mc"]
    consumer, round_id = open_joined_round(market, agent, images(digits_split, 4))
    served = post_round_inputs(agent.url, round_id, consumer.inputs)
    consumer.check(round_id, served)
    consumer.commit(round_id, served)
    agent.stop()  # MP goes away before MC contests
    consumer.contest(round_id, [2])
    config = market["config"]
    mc.session.warp(DURATION + config.answer_window + config.proof_window)
    assert state(market, round_id) == "Settleable"
    settled = consumer.settle(round_id)
    z = mc.registry.functions.prices(ETH).call().proofZ
    assert (settled["outcome"], settled["consumerPayout"], settled["providerPayout"]) == (
        OUTCOME_UNANSWERED, *serving_round_payouts(False, 1, K, BETA, z))
    assert settled["consumerPayout"] - 2 * K * z == BETA * K * z  # MP's whole escrow
    assert mc.registry.functions.record(market["model_id"]).call().roundsFailed == 1


def test_inputs_not_matching_the_committed_root_are_refused_with_400(market, agent, digits_split):
    consumer, round_id = open_joined_round(market, agent, images(digits_split))
    other = RoundInputs.commit(images(digits_split, 4))
    with pytest.raises(ServingError, match="inputs root") as e:
        post_round_inputs(agent.url, round_id, other)
    assert e.value.status == 400
    with pytest.raises(ServingError, match="K=4 inputs, got 3") as e:
        post_round_inputs(agent.url, round_id, RoundInputs.commit(consumer.inputs.items[:3]))
    assert e.value.status == 400
    with pytest.raises(ServingError) as e:
        post_round_inputs(agent.url, round_id + 1, consumer.inputs)
    assert e.value.status == 404
    served = post_round_inputs(agent.url, round_id, consumer.inputs)  # the right ones are still served
    consumer.check(round_id, served)
