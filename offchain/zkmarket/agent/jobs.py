"""What the agent's job kinds share: the models it serves, the scan of one contract event for
jobs of those models from a persisted cursor, one idempotent step per open job and tick, and
proving with every proof stored as soon as it exists."""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from .. import prover as zp
from ..participants.connect import MarketConnection
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
    """A registered model the agent answers for: its file, circuit and proving keys."""

    model_id: int
    path: Path
    circuit: zp.CompiledCircuit
    keys: zp.Keys


def prove_missing(state: AgentState, kind: str, job_id: int, items: dict[int, bytes], model: ServedModel,
                  workers: int, logger: logging.Logger, total: int | None = None, **fields) -> dict[int, zp.Proof]:
    """Proofs of `items` by index: the stored ones, plus the missing ones made with `workers`
    parallel provers, each stored before the next is logged (a restart redoes none of them)."""
    proofs = {i: p for i, p in state.proofs(job_id, kind).items() if i in items}
    todo = sorted(i for i in items if i not in proofs)
    if not todo:
        return proofs
    total = len(items) if total is None else total
    t0 = time.perf_counter()
    log(logger, "proving", **{kind: job_id}, todo=len(todo), done=len(proofs), total=total, workers=workers, **fields)

    def one(i: int) -> tuple[int, zp.Proof]:
        return i, zp.prove(model.circuit, model.keys, list(items[i]))

    with ThreadPoolExecutor(max_workers=workers) as pool:
        for i, proof in pool.map(one, todo):
            state.save_proof(job_id, i, proof, kind)
            proofs[i] = proof
            log(logger, "proved", **{kind: job_id}, index=i, done=len(proofs), total=total,
                seconds=round(time.perf_counter() - t0, 2))
    return proofs


class EventJobs:
    """Jobs of one protocol contract: found by scanning `EVENT` (whose `ID_ARG` is the job id
    and `modelId` the model) for the agent's models, then moved one step per tick."""

    KIND: str
    EVENT: str
    ID_ARG: str
    ROLE: type  # the participant class that makes MP's moves: ROLE(market, contract, model, circuit, keys)

    def __init__(self, market: MarketConnection, contract, models: dict[int, ServedModel], state: AgentState,
                 logger: logging.Logger, workers: int = 1, start_block: int = 0):
        self.market, self.contract, self.models, self.state = market, contract, models, state
        self.logger, self.workers, self.start_block = logger, workers, start_block

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
                               self.models[model_id], self.workers, self.logger,
                               seconds_left=self.seconds_left(deadline))
        answered = role.submit_answers(job_id, inputs, signed, proofs)
        log(self.logger, event, **{self.KIND: job_id}, indices=pending, answered=answered,
            seconds_left=self.seconds_left(deadline))

    def seconds_left(self, deadline: int) -> int:
        return int(deadline) - int(self.market.session.w3.eth.get_block("latest")["timestamp"])
