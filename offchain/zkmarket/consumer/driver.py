"""The consumer's drivers' shared loop: each pass reads a job's phase from the chain and makes
MC's move or waits for MP's (or a deadline) until it is settled, with progress through a
Reporter. Every consumer flow (both audits, serving rounds, retrieval requests) runs on it.
The clock and the sleep are parameters, so tests drive it directly."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable
from urllib.error import URLError
from urllib.request import urlopen

from .client import ConsumerClient, format_amount
from .errors import ConsumerError, RevertError, WaitTimeout


def when(deadline: int, now: int) -> str:
    """A deadline as UTC time and distance from the chain's now."""
    at = datetime.fromtimestamp(deadline, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    delta = deadline - now
    span = abs(delta)
    parts = [(span // 86400, "d"), (span % 86400 // 3600, "h"), (span % 3600 // 60, "m"), (span % 60, "s")]
    text = " ".join(f"{v}{u}" for v, u in parts if v) or "0s"
    return f"{at} (in {text})" if delta >= 0 else f"{at} ({text} ago)"


def check_provider(url: str, timeout: float = 10) -> None:
    """MP's agent must answer GET /health before MC escrows anything."""
    try:
        with urlopen(url.rstrip("/") + "/health", timeout=timeout) as r:
            if r.status == 200:
                return
            raise ConsumerError(f"the provider agent at {url} answered HTTP {r.status} on /health")
    except (URLError, OSError) as e:
        reason = getattr(e, "reason", e)
        raise ConsumerError(f"cannot reach the provider agent at {url} ({reason}); nothing was sent: check "
                            f"--provider-url and that `zkmarket provider run` is up") from None


class Reporter:
    """Where progress goes (the CLI prints with rich; tests may collect it)."""

    def say(self, text: str) -> None:  # one line per step made
        pass

    def status(self, what: str, detail: str = "") -> None:  # what is being waited for now (a spinner line)
        pass

    def idle(self) -> None:  # no longer waiting
        pass


@dataclass(frozen=True)
class Wait:
    what: str
    deadline: int | None = None


@dataclass(kw_only=True)
class JobEnd:
    """How a job ended, for every consumer flow (an audit's Settlement, a round's or request's
    JobSettlement): the outcome and both payouts, or the refund, as lines and as JSON, plus
    what the local check found wrong in the proofs MP got paid for."""

    CANCELLED = "{job} cancelled: the escrow of {refund} was credited back"
    CHECKED = ("accepted", "example")  # which proofs were checked, and what each one is of

    state: str  # "Settled" or "Cancelled"
    token: str
    outcome: str | None = None
    consumer_payout: int = 0
    provider_payout: int = 0
    refund: int = 0
    tx_hash: str | None = None

    def job(self) -> str:  # pragma: no cover - each kind defines it
        raise NotImplementedError

    def invalid(self) -> list:  # pragma: no cover - each kind defines it
        raise NotImplementedError

    def lines(self) -> list[str]:
        if self.state == "Cancelled":
            return [self.CANCELLED.format(job=self.job(), refund=format_amount(self.refund, self.token))]
        return [f"{self.job()} settled: {self.outcome}",
                f"  consumer (MC) credited {format_amount(self.consumer_payout, self.token)}",
                f"  provider (MP) credited {format_amount(self.provider_payout, self.token)}"]

    def to_dict(self) -> dict:
        return {"state": self.state, "outcome": self.outcome, "consumer_payout": self.consumer_payout,
                "provider_payout": self.provider_payout, "refund": self.refund, "tx": self.tx_hash}

    def invalid_proofs(self) -> str:
        """Why the settled job's checked proofs fail the local check; "" when none does."""
        invalid = self.invalid()
        if not invalid:
            return ""
        proofs, item = self.CHECKED
        return (f"{self.job()} settled but {len(invalid)} {proofs} proof(s) do not verify locally: "
                + "; ".join(f"{item} {c.index}: {c.problem}" for c in invalid))


def ended_fields(client: ConsumerClient, contract, job_id: int, outcomes: list[str], id_arg: str = "auditId",
                 events: tuple[str, str] = ("AuditSettled", "AuditCancelled"),
                 payouts: tuple[str, str] = ("consumerPayout", "providerPayout")) -> dict | None:
    """How a finished job ended, from its last settled event, else its last cancelled one: the
    settlement's fields after the job's id and token (None when neither was emitted)."""
    args, start = {id_arg: job_id}, client.deployment.start_block
    for state, event in zip(("Settled", "Cancelled"), events):
        logs = list(getattr(contract.events, event).get_logs(argument_filters=args, from_block=start))
        if not logs:
            continue
        ev, tx_hash = logs[-1]["args"], "0x" + bytes(logs[-1]["transactionHash"]).hex()
        if state == "Cancelled":
            return {"state": state, "refund": int(ev["refund"]), "tx_hash": tx_hash}
        return {"state": state, "outcome": outcomes[ev["outcome"]], "consumer_payout": int(ev[payouts[0]]),
                "provider_payout": int(ev[payouts[1]]), "tx_hash": tx_hash}
    return None


class Stop(Exception):
    """Raised by a step to end the run early on purpose (--no-settle), with what to do next."""


class DriverLoop:
    """The resumable loop of every consumer driver (audits, rounds, requests): each pass reads
    the job's phase from the chain and makes MC's move or waits for MP's (or for a deadline),
    until it is settled or cancelled. Subclasses give ``phase``, ``step`` (a Wait, or None after
    a move), ``finished`` (the settlement) and, optionally, ``_announce``."""

    NOUN = "job"
    RESUME = "zkmarket job resume"
    client: ConsumerClient
    reporter: Reporter
    job_id: int
    poll: float
    timeout: float | None
    clock: Callable[[], float]
    sleep: Callable[[float], None]
    stopped: str | None = None

    def run(self):
        """The settlement, or None when a step stopped on purpose (``self.stopped`` says why)."""
        waiting, since = None, 0.0
        try:
            while True:
                current = self.phase()
                self._announce(current)
                if current in ("Settled", "Cancelled"):
                    return self.finished()
                before = self._snapshot(current)
                try:
                    wait = self.step(current)
                except Stop as e:
                    self.stopped = str(e)
                    return None
                except RevertError:
                    if self._snapshot(self.phase()) != before:
                        continue  # someone else (MP's agent) made the move first: read the chain again
                    raise
                if wait is None:
                    waiting = None
                    continue
                if wait.what != waiting:
                    waiting, since = wait.what, self.clock()
                deadline = f"; deadline {when(wait.deadline, self.client.chain_time())}" if wait.deadline else ""
                self.reporter.status(wait.what, deadline)
                if self.timeout is not None and self.clock() - since >= self.timeout:
                    raise WaitTimeout(f"gave up after {self.timeout:g}s {wait.what}{deadline}; {self.NOUN} "
                                      f"{self.job_id} is {current}: continue with `{self.RESUME} {self.job_id}`")
                self.sleep(self.poll)
        finally:
            self.reporter.idle()

    def phase(self) -> str:  # pragma: no cover - each driver defines it
        raise NotImplementedError

    def step(self, current: str) -> Wait | None:  # pragma: no cover
        raise NotImplementedError

    def finished(self):  # pragma: no cover
        raise NotImplementedError

    def _announce(self, current: str) -> None:
        """A line when the phase changes, if the driver says one here."""

    def _snapshot(self, current: str) -> tuple:
        """What tells whether someone else moved since a step was decided."""
        return (current,)
