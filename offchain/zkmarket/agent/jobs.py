"""What the agent's job kinds share: the models it serves, the scan of one contract event for
jobs of those models from a persisted cursor, one idempotent step per open job and tick, and
proving (on the agent's executor) with every proof stored as soon as it exists."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

from .. import prover as zp
from ..participants.audit_common import Aggregation
from ..participants.connect import MarketConnection
from .executors import LocalProver, Prover, ProvingFailed
from .logs import log
from .state import AgentState


@dataclass
class JoinPolicy:
    """Which audits to join (appendix-B and simple): at most `max_n` examples and a target the
    model can meet (target <= max_target_num / max_target_den)."""

    max_n: int = 1000
    max_target_num: int = 1
    max_target_den: int = 1

    def accepts(self, n: int, target_num: int, target_den: int) -> bool:
        return n <= self.max_n and target_num * self.max_target_den <= self.max_target_num * target_den


@dataclass
class ServedModel:
    """A registered model the agent answers for: its file, circuit and proving keys, and the keys
    of the aggregation circuit whose verifier it registered (None: single proofs only)."""

    model_id: int
    path: Path
    circuit: zp.CompiledCircuit
    keys: zp.Keys
    aggregation: Aggregation | None = None


@dataclass
class Progress:
    """One job's proving progress in this agent process: proofs stored (of all its examples),
    in flight, failed, and the rate and ETA from the proofs made since `started`."""

    total: int
    done: int
    prover: str
    made: int = 0
    failed: int = 0
    in_flight: int = 0
    started: float = field(default_factory=time.monotonic)

    def fields(self) -> dict:
        per_minute = self.made * 60 / max(time.monotonic() - self.started, 1e-9)
        left = max(self.total - self.done, 0)
        return {"done": self.done, "total": self.total, "in_flight": self.in_flight, "failed": self.failed,
                "per_minute": round(per_minute, 2), "eta_s": round(left * 60 / per_minute) if per_minute else None,
                "prover": self.prover}


def prove_missing(state: AgentState, kind: str, job_id: int, items: dict[int, bytes], model: ServedModel,
                  prover: Prover, logger: logging.Logger, total: int | None = None, for_aggregation: bool = False,
                  **fields) -> dict[int, zp.Proof]:
    """Proofs of `items` by index: the stored ones, plus the missing ones made by `prover` (local
    pool or Ray cluster), each stored as soon as it arrives (a restart redoes none of them, a
    duplicate is ignored) with the job's progress, which `zkmarket provider status` shows.
    `for_aggregation`: proofs for an aggregated batch (store them under their own `kind`)."""
    proofs = {i: p for i, p in state.proofs(job_id, kind).items() if i in items}
    todo = {i: items[i] for i in sorted(items) if i not in proofs}
    if not todo:
        return proofs
    progress = Progress(len(items) if total is None else total, state.proof_count(job_id, kind), prover.name)
    log(logger, "proving", **{kind: job_id}, todo=len(todo), done=progress.done, total=progress.total,
        prover=prover.name, **fields)
    errors = []
    for i, result in prover.prove(model.circuit, model.keys, todo, for_aggregation):
        progress.in_flight, progress.prover = prover.in_flight, prover.name
        if isinstance(result, Exception):
            progress.failed += 1
            errors.append(f"{type(result).__name__}: {result}".splitlines()[0])
            log(logger, "proof failed", logging.ERROR, **{kind: job_id}, index=i, error=errors[-1])
        elif state.save_proof(job_id, i, result, kind):
            proofs[i] = result
            progress.made, progress.done = progress.made + 1, progress.done + 1
            log(logger, "proved", **{kind: job_id}, index=i, **progress.fields())
        else:
            proofs[i] = state.proof(job_id, i, kind)
            log(logger, "duplicate proof ignored", **{kind: job_id}, index=i)
        state.save_progress(job_id, {**progress.fields(), "updated": round(time.time(), 3)}, kind)
    if errors:
        raise ProvingFailed(f"{len(errors)} of {len(todo)} proofs failed (retried next tick); first: {errors[0]}")
    return proofs


class EventJobs:
    """Jobs of one protocol contract: found by scanning `EVENT` (whose `ID_ARG` is the job id
    and `modelId` the model) for the agent's models, then moved one step per tick."""

    KIND: str
    EVENT: str
    ID_ARG: str
    ROLE: type  # the participant class that makes MP's moves: ROLE(market, contract, model, circuit, keys)

    def __init__(self, market: MarketConnection, contract, models: dict[int, ServedModel], state: AgentState,
                 logger: logging.Logger, prover: Prover | None = None, start_block: int = 0):
        self.market, self.contract, self.models, self.state = market, contract, models, state
        self.logger, self.start_block = logger, start_block
        self.prover = prover or LocalProver()

    def scan(self, head: int) -> None:
        """Records jobs opened for our models since the last processed block."""
        last = self.state.last_block(self.KIND)
        start = self.start_block if last is None else last + 1
        if start > head:
            return
        new = []
        for entry in getattr(self.contract.events, self.EVENT).get_logs(from_block=start, to_block=head):
            args = entry["args"]
            if args["modelId"] in self.models:
                new.append((args[self.ID_ARG], args["modelId"]))
                log(self.logger, f"{self.KIND} seen", **{self.KIND: args[self.ID_ARG]}, **self.describe(args))
        self.state.record_scan(head, new, self.KIND)

    def describe(self, args) -> dict:
        """Fields of the opening event worth logging."""
        return {"model": args["modelId"]}

    def tick(self, head: int) -> None:
        self.scan(head)
        for job_id, model_id in self.state.open_jobs(self.KIND):
            if model_id not in self.models:  # taken by a run serving other --model files; kept for it
                continue
            try:
                self.step(job_id)
            except Exception as e:  # one failing job must not stop the others; it is retried next tick
                log(self.logger, "step failed", logging.ERROR, **{self.KIND: job_id}, error=f"{type(e).__name__}: {e}")

    def role(self, model_id: int):
        model = self.models[model_id]
        return self.ROLE(self.market, self.contract, model.path, model.circuit, model.keys)

    def step(self, job_id: int) -> None:  # pragma: no cover - each kind defines it
        raise NotImplementedError

    def finish(self, job_id: int, current: str) -> None:
        self.state.finish_job(job_id, self.KIND)
        log(self.logger, "job done", **{self.KIND: job_id}, state=current)

    def close(self, job_id: int, current: str, token: str) -> None:
        """A job that ended (Settled, Cancelled, or its join window missed): withdraw, finish."""
        if current == "JoinExpired":
            log(self.logger, "join window missed", **{self.KIND: job_id})
        self.withdraw(token)
        self.finish(job_id, current)

    def withdraw(self, token: str) -> None:
        """Pulls this contract's credit of `token` (payouts are credits, see IEscrow)."""
        if self.contract.functions.creditOf(self.market.account.address, token).call():
            self.market.send(self.contract, "withdraw", [token])
            log(self.logger, "withdrew", contract=self.KIND, token=token)

    def prove_and_answer(self, job_id: int, role, pending: list[int], model_id: int, inputs, signed,
                         event: str) -> None:
        """Round / request: proves the ``pending`` indices of ``inputs`` (RoundInputs / Dataset;
        stored proofs are reused) and answers them with MP's ``signed`` classes in one
        transaction before the answer deadline; logs ``event``."""
        deadline = self.contract.functions.answerDeadline(job_id).call()
        proofs = prove_missing(self.state, self.KIND, job_id, {i: inputs.items[i] for i in pending},
                               self.models[model_id], self.prover, self.logger,
                               seconds_left=self.seconds_left(deadline))
        answered = role.submit_answers(job_id, inputs, signed, proofs)
        log(self.logger, event, **{self.KIND: job_id}, indices=pending, answered=answered,
            seconds_left=self.seconds_left(deadline))

    def seconds_left(self, deadline: int) -> int:
        return int(deadline) - int(self.market.session.w3.eth.get_block("latest")["timestamp"])
