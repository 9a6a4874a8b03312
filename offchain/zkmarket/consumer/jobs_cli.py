"""The consumer's commands for serving rounds and retrieval: ``zkmarket round buy | resume |
show | settle`` and ``zkmarket retrieval request | resume | show | settle``.

They take the same market options as the other consumer commands (``--deployment`` /
``--network``, ``--rpc-url``, ``--keystore``), print one line per step, verify every answered
proof locally before settling, and keep their progress in a state file in ``--state-dir`` (the
working folder by default), so ``resume ID`` continues after a crash or a ``--timeout`` (exit 3).
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..cli_params import option_group
from .cli import (
    RichReporter,
    _console,
    _print_settlement,
    _say,
    drive,
    json_option,
    market_options,
    settlement_text,
    show,
    wait_options,
)
from .jobs import spot_check
from .retrieval import RetrievalRun, describe_request, settle_request
from .serving_round import RoundRun, describe_round, load_inputs, settle_round

run_options = option_group(
    click.option("--state-dir", type=click.Path(file_okay=False), default=".", show_default=True,
                 help="folder of the consumer's state files (zkmarket-round-ID.json, zkmarket-retrieval-ID.json)"),
    wait_options,
    click.option("--warp", is_flag=True,
                 help="FOR TESTS ON A DEV CHAIN (anvil): move the clock to the deadline instead of waiting for it"),
    click.option("--no-settle", is_flag=True,
                 help="stop once the answers are checked; settle later with `settle ID` (anyone may)"),
)


settle_options = option_group(
    click.option("--no-verify", is_flag=True, help="do not re-check the answered proofs locally first"),
    click.option("--warp", is_flag=True,
                 help="FOR TESTS ON A DEV CHAIN (anvil): move the clock to the deadline first"),
)


def _run_kwargs(timeout, poll, no_verify, warp, no_settle) -> dict:
    return {"timeout": timeout, "poll": poll, "verify": not no_verify, "warp": warp, "settle": not no_settle}


def _indices_text(indices) -> str:
    return "[" + ", ".join(map(str, indices)) + "]" if indices else "none"


def _deadline_rows(info: dict, *keys: str) -> list[tuple[str, str]]:
    """The deadlines among ``keys`` that ``info`` shows now, labelled by name ("join deadline")."""
    return [(key.replace("_", " "), info[key]["text"]) for key in keys if info[key]]


def _settle(settle, market, job_id: int, state_dir: str, no_verify: bool, warp: bool) -> None:
    client = market.connect()
    console = _console()
    _print_settlement(console, settle(client, job_id, state_dir, verify=not no_verify, warp=warp,
                                      reporter=RichReporter(console)))


# ---------------------------------------------------------------------- rounds


@click.group("round")
def round_group() -> None:
    """Buy predictions in serving rounds (paper 5.3): spot-check them, settle, inspect."""


def _print_round(console, run: RoundRun, out: str | None) -> None:
    served = run.served
    if served is None:
        return
    contested = set(run.state.data.get("contested") or [])
    proven = set(run.report.checks) - {c.index for c in run.report.invalid} if run.report else set()
    marks = {i: ("*" if i in proven else "?" if i in contested else "") for i in range(len(served.classes))}
    _say(console, f"predictions of round {run.job_id} (index: class; * contested and proven, ? contested, "
                  f"not proven):")
    _say(console, "  " + ", ".join(f"{i}: {y}{marks[i]}" for i, y in enumerate(served.classes)))
    if out:
        Path(out).write_text(json.dumps({"round": run.job_id, "classes": served.classes,
                                         "predictions_root": "0x" + served.root.hex(),
                                         "signature": "0x" + served.signature.hex(),
                                         "contested": sorted(contested), "proven": sorted(proven)}, indent=1))
        _say(console, f"predictions -> {out}")


@round_group.command("buy")
@click.option("--model", "model_id", type=click.IntRange(1), required=True, help="the registered model to buy from")
@click.option("--inputs", "inputs_file", type=click.Path(dir_okay=False),
              help="the K inputs: .npy array (one input per row, uint8) or JSON list (hex strings or byte lists)")
@click.option("--digits", type=click.IntRange(1), help="take K examples of the bundled digits test split instead")
@click.option("--offset", type=click.IntRange(0), default=0, show_default=True, help="first digits example")
@click.option("--provider-url", required=True, help="MP's agent (`zkmarket provider run`), e.g. http://host:8600")
@click.option("--beta", type=click.IntRange(2, 2**16 - 1), default=3, show_default=True,
              help="MP escrows beta*K*Z, lost to MC if a contest goes unanswered")
@click.option("--duration", type=click.IntRange(1, 2**32 - 1), default=3_600, show_default=True,
              help="seconds from MP's join to the round deadline (contests must come before it)")
@click.option("--contest", "--contest-random", "contest", type=click.IntRange(0),
              help="contest N predictions chosen at random (after MP is bound to them)")
@click.option("--contest-indices", help="contest these predictions, e.g. 1,5")
@click.option("--seed", type=int, help="seed of the random choice (reproducible; default: system randomness)")
@click.option("--confidence", type=float, help="size the random contest with the planner: confidence C, e.g. 0.95")
@click.option("--tamper-fraction", type=float,
              help="... to expose tampering of at least this fraction F of the predictions, e.g. 0.05")
@click.option("-o", "--out", type=click.Path(dir_okay=False), help="write the predictions as JSON")
@run_options
@market_options
def round_buy(model_id, inputs_file, digits, offset, provider_url, beta, duration, contest, contest_indices, seed,
              confidence, tamper_fraction, out, state_dir, timeout, poll, no_verify, warp, no_settle, market):
    """Buy K predictions of MODEL: open a round (escrow 2KZ), send the inputs to MP's agent,
    check its signed predictions, commit them on chain, contest the chosen subset, check MP's
    proofs locally, settle after the round deadline and print the predictions and payouts."""
    items = load_inputs(inputs_file, digits, offset)
    plan = spot_check(contest, contest_indices, seed, confidence, tamper_fraction, len(items), "predictions")
    client = market.connect()
    console = _console()
    run = RoundRun.open(client, items, model_id, beta, duration, provider_url, plan, state_dir,
                        RichReporter(console), **_run_kwargs(timeout, poll, no_verify, warp, no_settle))
    drive(console, run, lambda: _print_round(console, run, out))


@round_group.command("resume")
@click.argument("round_id", type=click.IntRange(1))
@click.option("--provider-url", help="MP's agent, if it moved")
@click.option("-o", "--out", type=click.Path(dir_okay=False), help="write the predictions as JSON")
@run_options
@market_options
def round_resume(round_id, provider_url, out, state_dir, timeout, poll, no_verify, warp, no_settle, market):
    """Continue round ROUND_ID from where the chain and the state file say it is."""
    client = market.connect()
    console = _console()
    reporter = RichReporter(console)
    run = RoundRun.attach(client, round_id, state_dir, provider_url=provider_url, reporter=reporter,
                          **_run_kwargs(timeout, poll, no_verify, warp, no_settle))
    _say(console, f"resuming round {round_id} (state {run.state.path})")
    drive(console, run, lambda: _print_round(console, run, out))


@round_group.command("show")
@click.argument("round_id", type=click.IntRange(1))
@click.option("--state-dir", type=click.Path(file_okay=False), default=".", show_default=True,
              help="where the consumer's state file is (for the predictions)")
@json_option
@market_options
def round_show(round_id, state_dir, as_json, market):
    """Show round ROUND_ID: phase, parties, K, deadlines, roots, contests and settlement."""
    show(describe_round(market.connect(signer=False), round_id, state_dir), as_json, f"serving round {round_id}",
         _round_rows)


def _round_rows(info: dict) -> list[tuple[str, str]]:
    rows = [("state", info["state"]), ("model", str(info["model_id"])), ("consumer", info["consumer"]),
            ("provider", info["provider"] or "- (not joined)"),
            ("size", f"K={info['k']}, beta={info['beta']}, duration {info['duration']}s"),
            ("escrows", f"MC 2KZ = {info['consumer_escrow_text']}, MP beta*K*Z = {info['provider_escrow_text']}")]
    rows += _deadline_rows(info, "join_deadline", "round_deadline", "answer_deadline")
    rows += [("inputs root", info["inputs_root"]), ("predictions root", info["predictions_root"] or "-"),
             ("contested", _indices_text(info["contested"])), ("answered", _indices_text(info["answered"]))]
    if info["predictions"] is not None:
        rows.append(("predictions", ", ".join(f"{i}: {y}" for i, y in enumerate(info["predictions"]))))
    if info["settlement"]:
        rows.append(("settlement", settlement_text(info["settlement"], info["token"])))
    return rows


@round_group.command("settle")
@click.argument("round_id", type=click.IntRange(1))
@click.option("--state-dir", type=click.Path(file_okay=False), default=".", show_default=True,
              help="where the consumer's state file is (its inputs and MP's classes are compared with the proofs)")
@settle_options
@market_options
def round_settle(round_id, state_dir, no_verify, warp, market):
    """Settle round ROUND_ID once its deadline passed (anyone may), after checking its proofs."""
    _settle(settle_round, market, round_id, state_dir, no_verify, warp)


# ---------------------------------------------------------------------- retrieval


@click.group("retrieval")
def retrieval_group() -> None:
    """Retrieve the documents of a dataset matching a model's class (paper 5.4), spot-checked."""


def _print_documents(console, run: RetrievalRun, out: str | None) -> None:
    if run.delivery is None:
        return
    docs = run.documents
    positive = run.state.data.get("positive_class")
    _say(console, f"retrieved {len(docs)} document(s) of class {positive} from request {run.job_id}: indices "
                  f"{_indices_text(sorted(docs))}")
    stored = run.state.data.get("stored")
    if stored:
        for i, cid in stored.items():
            _say(console, f"  document {i}: {cid}")
    if out:
        Path(out).write_text(json.dumps({"request": run.job_id, "class": positive,
                                         "documents": {str(i): docs[i].hex() for i in sorted(docs)}}, indent=1))
        _say(console, f"documents -> {out}")


@retrieval_group.command("request")
@click.option("--dataset", "dataset_id", type=click.IntRange(1), required=True,
              help="the dataset MP committed (`zkmarket provider commit-dataset`)")
@click.option("--model", "model_id", type=click.IntRange(1), required=True, help="a model of the dataset's provider")
@click.option("--provider-url", required=True, help="MP's agent (`zkmarket provider run`), e.g. http://host:8600")
@click.option("--class", "positive_class", type=click.IntRange(0), default=1, show_default=True,
              help="retrieve the documents the model puts in this class")
@click.option("--challenge", "--challenge-random", "challenge", type=click.IntRange(0),
              help="challenge N results chosen at random (after MP is bound to them)")
@click.option("--challenge-indices", help="challenge these results, e.g. 0,3")
@click.option("--seed", type=int, help="seed of the random choice (reproducible; default: system randomness)")
@click.option("--confidence", type=float, help="size the random challenge with the planner: confidence C")
@click.option("--tamper-fraction", type=float, help="... to expose tampering of at least this fraction F")
@click.option("--max-challenges", type=click.IntRange(0),
              help="challenge budget C escrowed as 2*C*Z [default: the number of challenges planned]")
@click.option("--beta", type=click.IntRange(2, 2**16 - 1), default=3, show_default=True,
              help="MP bonds beta*D*Z, lost to the requester if a challenge goes unanswered")
@click.option("--duration", type=click.IntRange(1, 2**32 - 1), default=3_600, show_default=True,
              help="seconds from MP's join to the results deadline")
@click.option("--store-dir", type=click.Path(file_okay=False), help="also put the retrieved documents in this content "
                                                                   "store (local backend)")
@click.option("-o", "--out", type=click.Path(dir_okay=False), help="write the retrieved documents as JSON (hex)")
@run_options
@market_options
def retrieval_request(dataset_id, model_id, provider_url, positive_class, challenge, challenge_indices, seed,
                      confidence, tamper_fraction, max_challenges, beta, duration, store_dir, out, state_dir, timeout,
                      poll, no_verify, warp, no_settle, market):
    """Request the documents of DATASET that MODEL puts in --class: open the request (escrow
    D*P + 2*C*Z), fetch and check the documents from MP's agent, challenge the chosen subset,
    check MP's proofs locally, settle after the challenge deadline and print what was retrieved."""
    plan = spot_check(challenge, challenge_indices, seed, confidence, tamper_fraction, None, "documents")
    client = market.connect()
    console = _console()
    run = RetrievalRun.open(client, dataset_id, model_id, provider_url, plan, max_challenges=max_challenges, beta=beta,
                            duration=duration, positive_class=positive_class, store_dir=store_dir,
                            state_dir=state_dir, reporter=RichReporter(console),
                            **_run_kwargs(timeout, poll, no_verify, warp, no_settle))
    drive(console, run, lambda: _print_documents(console, run, out))


@retrieval_group.command("resume")
@click.argument("request_id", type=click.IntRange(1))
@click.option("--provider-url", help="MP's agent, if it moved (or if this folder has no state file)")
@click.option("--class", "positive_class", type=click.IntRange(0), help="the class, if this folder has no state file")
@click.option("-o", "--out", type=click.Path(dir_okay=False), help="write the retrieved documents as JSON (hex)")
@run_options
@market_options
def retrieval_resume(request_id, provider_url, positive_class, out, state_dir, timeout, poll, no_verify, warp,
                     no_settle, market):
    """Continue request REQUEST_ID from where the chain and the state file say it is."""
    client = market.connect()
    console = _console()
    run = RetrievalRun.attach(client, request_id, state_dir, provider_url=provider_url, positive_class=positive_class,
                              reporter=RichReporter(console), **_run_kwargs(timeout, poll, no_verify, warp, no_settle))
    _say(console, f"resuming request {request_id} (state {run.state.path})")
    drive(console, run, lambda: _print_documents(console, run, out))


@retrieval_group.command("show")
@click.argument("request_id", type=click.IntRange(1))
@click.option("--state-dir", type=click.Path(file_okay=False), default=".", show_default=True,
              help="where the requester's state file is (for the retrieved documents)")
@json_option
@market_options
def retrieval_show(request_id, state_dir, as_json, market):
    """Show request REQUEST_ID: phase, parties, D and C, deadlines, roots, challenges, settlement."""
    show(describe_request(market.connect(signer=False), request_id, state_dir), as_json,
         f"retrieval request {request_id}", _request_rows)


def _request_rows(info: dict) -> list[tuple[str, str]]:
    rows = [("state", info["state"]), ("dataset", str(info["dataset_id"])), ("model", str(info["model_id"])),
            ("requester", info["requester"]), ("responder", info["responder"] or "- (not joined)"),
            ("size", f"D={info['documents']} documents, challenge budget C={info['max_challenges']}, "
                     f"beta={info['beta']}"),
            ("escrows", f"requester D*P + 2*C*Z = {info['requester_escrow_text']}, responder bond beta*D*Z = "
                        f"{info['bond_text']}")]
    rows += _deadline_rows(info, "join_deadline", "results_deadline", "challenge_deadline", "answer_deadline")
    rows += [("dataset root", info["dataset_root"]), ("results root", info["results_root"] or "-"),
             ("challenged", _indices_text(info["challenged"])), ("answered", _indices_text(info["answered"]))]
    if info["retrieved"] is not None:
        rows.append(("retrieved", f"{len(info['retrieved'])} document(s) of class {info['positive_class']}: "
                                  f"{_indices_text(info['retrieved'])}"))
    if info["settlement"]:
        rows.append(("settlement", settlement_text(info["settlement"], info["token"], "requester", "responder")))
    return rows


@retrieval_group.command("settle")
@click.argument("request_id", type=click.IntRange(1))
@click.option("--state-dir", type=click.Path(file_okay=False), default=".", show_default=True,
              help="where the requester's state file is (MP's delivered classes are compared with the proofs)")
@settle_options
@market_options
def retrieval_settle(request_id, state_dir, no_verify, warp, market):
    """Settle request REQUEST_ID once its stage is over (anyone may), after checking its proofs."""
    _settle(settle_request, market, request_id, state_dir, no_verify, warp)

