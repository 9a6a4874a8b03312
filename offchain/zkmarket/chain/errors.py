"""Exceptions of :mod:`zkmarket.chain`: every error raised on purpose is a :class:`ChainError`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class ChainError(Exception):
    """Root of all errors raised by :mod:`zkmarket.chain`."""


class ToolchainNotFoundError(ChainError):
    """A toolchain binary (anvil, the solc shim, node) is missing."""

    def __init__(self, tool: str, searched: list[str], hint: str = "run `make node_modules/.installed`"):
        self.tool = tool
        self.searched = list(searched)
        self.hint = hint
        super().__init__(f"{tool} not found (searched: {', '.join(self.searched) or 'nothing'}); {hint}")


class AnvilError(ChainError):
    """anvil failed to start, died, or did not answer in time."""

    def __init__(self, message: str, *, command: list[str] | None = None, log_tail: str = ""):
        self.command = command
        self.log_tail = log_tail
        text = message
        if command:
            text += f"\ncommand: {' '.join(command)}"
        if log_tail:
            text += f"\nanvil log (tail):\n{log_tail}"
        super().__init__(text)


@dataclass(frozen=True)
class CompilerMessage:
    """One error or warning reported by solc."""

    severity: str  # "error" | "warning" | "info"
    type: str  # e.g. "DeclarationError", "ParserError", "Warning"
    message: str
    file: str | None
    line: int | None  # 1-based
    column: int | None  # 1-based
    formatted: str

    def short(self) -> str:
        where = self.file or "<unknown>"
        if self.line is not None:
            where += f":{self.line}:{self.column}"
        return f"{where}: {self.type}: {self.message}"


class SolcError(ChainError):
    """The compiler itself failed (crash, bad output, timeout), as opposed to errors in the sources."""

    def __init__(self, message: str, *, command: list[str] | None = None, returncode: int | None = None,
                 stderr: str = ""):
        self.command = command
        self.returncode = returncode
        self.stderr = stderr
        text = message
        if command:
            text += f"\ncommand: {' '.join(command)}"
        if returncode is not None:
            text += f"\nexit status: {returncode}"
        if stderr.strip():
            text += f"\nstderr:\n{stderr.strip()[-4000:]}"
        super().__init__(text)


class CompileError(ChainError):
    """The sources do not compile; ``errors`` lists solc's errors (with file and line)."""

    def __init__(self, errors: list[CompilerMessage], warnings: list[CompilerMessage] | None = None):
        self.errors = list(errors)
        self.warnings = list(warnings or [])
        lines = [f"Solidity compilation failed with {len(self.errors)} error(s):"]
        lines += [f"  {e.short()}" for e in self.errors]
        details = "\n".join(e.formatted.rstrip() for e in self.errors if e.formatted)
        if details:
            lines += ["", details]
        super().__init__("\n".join(lines))


class ContractNotFoundError(ChainError):
    """The requested contract is not (or not unambiguously) in the compilation output."""


class TransactionError(ChainError):
    """A transaction could not be sent, was not mined in time, or reverted (receipt.status == 0)."""

    def __init__(self, message: str, *, tx_hash: str | None = None, receipt: Any = None, reason: str | None = None):
        self.tx_hash = tx_hash
        self.receipt = receipt
        self.reason = reason
        text = message
        if tx_hash:
            text += f" (tx {tx_hash})"
        if reason:
            text += f": {reason}"
        super().__init__(text)


class DeploymentError(TransactionError):
    """A contract creation failed (estimation refused, reverted, or no code at the new address)."""
