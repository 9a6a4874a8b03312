"""Where the project's pinned toolchain lives (repository root, node_modules, .cache)."""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path

from .errors import ToolchainNotFoundError

_MARKERS = ("package.json", "tools/solc")


def _looks_like_root(p: Path) -> bool:
    return all((p / m).is_file() for m in _MARKERS)


def repo_root() -> Path:
    """The zkmarket checkout: ``$ZKMARKET_ROOT``, else the first parent of this package or of
    the working directory that holds ``package.json`` and ``tools/solc``."""
    env = os.environ.get("ZKMARKET_ROOT")
    if env:
        return Path(env).resolve()
    searched = []
    for start in (Path(__file__).resolve().parent, Path.cwd().resolve()):
        for p in (start, *start.parents):
            if _looks_like_root(p):
                return p
        searched.append(f"parents of {start}")
    raise ToolchainNotFoundError("zkmarket repository root (package.json + tools/solc)", searched,
                                 hint="set ZKMARKET_ROOT")


def cache_dir(*parts: str) -> Path:
    """A directory under ``<root>/.cache`` (created)."""
    d = repo_root().joinpath(".cache", *parts)
    d.mkdir(parents=True, exist_ok=True)
    return d


def _foundry_platform() -> str:
    machine = platform.machine().lower()
    arch = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(machine, machine)
    osname = {"linux": "linux", "darwin": "darwin", "win32": "win32"}.get(sys.platform, sys.platform)
    return f"{osname}-{arch}"


def foundry_binary(tool: str) -> Path:
    """The native binary of a Foundry tool (``anvil``, ``forge``) shipped by the npm package
    ``@foundry-rs/<tool>-<os>-<arch>``; ``$ZKMARKET_<TOOL>`` overrides."""
    env = os.environ.get(f"ZKMARKET_{tool.upper()}")
    if env:
        p = Path(env)
        if p.is_file() and os.access(p, os.X_OK):
            return p
        raise ToolchainNotFoundError(tool, [f"${'ZKMARKET_' + tool.upper()}={env}"], hint="fix the variable")
    exe = tool + (".exe" if sys.platform == "win32" else "")
    candidate = repo_root() / "node_modules" / "@foundry-rs" / f"{tool}-{_foundry_platform()}" / "bin" / exe
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return candidate
    raise ToolchainNotFoundError(tool, [str(candidate)])


def solc_shim() -> Path:
    """The ``solc`` executable used for compiling: ``$ZKMARKET_SOLC`` or ``<root>/tools/solc``
    (the solcjs shim, which needs ``node_modules/solc``)."""
    env = os.environ.get("ZKMARKET_SOLC")
    if env:
        return Path(env)
    root = repo_root()
    shim = root / "tools" / "solc"
    solcjs = root / "node_modules" / "solc" / "package.json"
    if not solcjs.is_file():
        raise ToolchainNotFoundError("solcjs (node_modules/solc)", [str(solcjs)])
    return shim
