"""The consumer's commands: ``zkmarket model``, ``testset``, ``audit`` and ``withdraw``.

Every command that touches the chain takes the same options: ``--deployment FILE`` (written by
``zkmarket deploy``) or ``--network NAME`` (its deployment file, node and key in networks.toml),
``--rpc-url`` and ``--keystore`` (else the key in $ZKMARKET_PRIVATE_KEY). Errors print one line
naming what went wrong and what to do, and exit 1; a wait given up (--timeout) exits 3 and can
be resumed.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from datetime import datetime, timezone
from typing import Callable

import click

from ..cli_params import ExistingFile, fail, option_group, settings_options
from .audit_common import Settlement, parse_target
from .client import format_amount, parse_token
from .driver import Reporter
from .errors import ConsumerError
from .funds import credits, escrow_contracts, withdraw_all
from .guarded_audit import GuardedAuditRun, describe_audit, finalize_audit
from .jobs import JobSettlement
from .models import describe_model, register_aggregation_verifier, register_model
from .settings import ConsumerSettings
from .simple_audit import KIND as SIMPLE_KIND
from .simple_audit import SimpleAuditRun, describe_simple_audit, finalize_simple_audit, simple_audits
from .state import AuditStateFile, find_state
from .testsets import commit, digits_examples, load_committed, load_examples


def _console():
    from rich.console import Console

    # Off a terminal (pipes, tests) rich would wrap long addresses at 80 columns.
    return Console(width=None if sys.stdout.isatty() else 160, highlight=False)


def _say(console, text: str) -> None:
    console.print(text, markup=False, soft_wrap=True)


def _print_table(title: str, rows: list[tuple[str, str]]) -> None:
    from rich.table import Table

    table = Table(title=title, show_header=False)
    for k, v in rows:
        table.add_row(k, v)
    _console().print(table)


def show(info: dict, as_json: bool, title: str, rows: Callable[[dict], list[tuple[str, str]]]) -> None:
    """``info`` as JSON (--json), else as a table of ``rows(info)``."""
    if as_json:
        click.echo(json.dumps(info, indent=1))
    else:
        _print_table(title, rows(info))


# ---------------------------------------------------------------------- options


json_option = click.option("--json", "as_json", is_flag=True, help="print JSON")
market_options = settings_options(ConsumerSettings, name="market")


# ---------------------------------------------------------------------- progress


class RichReporter(Reporter):
    """Steps as lines, waits as a spinner (off a terminal: one line per new wait)."""

    def __init__(self, console):
        self.console = console
        self._status = None
        self._last = None

    def say(self, text: str) -> None:
        _say(self.console, text)

    def status(self, what: str, detail: str = "") -> None:
        if not self.console.is_terminal:
            if what != self._last:
                _say(self.console, f"{what}{detail} ...")
                self._last = what
            return
        from rich.text import Text

        text = Text(f"{what}{detail}")
        if self._status is None:
            self._status = self.console.status(text)
            self._status.start()
        else:
            self._status.update(text)

    def idle(self) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None
        self._last = None


def _print_settlement(console, result: Settlement | JobSettlement | None) -> None:
    """The settlement's lines; exits 1 when a proof it paid for fails the local check."""
    if result is None:
        return
    for line in result.lines():
        _say(console, line)
    invalid = result.invalid_proofs()
    if invalid:
        fail(invalid)
    if result.consumer_payout or result.refund:
        _say(console, "withdraw the credit with `zkmarket withdraw`")


def drive(console, run, show: Callable[[], None] | None = None) -> None:
    """Runs a driver to the end (or to a stop on purpose): ``show`` prints what it got, then the
    reason it stopped or the settlement."""
    result = run.run()
    if show is not None:
        show()
    if run.stopped:
        _say(console, run.stopped)
    _print_settlement(console, result)


def settlement_text(s: dict, token: str, consumer: str = "MC", provider: str = "MP") -> str:
    """A settlement (as the describe functions give it) in one table cell."""
    token = "0x" + "00" * 20 if token == "ETH" else token
    if s["state"] == "Settled":
        return (f"{s['outcome']}: {consumer} {format_amount(s['consumer_payout'], token)}, {provider} "
                f"{format_amount(s['provider_payout'], token)}")
    return f"cancelled, {consumer} refunded {format_amount(s['refund'], token)}"


# ---------------------------------------------------------------------- model


@click.group()
def model() -> None:
    """Build benchmark models, register models and inspect registered ones."""


@model.command("mobilenet-v2")
@click.option("--alpha", type=click.FloatRange(min=0, min_open=True), required=True,
              help="width multiplier (the paper: 0.35, 0.5, 0.75, 1.0)")
@click.option("--resolution", type=click.IntRange(32), required=True, help="input height and width (e.g. 96, 224)")
@click.option("--classes", type=click.IntRange(2), default=1000, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True, help="seed of the random weights")
@click.option("-o", "--out", type=click.Path(dir_okay=False), required=True, help="quantized model JSON to write")
def model_mobilenet_v2(alpha, resolution, classes, seed, out):
    """Build MobileNet v2 (exact architecture, seeded random weights: a benchmark model) and quantize it."""
    from ..model import qmodel
    from ..model.mobilenet import benchmark_model, costs, mobilenet_v2

    c = costs(mobilenet_v2(alpha, resolution, classes, seed))
    built = benchmark_model(alpha, resolution, classes, seed)
    qmodel.save(built, out)
    _say(_console(), f"{built.name}: {c.parameters:,} parameters, {c.macs:,} multiply-accumulates, "
                     f"{c.activations:,} activations, lookup_bits {built.lookup_bits} -> {out}")


@model.command("import-keras")
@click.argument("keras_file", metavar="MODEL.h5", type=ExistingFile())
@click.option("--calibration", type=ExistingFile(), required=True,
              help="uint8 images (.npy, N x H x W x C) whose activation ranges set the quantization")
@click.option("--input-range", type=click.Choice(["-1..1", "0..1"]), default="-1..1", show_default=True,
              help="the float input the model was trained on (-1..1: Keras's MobileNet preprocessing)")
@click.option("-o", "--out", type=click.Path(dir_okay=False), required=True, help="quantized model JSON to write")
def model_import_keras(keras_file, calibration, input_range, out):
    """Import a trained Keras .h5 model (batch norms folded) and quantize it to int8."""
    import numpy as np

    from ..model import qmodel
    from ..model.keras_h5 import import_keras

    try:
        images = np.load(calibration)
    except (OSError, ValueError) as e:
        raise ConsumerError(f"{calibration} is not a .npy array of images: {e}") from e
    if images.ndim != 4 or images.dtype.kind not in "iu" or images.min() < 0 or images.max() > 255:
        raise ConsumerError(f"{calibration}: need uint8 images N x H x W x C, got {images.dtype} {images.shape}")
    built = import_keras(keras_file, images, input_range)
    qmodel.save(built, out)
    _say(_console(), f"{built.name}: {len(built.layers)} layers, lookup_bits {built.lookup_bits} -> {out}")


@model.command("register")
@click.argument("model_file", metavar="MODEL.json", type=ExistingFile())
@click.option("--verifier", required=True, help="address of the model's deployed halo2 verifier contract")
@click.option("--uri", default="", help="where consumers find the model's description (metadata URI)")
@click.option("--token", default="ETH", show_default=True, help="payment token of the stake and the jobs")
@click.option("--insecure-allow-forgeable-dev-srs", "allow_dev_srs", is_flag=True,
              help="register a verifier on the development SRS on a non-local network (anyone can forge its proofs)")
@market_options
def model_register(model_file, verifier, uri, token, allow_dev_srs, market):
    """Register MODEL.json: commits its weights (Poseidon, as the circuit does) and pays the stake."""
    client = market.connect()
    ev = register_model(client, model_file, verifier, uri, parse_token(token), allow_dev_srs=allow_dev_srs)
    _say(_console(), f"registered model {ev['modelId']}: provider {ev['provider']}, verifier {ev['verifier']}, "
                     f"weight commitment 0x{bytes(ev['weightCommitment']).hex()}, stake "
                     f"{format_amount(ev['stake'], ev['token'])}")


@model.command("register-aggregation")
@click.argument("model_id", type=click.IntRange(1))
@click.option("--verifier", required=True,
              help="address of the deployed aggregation verifier (`zkmarket prover export-aggregation-verifier`)")
@click.option("--batch", type=click.IntRange(1, 64), required=True, help="the batch size it was made for")
@click.option("--insecure-allow-forgeable-dev-srs", "allow_dev_srs", is_flag=True,
              help="register a verifier on the development SRS on a non-local network (anyone can forge its proofs)")
@market_options
def model_register_aggregation(model_id, verifier, batch, allow_dev_srs, market):
    """Register MODEL_ID's aggregation verifier (provider only, once, with no open job): the jobs
    opened after this block then take one aggregated proof per batch of examples (jobs opened
    before keep to single proofs)."""
    ev = register_aggregation_verifier(market.connect(), model_id, verifier, batch, allow_dev_srs=allow_dev_srs)
    _say(_console(), f"model {model_id}: aggregation verifier {ev['verifier']} for batches of {ev['batchSize']}")


@model.command("show")
@click.argument("model_id", type=click.IntRange(1))
@json_option
@market_options
def model_show(model_id, as_json, market):
    """Show model MODEL_ID: provider, verifier, stake and its record of audits and rounds."""
    show(describe_model(market.connect(signer=False), model_id), as_json, f"model {model_id}", _model_rows)


def _model_rows(info: dict) -> list[tuple[str, str]]:
    r = info["record"]
    rate = info["audit_failure_rate"]
    return [
        ("provider", info["provider"]),
        ("status", f"{info['status']}" + ("" if info["available"] else " (takes no new jobs)")),
        ("verifier", info["verifier"] + ("" if info["verifier_code_ok"] else "  (CODE CHANGED since registration)")
                     + ("  (INSECURE development SRS: proofs forgeable)" if info["verifier_uses_dev_srs"] else "")),
        ("weight commitment", info["weight_commitment"]),
        ("payment token", info["token"]),
        ("stake", info["stake_text"]),
        ("open jobs", str(info["open_jobs"])),
        ("aggregation", "-" if not info["aggregation"] else
         f"{info['aggregation']['verifier']}, batches of {info['aggregation']['batch']}, for jobs opened after "
         + datetime.fromtimestamp(info["aggregation"]["registered_at"], timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
         + ("" if info["aggregation"]["verifier_code_ok"] else "  (CODE CHANGED since registration)")),
        ("metadata", info["metadata_uri"] or "-"),
        ("audits", f"{r['audits_passed']} passed, {r['audits_failed']} failed, {r['audits_aborted']} aborted"
                   + (f" (failure rate {rate:.1%})" if rate is not None else "")),
        ("serving rounds", f"{r['rounds_completed']} completed, {r['rounds_failed']} failed"),
    ]


# ---------------------------------------------------------------------- testset


@click.group()
def testset() -> None:
    """Commit a test set (input commitments with the prover's Poseidon) and inspect one."""


@testset.command("commit")
@click.option("--images", type=click.Path(dir_okay=False), help="examples: .npy array (N, ...) or JSON list, uint8")
@click.option("--labels", type=click.Path(dir_okay=False), help="labels: .npy or JSON list of class indices")
@click.option("--digits", type=click.IntRange(1), help="take N examples of the bundled digits test split instead")
@click.option("--offset", type=click.IntRange(0), default=0, show_default=True, help="first digits example")
@click.option("-o", "--out", type=click.Path(dir_okay=False), required=True, help="committed test set to write")
def testset_commit(images, labels, digits, offset, out):
    """Commit examples and labels: prints N and the Merkle root an audit commits to."""
    if digits is not None:
        if images or labels:
            raise click.UsageError("give either --digits N or --images and --labels, not both")
        items, labs = digits_examples(digits, offset)
    elif images and labels:
        items, labs = load_examples(images, labels)
    else:
        raise click.UsageError("give --images FILE and --labels FILE, or --digits N")
    committed = commit(items, labs)
    committed.save(out)
    counts = ", ".join(f"{k}: {v}" for k, v in sorted(Counter(labs).items()))
    _say(_console(), f"committed N={committed.n} examples of {len(items[0])} bytes (labels {counts})\n"
                     f"root 0x{committed.root.hex()} -> {out}")


@testset.command("show")
@click.argument("path", metavar="TESTSET.json", type=click.Path(dir_okay=False))
@json_option
def testset_show(path, as_json):
    """Check a committed test set (recomputes every commitment) and show N and its root."""
    t = load_committed(path)
    info = {"n": t.n, "root": "0x" + t.root.hex(), "example_bytes": len(t.items[0]),
            "labels": {str(k): v for k, v in sorted(Counter(t.labels).items())}}
    if as_json:
        click.echo(json.dumps(info, indent=1))
    else:
        _say(_console(), f"{path}: N={t.n} examples of {info['example_bytes']} bytes, root {info['root']} "
                         f"(recomputed: intact)")


# ---------------------------------------------------------------------- audit


@click.group()
def audit() -> None:
    """Run accuracy audits as the consumer: appendix B (GriefingResistantAudit, the default) or
    the simple audit of paper 5.2 (AccuracyAudit, --protocol simple)."""


protocol_option = click.option(
    "--protocol", type=click.Choice(["appendix-b", "simple"]), default="appendix-b", show_default=True,
    help="appendix-b: GriefingResistantAudit (N1 subset, encrypted transfers); simple: AccuracyAudit (paper 5.2, "
         "the test set in the clear, all N proven); each has its own audit ids")


poll_option = click.option("--poll", type=click.FloatRange(0.05), default=1.0, show_default=True,
                           help="seconds between chain reads while waiting")
wait_options = option_group(
    click.option("--timeout", type=click.FloatRange(0), default=None,
                 help="seconds to wait for each of MP's moves (and each deadline) before giving up (resumable, "
                      "exit 3) [default: until the on-chain deadline]"),
    poll_option,
    click.option("--no-verify", is_flag=True,
                 help="pay without re-checking MP's proofs locally first (the contract checked them)"),
)

@audit.command("run")
@click.option("--model", "model_id", type=click.IntRange(1), required=True, help="the registered model to audit")
@click.option("--testset", "testset_path", type=click.Path(dir_okay=False), required=True,
              help="committed test set (`zkmarket testset commit`)")
@click.option("--target", required=True,
              help="accuracy target on the proven examples (appendix B: the N2; simple: all N): 0.9, 90% or 9/10")
@click.option("--provider-url", required=True, help="MP's agent (`zkmarket provider run`), e.g. http://host:8600")
@protocol_option
@wait_options
@market_options
def audit_run(model_id, testset_path, target, provider_url, protocol, timeout, poll, no_verify, market):
    """Open an audit of MODEL and drive it to the end: send the subset, then the rest (simple: the
    whole test set once MP joined), check the proofs locally, finalize and print the payouts. MC's
    state (appendix B: the transfer keys) goes to a file next to the test set first, so
    `zkmarket audit resume ID` picks up after a crash."""
    client = market.connect()
    console = _console()
    driver = SimpleAuditRun if protocol == "simple" else GuardedAuditRun
    run = driver.open(client, testset_path, model_id, parse_target(target), provider_url,
                      RichReporter(console), poll=poll, timeout=timeout, verify=not no_verify)
    drive(console, run)


@audit.command("resume")
@click.argument("audit_id", type=click.IntRange(1))
@click.option("--testset", "testset_path", type=click.Path(dir_okay=False),
              help="the audit's test set (its state file is next to it) [default: find the state file here]")
@click.option("--state", "state_file", type=click.Path(dir_okay=False), help="MC's state file of the audit")
@click.option("--provider-url", help="MP's agent, if it moved")
@protocol_option
@wait_options
@market_options
def audit_resume(audit_id, testset_path, state_file, provider_url, protocol, timeout, poll, no_verify, market):
    """Continue driving audit AUDIT_ID from where the chain and MC's state file say it is."""
    client = market.connect()
    console = _console()
    driver = SimpleAuditRun if protocol == "simple" else GuardedAuditRun
    run = driver.resume(client, audit_id, state_file=state_file, testset=testset_path,
                        provider_url=provider_url, reporter=RichReporter(console), poll=poll,
                        timeout=timeout, verify=not no_verify)
    _say(console, f"resuming audit {audit_id} (state {run.state.path})")
    drive(console, run)


@audit.command("show")
@click.argument("audit_id", type=click.IntRange(1))
@json_option
@protocol_option
@market_options
def audit_show(audit_id, as_json, protocol, market):
    """Show audit AUDIT_ID: phase, deadline, subset, transfers, proof counts and settlement."""
    client = market.connect(signer=False)
    if protocol == "simple":
        show(describe_simple_audit(client, audit_id), as_json, f"simple audit {audit_id}", _simple_audit_rows)
    else:
        show(describe_audit(client, audit_id), as_json, f"appendix-B audit {audit_id}", _audit_rows)


def _audit_rows(info: dict) -> list[tuple[str, str]]:
    phase = info["state"] + ("  (DEADLINE PASSED: `zkmarket audit finalize` settles it)" if info["expired"] else "")
    rows = [("state", phase), ("model", str(info["model_id"])), ("consumer", info["consumer"]),
            ("provider", info["provider"] or "- (not joined)")]
    if info["deadline_text"]:
        rows.append(("deadline", info["deadline_text"]))
    rows += [("examples", f"N={info['n']} (N1={info['n1']} subset, N2={info['n2']} proven)"),
             ("target", f"{info['target'][0]}/{info['target'][1]}"),
             ("test set root", info["test_set_root"]),
             ("subset", str(info["subset"]) if info["subset"] is not None else "-"),
             ("proofs", f"{info['submitted']}/{info['n2']} accepted, {info['correct']} correct"),
             ("escrow (each party)", info["escrow_each_text"])]
    for kind, t in info["transfers"].items():
        published = ""
        if t["published_items"] or t["leaves_published"]:
            published = (f", {t['published_items']}/{t['items']} items"
                         + (" and the leaves" if t["leaves_published"] else "") + " published on chain")
        rows.append((f"{kind} transfer",
                     f"#{t['id']}: {t['state']} ({t['items']} items{published}), deadline {t['deadline_text']}"))
    if info["settlement"]:
        rows.append(("settlement", settlement_text(info["settlement"], info["token"])))
    return rows


@audit.command("finalize")
@click.argument("audit_id", type=click.IntRange(1))
@click.option("--testset", "testset_path", type=click.Path(dir_okay=False),
              help="the audit's test set, to compare the proofs' inputs with it [default: from the state file]")
@click.option("--no-verify", is_flag=True, help="do not re-check the accepted proofs locally first")
@protocol_option
@market_options
def audit_finalize(audit_id, testset_path, no_verify, protocol, market):
    """Settle audit AUDIT_ID once its stage is over (anyone may), after checking its proofs."""
    client = market.connect()
    console = _console()
    simple = protocol == "simple"
    test_set = None
    if testset_path:
        test_set = load_committed(testset_path)
    else:
        path = find_state(audit_id, kind=SIMPLE_KIND) if simple else find_state(audit_id)
        if path is not None:
            state = AuditStateFile.load(path)
            audits = simple_audits(client) if simple else client.audits
            if (state.chain_id, state.audits.lower()) == (client.deployment.chain_id, audits.address.lower()):
                test_set = load_committed(state.testset)
    finalize = finalize_simple_audit if simple else finalize_audit
    result = finalize(client, audit_id, test_set, verify=not no_verify, reporter=RichReporter(console))
    _print_settlement(console, result)


def _simple_audit_rows(info: dict) -> list[tuple[str, str]]:
    phase = info["state"] + ("  (DEADLINE PASSED: `zkmarket audit finalize --protocol simple` settles it)"
                             if info["expired"] else "")
    rows = [("state", phase), ("model", str(info["model_id"])), ("consumer", info["consumer"]),
            ("provider", info["provider"] + ("" if info["joined"] else " (not joined)"))]
    if info["deadline_text"]:
        rows.append(("deadline", info["deadline_text"]))
    rows += [("examples", f"N={info['n']} (all proven)"),
             ("target", f"{info['target'][0]}/{info['target'][1]}"),
             ("test set root", info["test_set_root"]),
             ("proofs", f"{info['submitted']}/{info['n']} accepted, {info['correct']} correct"),
             ("escrow (each party)", info["escrow_each_text"])]
    if info["settlement"]:
        rows.append(("settlement", settlement_text(info["settlement"], info["token"])))
    return rows


# ---------------------------------------------------------------------- withdraw


@click.command("withdraw")
@click.option("--token", help="only this payment token (ETH or an address) [default: every accepted token]")
@market_options
def withdraw(token, market):
    """Withdraw this account's credits from every contract of the deployment."""
    client = market.connect()
    tokens = [parse_token(token)] if token else list(client.call(client.registry, "paymentTokens"))
    console = _console()
    paid = withdraw_all(client, tokens)
    if not paid:
        _say(console, f"nothing to withdraw: {client.address} has no credit in {', '.join(escrow_contracts(client))}")
        return
    for name, tok, amount in paid:
        _say(console, f"withdrew {format_amount(amount, tok)} from {name}")
    left = credits(client, tokens)
    if left:
        fail("credit left after withdrawing: " + ", ".join(f"{n} {format_amount(a, t)}" for n, t, a in left))
