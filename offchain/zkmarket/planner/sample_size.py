"""How many predictions or test examples a consumer must check (paper section 6.2).

Two questions, two tools, as the paper uses them:

* **Spot checks** (verified predictions, paper 5.3; trustless retrieval, 5.4): the consumer
  contests a uniform random sample of N served predictions and asks for a proof of each. If a
  fraction F or more of the batch was tampered with, how large must N be so that a clean sample
  (no tampered prediction found) lets it say "tampering is below F" with confidence C? The paper
  inverts the **Clopper-Pearson exact interval** (Table 3): N is the smallest sample whose
  interval upper bound, after observing zero tampered predictions, is at most F. N does not
  depend on the batch size: sampling with replacement (the binomial model) is conservative for
  sampling without replacement from a finite batch.

* **Accuracy** (audits, paper 5.2 and appendix B): how many labeled examples make the measured
  accuracy a' fall short of the true accuracy a by more than epsilon with probability at most
  1 - C? The paper uses **Hoeffding's inequality** for a one-sided deviation of a mean of [0, 1]
  variables, P(a - a' > eps) <= exp(-2 N eps^2) (the paper prints exp(-2 eps^2 / N), a typo:
  the bound shrinks with N), so N is the smallest integer with exp(-2 N eps^2) <= 1 - C.

Both answers are smallest integers satisfying an inequality; each function computes the closed
form and then checks the integer and its predecessor against the inequality itself, so float
rounding in the closed form can never return a sample one too small.

Agreement with the paper (both at confidence 95%): Table 3 gives 72 for F = 5%, reproduced; its
183 for "2.5%" is exactly this method's answer for F = 2% (2.5% needs 146), and its 366 for 1%
is twice 183 where the method needs 368 (366 clean checks bound tampering only below 1.003%).
Table 4 gives 600 and 14,979 for eps = 5% and 1%, reproduced; its 2,396 for 2.5% is one short
of the bound (exp(-2 * 2396 * 0.025^2) = 0.05004 > 0.05), so the correct answer is 2,397.
"""

from __future__ import annotations

import math

__all__ = [
    "clopper_pearson_upper",
    "spot_check_sample_size",
    "detection_probability",
    "hoeffding_tail",
    "accuracy_sample_size",
]


def _open_unit(name: str, value: float) -> float:
    """Rejects values outside (0, 1): a fraction, epsilon or confidence of 0 or 1 has no finite answer."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 < float(value) < 1.0:
        raise ValueError(f"{name} must be strictly between 0 and 1, got {value!r}")
    return float(value)


def clopper_pearson_upper(tampered: int, n: int, confidence: float, *, two_sided: bool = True) -> float:
    """Upper end of the Clopper-Pearson interval for a binomial proportion.

    The exact interval inverts the binomial test: the upper bound is the proportion at which
    seeing at most ``tampered`` of ``n`` has probability alpha (alpha = (1 - C) / 2 for the
    two-sided interval the paper uses, 1 - C for the one-sided bound), which is the
    (1 - alpha) quantile of Beta(tampered + 1, n - tampered).

    Args:
        tampered: tampered predictions observed in the sample, 0 <= tampered <= n.
        n: sample size, >= 1.
        confidence: C in (0, 1).
        two_sided: the two-sided interval (paper Table 3) or the one-sided upper bound.

    Returns:
        The upper bound; 1.0 when every sampled prediction was tampered.
    """
    confidence = _open_unit("confidence", confidence)
    if n < 1 or not 0 <= tampered <= n:
        raise ValueError(f"need 0 <= tampered <= n and n >= 1, got tampered={tampered}, n={n}")
    if tampered == n:
        return 1.0
    from scipy.stats import beta as _beta  # here, not at import: keeps `zkmarket --help` fast

    alpha = (1.0 - confidence) / 2.0 if two_sided else 1.0 - confidence
    return float(_beta.ppf(1.0 - alpha, tampered + 1, n - tampered))


def spot_check_sample_size(tamper_fraction: float, confidence: float, *, two_sided: bool = True) -> int:
    """Smallest N whose Clopper-Pearson upper bound after N clean checks is at most F.

    With zero observed the Beta quantile has the closed form 1 - alpha^(1/N), so
    N = ceil(ln(alpha) / ln(1 - F)); equivalently a batch with tampering F escapes a sample of N
    with probability (1 - F)^N <= alpha. The closed form is the starting point; the Beta
    quantile decides.

    Args:
        tamper_fraction: F in (0, 1), the smallest tampered fraction the check must expose.
        confidence: C in (0, 1).
        two_sided: the paper's two-sided interval (alpha = (1 - C) / 2), or the one-sided bound
            (alpha = 1 - C), which needs fewer checks for the same guarantee on the upper side.
    """
    f = _open_unit("tamper fraction", tamper_fraction)
    c = _open_unit("confidence", confidence)
    alpha = (1.0 - c) / 2.0 if two_sided else 1.0 - c
    n = max(1, math.ceil(math.log(alpha) / math.log1p(-f)))

    def ok(k: int) -> bool:
        return clopper_pearson_upper(0, k, c, two_sided=two_sided) <= f

    while not ok(n):
        n += 1
    while n > 1 and ok(n - 1):
        n -= 1
    return n


def detection_probability(n: int, tamper_fraction: float) -> float:
    """Chance that a uniform sample of n (with replacement) catches at least one tampered
    prediction when exactly a fraction F is tampered: 1 - (1 - F)^n."""
    f = _open_unit("tamper fraction", tamper_fraction)
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    return -math.expm1(n * math.log1p(-f))


def hoeffding_tail(n: int, epsilon: float) -> float:
    """Hoeffding's bound exp(-2 n eps^2) on P(a - a' > eps) for n examples."""
    eps = _open_unit("epsilon", epsilon)
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    return math.exp(-2.0 * n * eps * eps)


def accuracy_sample_size(epsilon: float, confidence: float) -> int:
    """Smallest N with exp(-2 N eps^2) <= 1 - C (paper Table 4): N = ceil(ln(1/(1-C)) / (2 eps^2)).

    Hoeffding needs no assumption about the model's accuracy, which is why the paper prefers it
    for binary accuracy: the answer holds whatever a is, at the price of being conservative.
    """
    eps = _open_unit("epsilon", epsilon)
    c = _open_unit("confidence", confidence)
    delta = 1.0 - c
    n = max(1, math.ceil(math.log(1.0 / delta) / (2.0 * eps * eps)))
    while hoeffding_tail(n, eps) > delta:
        n += 1
    while n > 1 and hoeffding_tail(n - 1, eps) <= delta:
        n -= 1
    return n
