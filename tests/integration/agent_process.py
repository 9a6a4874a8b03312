"""`zkmarket provider run` as a subprocess for the integration tests (its JSON log lines are
collected as they come), its arguments for the digits model, and a free local port for its HTTP
endpoint."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import threading
import time

from zkmarket.model.data import DIGITS_MODEL


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
