"""What a planned sample costs, in exact integers.

Two ways to price a proof, both optional and shown side by side:

* **Market prices** (a token's smallest unit, e.g. wei): Z per proof, P per inference, E per
  labeled example, the escrow fee eps, the parameters the contracts take (paper 5.2 and 5.3).
  The amounts mirror ``zkmarket.protocol.rules`` (a test checks them against it), so what the
  planner quotes is what the chain will move.
* **Compute**: measured seconds to prove and verify one proof on a machine rented at a price
  per hour (the paper's Tables 3 and 4 price proofs this way, on an AWS g4dn instance). Inputs
  are decimals parsed exactly; the total is rounded *up* to a whole cent, never through floats.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from fractions import Fraction

__all__ = [
    "CostLine", "Pricing", "ComputePrice", "parse_decimal", "exact_decimal", "spot_check_costs", "accuracy_costs",
    "headline",
]

SECONDS_PER_HOUR = 3600


def _non_negative_int(name: str, v: int | None) -> None:
    if v is None:
        return
    if isinstance(v, bool) or not isinstance(v, int) or v < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {v!r}")


def parse_decimal(name: str, text: str | int | Fraction) -> Fraction:
    """An exact non-negative rational from a decimal string ("92.23", "2.176"): no float ever
    enters a price, so 0.1 means one tenth."""
    if isinstance(text, Fraction):
        value = text
    elif isinstance(text, int) and not isinstance(text, bool):
        value = Fraction(text)
    elif isinstance(text, str):
        try:
            d = Decimal(text.strip())
        except InvalidOperation:
            raise ValueError(f"{name} must be a decimal number, got {text!r}") from None
        if not d.is_finite():
            raise ValueError(f"{name} must be finite, got {text!r}")
        value = Fraction(d)
    else:
        raise ValueError(f"{name} must be a decimal string, got {text!r}")
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {text!r}")
    return value


@dataclass(frozen=True)
class Pricing:
    """Market prices in ``unit`` (the token's smallest unit); None where not configured.

    Attributes:
        proof_price: Z, the price of one proof.
        inference_price: P, the price of one inference (what an aborted audit costs per example).
        example_price: E, the price of one labeled test example (sets the audit escrow).
        fee: the escrow service's fee eps, added once to each audit escrow.
        unit: a label for the amounts, e.g. "wei".
    """

    proof_price: int | None = None
    inference_price: int | None = None
    example_price: int | None = None
    fee: int = 0
    unit: str = "wei"

    def __post_init__(self) -> None:
        for name in ("proof_price", "inference_price", "example_price", "fee"):
            _non_negative_int(name, getattr(self, name))


@dataclass(frozen=True)
class ComputePrice:
    """Seconds of machine time per proof (proving plus verifying) and the machine's USD price per hour."""

    seconds_per_proof: Fraction
    usd_per_hour: Fraction

    def __post_init__(self) -> None:
        for name in ("seconds_per_proof", "usd_per_hour"):
            v = getattr(self, name)
            if not isinstance(v, Fraction) or v < 0:
                raise ValueError(f"{name} must be a non-negative Fraction, got {v!r}")

    def cents(self, proofs: int) -> int:
        """Machine cost of ``proofs`` proofs, rounded up to a whole US cent."""
        _non_negative_int("proofs", proofs)
        exact = proofs * self.seconds_per_proof * self.usd_per_hour * 100 / SECONDS_PER_HOUR
        return -(-exact.numerator // exact.denominator)


@dataclass(frozen=True)
class CostLine:
    """One priced quantity: ``amount`` in ``unit`` (an integer), and the formula that gave it."""

    name: str
    amount: int
    unit: str
    formula: str

    def to_dict(self) -> dict[str, object]:
        return {"name": self.name, "amount": self.amount, "unit": self.unit, "formula": self.formula}


def _compute_line(n: int, compute: ComputePrice | None) -> list[CostLine]:
    if compute is None:
        return []
    seconds, rate = exact_decimal(compute.seconds_per_proof), exact_decimal(compute.usd_per_hour)
    return [CostLine("machine time", compute.cents(n), "USD cents", f"ceil(N * {seconds} s * ${rate}/h)")]


def exact_decimal(x: Fraction) -> str:
    """A short exact rendering: decimals as typed when they are finite decimals."""
    if x.denominator == 1:
        return str(x.numerator)
    return str(Decimal(x.numerator) / Decimal(x.denominator))


def spot_check_costs(n: int, pricing: Pricing, compute: ComputePrice | None = None, *,
                     round_size: int | None = None, beta: int = 2) -> list[CostLine]:
    """Costs of contesting n predictions in a serving round (paper 5.3).

    Mirrors ``rules.serving_round_payouts``: the consumer escrows 2KZ for a round of K
    predictions, the provider beta*K*Z; contests that are all answered with valid proofs cost
    the consumer 2*N*Z (the proofs' price, doubled so that contesting honest work is never free).

    Args:
        n: the sample size (predictions contested).
        pricing: market prices; lines needing Z are left out when it is None.
        compute: machine price, optional.
        round_size: K, predictions in the round; must be >= n, adds the two escrows.
        beta: the provider's escrow multiple (>= 2, paper 5.3).
    """
    _non_negative_int("n", n)
    lines: list[CostLine] = []
    z = pricing.proof_price
    if round_size is not None:
        _non_negative_int("round size", round_size)
        if round_size < n:
            raise ValueError(f"a round of {round_size} predictions cannot hold a sample of {n}")
        if beta < 2:
            raise ValueError(f"beta must be >= 2 (paper 5.3), got {beta}")
    if z is not None:
        lines.append(CostLine("N proofs at price Z", n * z, pricing.unit, "N * Z"))
        lines.append(CostLine("consumer pays, contests answered", 2 * n * z, pricing.unit, "2 * N * Z"))
        if round_size is not None:
            lines.append(CostLine("consumer escrow, round of K", 2 * round_size * z, pricing.unit, "2 * K * Z"))
            lines.append(CostLine("provider escrow, round of K", beta * round_size * z, pricing.unit,
                                  f"{beta} * K * Z"))
    return lines + _compute_line(n, compute)


def accuracy_costs(n: int, pricing: Pricing, compute: ComputePrice | None = None) -> list[CostLine]:
    """Costs of an accuracy audit over n examples (paper 5.2).

    Mirrors ``rules.simple_audit_payouts`` and ``rules.audit_escrow``: a pass costs the consumer
    2*N*Z, an abort by the provider N*P, and each party escrows 2*N*E + eps while the audit runs.
    """
    _non_negative_int("n", n)
    lines: list[CostLine] = []
    u = pricing.unit
    if pricing.proof_price is not None:
        z = pricing.proof_price
        lines.append(CostLine("N proofs at price Z", n * z, u, "N * Z"))
        lines.append(CostLine("consumer pays on a pass", 2 * n * z, u, "2 * N * Z"))
    if pricing.inference_price is not None:
        lines.append(CostLine("consumer pays on an abort", n * pricing.inference_price, u, "N * P"))
    if pricing.example_price is not None:
        lines.append(CostLine("escrow per party", 2 * n * pricing.example_price + pricing.fee, u, "2 * N * E + eps"))
    return lines + _compute_line(n, compute)


def headline(lines: list[CostLine]) -> CostLine | None:
    """The one cost to plot against the parameter: what the consumer pays on the honest path
    if a market price is set, else the machine time, else None."""
    for line in lines:
        if line.formula == "2 * N * Z":
            return line
    for line in lines:
        if line.unit == "USD cents":
            return line
    return None
