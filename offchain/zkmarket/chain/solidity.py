"""Compile Solidity with the project's pinned compiler (solcjs behind ``tools/solc``).

    result = compile_sources({"Counter.sol": SOURCE})
    counter = result["Counter"]            # or result["Counter.sol:Counter"]
    counter.abi, counter.bytecode, counter.deployed_size

Standard JSON I/O, optimizer on (200 runs), ``evm_version="cancun"`` and no metadata hash in
the bytecode (``bytecode_hash="none"``: the code does not change with comments or paths) by
default: the same settings as ``foundry.toml``. ``@openzeppelin/`` imports resolve to ``node_modules/@openzeppelin/``.
Outputs are cached by content hash under ``<root>/.cache/solc`` (imported files from disk are
re-hashed on every hit, so editing an import invalidates the entry).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

from .errors import CompileError, CompilerMessage, ContractNotFoundError, SolcError
from .paths import cache_dir, repo_root, solc_shim

DEFAULT_EVM_VERSION = "cancun"
DEFAULT_OPTIMIZER_RUNS = 200
DEFAULT_REMAPPINGS = ("@openzeppelin/=node_modules/@openzeppelin/",)
EIP170_CODE_SIZE_LIMIT = 24_576
EIP3860_INITCODE_SIZE_LIMIT = 49_152
_CACHE_FORMAT = 1
_OUTPUT_SELECTION = [
    "abi",
    "evm.bytecode.object",
    "evm.bytecode.linkReferences",
    "evm.deployedBytecode.object",
    "evm.methodIdentifiers",
]


@dataclass(frozen=True)
class CompiledContract:
    """One compiled contract. ``bytecode`` is the creation (init) code."""

    name: str
    source: str  # source unit name, e.g. "Counter.sol"
    abi: list
    bytecode_hex: str  # without 0x; may hold __$...$__ library placeholders
    deployed_bytecode_hex: str
    method_identifiers: dict = field(default_factory=dict)  # "f(uint256)" -> "a1b2c3d4"
    link_references: dict = field(default_factory=dict)

    @property
    def fully_qualified_name(self) -> str:
        return f"{self.source}:{self.name}"

    @property
    def needs_linking(self) -> bool:
        return bool(self.link_references)

    def _decode(self, text: str, what: str) -> bytes:
        if self.needs_linking:
            raise SolcError(f"{self.fully_qualified_name}: {what} has unlinked library placeholders "
                            f"({sorted(self.link_references)}); link them before use")
        return bytes.fromhex(text)

    @property
    def bytecode(self) -> bytes:
        return self._decode(self.bytecode_hex, "creation bytecode")

    @property
    def deployed_bytecode(self) -> bytes:
        return self._decode(self.deployed_bytecode_hex, "deployed bytecode")

    @property
    def creation_size(self) -> int:
        return len(self.bytecode_hex) // 2

    @property
    def deployed_size(self) -> int:
        """Runtime code size in bytes, as solc predicts it (immutables included as zeros)."""
        return len(self.deployed_bytecode_hex) // 2

    @property
    def within_eip170(self) -> bool:
        return self.deployed_size <= EIP170_CODE_SIZE_LIMIT


@dataclass(frozen=True)
class Compilation:
    """All contracts of one compiler run, keyed by fully qualified name ("file.sol:Name")."""

    contracts: dict[str, CompiledContract]
    warnings: tuple[CompilerMessage, ...] = ()
    solc_version: str = ""
    from_cache: bool = False

    def __getitem__(self, name: str) -> CompiledContract:
        if name in self.contracts:
            return self.contracts[name]
        matches = [c for c in self.contracts.values() if c.name == name]
        if len(matches) == 1:
            return matches[0]
        if not matches:
            raise ContractNotFoundError(f"no contract {name!r}; compiled: {sorted(self.contracts)}")
        raise ContractNotFoundError(f"contract name {name!r} is ambiguous: "
                                    f"{sorted(c.fully_qualified_name for c in matches)}")

    def __contains__(self, name: str) -> bool:
        try:
            self[name]
            return True
        except ContractNotFoundError:
            return False

    def __iter__(self):
        return iter(self.contracts.values())

    def __len__(self) -> int:
        return len(self.contracts)


# ---------------------------------------------------------------------------- compiler access
_version_cache: dict[str, str] = {}


def solc_version(solc: str | os.PathLike[str] | None = None) -> str:
    """The compiler's full version, e.g. ``0.8.28+commit.7893614a.Linux.g++``."""
    exe = str(solc or solc_shim())
    if exe not in _version_cache:
        cmd = [exe, "--version"]
        try:
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        except (OSError, subprocess.TimeoutExpired) as e:
            raise SolcError(f"cannot run solc: {e}", command=cmd) from e
        for line in out.stdout.splitlines():
            if line.startswith("Version:"):
                _version_cache[exe] = line.split(":", 1)[1].strip()
                break
        else:
            raise SolcError("solc --version printed no version", command=cmd, returncode=out.returncode,
                            stderr=out.stderr + out.stdout)
    return _version_cache[exe]


def _line_col(text: str | None, offset: int | None) -> tuple[int | None, int | None]:
    if text is None or offset is None or offset < 0:
        return None, None
    data = text.encode("utf-8")[:offset].decode("utf-8", errors="replace")
    line = data.count("\n") + 1
    col = len(data) - (data.rfind("\n") + 1) + 1
    return line, col


def _messages(raw_errors: list, source_text) -> tuple[list[CompilerMessage], list[CompilerMessage]]:
    errors, warnings = [], []
    for e in raw_errors:
        loc = e.get("sourceLocation") or {}
        file = loc.get("file")
        line, col = _line_col(source_text(file) if file else None, loc.get("start"))
        msg = CompilerMessage(
            severity=e.get("severity", "error"), type=e.get("type", "Error"), message=e.get("message", ""),
            file=file, line=line, column=col, formatted=e.get("formattedMessage", ""),
        )
        (errors if msg.severity == "error" else warnings).append(msg)
    return errors, warnings


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def compile_sources(
    sources: Mapping[str, str],
    *,
    optimize: bool = True,
    optimizer_runs: int = DEFAULT_OPTIMIZER_RUNS,
    evm_version: str | None = DEFAULT_EVM_VERSION,
    via_ir: bool = False,
    bytecode_hash: str = "none",
    remappings: Sequence[str] = DEFAULT_REMAPPINGS,
    base_path: str | os.PathLike[str] | None = None,
    allow_paths: Sequence[str | os.PathLike[str]] = (),
    solc: str | os.PathLike[str] | None = None,
    use_cache: bool = True,
    timeout: float = 900.0,
    optimizer_details: dict | None = None,
) -> Compilation:
    """Compile ``{source unit name: Solidity text}`` in one run.

    Imports that are not among ``sources`` are read from disk relative to ``base_path`` (default:
    the repository root) after ``remappings``; files outside ``base_path`` only from ``allow_paths``. Raises :class:`CompileError` (with file:line of each
    error) if the sources do not compile, :class:`SolcError` if the compiler itself fails.
    """
    if not sources:
        raise SolcError("no sources given")
    exe = str(solc or solc_shim())
    base = Path(base_path).resolve() if base_path else repo_root()
    version = solc_version(exe)
    settings: dict = {
        "optimizer": {"enabled": bool(optimize), "runs": int(optimizer_runs),
                      **({"details": optimizer_details} if optimizer_details else {})},
        "remappings": list(remappings),
        "metadata": {"bytecodeHash": bytecode_hash},
        "outputSelection": {"*": {"*": list(_OUTPUT_SELECTION)}},
    }
    if evm_version:
        settings["evmVersion"] = evm_version
    if via_ir:
        settings["viaIR"] = True
    std_input = {"language": "Solidity", "sources": {k: {"content": v} for k, v in sources.items()},
                 "settings": settings}
    input_text = json.dumps(std_input, sort_keys=True)
    key = _sha256(json.dumps([_CACHE_FORMAT, version, str(base), input_text]).encode())
    cache_file = cache_dir("solc") / f"{key}.json" if use_cache else None

    if cache_file is not None and cache_file.is_file():
        cached = _load_cache(cache_file)
        if cached is not None:
            return _build(cached["output"], sources, base, version, from_cache=True)

    allowed = ",".join([str(base), *(str(Path(p).resolve()) for p in allow_paths)])
    cmd = [exe, "--standard-json", "--base-path", str(base), "--allow-paths", allowed]
    try:
        proc = subprocess.run(cmd, input=input_text.encode(), capture_output=True, timeout=timeout, cwd=base)
    except subprocess.TimeoutExpired as e:
        raise SolcError(f"solc timed out after {timeout}s", command=cmd) from e
    except OSError as e:
        raise SolcError(f"cannot run solc: {e}", command=cmd) from e
    stdout = proc.stdout.decode("utf-8", errors="replace")
    stderr = proc.stderr.decode("utf-8", errors="replace")
    start = stdout.find("{")
    try:
        output = json.loads(stdout[start:]) if start >= 0 else None
    except ValueError:
        output = None
    if not isinstance(output, dict):
        raise SolcError("solc produced no JSON output", command=cmd, returncode=proc.returncode,
                        stderr=stderr + stdout[:2000])
    compilation = _build(output, sources, base, version, from_cache=False)
    if cache_file is not None:
        deps = {}
        for name in output.get("sources", {}):
            if name not in sources:
                path = base / name
                if path.is_file():
                    deps[str(path)] = _sha256(path.read_bytes())
        tmp = cache_file.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(json.dumps({"deps": deps, "output": output}))
        os.replace(tmp, cache_file)
    return compilation


def _load_cache(cache_file: Path) -> dict | None:
    try:
        cached = json.loads(cache_file.read_text())
        for path, digest in cached["deps"].items():
            if _sha256(Path(path).read_bytes()) != digest:
                return None
        return cached
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _build(output: dict, sources: Mapping[str, str], base: Path, version: str, *, from_cache: bool) -> Compilation:
    def source_text(name: str) -> str | None:
        if name in sources:
            return sources[name]
        try:
            return (base / name).read_text()
        except OSError:
            return None

    errors, warnings = _messages(output.get("errors", []), source_text)
    if errors:
        raise CompileError(errors, warnings)
    contracts = {}
    for src, by_name in output.get("contracts", {}).items():
        for name, c in by_name.items():
            evm = c.get("evm", {})
            contracts[f"{src}:{name}"] = CompiledContract(
                name=name, source=src, abi=c.get("abi", []),
                bytecode_hex=evm.get("bytecode", {}).get("object", ""),
                deployed_bytecode_hex=evm.get("deployedBytecode", {}).get("object", ""),
                method_identifiers=evm.get("methodIdentifiers", {}),
                link_references=evm.get("bytecode", {}).get("linkReferences", {}),
            )
    return Compilation(contracts=contracts, warnings=tuple(warnings), solc_version=version, from_cache=from_cache)


def compile_source(source: str, contract: str | None = None, *, filename: str = "Contract.sol",
                   **kwargs) -> CompiledContract:
    """Compile one source text and return ``contract`` (default: the last contract defined in it)."""
    result = compile_sources({filename: source}, **kwargs)
    return _pick(result, filename, source, contract)


def compile_file(path: str | os.PathLike[str], contract: str | None = None, **kwargs) -> CompiledContract:
    """Compile a ``.sol`` file (its source unit name is its path relative to the repository root
    when it lies inside it) and return ``contract`` (default: the last contract defined in it)."""
    p = Path(path).resolve()
    base = Path(kwargs.get("base_path") or repo_root()).resolve()
    try:
        name = p.relative_to(base).as_posix()
    except ValueError:  # outside the base path: absolute source unit name, its folder allowed
        name = p.as_posix()
        kwargs["allow_paths"] = [*kwargs.get("allow_paths", ()), p.parent]
    try:
        text = p.read_text()
    except OSError as e:
        raise SolcError(f"cannot read {p}: {e}") from e
    result = compile_sources({name: text}, **kwargs)
    return _pick(result, name, text, contract)


def _pick(result: Compilation, source_name: str, source_text: str, contract: str | None) -> CompiledContract:
    if contract is not None:
        return result[contract if ":" in contract else f"{source_name}:{contract}"]
    own = {c.name: c for c in result.contracts.values() if c.source == source_name and c.bytecode_hex}
    if not own:
        raise ContractNotFoundError(f"{source_name} defines no deployable contract")
    # solc lists contracts alphabetically: pick the deployable contract defined last in the file.
    best, best_pos = None, -1
    for name in own:
        for m in re.finditer(rf"\bcontract\s+{re.escape(name)}\b", source_text):
            if m.start() > best_pos:
                best, best_pos = name, m.start()
    return own[best] if best is not None else sorted(own.values(), key=lambda c: c.name)[-1]
