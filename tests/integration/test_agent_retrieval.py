"""Retrieval (paper 5.4) against the provider agent as a real subprocess, on anvil with the real
verifier and real proofs. The responder commits its dataset with `zkmarket provider
commit-dataset`; the agent joins the request, commits its signed per-document results, hands
the requester the documents of the asked class with proofs of inclusion (checked here against
the chain, including that no positive was left out), answers a challenge with a proof, settles
and withdraws: the responder is paid D*P + 2*C1*Z. A challenge the stopped agent never answers
costs it the bond beta*D*Z."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from agent_process import AgentProcess, agent_args, free_port

from zkmarket import prover as zp
from zkmarket.model.data import DIGITS_MODEL
from zkmarket.participants.connect import connect
from zkmarket.participants.retrieval import (
    Dataset,
    RetrievalError,
    RetrievalRequester,
)
from zkmarket.protocol.states import REQUEST_STATES
from zkmarket.provider_api import get_results

pytestmark = pytest.mark.integration

ETH = "0x" + "00" * 20
D, C, BETA, DURATION = 6, 2, 2, 3_600
OUTCOME_ANSWERED, OUTCOME_UNANSWERED = 2, 3


@pytest.fixture
def market(chain, anvil, tmp_path, digits_market, digits_split):
    provider, requester, path = digits_market.provider, anvil.accounts[7], digits_market.path
    deployment, model_id = digits_market.deployment, digits_market.model_id
    documents = [bytes(digits_split.test_inputs[i].reshape(-1).tolist()) for i in range(D)]
    env = dict(os.environ, ZKMARKET_PRIVATE_KEY=provider.private_key)
    db = tmp_path / "agent.sqlite"
    (tmp_path / "documents.json").write_text(json.dumps([d.hex() for d in documents]))
    commit = [sys.executable, "-m", "zkmarket.cli", "provider", "commit-dataset", "--deployment", str(path),
              "--rpc-url", anvil.rpc_url, "--db", str(db), "--documents", str(tmp_path / "documents.json")]
    out = json.loads(subprocess.run(commit, env=env, check=True, capture_output=True, text=True).stdout)
    assert (out["documents"], out["root"], out["reused"]) == (D, "0x" + Dataset.commit(documents).root.hex(), False)
    again = json.loads(subprocess.run(commit, env=env, check=True, capture_output=True, text=True).stdout)
    assert (again["datasetId"], again["reused"]) == (out["datasetId"], True)  # no second commitment
    retrieval = deployment.contract(chain, "Retrieval")
    return {"path": path, "model_id": model_id, "provider": provider, "requester": requester, "env": env, "db": db,
            "dataset_id": out["datasetId"], "documents": documents, "retrieval": retrieval,
            "rq": RetrievalRequester(connect(path, anvil.rpc_url, requester), retrieval),
            "config": deployment.params.retrieval}


@pytest.fixture
def agent(market, anvil):
    port = free_port()
    proc = AgentProcess.start(agent_args(market["path"], anvil.rpc_url, market["model_id"], market["db"], port),
                              market["env"], port)
    yield proc
    proc.stop()


def open_request(market, agent) -> int:
    rq = market["rq"]
    request_id = rq.open(market["dataset_id"], market["model_id"], C, BETA, DURATION)
    agent.wait_for("join and results", lambda: rq.state(request_id) == "Challenging")
    return request_id


def test_agent_delivers_positives_answers_a_challenge_and_is_paid(market, agent):
    rq, retrieval, documents = market["rq"], market["retrieval"], market["documents"]
    classes = [zp.evaluate(DIGITS_MODEL, list(d))[1] for d in documents]
    positive = classes[0]
    request_id = open_request(market, agent)

    with pytest.raises(RetrievalError, match="only to its requester") as e:
        get_results(agent.url, request_id, positive)  # no access signature
    assert e.value.status == 403
    delivery = get_results(agent.url, request_id, positive, rq.access_signature(request_id))
    got = rq.check(request_id, delivery)  # signature, both roots, each document, nothing left out
    assert got == {i: d for i, d in enumerate(documents) if classes[i] == positive}
    assert delivery.classes == classes
    with pytest.raises(RetrievalError) as e:
        get_results(agent.url, request_id + 1, positive, rq.access_signature(request_id + 1))
    assert e.value.status == 404

    negative = next(i for i, y in enumerate(classes) if y != positive)
    rq.challenge(request_id, [negative])
    agent.wait_for("answer", lambda: agent.events("challenges answered"))
    assert rq.request(request_id).answered == 1
    (answered,) = retrieval.events.ChallengeAnswered.get_logs(from_block=0)
    assert (answered["args"]["index"], answered["args"]["predictedClass"]) == (negative, classes[negative])

    rq.m.session.warp(market["config"].challenge_window)
    agent.wait_for("settlement and withdrawal", lambda: agent.events("job done"))
    settled = retrieval.events.RequestSettled.get_logs(from_block=0)[-1]["args"]
    _, z, p, _ = rq.m.registry.functions.prices(ETH).call()
    assert (settled["outcome"], settled["requesterPayout"], settled["responderPayout"]) == (
        OUTCOME_ANSWERED, 2 * C * z - 2 * 1 * z, BETA * D * z + D * p + 2 * 1 * z)
    assert retrieval.functions.creditOf(market["provider"].address, ETH).call() == 0  # the agent withdrew
    (withdrawn,) = retrieval.events.Withdrawn.get_logs(from_block=0)
    assert (withdrawn["args"]["account"], withdrawn["args"]["amount"]) == (market["provider"].address,
                                                                          settled["responderPayout"])


def test_challenge_left_unanswered_costs_the_bond(market, agent):
    rq = market["rq"]
    request_id = open_request(market, agent)
    rq.check(request_id, get_results(agent.url, request_id, signature=rq.access_signature(request_id)))
    agent.stop()  # the responder goes away before the requester challenges
    rq.challenge(request_id, [0, 3])
    config = market["config"]
    rq.m.session.warp(config.challenge_window + config.answer_window + 2 * config.proof_window)
    assert rq.state(request_id) == "Settleable"
    settled = rq.settle(request_id)
    _, z, p, _ = rq.m.registry.functions.prices(ETH).call()
    assert (settled["outcome"], settled["requesterPayout"], settled["responderPayout"]) == (
        OUTCOME_UNANSWERED, D * p + 2 * C * z + BETA * D * z, 0)
    assert rq.m.registry.functions.record(market["model_id"]).call().roundsFailed == 1  # counted as failed
    assert REQUEST_STATES[rq.retrieval.functions.state(request_id).call()] == "Settled"
