"""`zkmarket provider run` as a subprocess for the integration tests (its JSON log lines are
collected as they come), its arguments for the digits model, a free local port for its HTTP
endpoint, and the steps of an appendix-B audit up to the agent's proving."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import threading
import time
from typing import Callable

from zkmarket.model.data import DIGITS_MODEL
from zkmarket.participants.guarded_audit import GuardedAuditConsumer
from zkmarket.protocol.states import GUARDED_STATES
from zkmarket.provider_api import post_delivery


class AgentProcess:
    """`zkmarket provider run` in a subprocess; its JSON log lines are collected as they come."""

    def __init__(self, args: list[str], env: dict):
        self.proc = subprocess.Popen([sys.executable, "-m", "zkmarket.cli", "provider", "run", *args], env=env,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    @classmethod
    def start(cls, args: list[str], env: dict, port: int) -> "AgentProcess":
        """Started with ``args`` and listening on ``port`` (at ``url``)."""
        proc = cls(args, env)
        proc.url = f"http://127.0.0.1:{port}"
        try:
            proc.wait_for("http", lambda: proc.events("http listening"))
        except BaseException:
            proc.stop()
            raise
        return proc

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line.rstrip())

    def events(self, name: str) -> list[dict]:
        out = []
        for line in list(self.lines):
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if entry.get("event") == name:
                out.append(entry)
        return out

    def wait_for(self, what: str, cond, timeout: float = 180) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if cond():
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {what}; agent log:\n" + "\n".join(self.lines[-40:]))

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def agent_args(deployment, rpc_url: str, model_id: int, db, port: int, *extra: str) -> list[str]:
    """`zkmarket provider run` arguments serving the digits model as ``model_id``."""
    return ["--deployment", str(deployment), "--rpc-url", rpc_url, "--model", f"{model_id}={DIGITS_MODEL}",
            "--db", str(db), "--port", str(port), "--poll", "0.2", *extra]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def audit_to_proving(agent: AgentProcess, consumer: GuardedAuditConsumer, model_id: int,
                     target: tuple[int, int]) -> tuple[int, Callable[[], str]]:
    """MC opens an appendix-B audit of ``model_id``; the agent joins, acknowledges both
    deliveries (posted to its HTTP endpoint) and proceeds, so it is proving when this returns.
    Returns the audit and a function reading its state's name."""
    audits, transfers = consumer.m.audits, consumer.m.transfers
    audit_id = consumer.open(model_id, *target)

    def state() -> str:
        return GUARDED_STATES[audits.functions.state(audit_id).call()]

    def send(rest: bool) -> None:
        batch, delivery = consumer.send_items(audit_id, rest)
        post_delivery(agent.url, delivery)
        agent.wait_for("acknowledgement", lambda: transfers.functions.transferState(delivery.transfer_id).call() == 3)
        consumer.reveal(delivery.transfer_id, batch)

    agent.wait_for("join", lambda: state() == "AwaitingSubset")
    send(rest=False)
    agent.wait_for("proceed", lambda: state() == "AwaitingRest")
    send(rest=True)
    return audit_id, state
