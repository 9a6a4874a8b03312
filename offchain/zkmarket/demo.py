"""`make demo`: the whole marketplace on a local chain, with real proofs.

Starts anvil, deploys the marketplace, and runs:
1. an honest provider (its agent running in the background: HTTP deliveries, SQLite state)
   registers the digits CNN and passes an appendix-B accuracy audit, and is paid 2(N1P + N2Z);
2. a dishonest provider registers the same weights but runs other ones: its proofs are refused,
   the audit fails at the proof deadline and it loses its 2NE escrow to the consumer;
3. a serving round of K predictions in which the consumer contests K1 and the provider answers
   each with a proof (the consumer pays 2*K1*Z);
then prints balances before/after, gas and proving time, and exits 0 only if every step
ended as the protocols say.
"""

from __future__ import annotations

import json
import random
import tempfile
import threading
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from . import prover as zp
from .agent.guarded_audit import GuardedAuditJobs
from .agent.jobs import ServedModel
from .agent.logs import get_logger
from .agent.provider import ProviderAgent
from .agent.server import DeliveryServer
from .agent.state import AgentState
from .chain import Anvil, deploy_verifier
from .consumer.cli import RichReporter
from .consumer.client import connect as connect_client
from .consumer.guarded_audit import GuardedAuditRun
from .market import MarketParams, deploy_market
from .model.data import DIGITS_MODEL, load_digits_split
from .participants.connect import connect
from .participants.guarded_audit import GuardedAuditConsumer, GuardedAuditProvider, transfer_indices
from .participants.serving_round import RoundInputs, ServingConsumer, ServingProvider
from .protocol import commit_test_set
from .protocol.merkle import b32
from .protocol.rules import GuardedOutcome, Prices, guarded_audit_payouts

ETH = "0x" + "00" * 20
N, N1, TARGET = 8, 2, (3, 4)
K, K1, BETA, ROUND_SECONDS = 8, 2, 2, 3_600


def wait_until(what: str, cond, timeout: float = 300) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return
        time.sleep(0.2)
    raise SystemExit(f"demo: timed out waiting for {what}")


def other_weights(path: Path) -> Path:
    """The digits model with one weight changed: same architecture, other weights."""
    doc = json.loads(DIGITS_MODEL.read_text())
    w = doc["layers"][0]["weights"][0][0][0]
    w[0] = w[0] + 1 if w[0] < 127 else w[0] - 1
    path.write_text(json.dumps(doc))
    return path


def register(market, verifier_address: str) -> int:
    stake = market.registry.functions.requiredStake(ETH).call()
    receipt = market.send(market.registry, "registerModel",
                          [verifier_address, b32(zp.commit_weights(DIGITS_MODEL)), "demo://digits", ETH], value=stake)
    return market.event(receipt, market.registry, "ModelRegistered")["modelId"]


class IndentedReporter(RichReporter):
    def say(self, text: str) -> None:
        super().say("  " + text)


def run_audit_with_agent(console, client, testset: Path, model_id: int, agent_url: str) -> int:
    """MC's side of an appendix-B audit against a provider agent, by the same driver as
    `zkmarket audit start`; returns the audit id."""
    run = GuardedAuditRun.open(client, testset, model_id, TARGET, agent_url, IndentedReporter(console), poll=0.2,
                               timeout=600)
    settled = run.run()
    if settled.outcome != "Passed":
        raise SystemExit(f"demo: the honest provider's audit ended {settled.outcome}")
    return run.audit_id


def main() -> None:
    console = Console()
    split = load_digits_split()
    items = [bytes(split.test_inputs[i].reshape(-1).tolist()) for i in range(max(N, K))]
    labels = [int(split.test_labels[i]) for i in range(N)]
    work = Path(tempfile.mkdtemp(prefix="zkmarket-demo-"))

    t0 = time.perf_counter()
    with console.status("compile the digits CNN and set up keys (cached after the first run)"):
        circuit = zp.compile_model(DIGITS_MODEL, "hidden-both", "class")
        keys = zp.setup(circuit)
        bad_model = other_weights(work / "other-weights.json")
        bad_circuit = zp.compile_model(bad_model, "hidden-both", "class")
        bad_keys = zp.setup(bad_circuit)
    console.print(f"[green]done[/] circuits and keys ({time.perf_counter() - t0:.1f} s)")

    with Anvil() as anvil:
        w3 = anvil.w3()
        deployer, honest, mc_account, dishonest = anvil.accounts[0], anvil.accounts[1], anvil.accounts[2], anvil.accounts[3]
        deployment = deploy_market(w3, deployer, MarketParams(n1=N1))
        path = deployment.save(work / "deployment.json")
        verifier = deploy_verifier(w3, zp.export_verifier(circuit, keys), private_key=deployer.private_key)
        console.print(f"[green]done[/] marketplace deployed ({len(deployment.records)} contracts) and the "
                      f"digits verifier ({verifier.code_size:,} bytes)")
        mc = connect(path, anvil.rpc_url, mc_account)
        mp = connect(path, anvil.rpc_url, honest)
        bad = connect(path, anvil.rpc_url, dishonest)
        prices = Prices(*mc.registry.functions.prices(ETH).call())
        accounts = {"consumer": mc_account, "honest provider": honest, "dishonest provider": dishonest}
        before = {name: w3.eth.get_balance(a.address) for name, a in accounts.items()}
        report: list[tuple[str, str]] = []

        # 1. Honest provider with its agent.
        model_id = register(mp, verifier.address)
        agent_market = connect(path, anvil.rpc_url, honest)
        agent_logger = get_logger("zkmarket.demo.agent")
        agent_logger.disabled = True  # the demo prints its own summary
        audit_jobs = GuardedAuditJobs(agent_market, agent_market.audits,
                                      {model_id: ServedModel(model_id, DIGITS_MODEL, circuit, keys)},
                                      AgentState(work / "agent.sqlite"), agent_logger, batch_size=3)
        agent = ProviderAgent(agent_market, [audit_jobs], agent_logger)
        server = DeliveryServer("127.0.0.1", 0, audit_jobs.accept_delivery).start()
        stop = threading.Event()
        thread = threading.Thread(target=agent.run, kwargs={"poll_seconds": 0.2, "stop": stop.is_set}, daemon=True)
        thread.start()
        test_set = commit_test_set(items[:N], labels)
        test_set.save(work / "testset.json")
        consumer = GuardedAuditConsumer(mc, test_set)
        cli_client = connect_client(path, anvil.rpc_url, mc_account)
        console.print(f"[bold]1. appendix-B audit[/] of model {model_id}: N={N}, N1={N1}, target {TARGET[0]}/{TARGET[1]}")
        t_audit = time.perf_counter()
        audit_id = run_audit_with_agent(console, cli_client, work / "testset.json", model_id, server.url)
        t_audit = time.perf_counter() - t_audit
        wait_until("the agent's withdrawal", lambda: mc.audits.functions.creditOf(honest.address, ETH).call() == 0)
        stop.set()
        thread.join(timeout=30)
        server.stop()
        settled = mc.audits.events.AuditSettled.get_logs(from_block=0)[-1]["args"]
        expected = guarded_audit_payouts(GuardedOutcome.PASSED, N, N1, prices)
        ok_audit = (settled["auditId"], settled["outcome"], settled["consumerPayout"], settled["providerPayout"]) == (
            audit_id, GuardedOutcome.PASSED, *expected)
        console.print(f"  outcome {GuardedOutcome(settled['outcome']).name}: provider paid "
                      f"2(N1P + N2Z) = {expected[1] - 2 * N * prices.example_e:,} wei")
        report.append(("honest audit", f"{GuardedOutcome(settled['outcome']).name} in {t_audit:.1f} s"))

        # 2. Dishonest provider: registered the digits weights, proves with other ones.
        bad_id = register(bad, verifier.address)
        cheat = GuardedAuditProvider(bad, bad_model, bad_circuit, bad_keys)
        console.print(f"[bold]2. appendix-B audit[/] of model {bad_id} whose provider runs other weights")
        bad_audit = consumer.open(bad_id, *TARGET)
        cheat.join(bad_audit)
        for rest in (False, True):
            batch, delivery = consumer.send_items(bad_audit, rest)
            cheat.acknowledge(bad_audit, delivery, rest)
            consumer.reveal(delivery.transfer_id, batch)
            plain = cheat.accept_or_contest(delivery)
            if not rest:
                cheat.decide(bad_audit, plain, delivery.labels)
        rest_items = {i: items[i] for i in transfer_indices(bad.audit(bad_audit), rest=True)}
        refused = 0
        for i, proof in cheat.prove(dict(list(rest_items.items())[:2])).items():
            try:
                cheat.submit(bad_audit, {i: proof}, delivery)
            except Exception:  # noqa: BLE001 - the verifier refuses it, which is the point
                refused += 1
        console.print(f"  {refused} proofs with other weights refused on chain; waiting out the proof deadline")
        mc.session.warp(deployment.params.griefing_resistant_audit.proof_window
                        + N * deployment.params.griefing_resistant_audit.proof_time_per_example + 1)
        failed = consumer.finalize(bad_audit)
        ok_cheat = failed.get("outcome") == GuardedOutcome.FAILED and refused == 2
        report.append(("dishonest audit", f"{GuardedOutcome(failed['outcome']).name}, {refused}/2 proofs refused"))

        # 3. Serving round with a spot check.
        console.print(f"[bold]3. serving round[/]: K={K} predictions, {K1} contested")
        rounds = deployment.contract(w3, "ServingRound")
        inputs = RoundInputs.commit(items[:K])
        buyer = ServingConsumer(mc, rounds, inputs)
        seller = ServingProvider(mp, rounds, DIGITS_MODEL, circuit, keys)
        round_id = buyer.open(model_id, BETA, ROUND_SECONDS)
        seller.join(round_id)
        served = seller.serve(round_id, inputs)
        contested = buyer.commit_and_contest(round_id, served, K1, random.Random(7))
        t_prove = time.perf_counter()
        answered = seller.answer(round_id, inputs, served)
        t_prove = (time.perf_counter() - t_prove) / max(answered, 1)
        mc.session.warp(ROUND_SECONDS + 1)
        round_settled = buyer.settle(round_id)
        ok_round = (answered == K1 and round_settled["consumerPayout"] == 2 * K * prices.proof_z - 2 * K1 * prices.proof_z)
        console.print(f"  contested {contested}, answered {answered} with proofs; MC paid 2*K1*Z = "
                      f"{2 * K1 * prices.proof_z:,} wei")
        report.append(("serving round", f"{answered}/{K1} contests answered, {t_prove:.1f} s per proof"))

        for c in (mc.audits, rounds):
            for who in (mc, bad, mp):
                if c.functions.creditOf(who.account.address, ETH).call():
                    who.send(c, "withdraw", [ETH])
        after = {name: w3.eth.get_balance(a.address) for name, a in accounts.items()}
        gas = {name: sum(m.session.gas_cost.get(a.address, 0) for m in (mc, cli_client, mp, bad, agent.market))
               for name, a in accounts.items()}
        stake = {name: sum(m.stake for m in (mc.registry.functions.model(i).call() for i in (model_id, bad_id))
                           if m.provider == a.address) for name, a in accounts.items()}

    table = Table(title="balances (ETH; change = payouts - escrows - gas - stake)")
    for column in ("party", "before", "after", "change", "gas", "stake"):
        table.add_column(column, justify="left" if column == "party" else "right")
    eth = lambda wei: f"{wei / 10**18:.4f}"  # noqa: E731 (display only; all checks above are in wei)
    for name in accounts:
        table.add_row(name, eth(before[name]), eth(after[name]), eth(after[name] - before[name]),
                      eth(-gas[name]), eth(-stake[name]))
    console.print(table)
    summary = Table(title="protocols")
    summary.add_column("step")
    summary.add_column("result", justify="right")
    for row in report:
        summary.add_row(*row)
    console.print(summary)
    if not (ok_audit and ok_cheat and ok_round):
        raise SystemExit("demo: a protocol did not end as expected")


if __name__ == "__main__":
    main()
