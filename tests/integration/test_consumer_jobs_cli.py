"""The consumer's serving-round and retrieval commands (`zkmarket round | retrieval`) on anvil,
through click's CliRunner, against a real provider agent subprocess, the real digits verifier
and real proofs.

`round buy` opens a round, posts the inputs to the agent, checks its signed predictions,
commits them, contests two random predictions, waits for the agent's proofs, checks them
locally through the registered verifier and settles (on the dev chain's moved clock): MC and MP
are paid exactly as the rules say. `retrieval request` fetches the positives with the
requester's signature, checks them, challenges one result, checks the proof and settles. Then
`show`; a stopped round resumed from its state file; and the one-line errors (a provider that
cannot be reached, contest indices out of range, settling too early).
"""

from __future__ import annotations

import dataclasses
import json
import os
import random
import re
import subprocess
import sys

import pytest
from agent_process import AgentProcess, agent_args, free_port
from cli_checks import cli_as, fails, ok

from zkmarket import prover as zp
from zkmarket.consumer import answers as answers_module
from zkmarket.consumer import connect as consumer_connect
from zkmarket.consumer.answers import verify_answers
from zkmarket.consumer.client import format_amount
from zkmarket.consumer.jobs import JobState, job_path
from zkmarket.model.data import DIGITS_MODEL
from zkmarket.participants.connect import connect
from zkmarket.protocol.rules import serving_round_payouts
from zkmarket.store import LocalStore

pytestmark = pytest.mark.integration

ETH = "0x" + "00" * 20
K, BETA, D = 4, 3, 6


@pytest.fixture
def env(anvil, tmp_path, digits_market, monkeypatch):
    """A fresh marketplace with the digits model registered by MP, and the CLI as MC, run in tmp_path."""
    monkeypatch.chdir(tmp_path)
    path, provider, consumer = digits_market.path, digits_market.provider, anvil.accounts[7]
    return {"cli": cli_as(path, anvil.rpc_url, consumer), "path": path, "provider": provider, "consumer": consumer,
            "tmp": tmp_path, "model_id": digits_market.model_id, "rpc": anvil.rpc_url, "mp": digits_market.mp,
            "deployment": digits_market.deployment,
            "agent_env": dict(os.environ, ZKMARKET_PRIVATE_KEY=provider.private_key)}


@pytest.fixture
def agent(env):
    port = free_port()
    proc = AgentProcess.start(agent_args(env["path"], env["rpc"], env["model_id"], env["tmp"] / "agent.sqlite", port),
                              env["agent_env"], port)
    yield proc
    proc.stop()


def digits(split, start: int, n: int) -> list[bytes]:
    return [bytes(split.test_inputs[i].reshape(-1).tolist()) for i in range(start, start + n)]


# ---------------------------------------------------------------------- serving rounds


def test_round_buy_contests_two_at_random_checks_the_proofs_and_is_paid_exactly(env, agent, digits_split,
                                                                                monkeypatch):
    out = ok(env["cli"]("round", "buy", "--model", str(env["model_id"]), "--digits", str(K), "--provider-url",
                        agent.url, "--beta", str(BETA), "--contest-random", "2", "--seed", "7", "--warp",
                        "--poll", "0.2", "--timeout", "240", "-o", "predictions.json"))
    contested = sorted(random.Random(7).sample(range(K), 2))
    classes = [zp.evaluate(DIGITS_MODEL, list(x))[1] for x in digits(digits_split, 0, K)]
    mc = connect(env["path"], env["rpc"], env["consumer"])
    z = mc.registry.functions.prices(ETH).call().proofZ
    consumer_payout, provider_payout = serving_round_payouts(True, 2, K, BETA, z)
    assert "opened round 1 of model 1: K=4 inputs" in out
    assert f"signed by the model's provider {env['provider'].address}" in out
    assert f"contested predictions {contested}" in out
    assert "checked 2 answered proof(s) of round 1 locally" in out and ": 2 valid" in out
    assert "round 1 settled: ContestsAnswered" in out
    assert f"consumer (MC) credited {format_amount(consumer_payout)}" in out
    assert f"provider (MP) credited {format_amount(provider_payout)}" in out
    assert ", ".join(f"{i}: {y}{'*' if i in contested else ''}" for i, y in enumerate(classes)) in out
    rounds = env["deployment"].contract(mc.session.w3, "ServingRound")
    settled = rounds.events.RoundSettled.get_logs(from_block=0)[-1]["args"]
    assert (settled["consumerPayout"], settled["providerPayout"]) == (consumer_payout, provider_payout)
    assert rounds.functions.creditOf(env["consumer"].address, ETH).call() == consumer_payout
    written = json.loads((env["tmp"] / "predictions.json").read_text())
    assert (written["classes"], written["contested"], written["proven"]) == (classes, contested, contested)

    state = JobState.load(job_path(env["tmp"], "round", 1))  # MC's state: inputs, what MP served, the contests
    assert state.data["contested"] == contested and state.data["served"]["classes"] == classes
    assert not list(env["tmp"].glob("zkmarket-round-pending-*"))
    shown = json.loads(ok(env["cli"]("round", "show", "1", "--json")))
    assert (shown["state"], shown["k"], shown["beta"], shown["contested"], shown["answered"]) == (
        "Settled", K, BETA, contested, contested)
    assert shown["predictions"] == classes and shown["provider"] == env["provider"].address
    assert shown["settlement"]["outcome"] == "ContestsAnswered"
    assert shown["settlement"]["consumer_payout"] == consumer_payout
    table = ok(env["cli"]("round", "show", "1"))
    assert "Settled" in table and "ContestsAnswered" in table
    assert "already settled" in ok(env["cli"]("round", "settle", "1"))

    # the local check catches what the chain would have: another class than served, a corrupted proof
    client = consumer_connect(env["path"], env["rpc"], env["consumer"])
    r = rounds.functions.round(1).call()
    kwargs = dict(kind="round", job_id=1, model_id=env["model_id"], contested=contested, inputs_root=r.inputsRoot,
                  results_root=r.predictionsRoot)
    assert verify_answers(client, rounds, **kwargs, classes=classes).valid == 2
    lied = [(y + 1) % 10 if i == contested[0] else y for i, y in enumerate(classes)]
    assert [c.index for c in verify_answers(client, rounds, **kwargs, classes=lied).invalid] == [contested[0]]
    real = answers_module.answered_calldata

    def corrupted(*args):
        found = real(*args)
        ev, a = found[contested[1]]
        proof = bytearray(a.proof)
        proof[100] ^= 1
        found[contested[1]] = (ev, dataclasses.replace(a, proof=bytes(proof)))
        return found

    with monkeypatch.context() as m:
        m.setattr(answers_module, "answered_calldata", corrupted)
        bad = verify_answers(client, rounds, **kwargs).invalid
    assert [c.index for c in bad] == [contested[1]] and "rejects it (eth_call)" in bad[0].problem


def test_round_stopped_before_settling_resumes_from_its_state_file(env, agent):
    out = ok(env["cli"]("round", "buy", "--model", str(env["model_id"]), "--digits", "2", "--offset", "4",
                        "--provider-url", agent.url, "--contest", "0", "--no-settle", "--poll", "0.2", "--timeout",
                        "120"))
    assert "nothing contested" in out and "zkmarket round settle 1" in out
    fails(env["cli"]("round", "settle", "1"), "round 1 is Serving until", "nothing to settle yet")
    resumed = ok(env["cli"]("round", "resume", "1", "--warp", "--poll", "0.2", "--timeout", "60"))
    assert "resuming round 1" in resumed and "round 1 settled: Uncontested" in resumed
    z = env["mp"].registry.functions.prices(ETH).call().proofZ
    assert f"consumer (MC) credited {format_amount(2 * 2 * z)}" in resumed  # both escrows returned


def test_round_errors_are_one_clear_line_and_spend_nothing(env):
    port = free_port()  # nothing listens there
    fails(env["cli"]("round", "buy", "--model", str(env["model_id"]), "--digits", "4", "--provider-url",
                     f"http://127.0.0.1:{port}", "--contest", "1"),
          f"cannot reach the provider agent at http://127.0.0.1:{port}", "nothing was sent", "--provider-url")
    fails(env["cli"]("round", "buy", "--model", str(env["model_id"]), "--digits", "4", "--provider-url",
                     f"http://127.0.0.1:{port}", "--contest-indices", "1,4"), "indices [4] are out of range")
    fails(env["cli"]("round", "buy", "--model", "9", "--digits", "4", "--provider-url", f"http://127.0.0.1:{port}"),
          "ModelNotFound(modelId=9)")
    fails(env["cli"]("round", "buy", "--model", str(env["model_id"]), "--digits", "4", "--provider-url",
                     f"http://127.0.0.1:{port}", "--contest", "1", "--contest-indices", "1"), "one way")
    rounds = env["deployment"].contract(env["mp"].session.w3, "ServingRound")
    assert rounds.functions.roundCount().call() == 0 and not list(env["tmp"].glob("zkmarket-round-*"))
    fails(env["cli"]("round", "show", "1"), "no round 1 on this deployment")
    fails(env["cli"]("retrieval", "show", "1"), "no retrieval request 1 on this deployment")


# ---------------------------------------------------------------------- retrieval


@pytest.fixture
def dataset(env, digits_split):
    documents = digits(digits_split, 0, D)
    (env["tmp"] / "documents.json").write_text(json.dumps([d.hex() for d in documents]))
    commit = [sys.executable, "-m", "zkmarket.cli", "provider", "commit-dataset", "--deployment", str(env["path"]),
              "--rpc-url", env["rpc"], "--db", str(env["tmp"] / "agent.sqlite"), "--documents",
              str(env["tmp"] / "documents.json")]
    out = json.loads(subprocess.run(commit, env=env["agent_env"], check=True, capture_output=True, text=True).stdout)
    return out["datasetId"], documents


def test_retrieval_request_checks_the_positives_and_a_challenge_then_settles(env, dataset, agent):
    dataset_id, documents = dataset
    classes = [zp.evaluate(DIGITS_MODEL, list(d))[1] for d in documents]
    positive = classes[0]
    expected = [i for i, y in enumerate(classes) if y == positive]
    negative = next(i for i, y in enumerate(classes) if y != positive)
    out = ok(env["cli"]("retrieval", "request", "--dataset", str(dataset_id), "--model", str(env["model_id"]),
                        "--provider-url", agent.url, "--class", str(positive), "--challenge-indices", str(negative),
                        "--beta", "2", "--store-dir", "store", "-o", "documents-out.json", "--warp", "--poll", "0.2",
                        "--timeout", "240"))
    _, z, p, _ = env["mp"].registry.functions.prices(ETH).call()
    assert f"opened retrieval request 1: dataset {dataset_id} (D={D} documents" in out
    assert f"MP delivered {len(expected)} document(s) of class {positive} {expected}" in out
    assert f"challenged results [{negative}]" in out
    assert "checked 1 answered proof(s) of request 1 locally" in out and ": 1 valid" in out
    assert "request 1 settled: ChallengesAnswered" in out
    assert f"consumer (MC) credited {format_amount(2 * z - 2 * z)}" in out  # C = C1 = 1: the budget paid MP
    assert f"provider (MP) credited {format_amount(2 * D * z + D * p + 2 * z)}" in out
    assert f"retrieved {len(expected)} document(s) of class {positive} from request 1: indices " \
           f"[{', '.join(map(str, expected))}]" in out
    written = json.loads((env["tmp"] / "documents-out.json").read_text())
    assert written["documents"] == {str(i): documents[i].hex() for i in expected}
    store = LocalStore(env["tmp"] / "store")
    cids = re.findall(r"document (\d+): (\S+)", out)
    assert [int(i) for i, _ in cids] == expected
    assert all(store.get(cid) == documents[int(i)] for i, cid in cids)

    shown = json.loads(ok(env["cli"]("retrieval", "show", "1", "--json")))
    assert (shown["state"], shown["documents"], shown["challenged"], shown["answered"]) == (
        "Settled", D, [negative], [negative])
    assert (shown["retrieved"], shown["positive_class"]) == (expected, positive)
    assert shown["settlement"]["outcome"] == "ChallengesAnswered"
    assert "ChallengesAnswered" in ok(env["cli"]("retrieval", "show", "1"))
