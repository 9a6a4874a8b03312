"""Run a real, local anvil (Foundry's dev chain) for tests and demos.

    with Anvil() as node:
        w3 = node.w3()
        key = node.accounts[0].private_key

anvil listens on 127.0.0.1 on a port the kernel picks (``--port 0``, read back from its log,
so there is no race for a "free" port), is polled with ``eth_chainId`` until it answers, and is
killed on exit. The EIP-170 contract code size limit (24,576 bytes) stays ON: a verifier that
is too large for mainnet must fail here too. The dev accounts are anvil's well-known mnemonic
accounts: their keys are public knowledge and only fit a LOCAL dev chain.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from .errors import AnvilError
from .paths import cache_dir, foundry_binary

if TYPE_CHECKING:  # pragma: no cover
    from web3 import Web3

DEFAULT_GAS_LIMIT = 100_000_000  # block gas limit: room for verifier deployments (~5M gas for 24 KB)
DEFAULT_CHAIN_ID = 31337
DEFAULT_HARDFORK = "osaka"  # mainnet's execution rules; pinned so an anvil upgrade cannot move gas numbers
_LISTENING = re.compile(r"Listening on ([0-9.]+):(\d+)")


@dataclass(frozen=True)
class DevAccount:
    """A pre-funded anvil account (LOCAL dev chain only: the key is public)."""

    address: str  # checksummed
    private_key: str  # 0x-prefixed hex


def anvil_binary() -> Path:
    """Path of the pinned anvil binary (``node_modules/@foundry-rs/anvil-<os>-<arch>/bin/anvil``)."""
    return foundry_binary("anvil")


def anvil_version() -> str:
    """First line of ``anvil --version``, e.g. ``anvil Version: 1.7.1``."""
    out = subprocess.run([str(anvil_binary()), "--version"], capture_output=True, text=True, timeout=30)
    return out.stdout.strip().splitlines()[0] if out.stdout.strip() else out.stderr.strip()


class Anvil:
    """A running anvil process; use as a context manager (or call :meth:`start` / :meth:`stop`)."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        chain_id: int = DEFAULT_CHAIN_ID,
        gas_limit: int = DEFAULT_GAS_LIMIT,
        accounts: int = 10,
        balance_eth: int = 10_000,
        hardfork: str | None = DEFAULT_HARDFORK,
        enable_tx_gas_limit: bool = False,
        block_time: float | None = None,
        extra_args: Sequence[str] = (),
        startup_timeout: float = 30.0,
        binary: str | os.PathLike[str] | None = None,
    ):
        """``port=0`` lets the kernel choose a free port. ``hardfork=None`` keeps anvil's default
        (the newest fork this anvil knows). ``enable_tx_gas_limit`` enforces the EIP-7825 per-tx gas
        cap (2**24) that mainnet applies since Osaka; anvil leaves it off by default.
        ``block_time=None`` mines on every tx. The EIP-170 code size limit is never disabled."""
        self.host = host
        self.requested_port = port
        self.chain_id = chain_id
        self.gas_limit = gas_limit
        self.num_accounts = accounts
        self.balance_eth = balance_eth
        self.hardfork = hardfork
        self.enable_tx_gas_limit = enable_tx_gas_limit
        self.block_time = block_time
        self.extra_args = list(extra_args)
        if any(a.startswith(("--disable-code-size-limit", "--code-size-limit")) for a in self.extra_args):
            raise AnvilError("zkmarket keeps anvil's EIP-170 code size limit (24,576 bytes) on")
        self.startup_timeout = startup_timeout
        self.binary = Path(binary) if binary else None
        self.port: int | None = None
        self.accounts: list[DevAccount] = []
        self._proc: subprocess.Popen[bytes] | None = None
        self._workdir: Path | None = None
        self._log_file = None
        self.command: list[str] = []

    # ------------------------------------------------------------------ lifecycle
    @property
    def rpc_url(self) -> str:
        if self.port is None:
            raise AnvilError("anvil is not running")
        return f"http://{self.host}:{self.port}"

    @property
    def log_path(self) -> Path | None:
        return self._workdir / "anvil.log" if self._workdir else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> "Anvil":
        if self._proc is not None:
            raise AnvilError("anvil already started")
        binary = self.binary or anvil_binary()
        self._workdir = Path(tempfile.mkdtemp(prefix="anvil-", dir=cache_dir("anvil")))
        config_out = self._workdir / "config.json"
        self.command = [
            str(binary),
            "--host", self.host,
            "--port", str(self.requested_port),
            "--chain-id", str(self.chain_id),
            "--gas-limit", str(self.gas_limit),
            "--accounts", str(self.num_accounts),
            "--balance", str(self.balance_eth),
            "--config-out", str(config_out),
            "--cache-path", str(self._workdir / "states"),
        ]
        if self.hardfork:
            self.command += ["--hardfork", self.hardfork]
        if self.enable_tx_gas_limit:
            self.command.append("--enable-tx-gas-limit")
        if self.block_time is not None:
            self.command += ["--block-time", str(self.block_time)]
        self.command += self.extra_args
        env = dict(os.environ)
        # Foundry keeps caches under ~/.foundry; keep them inside the project instead.
        env["HOME"] = str(cache_dir("foundry-home"))
        env.setdefault("NO_COLOR", "1")
        self._log_file = open(self.log_path, "wb")
        try:
            self._proc = subprocess.Popen(
                self.command, stdin=subprocess.DEVNULL, stdout=self._log_file, stderr=subprocess.STDOUT,
                env=env, cwd=self._workdir, start_new_session=True,
            )
        except OSError as e:
            self._cleanup()
            raise AnvilError(f"cannot start anvil: {e}", command=self.command) from e
        try:
            self._wait_ready(config_out)
        except BaseException:
            self.stop()
            raise
        return self

    def _log_tail(self, n: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace") if self.log_path else ""
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-n:])

    def _wait_ready(self, config_out: Path) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while True:
            if self._proc.poll() is not None:
                raise AnvilError(f"anvil exited with status {self._proc.returncode} during startup",
                                 command=self.command, log_tail=self._log_tail())
            if self.port is None:
                m = _LISTENING.search(self.log_path.read_text(errors="replace"))
                if m:
                    self.port = int(m.group(2))
            if self.port is not None:
                try:
                    chain_id = int(self._rpc("eth_chainId", [], timeout=2.0), 16)
                except (OSError, ValueError, urllib.error.URLError):
                    chain_id = None
                if chain_id is not None:
                    if chain_id != self.chain_id:
                        raise AnvilError(f"anvil answered chain id {chain_id}, expected {self.chain_id}",
                                         command=self.command)
                    self.accounts = self._read_accounts(config_out)
                    return
            if time.monotonic() > deadline:
                raise AnvilError(f"anvil did not answer eth_chainId within {self.startup_timeout}s",
                                 command=self.command, log_tail=self._log_tail())
            time.sleep(0.05)

    def _read_accounts(self, config_out: Path) -> list[DevAccount]:
        from eth_account import Account

        try:
            cfg = json.loads(config_out.read_text())
        except (OSError, ValueError) as e:
            raise AnvilError(f"cannot read anvil --config-out file {config_out}: {e}", command=self.command) from e
        accounts = []
        for addr, key in zip(cfg.get("available_accounts", []), cfg.get("private_keys", [])):
            derived = Account.from_key(key).address
            if derived.lower() != addr.lower():
                raise AnvilError(f"anvil config: key does not match account {addr}", command=self.command)
            accounts.append(DevAccount(address=derived, private_key=key))
        if len(accounts) != self.num_accounts:
            raise AnvilError(f"anvil reported {len(accounts)} dev accounts, expected {self.num_accounts}",
                             command=self.command)
        return accounts

    def _rpc(self, method: str, params: list, timeout: float = 10.0):
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).encode()
        req = urllib.request.Request(self.rpc_url, data=body, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            reply = json.loads(resp.read())
        if "error" in reply:
            raise AnvilError(f"anvil RPC {method} failed: {reply['error']}")
        return reply["result"]

    def rpc(self, method: str, *params):
        """A raw JSON-RPC call (e.g. ``rpc("evm_mine")``, ``rpc("anvil_nodeInfo")``)."""
        return self._rpc(method, list(params))

    def stop(self, timeout: float = 10.0) -> None:
        """Kill anvil (SIGTERM, then SIGKILL) and remove its temporary directory. Idempotent."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait(timeout=timeout)
        self._cleanup()

    def _cleanup(self) -> None:
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None
        self.port = None

    def __enter__(self) -> "Anvil":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def __del__(self):  # last resort: never leak an anvil process
        try:
            if self._proc is not None:
                self.stop(timeout=2.0)
        except Exception:
            pass

    # ------------------------------------------------------------------ web3
    def w3(self, timeout: float = 120.0) -> "Web3":
        """A web3 client connected to this anvil."""
        from web3 import Web3

        return Web3(Web3.HTTPProvider(self.rpc_url, request_kwargs={"timeout": timeout}))
