"""The consumer's commands (`zkmarket model | testset | audit | withdraw`) on anvil, through
click's CliRunner, against a deployment made by zkmarket.market and the real digits verifier.

The full audit runs against a real provider agent subprocess: MC's `audit run` opens, sends the
subset and the rest to the agent's endpoint, reveals, waits for the N2 = 4 real proofs, checks
them locally through the registered verifier, finalizes and prints the payouts. The other tests
need no proofs: resuming after a timeout (keys in the state file before their commitment),
MP and MC deadlines, MC's proof of delivery on chain when MP does not acknowledge (and MC's
default without it), and the one-line errors (unknown model, wrong chain, no funds, malformed
or tampered test sets).
"""

from __future__ import annotations

import dataclasses
import json
import os
import re

import numpy as np
import pytest
from agent_process import AgentProcess, agent_args, free_port
from cli_checks import cli_as, fails, ok
from click.testing import CliRunner
from eth_account import Account

from zkmarket import prover as zp
from zkmarket.agent.server import DeliveryServer
from zkmarket.cli import main
from zkmarket.consumer import GuardedAuditRun, RevertError
from zkmarket.consumer import connect as consumer_connect
from zkmarket.consumer import proofs as proofs_module
from zkmarket.consumer.client import format_amount
from zkmarket.consumer.proofs import verify_audit_proofs
from zkmarket.consumer.state import AuditStateFile, state_path
from zkmarket.consumer.testsets import load_committed
from zkmarket.market import MarketParams, deploy_market
from zkmarket.model.data import DIGITS_MODEL
from zkmarket.participants.connect import connect
from zkmarket.participants.delivery import DeliveryError
from zkmarket.participants.guarded_audit import GuardedAuditProvider
from zkmarket.protocol import commit_test_set
from zkmarket.protocol.rules import GuardedOutcome, guarded_audit_payouts
from zkmarket.protocol.rules import Prices as RulePrices
from zkmarket.protocol.states import GUARDED_STATES, TRANSFER_STATES
from zkmarket.protocol.transfer import key_commitment

pytestmark = pytest.mark.integration

ETH = "0x" + "00" * 20
N, N1 = 6, 2
HOUR = 3_600


@pytest.fixture
def env(chain, anvil, tmp_path, verifier, monkeypatch):
    """A fresh marketplace (N1 = 2) and a way to run the CLI as one of the dev accounts, in
    tmp_path (where `audit resume ID` finds MC's state file)."""
    monkeypatch.chdir(tmp_path)
    dep = deploy_market(chain, anvil.accounts[5], MarketParams(n1=N1))
    path = dep.save(tmp_path / "deployment.json")
    provider, consumer = anvil.accounts[6], anvil.accounts[7]
    return {"cli": cli_as(path, anvil.rpc_url, consumer), "path": path, "provider": provider, "consumer": consumer,
            "tmp": tmp_path, "verifier": verifier.address, "rpc": anvil.rpc_url}


def register(env) -> int:
    out = ok(env["cli"]("model", "register", str(DIGITS_MODEL), "--verifier", env["verifier"], "--uri",
                        "ipfs://digits", account=env["provider"]))
    return int(re.search(r"registered model (\d+)", out).group(1))


def _rpc(env) -> str:
    return env["rpc"]


def commit_digits(env, name: str = "testset.json"):
    out_path = env["tmp"] / name
    out = ok(env["cli"]("testset", "commit", "--digits", str(N), "-o", str(out_path)))
    assert f"N={N}" in out
    return out_path


# ---------------------------------------------------------------------- models


def test_model_register_and_show(env):
    model_id = register(env)
    assert model_id == 1
    shown = json.loads(ok(env["cli"]("model", "show", "1", "--json")))
    assert shown["provider"] == env["provider"].address
    assert shown["status"] == "Active" and shown["available"] and shown["verifier_code_ok"]
    assert int(shown["weight_commitment"], 16) == int(zp.commit_weights(DIGITS_MODEL), 16)
    assert shown["stake"] == shown["required_stake"] == 1000 * N1 * 10**15
    assert shown["record"] == {"audits_passed": 0, "audits_failed": 0, "audits_aborted": 0,
                               "rounds_completed": 0, "rounds_failed": 0}
    table = ok(env["cli"]("model", "show", "1"))
    assert env["provider"].address in table and "0 passed, 0 failed, 0 aborted" in table


def test_model_show_unknown_id_names_the_custom_error(env):
    fails(env["cli"]("model", "show", "99"), "ModelRegistry.model reverted: ModelNotFound(modelId=99)")


def test_register_without_funds_is_refused_before_sending(env):
    poor = Account.create()
    fails(env["cli"]("model", "register", str(DIGITS_MODEL), "--verifier", env["verifier"], key=poor.key.hex()),
          "insufficient funds", "registerModel", "2 ETH", poor.address)


def test_register_with_a_verifier_without_code_is_refused(env):
    fails(env["cli"]("model", "register", str(DIGITS_MODEL), "--verifier", "0x" + "11" * 20,
                     account=env["provider"]), "no contract at the verifier address")


def test_wrong_chain_id_is_refused(env, tmp_path):
    doc = json.loads(env["path"].read_text())
    doc["chain_id"] = 1
    other = tmp_path / "mainnet.json"
    other.write_text(json.dumps(doc))
    err = fails(env["cli"]("model", "show", "1", "--deployment", str(other)), "wrong network")
    assert "chain id 31337" in err and "chain id 1" in err


# ---------------------------------------------------------------------- test sets


def test_testset_commit_from_files_matches_the_protocol(env, tmp_path, digits_split):
    images = digits_split.test_inputs[:3]
    labels = [int(v) for v in digits_split.test_labels[:3]]
    np.save(tmp_path / "x.npy", images)
    (tmp_path / "y.json").write_text(json.dumps(labels))
    out = ok(env["cli"]("testset", "commit", "--images", str(tmp_path / "x.npy"), "--labels",
                        str(tmp_path / "y.json"), "-o", str(tmp_path / "t.json")))
    expected = commit_test_set([bytes(x.reshape(-1).tolist()) for x in images], labels)
    assert "N=3" in out and f"0x{expected.root.hex()}" in out
    # the same examples as JSON give the same root
    (tmp_path / "x.json").write_text(json.dumps(images.tolist()))
    out = ok(env["cli"]("testset", "commit", "--images", str(tmp_path / "x.json"), "--labels",
                        str(tmp_path / "y.json"), "-o", str(tmp_path / "t2.json")))
    assert f"0x{expected.root.hex()}" in out


def test_malformed_testset_files_are_refused(env, tmp_path):
    cli = env["cli"]
    (tmp_path / "y.json").write_text("[1, 2]")
    (tmp_path / "bad.json").write_text("[[1, 2, 300], [0, 0, 0]]")
    fails(cli("testset", "commit", "--images", str(tmp_path / "bad.json"), "--labels", str(tmp_path / "y.json"),
              "-o", str(tmp_path / "t.json")), "outside 0..255")
    (tmp_path / "notjson.json").write_text("{not json")
    fails(cli("testset", "commit", "--images", str(tmp_path / "notjson.json"), "--labels",
              str(tmp_path / "y.json"), "-o", str(tmp_path / "t.json")), "not JSON")
    (tmp_path / "x.json").write_text("[[1, 2, 3], [4, 5, 6], [7, 8, 9]]")
    fails(cli("testset", "commit", "--images", str(tmp_path / "x.json"), "--labels", str(tmp_path / "y.json"),
              "-o", str(tmp_path / "t.json")), "3 examples", "2 labels")
    assert not (tmp_path / "t.json").exists()


def test_tampered_testset_is_refused(env):
    path = commit_digits(env)
    ok(env["cli"]("testset", "show", str(path)))
    doc = json.loads(path.read_text())
    doc["labels"][0] = (doc["labels"][0] + 1) % 10
    path.write_text(json.dumps(doc))
    fails(env["cli"]("testset", "show", str(path)), "refusing the test set", "does not match its examples")
    model_id = register(env)
    fails(env["cli"]("audit", "run", "--model", str(model_id), "--testset", str(path), "--target", "0.9",
                     "--provider-url", "http://127.0.0.1:9"), "refusing the test set")
    audits = connect(env["path"], _rpc(env), env["consumer"]).audits
    assert audits.functions.auditCount().call() == 0  # nothing was opened


# ---------------------------------------------------------------------- audits


def test_audit_of_unknown_model_is_refused(env):
    path = commit_digits(env)
    fails(env["cli"]("audit", "run", "--model", "7", "--testset", str(path), "--target", "0.9",
                     "--provider-url", "http://127.0.0.1:9"), "ModelNotFound(modelId=7)")


def test_audit_run_passes_with_real_proofs_then_show_and_withdraw(env, anvil, monkeypatch):
    model_id = register(env)
    testset = commit_digits(env)
    port = free_port()
    agent_env = dict(os.environ, ZKMARKET_PRIVATE_KEY=env["provider"].private_key)
    agent = AgentProcess.start(agent_args(env["path"], anvil.rpc_url, model_id, env["tmp"] / "agent.sqlite", port,
                                          "--batch-size", "2"), agent_env, port)
    try:
        out = ok(env["cli"]("audit", "run", "--model", str(model_id), "--testset", str(testset), "--target", "0.9",
                            "--provider-url", f"http://127.0.0.1:{port}", "--poll", "0.2", "--timeout", "240"))
    finally:
        agent.stop()
    mc = connect(env["path"], _rpc(env), env["consumer"])
    prices = RulePrices(*mc.registry.functions.prices(ETH).call())
    consumer_payout, provider_payout = guarded_audit_payouts(GuardedOutcome.PASSED, N, N1, prices)
    assert "opened audit 1" in out and "delivered transfer 1" in out and "delivered transfer 2" in out
    assert "4 valid, 4/4 correct" in out
    assert "audit 1 settled: Passed" in out
    assert f"consumer (MC) credited {format_amount(consumer_payout)}" in out
    assert f"provider (MP) credited {format_amount(provider_payout)}" in out

    # MC's state file holds both transfers' keys, matching the on-chain commitments
    state = AuditStateFile.load(state_path(testset, 1))
    a = mc.audits.functions.audit(1).call()
    for kind, tid in (("subset", a.subsetTransfer), ("rest", a.restTransfer)):
        keys = state.transfers[kind]
        assert keys.transfer_id == tid
        assert key_commitment(keys.key_bytes, keys.salt_bytes) == mc.transfers.functions.getTransfer(tid).call().keyCommitment

    shown = json.loads(ok(env["cli"]("audit", "show", "1", "--json")))
    assert shown["state"] == "Settled" and shown["submitted"] == 4 and shown["correct"] == 4
    assert len(shown["subset"]) == N1 and shown["settlement"]["outcome"] == "Passed"
    assert shown["settlement"]["consumer_payout"] == consumer_payout
    assert "Settled" in ok(env["cli"]("audit", "show", "1"))
    assert json.loads(ok(env["cli"]("model", "show", str(model_id), "--json")))["record"]["audits_passed"] == 1

    # the local check catches what the chain would have: a proof for other data, a corrupted proof
    client = consumer_connect(env["path"], _rpc(env), env["consumer"])
    test_set = load_committed(testset)
    report = verify_audit_proofs(client, 1, test_set)
    assert (report.valid, report.correct, report.missing, report.invalid) == (4, 4, [], [])
    first = report.expected[0]
    relabeled = dataclasses.replace(test_set, labels=[(v + 1) % 10 if i == first else v
                                                      for i, v in enumerate(test_set.labels)])
    assert [(c.index, c.problem) for c in verify_audit_proofs(client, 1, relabeled).invalid] == [
        (first, "its input commitment or label differs from the consumer's test set file")]
    real = proofs_module.submitted_proofs

    def corrupted(client_, audit_id):
        found = real(client_, audit_id)
        ev, p = found[first]
        proof = bytearray(p["proof"])
        proof[100] ^= 1
        found[first] = (ev, {**p, "proof": bytes(proof)})
        return found

    with monkeypatch.context() as m:
        m.setattr(proofs_module, "submitted_proofs", corrupted)
        bad = verify_audit_proofs(client, 1, test_set).invalid
    assert [c.index for c in bad] == [first] and "rejects it (eth_call)" in bad[0].problem

    withdrawn = ok(env["cli"]("withdraw"))
    assert "from GriefingResistantAudit" in withdrawn
    assert mc.audits.functions.creditOf(env["consumer"].address, ETH).call() == 0
    assert "nothing to withdraw" in ok(env["cli"]("withdraw"))


class FakeAgent:
    """MP's HTTP endpoint without the agent: stores what MC delivers."""

    def __init__(self):
        self.deliveries = []
        self.server = DeliveryServer("127.0.0.1", 0, self.deliveries.append).start()
        self.url = self.server.url

    def stop(self):
        self.server.stop()

    def __enter__(self) -> "FakeAgent":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def open_and_join(env, fake: FakeAgent, testset) -> tuple[int, object]:
    """MC opens through the CLI (gives up waiting for the join), MP joins in-process."""
    model_id = register(env)
    err = fails(env["cli"]("audit", "run", "--model", str(model_id), "--testset", str(testset), "--target", "3/4",
                           "--provider-url", fake.url, "--poll", "0.05", "--timeout", "0.2"),
                "waiting for MP to join", "zkmarket audit resume 1", code=3)
    assert "Open" in err
    mp = connect(env["path"], _rpc(env), env["provider"])
    GuardedAuditProvider(mp, DIGITS_MODEL, None, None).join(1)
    return model_id, mp


def test_resume_sends_with_keys_saved_publishes_at_half_window_then_mp_missing_the_ack_deadline_fails_it(env):
    testset = commit_digits(env)
    with FakeAgent() as fake:
        _, mp = open_and_join(env, fake, testset)
        first = env["cli"]("audit", "resume", "1", "--poll", "0.05", "--timeout", "0.2")
        fails(first, "waiting for MP to acknowledge transfer 1", code=3)
        assert "proving delivery on chain" not in first.stdout  # not before half the ack window
        # the delivery reached MP's endpoint, and the key behind the on-chain commitment is on disk
        assert [d.transfer_id for d in fake.deliveries] == [1]
        keys = AuditStateFile.load(state_path(testset, 1)).transfers["subset"]
        assert keys.transfer_id == 1
        assert key_commitment(keys.key_bytes, keys.salt_bytes) == mp.transfers.functions.getTransfer(1).call().keyCommitment
        shown = json.loads(ok(env["cli"]("audit", "show", "1", "--json")))
        assert shown["state"] == "SendingSubset" and shown["transfers"]["subset"]["state"] == "AwaitingAck"
        assert shown["transfers"]["subset"]["published_items"] == 0

        # MP is silent half-way through the ack window: MC proves delivery on chain and waits on.
        mp.session.warp(HOUR // 2)
        second = env["cli"]("audit", "resume", "1", "--poll", "0.05", "--timeout", "0.2")
        fails(second, "waiting for MP to acknowledge transfer 1", code=3)
        assert "MP has not acknowledged transfer 1 half-way through its ack window: proving delivery on chain, " \
               f"{N1} ciphertexts and the test set's {N} leaves (2 transactions)" in second.stdout
        assert "published transfer 1 on chain: MP must acknowledge by" in second.stdout
        t = mp.transfers.functions.getTransfer(1).call()
        assert (t.published, t.leavesPublished) == (N1, True)  # every subset item and the leaves are on chain
        shown = json.loads(ok(env["cli"]("audit", "show", "1", "--json")))["transfers"]["subset"]
        assert (shown["published_items"], shown["leaves_published"]) == (N1, True)
        assert "2/2 items and the leaves published on chain" in ok(env["cli"]("audit", "show", "1"))

        mp.session.warp(HOUR // 2 + 1)  # past the first ack deadline: the publication extended it
        assert TRANSFER_STATES[mp.transfers.functions.transferState(1).call()] == "AwaitingAck"
        mp.session.warp(HOUR // 2)  # MP never acknowledges
        out = ok(env["cli"]("audit", "resume", "1", "--poll", "0.05"))
    assert "MP did not acknowledge transfer 1 (delivery proven on chain) before the deadline" in out
    assert "audit 1 settled: Failed" in out
    prices = RulePrices(*mp.registry.functions.prices(ETH).call())
    consumer_payout, _ = guarded_audit_payouts(GuardedOutcome.FAILED, N, N1, prices)
    assert consumer_payout == 4 * N * prices.example_e
    assert mp.audits.functions.creditOf(env["consumer"].address, ETH).call() == consumer_payout


def test_mc_without_proof_of_delivery_at_the_ack_deadline_defaults(env):
    testset = commit_digits(env)
    with FakeAgent() as fake:
        _, mp = open_and_join(env, fake, testset)
        fails(env["cli"]("audit", "resume", "1", "--poll", "0.05", "--timeout", "0.2"),
              "waiting for MP to acknowledge transfer 1", code=3)
        mp.session.warp(HOUR + 1)  # MC was away for the whole ack window: nothing was published
        fails(env["cli"]("audit", "resume", "1", "--poll", "0.05"), "deadline passed",
              "MC did not prove delivery on chain", "SenderUndelivered", "zkmarket audit finalize 1")
        out = ok(env["cli"]("audit", "finalize", "1"))
    assert "transfer 1 is AckExpired: expiring it" in out and "audit 1 settled: ConsumerDefaulted" in out
    prices = RulePrices(*mp.registry.functions.prices(ETH).call())
    assert mp.audits.functions.creditOf(env["provider"].address, ETH).call() == 4 * N * prices.example_e
    assert mp.audits.functions.creditOf(env["consumer"].address, ETH).call() == 0


def test_a_refused_delivery_is_published_on_chain_instead(env):
    testset = commit_digits(env)
    fake = FakeAgent()
    refusing = DeliveryServer("127.0.0.1", 0, _refuse).start()
    try:
        _, mp = open_and_join(env, fake, testset)
        first = env["cli"]("audit", "resume", "1", "--provider-url", refusing.url, "--poll", "0.05",
                           "--timeout", "0.2")
        fails(first, "waiting for MP to acknowledge transfer 1", code=3)  # MC goes on waiting
        assert f"could not deliver transfer 1 to {refusing.url} (provider refused the delivery" in first.stdout
        assert "MC publishes it on chain as proof of delivery at" in first.stdout and "(in 30m)" in first.stdout
        assert "published transfer 1" not in first.stdout
        mp.session.warp(HOUR // 2)
        result = env["cli"]("audit", "resume", "1", "--poll", "0.05", "--timeout", "0.2")
        fails(result, "waiting for MP to acknowledge transfer 1", code=3)
    finally:
        refusing.stop()
        fake.stop()
    assert fake.deliveries == []
    assert "published transfer 1 on chain" in result.stdout
    t = mp.transfers.functions.getTransfer(1).call()
    assert (t.published, t.leavesPublished) == (N1, True)


def _refuse(delivery) -> None:
    raise DeliveryError("not today")


def test_consumer_deadline_passed_is_a_clear_error(env):
    testset = commit_digits(env)
    with FakeAgent() as fake:
        _, mp = open_and_join(env, fake, testset)
        mp.session.warp(HOUR + 1)  # MC never sends the subset
        fails(env["cli"]("audit", "resume", "1", "--testset", str(testset)), "deadline passed", "SubsetExpired",
              "zkmarket audit finalize 1")
        assert fake.deliveries == []
        out = ok(env["cli"]("audit", "finalize", "1"))
    assert "audit 1 settled: ConsumerDefaulted" in out
    assert GUARDED_STATES[mp.audits.functions.state(1).call()] == "Settled"


def test_finalize_before_the_stage_is_over_is_refused(env):
    testset = commit_digits(env)
    with FakeAgent() as fake:
        open_and_join(env, fake, testset)
    fails(env["cli"]("audit", "finalize", "1"), "audit 1 is AwaitingSubset", "nothing to finalize yet")
    fails(env["cli"]("audit", "show", "5"), "no audit 5")


def test_keys_are_on_disk_before_the_commitment_is_sent_and_a_crash_resumes(env):
    testset = commit_digits(env)
    with FakeAgent() as fake:
        open_and_join(env, fake, testset)
        client = consumer_connect(env["path"], _rpc(env), env["consumer"])
        run = GuardedAuditRun.resume(client, 1, testset=testset, poll=0.05)
        real_send, seen = client.send, {}

        def send_then_crash(contract, fn, args, value=0):
            if fn != "sendSubset":
                return real_send(contract, fn, args, value=value)
            on_disk = AuditStateFile.load(state_path(testset, 1)).transfers["subset"]
            seen["key on disk"] = key_commitment(on_disk.key_bytes, on_disk.salt_bytes) == args[2]
            real_send(contract, fn, args, value=value)  # the commitment is mined ...
            raise KeyboardInterrupt  # ... and MC dies before recording anything else

        client.send = send_then_crash
        with pytest.raises(KeyboardInterrupt):
            run.run()
        assert seen == {"key on disk": True}
        assert AuditStateFile.load(state_path(testset, 1)).transfers["subset"].transfer_id is None
        assert fake.deliveries == []
        # a new process finds the key, delivers the committed ciphertexts and waits for MP
        fails(env["cli"]("audit", "resume", "1", "--poll", "0.05", "--timeout", "0.2"),
              "waiting for MP to acknowledge transfer 1", code=3)
    assert [d.transfer_id for d in fake.deliveries] == [1]
    assert AuditStateFile.load(state_path(testset, 1)).transfers["subset"].transfer_id == 1


def test_network_option_reads_networks_toml(env, anvil, tmp_path):
    register(env)
    runner = CliRunner(mix_stderr=False)
    base = {"ZKMARKET_PRIVATE_KEY": env["consumer"].private_key}
    for chain_id, expect_ok in ((31337, True), (5, False)):
        (tmp_path / "networks.toml").write_text(
            f'[networks.here]\nrpc_url = "{anvil.rpc_url}"\nchain_id = {chain_id}\ndeployment = "deployment.json"\n')
        result = runner.invoke(main, ["model", "show", "1", "--network", "here", "--json"], env=base)
        if expect_ok:
            assert json.loads(ok(result))["model_id"] == 1
        else:
            fails(result, "wrong network", "network 'here'")
    fails(runner.invoke(main, ["model", "show", "1"], env=base), "--deployment FILE", "--network NAME")


def test_a_transaction_that_would_revert_is_not_sent_and_names_the_error(env):
    testset = commit_digits(env)
    with FakeAgent() as fake:
        open_and_join(env, fake, testset)
    client = consumer_connect(env["path"], _rpc(env), env["provider"])  # not the audit's consumer
    nonce = client.w3.eth.get_transaction_count(env["provider"].address)
    with pytest.raises(RevertError) as info:
        client.send(client.audits, "sendSubset", [1, b"\x01" * 32, b"\x02" * 32])
    assert info.value.error == "NotAuditConsumer"
    assert str(info.value).startswith("GriefingResistantAudit.sendSubset would revert: NotAuditConsumer(auditId=1, "
                                      f"caller={env['provider'].address}, consumer={env['consumer'].address})")
    assert client.w3.eth.get_transaction_count(env["provider"].address) == nonce  # nothing was sent
