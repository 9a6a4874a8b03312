"""`zkmarket plan`: sample sizes and their cost for spot checks and accuracy audits (paper 6.2)."""

from __future__ import annotations

import json
from collections.abc import Callable
from fractions import Fraction
from typing import Any

import click

from ..cli_params import option_group
from .cost import (
    ComputePrice,
    CostLine,
    Pricing,
    accuracy_costs,
    exact_decimal,
    headline,
    parse_decimal,
    spot_check_costs,
)
from .sample_size import accuracy_sample_size, detection_probability, hoeffding_tail, spot_check_sample_size


class _OpenUnit(click.ParamType):
    """A number strictly between 0 and 1, written as 0.05 or 5%."""

    name = "fraction"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        if isinstance(value, float):
            x = value
        else:
            text = str(value).strip()
            try:
                x = float(text[:-1]) / 100.0 if text.endswith("%") else float(text)
            except ValueError:
                self.fail(f"{value!r} is not a number (write 0.05 or 5%)", param, ctx)
        if not 0.0 < x < 1.0:
            self.fail(f"must be strictly between 0 and 1 (exclusive), got {value}", param, ctx)
        return x


class _Decimal(click.ParamType):
    """An exact non-negative decimal (parsed without floats)."""

    name = "decimal"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Fraction:
        if isinstance(value, Fraction):
            return value
        try:
            return parse_decimal(param.name if param else "value", str(value))
        except ValueError as e:
            self.fail(str(e), param, ctx)


OPEN_UNIT = _OpenUnit()
DECIMAL = _Decimal()
WEI = click.IntRange(min=0)


def _pct(x: float) -> str:
    return f"{x * 100:.6g}%"


_common = option_group(
    click.option("--confidence", "-c", type=OPEN_UNIT, default="0.95", show_default=True,
                 help="confidence C, e.g. 0.95 or 95%"),
    click.option("--proof-price", type=WEI, help="Z: price of one proof, an integer in --unit"),
    click.option("--unit", default="wei", show_default=True, help="label of the integer prices"),
    click.option("--prove-seconds", type=DECIMAL,
                 help="measured seconds to prove and verify one proof (with --usd-per-hour)"),
    click.option("--usd-per-hour", type=DECIMAL, help="price of the proving machine per hour"),
    click.option("--plot", "plot_path", type=click.Path(dir_okay=False, writable=True),
                 help="write a PNG of sample size and cost against the tolerance"),
    click.option("--json", "as_json", is_flag=True, help="print one JSON object instead of a table"),
)


def _compute(prove_seconds: Fraction | None, usd_per_hour: Fraction | None) -> ComputePrice | None:
    if (prove_seconds is None) != (usd_per_hour is None):
        raise click.BadParameter("give both --prove-seconds and --usd-per-hour, or neither",
                                 param_hint="'--prove-seconds' / '--usd-per-hour'")
    if prove_seconds is None or usd_per_hour is None:
        return None
    return ComputePrice(prove_seconds, usd_per_hour)


def _compute_facts(compute: ComputePrice | None) -> list[tuple[str, str, str]]:
    if compute is None:
        return []
    return [("seconds per proof", f"{exact_decimal(compute.seconds_per_proof)} s", "prove + verify, measured"),
            ("machine price", f"${exact_decimal(compute.usd_per_hour)}/h", "")]


def _amount(line: CostLine) -> str:
    if line.unit == "USD cents":
        return f"${line.amount // 100:,}.{line.amount % 100:02d}"
    return f"{line.amount:,} {line.unit}"


def _emit(as_json: bool, title: str, facts: list[tuple[str, str, str]], lines: list[CostLine],
          document: dict[str, Any]) -> None:
    if as_json:
        click.echo(json.dumps(document | {"costs": [line.to_dict() for line in lines]}, indent=2))
        return
    from rich import box
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False)
    facts_table = Table(title=title, title_justify="left", header_style="bold", box=box.SIMPLE_HEAD)
    for name, justify in (("quantity", "left"), ("value", "right"), ("how", "left")):
        facts_table.add_column(name, justify=justify, no_wrap=name != "how")  # type: ignore[arg-type]
    for row in facts:
        facts_table.add_row(*row)
    console.print(facts_table)
    if lines:
        costs = Table(header_style="bold", box=box.SIMPLE_HEAD)
        costs.add_column("cost", no_wrap=True)
        costs.add_column("amount", justify="right", no_wrap=True)
        costs.add_column("formula")
        for line in lines:
            # the machine line's formula names its inputs in the facts table above
            formula = "N * s * $/h, rounded up" if line.unit == "USD cents" else line.formula
            costs.add_row(line.name, _amount(line), formula)
        console.print(costs)
    if "plot" in document:
        click.echo(f"plot -> {document['plot']}")


def _plot(path: str, center: float, sample_size: Callable[[float], int], cost: Callable[[int], list[CostLine]],
          xlabel: str, title: str) -> str:
    from .plot import plot_sweep, sweep, sweep_grid

    probe = headline(cost(1))
    if probe is None:
        cost_label = None
    elif probe.unit == "USD cents":
        cost_label = "machine cost (US cents)"
    else:
        cost_label = f"consumer cost {probe.formula} ({probe.unit})"

    def one(n: int) -> int | None:
        h = headline(cost(n))
        return None if h is None else h.amount

    rows = sweep(sweep_grid(center), sample_size, one)
    plot_sweep(rows, center, path, xlabel=xlabel, title=title, cost_label=cost_label)
    return str(path)


@click.group()
def plan() -> None:
    """Plan sample sizes and their cost (paper 6.2): spot checks of served predictions, accuracy audits."""


@plan.command("spot-check")
@click.option("--tamper-fraction", "-f", type=OPEN_UNIT, required=True,
              help="F: the smallest tampered fraction the check must expose, e.g. 0.05 or 5%")
@click.option("--one-sided", is_flag=True,
              help="one-sided upper bound instead of the paper's two-sided Clopper-Pearson interval")
@click.option("--round-size", type=click.IntRange(min=1), help="K: predictions in the serving round (adds escrows)")
@click.option("--beta", type=click.IntRange(min=2), default=2, show_default=True,
              help="provider escrow multiple (beta*K*Z)")
@_common
def spot_check(tamper_fraction: float, one_sided: bool, round_size: int | None, beta: int, confidence: float,
               proof_price: int | None, unit: str, prove_seconds: Fraction | None, usd_per_hour: Fraction | None,
               plot_path: str | None, as_json: bool) -> None:
    """How many served predictions to contest so a clean sample shows tampering is below F.

    Clopper-Pearson exact interval (paper Table 3): N is the smallest sample whose upper bound,
    with no tampered prediction found, is at most F. N does not depend on the batch size.
    """
    two_sided = not one_sided
    compute = _compute(prove_seconds, usd_per_hour)
    pricing = Pricing(proof_price=proof_price, unit=unit)
    n = spot_check_sample_size(tamper_fraction, confidence, two_sided=two_sided)
    try:
        lines = spot_check_costs(n, pricing, compute, round_size=round_size, beta=beta)
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="'--round-size'") from None
    interval = "two-sided" if two_sided else "one-sided"
    caught = detection_probability(n, tamper_fraction)
    doc: dict[str, Any] = {
        "kind": "spot-check", "method": f"clopper-pearson ({interval})", "tamper_fraction": tamper_fraction,
        "confidence": confidence, "sample_size": n, "detection_probability": caught, "round_size": round_size,
    }
    if plot_path:
        doc["plot"] = _plot(
            plot_path, tamper_fraction,
            lambda f: spot_check_sample_size(f, confidence, two_sided=two_sided),
            lambda k: spot_check_costs(k, pricing, compute),
            "tampered fraction F", f"Spot check: sample size at {_pct(confidence)} confidence ({interval} CP)")
    facts = [
        ("tampered fraction F", _pct(tamper_fraction), "to expose"),
        ("confidence C", _pct(confidence), f"Clopper-Pearson, {interval}"),
        ("sample size N", f"{n:,}", "predictions to contest"),
        ("P(catch >= 1) at F", f"{caught * 100:.2f}%", "1 - (1 - F)^N"),
    ] + _compute_facts(compute)
    _emit(as_json, "Spot check (paper 5.3 / Table 3)", facts, lines, doc)


@plan.command("accuracy")
@click.option("--epsilon", "-e", type=OPEN_UNIT, required=True,
              help="eps: tolerated shortfall of the measured accuracy, e.g. 0.01 or 1%")
@click.option("--inference-price", type=WEI, help="P: price of one inference (what an abort costs per example)")
@click.option("--example-price", type=WEI, help="E: price of one labeled example (sets each party's escrow)")
@click.option("--fee", type=WEI, default=0, show_default=True, help="eps fee of the escrow service")
@_common
def accuracy(epsilon: float, inference_price: int | None, example_price: int | None, fee: int, confidence: float,
             proof_price: int | None, unit: str, prove_seconds: Fraction | None, usd_per_hour: Fraction | None,
             plot_path: str | None, as_json: bool) -> None:
    """How many labeled examples to audit so the measured accuracy is within eps of the true one.

    Hoeffding's inequality (paper Table 4): N is the smallest with exp(-2 N eps^2) <= 1 - C.
    """
    compute = _compute(prove_seconds, usd_per_hour)
    pricing = Pricing(proof_price=proof_price, inference_price=inference_price, example_price=example_price,
                      fee=fee, unit=unit)
    n = accuracy_sample_size(epsilon, confidence)
    lines = accuracy_costs(n, pricing, compute)
    tail = hoeffding_tail(n, epsilon)
    doc: dict[str, Any] = {
        "kind": "accuracy", "method": "hoeffding", "epsilon": epsilon, "confidence": confidence,
        "sample_size": n, "failure_bound": tail,
    }
    if plot_path:
        doc["plot"] = _plot(
            plot_path, epsilon, lambda e: accuracy_sample_size(e, confidence),
            lambda k: accuracy_costs(k, pricing, compute),
            "accuracy tolerance eps", f"Accuracy audit: sample size at {_pct(confidence)} confidence (Hoeffding)")
    facts = [
        ("tolerance eps", _pct(epsilon), "P(a - a' > eps) <= 1 - C"),
        ("confidence C", _pct(confidence), "Hoeffding, one-sided"),
        ("sample size N", f"{n:,}", "examples to prove"),
        ("bound at N", f"{tail:.5f}", "exp(-2 N eps^2)"),
    ] + _compute_facts(compute)
    _emit(as_json, "Accuracy audit (paper 5.2 / Table 4)", facts, lines, doc)
