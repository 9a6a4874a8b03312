"""What serving rounds and retrieval requests share on the consumer's side: the durable state
file of one job, the choice of the spot-checked subset, the settlement read back from the chain,
moving a dev chain's clock, and the resumable loop that drives a job from the chain's phase.

The state file (``zkmarket-round-7.json`` / ``zkmarket-retrieval-2.json`` in ``--state-dir``,
default the working folder) holds what the chain cannot give back: MC's inputs, where MP's agent
is, what MP served and which indices MC chose to contest. Before the job exists on chain it is
``zkmarket-round-pending-<account>-<nonce>.json`` (written before the opening transaction is
sent), renamed once the job's id is known; a resume finds a pending file by the job's on-chain
fields. It is written atomically and fsynced, readable by its owner only (inputs may be private).
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..files import read_json, write_json_atomically
from ..planner import spot_check_sample_size
from .answers import AnswerReport, verify_answers
from .client import ConsumerClient, format_amount
from .driver import DriverLoop, JobEnd, Reporter, Stop, Wait, ended_fields, when
from .errors import ConsumerError, ProofCheckError, RevertError, StateFileError

FORMAT = "zkmarket-consumer-job"
VERSION = 1
KINDS = ("round", "retrieval")
DEV_CLIENTS = ("anvil", "hardhat", "ganache")


# ---------------------------------------------------------------------- state file


def job_path(directory: str | Path, kind: str, job_id: int) -> Path:
    return Path(directory).resolve() / f"zkmarket-{kind}-{job_id}.json"


@dataclass
class JobState:
    """One job's durable state; ``data`` holds the kind's own fields (see rounds / retrieval)."""

    path: Path
    kind: str
    chain_id: int
    contract: str
    account: str
    job_id: int | None = None
    data: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"format": FORMAT, "version": VERSION, "kind": self.kind, "chain_id": self.chain_id,
                "contract": self.contract, "account": self.account, "job_id": self.job_id, "data": self.data}

    def save(self) -> None:
        write_json_atomically(self.path, self.to_dict(), private=True)

    @classmethod
    def pending(cls, directory: str | Path, kind: str, client: ConsumerClient, contract, data: dict) -> "JobState":
        """The state of a job about to be opened, saved under the account's next nonce."""
        nonce = client.w3.eth.get_transaction_count(client.address, "pending")
        path = Path(directory).resolve() / f"zkmarket-{kind}-pending-{client.address[:10].lower()}-{nonce}.json"
        state = cls(path, kind, client.deployment.chain_id, contract.address, client.address, None, data)
        state.save()
        return state

    def open_with(self, client: ConsumerClient, contract, fn: str, args: list, value: int):
        """Sends the opening transaction; a refusal before anything was mined (the simulation
        reverted) leaves no job, so the pending file goes too."""
        try:
            return client.send(contract, fn, args, value=value)
        except RevertError:
            if self.job_id is None:
                self.path.unlink(missing_ok=True)
            raise

    def assign(self, job_id: int) -> None:
        """The job was opened: rename the pending file to the job's."""
        old = self.path
        self.job_id, self.path = job_id, job_path(old.parent, self.kind, job_id)
        self.save()
        if old != self.path:
            old.unlink(missing_ok=True)

    @classmethod
    def load(cls, path: str | Path) -> "JobState":
        p = Path(path)
        d = read_json(p, "the state file", StateFileError)
        if not isinstance(d, dict) or d.get("format") != FORMAT or d.get("version") != VERSION \
                or d.get("kind") not in KINDS:
            raise StateFileError(f"{p} is not a zkmarket consumer round/retrieval state file (version {VERSION})")
        try:
            return cls(p, d["kind"], int(d["chain_id"]), str(d["contract"]), str(d["account"]),
                       None if d.get("job_id") is None else int(d["job_id"]), dict(d.get("data") or {}))
        except (KeyError, TypeError, ValueError) as e:
            raise StateFileError(f"{p}: malformed state file ({type(e).__name__}: {e})") from None

    def check_belongs(self, chain_id: int, contract: str, job_id: int) -> None:
        if (self.chain_id, self.contract.lower(), self.job_id) != (chain_id, contract.lower(), job_id):
            raise StateFileError(f"{self.path} is the state of {self.kind} {self.job_id} at {self.contract} on chain "
                                 f"id {self.chain_id}, not of {self.kind} {job_id} at {contract} on chain id "
                                 f"{chain_id}")


def find_job_state(directory: str | Path, kind: str, client: ConsumerClient, contract, job_id: int,
                   matches: Callable[[JobState], bool]) -> JobState | None:
    """The job's state file in ``directory``; else a pending one of this account and contract
    that ``matches`` the job's on-chain fields (a crash between the opening and the rename),
    adopted under the job's name. Several matching pending files are an error."""
    path = job_path(directory, kind, job_id)
    if path.is_file():
        state = JobState.load(path)
        state.check_belongs(client.deployment.chain_id, contract.address, job_id)
        return state
    candidates = []
    for p in sorted(Path(directory).glob(f"zkmarket-{kind}-pending-*.json")):
        s = JobState.load(p)
        if (s.chain_id, s.contract.lower(), s.account.lower()) == (
                client.deployment.chain_id, contract.address.lower(), client.address.lower()) and matches(s):
            candidates.append(s)
    if len(candidates) > 1:
        raise StateFileError(f"several pending state files match {kind} {job_id}: "
                             f"{', '.join(str(s.path) for s in candidates)}; keep the right one")
    if candidates:
        candidates[0].assign(job_id)
        return candidates[0]
    return None


def check_available(client: ConsumerClient, model_id: int) -> None:
    """Refuses a model that takes no new jobs (ModelNotFound when there is none)."""
    model = client.call(client.registry, "model", model_id)
    if not client.call(client.registry, "isAvailable", model_id):
        raise ConsumerError(f"model {model_id} takes no new jobs (stake {format_amount(model.stake, model.token)}); "
                            f"pick another model")


# ---------------------------------------------------------------------- the spot-checked subset


def parse_indices(text: str) -> list[int]:
    """"1,5, 7" -> [1, 5, 7] (distinct, non-negative)."""
    try:
        out = [int(x) for x in text.replace(" ", "").split(",") if x != ""]
    except ValueError:
        raise ConsumerError(f"indices must be comma-separated integers such as 1,5,7, got {text!r}") from None
    if not out or any(i < 0 for i in out) or len(set(out)) != len(out):
        raise ConsumerError(f"indices must be distinct non-negative integers, got {text!r}")
    return out


@dataclass(frozen=True)
class SpotCheck:
    """Which predictions to contest (results to challenge): fixed ``indices``, or ``count``
    random ones (from ``seed`` when given, else the system's randomness). Chosen only once MP's
    answers are bound on chain, and saved before they are sent."""

    count: int = 0
    indices: tuple[int, ...] | None = None
    seed: int | None = None
    planned: str | None = None  # how the planner sized ``count``

    def size(self) -> int:
        return len(self.indices) if self.indices is not None else self.count

    def check(self, total: int, what: str = "predictions") -> None:
        if self.indices is not None:
            bad = [i for i in self.indices if i >= total]
            if bad:
                raise ConsumerError(f"indices {bad} are out of range: there are {total} {what} (0..{total - 1})")
        elif self.count > total:
            raise ConsumerError(f"cannot pick {self.count} random {what} of {total}")

    def choose(self, total: int) -> list[int]:
        self.check(total)
        if self.indices is not None:
            return sorted(self.indices)
        rng = random.Random(self.seed) if self.seed is not None else random.SystemRandom()
        return sorted(rng.sample(range(total), min(self.count, total)))

    def describe(self) -> str:
        if self.indices is not None:
            return f"indices {sorted(self.indices)}"
        if not self.count:
            return "nothing"
        how = f"seed {self.seed}" if self.seed is not None else "system randomness"
        return f"{self.count} at random ({how})" + (f"; {self.planned}" if self.planned else "")

    def to_dict(self) -> dict:
        return {"count": self.count, "indices": None if self.indices is None else list(self.indices),
                "seed": self.seed, "planned": self.planned}

    @classmethod
    def from_dict(cls, d: dict | None) -> "SpotCheck":
        d = d or {}
        indices = d.get("indices")
        return cls(int(d.get("count") or 0), None if indices is None else tuple(int(i) for i in indices),
                   d.get("seed"), d.get("planned"))


def spot_check(count: int | None, indices: str | None, seed: int | None, confidence: float | None,
               tamper_fraction: float | None, total: int | None = None, what: str = "predictions") -> SpotCheck:
    """The subset options of a command -> a SpotCheck (at most one way of choosing). With
    ``confidence`` and ``tamper_fraction`` the planner sizes the random sample (Clopper-Pearson,
    paper Table 3); it is capped at ``total`` when known."""
    sized = confidence is not None or tamper_fraction is not None
    ways = sum([count is not None, indices is not None, sized])
    if ways > 1:
        raise ConsumerError(f"choose the {what} to check one way: a random count, explicit indices, or "
                            f"--confidence with --tamper-fraction")
    if sized:
        if confidence is None or tamper_fraction is None:
            raise ConsumerError("--confidence and --tamper-fraction go together (e.g. 0.95 and 0.05)")
        try:
            n = spot_check_sample_size(tamper_fraction, confidence)
        except ValueError as e:
            raise ConsumerError(str(e)) from None
        note = f"the planner's {n} checks expose tampering of {tamper_fraction:g} or more with confidence " \
               f"{confidence:g}"
        if total is not None and n > total:
            note += f" (capped at all {total} {what})"
            n = total
        plan = SpotCheck(n, None, seed, note)
    elif indices is not None:
        if seed is not None:
            raise ConsumerError("--seed picks random indices; it does not go with explicit indices")
        plan = SpotCheck(0, tuple(parse_indices(indices)))
    else:
        if count is not None and count < 0:
            raise ConsumerError(f"the number to check must be >= 0, got {count}")
        plan = SpotCheck(count or 0, None, seed)
    if total is not None:
        plan.check(total, what)
    return plan


# ---------------------------------------------------------------------- settlement


@dataclass
class JobSettlement(JobEnd):
    CANCELLED = "{job} cancelled (MP never joined): the escrow of {refund} was credited back"
    CHECKED = ("answered", "index")

    kind: str  # "round" / "request"
    job_id: int
    report: AnswerReport | None = None

    def job(self) -> str:
        return f"{self.kind} {self.job_id}"

    def invalid(self) -> list:
        return self.report.invalid if self.report else []


def read_settlement(client: ConsumerClient, contract, kind: str, job_id: int, token: str, outcomes: list[str],
                    settled_event: str, cancelled_event: str, id_arg: str, payouts: tuple[str, str]
                    ) -> JobSettlement | None:
    """How a finished job ended, from its settled / cancelled event."""
    fields = ended_fields(client, contract, job_id, outcomes, id_arg, (settled_event, cancelled_event), payouts)
    return None if fields is None else JobSettlement(kind=kind, job_id=job_id, token=token, **fields)


# ---------------------------------------------------------------------- dev-chain clock


def check_dev_chain(client: ConsumerClient) -> None:
    """--warp moves the clock, which only a development node allows."""
    try:
        version = str(client.w3.client_version)
    except Exception:
        version = "unknown"
    if not any(name in version.lower() for name in DEV_CLIENTS):
        raise ConsumerError(f"--warp moves the clock of a development chain (anvil) and is for tests only; the node "
                            f"is {version!r} (chain id {client.deployment.chain_id}): drop --warp and let the command "
                            f"wait for the deadline")


def warp_past(client: ConsumerClient, deadline: int) -> int:
    """Advances a dev chain's clock to ``deadline`` (if still ahead); returns the seconds moved."""
    ahead = int(deadline) - client.chain_time()
    if ahead > 0:
        client.session.warp(ahead)
    return max(ahead, 0)


# ---------------------------------------------------------------------- the loop


class JobRun(DriverLoop):
    """Drives one round or request from the chain's phase (see DriverLoop); settles it after
    checking MP's answered proofs locally. Subclasses give ``step``, ``deadline_of``,
    ``answer_context``, their ``contract`` and its names below."""

    NOUN = "job"  # also the name of the contract's view of one job
    RESUME = "zkmarket job resume"
    STATES: list[str]  # the contract's state enum, and its outcome enum
    OUTCOMES: list[str]
    ID_ARG: str  # the job id in the contract's events
    EVENTS: tuple[str, str]  # the settled and the cancelled event
    PAYOUTS: tuple[str, str]  # the settled event's payouts to MC and to MP
    CHECKED: tuple[str, str]  # the spot-checked indices: their state-file key, the event that sent them
    contract: object

    def __init__(self, client: ConsumerClient, state: JobState, reporter: Reporter | None = None, *,
                 poll: float = 1.0, timeout: float | None = None, verify: bool = True, warp: bool = False,
                 settle: bool = True, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep):
        self.client, self.state = client, state
        self.reporter = reporter or Reporter()
        self.poll, self.timeout, self.verify, self.warp, self.settle = poll, timeout, verify, warp, settle
        self.clock, self.sleep = clock, sleep
        self.job_id: int = state.job_id  # type: ignore[assignment]
        self.report: AnswerReport | None = None
        if warp:
            check_dev_chain(client)

    def job(self) -> list:
        return self.client.call(self.contract, self.NOUN, self.job_id)

    def phase(self) -> str:
        return self.STATES[self.client.call(self.contract, "state", self.job_id)]

    def answer_deadline(self) -> int:
        return int(self.client.call(self.contract, "answerDeadline", self.job_id))

    def deadline_of(self, current: str) -> int | None:  # pragma: no cover - each kind defines it
        raise NotImplementedError

    def settlement(self) -> JobSettlement | None:
        job = self.job()
        result = read_settlement(self.client, self.contract, self.NOUN, self.job_id, job.token, self.OUTCOMES,
                                 *self.EVENTS, self.ID_ARG, self.PAYOUTS)
        if result is not None and result.state == "Settled" and self.report is None and self.verify \
                and job.answered:
            self.check_answers(job, refuse=False)  # settled by MP's agent: still check what it was paid for
        return result

    def spot_checked(self) -> list[int]:
        """The indices MC contested (challenged): from the state file, else from the chain."""
        key, event = self.CHECKED
        saved = self.state.data.get(key)
        if saved is not None:
            return list(saved)
        logs = getattr(self.contract.events, event).get_logs(argument_filters={self.ID_ARG: self.job_id},
                                                              from_block=self.client.deployment.start_block)
        return sorted(int(i) for e in logs for i in e["args"]["indices"])

    def answer_context(self, job: list) -> dict:  # pragma: no cover - each kind defines it
        """verify_answers' ``model_id``, both roots and what MC knows itself (``commitments``, ``classes``)."""
        raise NotImplementedError

    def check_answers(self, job: list, refuse: bool = True) -> None:
        """Every answered proof, checked locally once; refuses (ProofCheckError) an invalid one."""
        if not self.verify or self.report is not None:
            return
        report = verify_answers(self.client, self.contract, kind=self.NOUN, job_id=self.job_id,
                                contested=self.spot_checked(), **self.answer_context(job))
        self.reporter.say(report.summary())
        self.report = report
        if report.invalid and refuse:
            raise ProofCheckError(report.refusal(f"settle {self.NOUN} {self.job_id}"))

    def settle_now(self, job: list | None = None) -> None:
        """Settles a Settleable / JoinExpired job (anyone may), after checking its proofs."""
        job = job or self.job()
        if job.answered:
            self.check_answers(job)
        self.client.send(self.contract, "settle", [self.job_id])

    def finished(self) -> JobSettlement:
        result = self.settlement()
        if result is None:
            raise ConsumerError(f"{self.NOUN} {self.job_id} is finished but its settlement event was not found")
        result.report = self.report
        return result

    def until_deadline(self, deadline: int, what: str) -> Wait | None:
        """After MC's last move: stop (--no-settle), warp (dev chain) or wait for the deadline."""
        if not self.settle:
            raise Stop(f"{self.NOUN} {self.job_id} settles after {when(deadline, self.client.chain_time())}: run "
                       f"`zkmarket {self.state.kind} settle {self.job_id}` then (anyone may)")
        if self.warp:
            moved = warp_past(self.client, deadline)
            self.reporter.say(f"moved the dev chain's clock {moved}s forward to the {what}")
            return None
        return Wait(f"waiting for the {what} to settle", deadline)


def settle_job(run: JobRun, warp: bool = False) -> JobSettlement:
    """Ends a round / request whose phase allows it (anyone may), after checking the answered
    proofs; with ``warp`` it first moves a dev chain's clock past the current deadline."""
    job, current = f"{run.NOUN} {run.job_id}", run.phase()
    if current in ("Settled", "Cancelled"):
        run.reporter.say(f"{job} was already {current.lower()}")
        return run.finished()
    if current not in ("Settleable", "JoinExpired"):
        deadline = run.deadline_of(current)
        if not warp:
            raise ConsumerError(f"{job} is {current} until {when(deadline, run.client.chain_time())}: nothing to "
                                f"settle yet")
        warp_past(run.client, deadline)
        current = run.phase()
        if current not in ("Settleable", "JoinExpired"):
            raise ConsumerError(f"{job} is {current} after moving the clock: nothing to settle yet")
    try:
        run.settle_now()
    except RevertError:
        if run.phase() not in ("Settled", "Cancelled"):
            raise
        run.reporter.say(f"{job} was settled by someone else meanwhile")
    return run.finished()
