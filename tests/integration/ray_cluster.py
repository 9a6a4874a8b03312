"""A real Ray cluster on this machine for the integration tests: a head and worker nodes, each a
`ray start --block` process group of its own (so one node can be SIGKILLed like a lost machine),
with its own proving cache and auth token (`auth`: the environment a client needs), reached by
the Ray client at `address`."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from agent_process import free_port

RAY = str(Path(sys.executable).parent / "ray")


class RayCluster:
    def __init__(self, cache_dir: Path, object_store_bytes: int = 100_000_000):
        # unix socket paths under the temp dir must stay short (108 bytes), so not under tmp_path
        self.temp_dir = tempfile.mkdtemp(prefix="zkr", dir="/tmp")
        # a token of this cluster's own (Ray's default one lives in ~/.ray, shared by every cluster here)
        self.auth = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(16)}
        self.env = dict(os.environ, ZKMARKET_CACHE_DIR=str(cache_dir), RAY_USAGE_STATS_ENABLED="0", **self.auth)
        self.port, self.client_port = free_port(), free_port()
        self.address = f"ray://127.0.0.1:{self.client_port}"
        self.nodes: list[subprocess.Popen] = []
        self.object_store_bytes = object_store_bytes  # per node; a MobileNet proving key needs more

    def _start(self, *args: str) -> subprocess.Popen:
        log = open(Path(self.temp_dir) / f"node{len(self.nodes)}.log", "w")
        node = subprocess.Popen([RAY, "start", "--block", "--num-cpus", "1", "--disable-usage-stats",
                                 "--object-store-memory", str(self.object_store_bytes), *args], env=self.env, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
        self.nodes.append(node)
        return node

    def start(self, workers: int = 1) -> "RayCluster":
        """The head (one CPU) and `workers` worker nodes (one CPU each), all registered."""
        self._start("--head", "--port", str(self.port), "--ray-client-server-port", str(self.client_port),
                    "--temp-dir", self.temp_dir, "--include-dashboard=false")
        self.wait_for_cpus(1)
        for _ in range(workers):
            self.start_worker()
        return self

    def start_worker(self) -> None:
        """One more worker node (one CPU), registered when this returns."""
        self._start("--address", f"127.0.0.1:{self.port}")
        self.wait_for_cpus(len(self.nodes))

    def wait_for_cpus(self, n: int, timeout: float = 90) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            out = subprocess.run([RAY, "status", "--address", f"127.0.0.1:{self.port}"], env=self.env,
                                 capture_output=True, text=True)
            if out.returncode == 0 and f"/{n}.0 CPU" in out.stdout:
                return
            if any(node.poll() is not None for node in self.nodes):
                break
            time.sleep(0.5)
        raise AssertionError(f"ray cluster did not reach {n} CPUs; head log:\n{self.log(0)}")

    def log(self, node: int) -> str:
        return (Path(self.temp_dir) / f"node{node}.log").read_text()[-3000:]

    def processes(self, node: int, title: str = "") -> list[int]:
        """Pids of the node's processes (its session or process group: Ray gives each worker a
        process group of its own) whose title starts with `title` (Ray titles a worker ray::TASK while it runs)."""
        pids = []
        for proc in Path("/proc").iterdir():
            try:
                pid = int(proc.name) if proc.name.isdigit() else 0
                if pid and self.nodes[node].pid in (os.getsid(pid), os.getpgid(pid)) and \
                        (proc / "cmdline").read_bytes().startswith(title.encode()):
                    pids.append(pid)
            except OSError:  # the process ended meanwhile
                continue
        return pids

    def busy(self, node: int, task: str) -> list[int]:
        return self.processes(node, f"ray::{task}")

    def kill(self, node: int) -> None:
        """SIGKILL of every process of one node (its raylet, workers and running proofs)."""
        for pid in self.processes(node):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.nodes[node].wait(timeout=30)

    def stop(self) -> None:
        for i in range(len(self.nodes)):
            self.kill(i)
        shutil.rmtree(self.temp_dir, ignore_errors=True)
