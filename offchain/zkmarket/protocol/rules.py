"""The protocols' amounts and decisions in plain integers, mirroring the contracts (paper 5.2,
5.3, appendix B). Every payout is a pair (consumer, provider) of what each party is credited
at settlement; the fee recipient's share is the fees taken at join."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


@dataclass(frozen=True)
class Prices:
    """E > Z > P (paper 5.2) and the escrow service's fee epsilon, in a token's smallest unit."""

    example_e: int
    proof_z: int
    inference_p: int
    fee_epsilon: int

    def __post_init__(self) -> None:
        for name in ("example_e", "proof_z", "inference_p", "fee_epsilon"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise ValueError(f"{name} must be a non-negative integer (wei), got {v!r}")
        if not self.example_e > self.proof_z > self.inference_p:
            raise ValueError(f"prices need E > Z > P, got E={self.example_e}, Z={self.proof_z}, P={self.inference_p}")


class GuardedOutcome(IntEnum):
    """IGriefingResistantAudit.GuardedOutcome, same order."""

    ABORTED = 0
    PASSED = 1
    FAILED = 2
    CONSUMER_DEFAULTED = 3


class AuditOutcome(IntEnum):
    """IAccuracyAudit.AuditOutcome, same order."""

    ABORTED = 0
    PASSED = 1
    FAILED = 2


def audit_escrow(n: int, prices: Prices) -> int:
    """What each party escrows for an accuracy audit of N examples: 2NE + eps."""
    return 2 * n * prices.example_e + prices.fee_epsilon


def simple_audit_payouts(outcome: AuditOutcome, n: int, prices: Prices) -> tuple[int, int]:
    """Paper 5.2: abort costs MC N*P, a pass 2NZ, a failure costs MP its 2NE."""
    held = 2 * n * prices.example_e
    if outcome == AuditOutcome.ABORTED:
        fee = n * prices.inference_p
    elif outcome == AuditOutcome.PASSED:
        fee = 2 * n * prices.proof_z
    else:
        return 2 * held, 0
    return held - fee, held + fee


def guarded_audit_payouts(outcome: GuardedOutcome, n: int, n1: int, prices: Prices) -> tuple[int, int]:
    """Appendix B: abort at stage 4 costs MC N1*P, a pass 2(N1*P + N2*Z); the party at fault
    (MP failed, or MC defaulted) loses its 2NE to the other."""
    held = 2 * n * prices.example_e
    if outcome == GuardedOutcome.ABORTED:
        fee = n1 * prices.inference_p
    elif outcome == GuardedOutcome.PASSED:
        fee = 2 * (n1 * prices.inference_p + (n - n1) * prices.proof_z)
    elif outcome == GuardedOutcome.FAILED:
        return 2 * held, 0
    else:
        return 0, 2 * held
    return held - fee, held + fee


def target_met(correct: int, n: int, target_num: int, target_den: int) -> bool:
    """correct / n >= num / den without division, as the contracts decide it."""
    return correct * target_den >= target_num * n


def should_proceed(subset_correct: int, n1: int, target_num: int, target_den: int, margin_num: int = 0,
                   margin_den: int = 1) -> bool:
    """MP's stage-4 rule (appendix B): having seen the N1 subset in the clear, proceed only if
    the model meets the target on it with a safety margin, since N2 is drawn from the same set
    and failing costs 2NE while aborting costs only N1*P. With margin m the test is
    correct/N1 >= num/den + m, in integers."""
    if n1 <= 0:
        raise ValueError("N1 must be positive")
    return subset_correct * target_den * margin_den >= n1 * (target_num * margin_den + margin_num * target_den)


def serving_round_payouts(answered_all: bool, contested: int, k: int, beta: int, proof_z: int) -> tuple[int, int]:
    """Paper 5.3 with MC escrow 2KZ and MP escrow beta*K*Z: unanswered contests cost MP beta*K*Z,
    answered ones cost MC 2*K1*Z."""
    consumer_escrow, provider_escrow = 2 * k * proof_z, beta * k * proof_z
    if not answered_all:
        return consumer_escrow + provider_escrow, 0
    fee = 2 * contested * proof_z
    return consumer_escrow - fee, provider_escrow + fee
