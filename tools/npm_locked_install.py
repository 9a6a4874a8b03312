#!/usr/bin/env python3
"""Install the pinned npm toolchain and refuse anything the committed lock does not pin.

Why not `npm ci`, and why not compare the lock file byte for byte: the Foundry packages list
optional per-platform binaries (@foundry-rs/anvil-darwin-amd64, ...) and the registry serves more
or fewer of them from one day to the next; npm writes whatever it sees for *other* platforms into
the lock, so `npm ci` and a byte comparison fail on a registry change that installs nothing
different here. What must hold is narrower and checked exactly:

1. the lock's root entry declares the same dependencies as package.json (an edited package.json
   with a stale lock is refused);
2. every package npm actually installed here (node_modules/.package-lock.json) is in the committed
   lock with the same version and integrity hash.

The committed lock is restored afterwards: set-up never edits a tracked file. Standard library
only, so it runs before any virtual environment exists.

Usage: npm_locked_install.py [--npm NPM] [--cache DIR] [PROJECT_DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

NPM_FLAGS = ["install", "--ignore-scripts", "--no-audit", "--no-fund", "--no-update-notifier",
             "--omit-lockfile-registry-resolved"]
DEPENDENCY_FIELDS = ("dependencies", "devDependencies", "optionalDependencies", "peerDependencies")


class LockMismatch(Exception):
    """package.json, the committed lock and what npm installed disagree."""


def lock_problems(package_json: dict, committed_lock: dict, installed: dict) -> list[str]:
    """Why the install does not match the committed lock (empty when it does).

    `installed` is npm's hidden lock (node_modules/.package-lock.json): exactly what is on disk.
    """
    problems = []
    root = committed_lock.get("packages", {}).get("", {})
    for field in DEPENDENCY_FIELDS:
        declared, locked = package_json.get(field, {}), root.get(field, {})
        if declared != locked:
            problems.append(f"package.json {field} {declared} differ from the lock's {locked}")
    locked_packages = committed_lock.get("packages", {})
    for path, entry in sorted(installed.get("packages", {}).items()):
        pinned = locked_packages.get(path)
        if pinned is None:
            problems.append(f"{path} {entry.get('version')} was installed but is not in the lock")
            continue
        for key in ("version", "integrity"):
            if entry.get(key) != pinned.get(key):
                problems.append(f"{path}: installed {key} {entry.get(key)} but the lock pins {pinned.get(key)}")
    return problems


def locked_install(project: Path, npm: str, cache: Path | None) -> None:
    """`npm install` in `project`, then `lock_problems`; raises `LockMismatch` on any problem."""
    lock = project / "package-lock.json"
    committed = lock.read_bytes()
    shutil.rmtree(project / "node_modules", ignore_errors=True)
    env = dict(os.environ, **({"npm_config_cache": str(cache)} if cache else {}))
    try:
        subprocess.run([npm, *NPM_FLAGS], cwd=project, env=env, check=True)
        installed = json.loads((project / "node_modules" / ".package-lock.json").read_text())
    finally:
        if lock.read_bytes() != committed:
            lock.write_bytes(committed)
    problems = lock_problems(json.loads((project / "package.json").read_text()), json.loads(committed), installed)
    if problems:
        raise LockMismatch("\n".join(problems))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("project", nargs="?", default=".", type=Path)
    parser.add_argument("--npm", default="npm")
    parser.add_argument("--cache", type=Path)
    args = parser.parse_args()
    try:
        locked_install(args.project, args.npm, args.cache)
    except LockMismatch as exc:
        print(f"error: the npm install does not match package-lock.json:\n{exc}\n"
              "if package.json changed on purpose, run 'npm install' by hand and commit the new lock",
              file=sys.stderr)
        return 1
    except subprocess.CalledProcessError as exc:
        print(f"error: npm install failed (exit {exc.returncode})", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
