"""The provider agent's loop with its clock injected: each tick reads the head once and serves
every job kind in order; a kind that fails is logged and the others still run; the loop sleeps
`poll` between ticks through the injected `sleep`, so this test never waits in real time."""

from __future__ import annotations

import json
import logging
from types import SimpleNamespace

from zkmarket.agent.logs import JsonFormatter
from zkmarket.agent.provider import ProviderAgent


class Kind:
    """A job kind that records the heads it was ticked with (or fails)."""

    def __init__(self, name: str, calls: list, fail: bool = False):
        self.KIND, self.calls, self.fail, self.models = name, calls, fail, {1: None}

    def tick(self, head: int) -> None:
        self.calls.append((self.KIND, head))
        if self.fail:
            raise RuntimeError("node dropped the scan")


class Heads:
    """eth.block_number that moves one block per read."""

    def __init__(self):
        self.n = 100

    @property
    def block_number(self) -> int:
        self.n += 1
        return self.n


def agent_with(kinds, records):
    logger = logging.getLogger("test.provider.loop")
    logger.handlers, logger.propagate = [], False
    handler = logging.Handler()
    handler.emit = lambda record: records.append(json.loads(JsonFormatter().format(record)))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    market = SimpleNamespace(w3=SimpleNamespace(eth=Heads()), account=SimpleNamespace(address="0xMP"))
    slept = []
    return ProviderAgent(market, kinds, logger, sleep=slept.append), slept


def test_each_tick_serves_every_kind_in_order_and_a_failing_kind_does_not_stop_the_others():
    calls, records = [], []
    kinds = [Kind("round", calls), Kind("request", calls, fail=True), Kind("audit", calls)]
    agent, slept = agent_with(kinds, records)
    ticks = iter(range(3))
    agent.run(poll_seconds=2.5, stop=lambda: next(ticks, None) is None)
    assert calls == [(k, head) for head in (101, 102, 103) for k in ("round", "request", "audit")]
    assert slept == [2.5, 2.5, 2.5]
    failed = [r for r in records if r["event"] == "tick failed"]
    assert len(failed) == 3 and all(r["kind"] == "request" and r["level"] == "error" for r in failed)
    assert records[0]["event"] == "agent started" and records[0]["jobs"] == ["round", "request", "audit"]


def test_an_unreachable_node_skips_the_tick_without_stopping_the_loop():
    calls, records = [], []
    agent, slept = agent_with([Kind("audit", calls)], records)

    class Down:
        @property
        def block_number(self):
            raise ConnectionError("node down")

    agent.market.w3.eth = Down()
    agent.tick()
    assert calls == [] and records[-1]["event"] == "tick failed" and "node down" in records[-1]["error"]
