"""The sample-size planner: the paper's Tables 3 and 4, exact costs, the `zkmarket plan` CLI and its plot."""

from __future__ import annotations

import json
import math
import struct
from fractions import Fraction

import pytest
from click.testing import CliRunner
from scipy.stats import binom

from zkmarket.planner import cost
from zkmarket.planner.cli import plan
from zkmarket.planner.cost import ComputePrice, Pricing, parse_decimal
from zkmarket.planner.plot import sweep_grid
from zkmarket.planner.sample_size import (
    accuracy_sample_size,
    clopper_pearson_upper,
    detection_probability,
    hoeffding_tail,
    spot_check_sample_size,
)
from zkmarket.protocol import rules

pytestmark = pytest.mark.unit

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


# ---------------------------------------------------------------- paper Table 3 (delta = 5%)

def test_table3_five_percent_reproduced() -> None:
    """Table 3, first row: F = 5% needs 72 checks."""
    assert spot_check_sample_size(0.05, 0.95) == 72


def test_table3_second_row_183_is_the_two_percent_answer() -> None:
    """Table 3 prints 183 for "2.5%"; the same method gives 183 exactly at F = 2% and 146 at 2.5%."""
    assert spot_check_sample_size(0.02, 0.95) == 183
    assert spot_check_sample_size(0.025, 0.95) == 146
    assert clopper_pearson_upper(0, 146, 0.95) <= 0.025 < clopper_pearson_upper(0, 145, 0.95)


def test_table3_one_percent_needs_368_not_366() -> None:
    """Table 3 prints 366 (= 2 x 183) for 1%: 366 clean checks only bound tampering below 1.003%."""
    assert spot_check_sample_size(0.01, 0.95) == 368
    assert clopper_pearson_upper(0, 366, 0.95) > 0.01
    assert clopper_pearson_upper(0, 367, 0.95) > 0.01
    assert clopper_pearson_upper(0, 368, 0.95) <= 0.01


def test_one_sided_bound_is_the_plain_escape_probability() -> None:
    """One-sided: smallest N with (1 - F)^N <= 1 - C, i.e. 59 at F = 5%, C = 95%."""
    assert spot_check_sample_size(0.05, 0.95, two_sided=False) == 59
    assert 0.95**59 <= 0.05 < 0.95**58


# ---------------------------------------------------------------- paper Table 4 (delta = 5%)

@pytest.mark.parametrize(("eps", "n"), [(0.05, 600), (0.01, 14979)])
def test_table4_reproduced(eps: float, n: int) -> None:
    assert accuracy_sample_size(eps, 0.95) == n


def test_table4_two_and_a_half_percent_needs_2397_not_2396() -> None:
    """Table 4 prints 2,396 for eps = 2.5%, which misses the bound: exp(-2*2396*0.025^2) > 0.05."""
    assert accuracy_sample_size(0.025, 0.95) == 2397
    assert hoeffding_tail(2396, 0.025) > 0.05 >= hoeffding_tail(2397, 0.025)


# ---------------------------------------------------------------- the math, checked independently

@pytest.mark.parametrize("f", [0.3, 0.1, 0.05, 0.02, 0.013, 0.001])
@pytest.mark.parametrize("c", [0.8, 0.9, 0.95, 0.99, 0.999])
@pytest.mark.parametrize("two_sided", [True, False])
def test_spot_check_size_is_the_smallest_that_works(f: float, c: float, two_sided: bool) -> None:
    """Checked against the zero-count closed form 1 - alpha^(1/N), not the code's own Beta quantile."""
    alpha = (1 - c) / 2 if two_sided else 1 - c
    n = spot_check_sample_size(f, c, two_sided=two_sided)
    assert 1 - alpha ** (1 / n) <= f + 1e-12
    assert n == 1 or 1 - alpha ** (1 / (n - 1)) > f


@pytest.mark.parametrize(("k", "n"), [(1, 10), (3, 50), (7, 200), (0, 30)])
def test_clopper_pearson_upper_inverts_the_binomial_test(k: int, n: int) -> None:
    """At the upper bound, seeing <= k of n has probability exactly alpha = (1 - C) / 2."""
    u = clopper_pearson_upper(k, n, 0.95)
    assert binom.cdf(k, n, u) == pytest.approx(0.025, rel=1e-9)
    assert clopper_pearson_upper(n, n, 0.95) == 1.0


@pytest.mark.parametrize("eps", [0.2, 0.05, 0.03, 0.01, 0.004])
@pytest.mark.parametrize("c", [0.5, 0.9, 0.95, 0.99])
def test_accuracy_size_is_the_smallest_that_works(eps: float, c: float) -> None:
    n = accuracy_sample_size(eps, c)
    assert math.exp(-2 * n * eps**2) <= 1 - c < math.exp(-2 * (n - 1) * eps**2)


def test_detection_probability() -> None:
    assert detection_probability(72, 0.05) == pytest.approx(1 - 0.95**72)
    assert detection_probability(0, 0.05) == 0.0


def test_sizes_are_monotone() -> None:
    fs = [0.4, 0.2, 0.1, 0.05, 0.03, 0.01, 0.005]
    spot = [spot_check_sample_size(f, 0.95) for f in fs]
    assert spot == sorted(spot) and len(set(spot)) == len(spot)
    cs = [0.5, 0.8, 0.9, 0.95, 0.99, 0.999]
    assert [spot_check_sample_size(0.05, c) for c in cs] == sorted(spot_check_sample_size(0.05, c) for c in cs)
    assert spot_check_sample_size(0.05, 0.999) > spot_check_sample_size(0.05, 0.5)
    acc = [accuracy_sample_size(e, 0.95) for e in fs]
    assert acc == sorted(acc) and len(set(acc)) == len(acc)
    acc_c = [accuracy_sample_size(0.05, c) for c in cs]
    assert acc_c == sorted(acc_c) and len(set(acc_c)) == len(acc_c)
    # the one-sided bound never needs more checks than the two-sided interval
    assert all(spot_check_sample_size(f, 0.95, two_sided=False) < spot_check_sample_size(f, 0.95) for f in fs)


@pytest.mark.parametrize("bad", [0, 0.0, 1, 1.0, -0.1, 1.5, float("nan"), True, "0.5"])
def test_bad_fractions_are_rejected(bad) -> None:
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        spot_check_sample_size(bad, 0.95)
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        spot_check_sample_size(0.05, bad)
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        accuracy_sample_size(bad, 0.95)
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        accuracy_sample_size(0.05, bad)


def test_bad_counts_are_rejected() -> None:
    with pytest.raises(ValueError):
        clopper_pearson_upper(5, 4, 0.95)
    with pytest.raises(ValueError):
        clopper_pearson_upper(0, 0, 0.95)
    with pytest.raises(ValueError):
        hoeffding_tail(-1, 0.05)


# ---------------------------------------------------------------- costs

def test_spot_check_costs_match_the_serving_round_rules() -> None:
    z, k, n, b = 3 * 10**15, 1000, 72, 3
    lines = {line.formula: line.amount for line in cost.spot_check_costs(n, Pricing(proof_price=z), round_size=k,
                                                                         beta=b)}
    consumer_back, provider_back = rules.serving_round_payouts(True, n, k, b, z)
    assert lines["2 * K * Z"] - lines["2 * N * Z"] == consumer_back
    assert lines[f"{b} * K * Z"] + lines["2 * N * Z"] == provider_back
    assert lines["N * Z"] == 216 * 10**15 and isinstance(lines["N * Z"], int)


def test_accuracy_costs_match_the_audit_rules() -> None:
    prices = rules.Prices(example_e=10**16, proof_z=10**15, inference_p=10**13, fee_epsilon=7)
    n = 600
    pricing = Pricing(proof_price=prices.proof_z, inference_price=prices.inference_p,
                      example_price=prices.example_e, fee=prices.fee_epsilon)
    lines = {line.formula: line.amount for line in cost.accuracy_costs(n, pricing)}
    held = 2 * n * prices.example_e
    assert held - lines["2 * N * Z"] == rules.simple_audit_payouts(rules.AuditOutcome.PASSED, n, prices)[0]
    assert held - lines["N * P"] == rules.simple_audit_payouts(rules.AuditOutcome.ABORTED, n, prices)[0]
    assert lines["2 * N * E + eps"] == rules.audit_escrow(n, prices)


def test_costs_need_prices_to_appear() -> None:
    assert cost.spot_check_costs(72, Pricing()) == []
    assert cost.headline(cost.accuracy_costs(600, Pricing())) is None


def test_compute_cost_is_exact_and_rounds_up_to_a_cent() -> None:
    # 3 * 0.1 s at $3600/h is exactly 30 cents; in floats 3 * 0.1 = 0.30000000000000004 and ceil gives 31
    assert ComputePrice(parse_decimal("s", "0.1"), parse_decimal("p", "3600")).cents(3) == 30
    # 72 * 175.66 s * $2.176/h = 764.49... cents -> 765 ($7.65)
    assert ComputePrice(parse_decimal("s", "175.66"), parse_decimal("p", "2.176")).cents(72) == 765
    assert ComputePrice(Fraction(1), Fraction(1)).cents(0) == 0


def test_cost_inputs_are_validated() -> None:
    with pytest.raises(ValueError, match="non-negative integer"):
        Pricing(proof_price=-1)
    with pytest.raises(ValueError, match="non-negative integer"):
        Pricing(proof_price=1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="decimal"):
        parse_decimal("seconds", "fast")
    with pytest.raises(ValueError, match=">= 0"):
        parse_decimal("seconds", "-2")
    with pytest.raises(ValueError, match="finite"):
        parse_decimal("seconds", "inf")
    with pytest.raises(ValueError, match="cannot hold"):
        cost.spot_check_costs(72, Pricing(proof_price=1), round_size=71)


# ---------------------------------------------------------------- CLI

def _run(*args: str):
    return CliRunner().invoke(plan, list(args), catch_exceptions=False)


def test_cli_spot_check_table() -> None:
    r = _run("spot-check", "--tamper-fraction", "5%", "--proof-price", "1000000000000000")
    assert r.exit_code == 0, r.output
    assert "sample size N" in r.output
    assert " 72 " in r.output
    assert "144,000,000,000,000,000 wei" in r.output
    assert "Clopper-Pearson" in r.output


def test_cli_spot_check_json() -> None:
    r = _run("spot-check", "-f", "0.01", "--proof-price", "5", "--round-size", "1000",
             "--prove-seconds", "175.66", "--usd-per-hour", "2.176", "--json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    assert doc["sample_size"] == 368 and doc["kind"] == "spot-check"
    amounts = {c["formula"]: c["amount"] for c in doc["costs"]}
    assert amounts["2 * N * Z"] == 2 * 368 * 5
    assert amounts["2 * K * Z"] == 10000
    assert any(c["unit"] == "USD cents" and c["amount"] == math.ceil(368 * 175.66 * 2.176 / 36) for c in doc["costs"])


def test_cli_accuracy_json_and_table() -> None:
    r = _run("accuracy", "--epsilon", "0.025", "--confidence", "95%", "--proof-price", "10", "--json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    assert (doc["sample_size"], doc["method"]) == (2397, "hoeffding")
    assert doc["failure_bound"] <= 0.05
    assert {c["formula"]: c["amount"] for c in doc["costs"]} == {"N * Z": 23970, "2 * N * Z": 47940}
    t = _run("accuracy", "-e", "1%", "--example-price", "3", "--fee", "1", "--unit", "USDC")
    assert t.exit_code == 0, t.output
    assert "14,979" in t.output and "89,875 USDC" in t.output  # 2 * 14979 * 3 + 1


@pytest.mark.parametrize(("args", "needle"), [
    (["spot-check", "--tamper-fraction", "0"], "--tamper-fraction"),
    (["spot-check", "--tamper-fraction", "1"], "strictly between 0 and 1"),
    (["spot-check", "--tamper-fraction", "abc"], "is not a number"),
    (["spot-check", "-f", "0.05", "--confidence", "100%"], "--confidence"),
    (["accuracy", "--epsilon", "-0.01"], "--epsilon"),
    (["accuracy", "-e", "0.05", "--proof-price", "-3"], "--proof-price"),
    (["accuracy", "-e", "0.05", "--prove-seconds", "10"], "give both"),
    (["accuracy", "-e", "0.05", "--prove-seconds", "x", "--usd-per-hour", "1"], "decimal"),
    (["spot-check", "-f", "0.05", "--proof-price", "1", "--round-size", "10"], "cannot hold a sample of 72"),
])
def test_cli_bad_input_is_a_usage_error(args: list[str], needle: str) -> None:
    r = CliRunner().invoke(plan, args)
    assert r.exit_code == 2, r.output
    assert needle in r.output
    assert "Traceback" not in r.output


def test_main_cli_has_plan() -> None:
    from zkmarket.cli import main

    r = CliRunner().invoke(main, ["plan", "spot-check", "-f", "0.02", "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["sample_size"] == 183


# ---------------------------------------------------------------- plot

def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == PNG_SIGNATURE
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


@pytest.mark.parametrize(("args", "size"), [
    (["spot-check", "-f", "0.05", "--proof-price", "1000"], (700, 650)),
    (["accuracy", "-e", "0.01"], (700, 400)),  # no price: sample size only
])
def test_cli_plot_writes_a_png(tmp_path, args: list[str], size: tuple[int, int]) -> None:
    out = tmp_path / "plan.png"
    r = _run(*args, "--plot", str(out), "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["plot"] == str(out)
    data = out.read_bytes()
    assert _png_size(data) == size
    assert len(data) > 10_000  # axes, curve and labels, not an empty canvas
    assert data.rstrip(b"\x00").endswith(b"IEND\xaeB`\x82")


def test_sweep_grid_brackets_the_chosen_value() -> None:
    g = sweep_grid(0.05)
    assert 0.05 in g and g == sorted(g)
    assert g[0] == pytest.approx(0.0125) and g[-1] == pytest.approx(0.2)
    assert sweep_grid(0.5)[-1] == 0.9  # capped below 1
    with pytest.raises(ValueError):
        sweep_grid(1.0)

