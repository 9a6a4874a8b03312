"""A throwaway Kubo daemon for tests and local runs: its own repository, loopback only.

``with KuboDaemon() as ipfs: KuboStore(ipfs.api_url)`` initialises a repository with Kubo's
``test`` profile (no bootstrap peers, no mDNS, no AutoConf, every address ``127.0.0.1`` port 0),
starts ``ipfs daemon --offline`` by default, reads the RPC address the daemon picked from the
repository's ``api`` file (no free-port race), waits until the RPC API answers, and stops the
daemon (and removes a temporary repository) on exit.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from .base import BackendUnavailable
from .kubo import KuboClient


class KuboNotFound(BackendUnavailable):
    """No Kubo binary: build one with ``make kubo`` or point ``$ZKMARKET_KUBO`` at one."""

    def __init__(self, searched: list[str]):
        self.searched = searched
        super().__init__(f"Kubo (ipfs) binary not found (searched: {', '.join(searched)}); "
                         "run `make kubo` or set ZKMARKET_KUBO")


def find_kubo() -> Path:
    """``$ZKMARKET_KUBO``, else the newest ``.cache/kubo/*/ipfs`` built by ``make kubo`` in the
    checkout that holds this package (or the working directory), else ``ipfs`` on ``PATH``."""
    env = os.environ.get("ZKMARKET_KUBO")
    if env:
        if Path(env).is_file() and os.access(env, os.X_OK):
            return Path(env)
        raise KuboNotFound([f"$ZKMARKET_KUBO={env}"])
    searched = []
    for start in (Path(__file__).resolve().parent, Path.cwd().resolve()):
        for p in (start, *start.parents):
            builds = sorted((p / ".cache" / "kubo").glob("*/ipfs"), key=lambda b: b.stat().st_mtime)
            if builds:
                return builds[-1]
        searched.append(f"{start}/../.cache/kubo/*/ipfs")
    on_path = shutil.which("ipfs")
    if on_path:
        return Path(on_path)
    raise KuboNotFound([*searched, "ipfs on PATH"])


class KuboDaemon:
    """Runs ``ipfs daemon`` on a repository of its own (a temporary one unless ``repo`` is given)."""

    def __init__(self, binary: str | os.PathLike[str] | None = None, repo: str | os.PathLike[str] | None = None,
                 *, offline: bool = True, startup_timeout: float = 60.0):
        self.binary = Path(binary) if binary else find_kubo()
        self._own_repo = repo is None
        self.repo = Path(repo) if repo else Path(tempfile.mkdtemp(prefix="zkmarket-ipfs-"))
        self.offline = offline
        self.startup_timeout = startup_timeout
        self.process: subprocess.Popen[bytes] | None = None
        self.api_url = ""
        self.env = {**os.environ, "IPFS_PATH": str(self.repo), "IPFS_TELEMETRY": "off"}
        self.log_path = self.repo / "daemon.log"

    def __enter__(self) -> KuboDaemon:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _ipfs(self, *args: str) -> str:
        done = subprocess.run([str(self.binary), *args], env=self.env, capture_output=True, text=True, timeout=60)
        if done.returncode != 0:
            raise BackendUnavailable(f"`ipfs {' '.join(args)}` failed ({done.returncode}): {done.stderr.strip()}")
        return done.stdout

    def log_tail(self, n: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-n:]
        except OSError:
            return ""

    def start(self) -> None:
        if not (self.repo / "config").is_file():
            self._ipfs("init", "--profile=test", "--empty-repo")
        (self.repo / "api").unlink(missing_ok=True)
        args = [str(self.binary), "daemon"] + (["--offline"] if self.offline else [])
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(args, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.process = None
                raise BackendUnavailable(f"ipfs daemon exited during start-up; log:\n{self.log_tail()}")
            url = self._api_url()
            if url:
                try:
                    KuboClient(url, timeout=5).version()
                    self.api_url = url
                    return
                except BackendUnavailable:
                    pass
            time.sleep(0.1)
        self.stop()
        raise BackendUnavailable(f"ipfs daemon did not answer within {self.startup_timeout:g}s; "
                                 f"log:\n{self.log_tail()}")

    def _api_url(self) -> str:
        try:
            multiaddr = (self.repo / "api").read_text().strip()  # /ip4/127.0.0.1/tcp/PORT
        except OSError:
            return ""
        parts = multiaddr.split("/")
        if len(parts) < 5 or parts[1] not in ("ip4", "ip6") or parts[3] != "tcp":
            return ""
        host = parts[2] if parts[1] == "ip4" else f"[{parts[2]}]"
        return f"http://{host}:{parts[4]}"

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
            self.process = None
        if self._own_repo:
            shutil.rmtree(self.repo, ignore_errors=True)
