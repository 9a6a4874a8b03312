"""The provider agent's loop: each tick reads the chain head once, then lets every job kind
(appendix-B audits, simple audits, serving rounds, retrieval requests; one EventJobs each) scan
new blocks for jobs of its models from its persisted cursor and bring every open job one step
forward from what the chain says now. Each step is idempotent and decided from on-chain state
plus the durable AgentState, so the agent can be killed at any point and resume where it
stopped. The clock is injected (`sleep`), so tests need not wait in real time."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Callable

from ..participants.connect import MarketConnection
from .jobs import EventJobs
from .logs import get_logger, log


@dataclass
class ProviderAgent:
    market: MarketConnection
    jobs: list[EventJobs]  # in the order they are served each tick
    logger: logging.Logger = field(default_factory=get_logger)
    sleep: Callable[[float], None] = time.sleep

    def tick(self) -> None:
        try:
            head = self.market.w3.eth.block_number
        except Exception as e:  # a node hiccup must not stop the agent; retried next tick
            log(self.logger, "tick failed", logging.ERROR, error=f"{type(e).__name__}: {e}")
            return
        for jobs in self.jobs:
            try:
                jobs.tick(head)
            except Exception as e:  # e.g. the node dropped the scan; retried next tick
                log(self.logger, "tick failed", logging.ERROR, kind=jobs.KIND, error=f"{type(e).__name__}: {e}")

    def run(self, poll_seconds: float = 1.0, stop: Callable[[], bool] = lambda: False) -> None:
        log(self.logger, "agent started", provider=self.market.account.address,
            models=sorted({m for jobs in self.jobs for m in jobs.models}), jobs=[j.KIND for j in self.jobs])
        while not stop():
            self.tick()
            self.sleep(poll_seconds)
