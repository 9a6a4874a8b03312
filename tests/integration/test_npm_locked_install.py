"""Set-up installs exactly what package-lock.json pins, and refuses what would change it.

The real `npm install` runs against the registry (with the project's npm cache) in a copy of
the toolchain manifest, so the test sees what `make` sees.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from zkmarket.chain.paths import repo_root

pytestmark = pytest.mark.integration

ROOT = repo_root()
SCRIPT = ROOT / "tools" / "npm_locked_install.py"
_spec = importlib.util.spec_from_file_location("npm_locked_install", SCRIPT)
locked = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(locked)


def _project(tmp_path: Path, package_json: dict | None = None) -> Path:
    for name in ("package.json", "package-lock.json"):
        shutil.copy(ROOT / name, tmp_path / name)
    if package_json is not None:
        (tmp_path / "package.json").write_text(json.dumps(package_json, indent=2))
    return tmp_path


def _install(project: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), "--cache", str(ROOT / ".cache" / "npm"), str(project)],
                          capture_output=True, text=True, timeout=600)


def test_committed_lock_installs_and_stays_unchanged(tmp_path: Path) -> None:
    project = _project(tmp_path)
    result = _install(project)
    assert result.returncode == 0, result.stderr
    assert (project / "package-lock.json").read_bytes() == (ROOT / "package-lock.json").read_bytes()
    assert (project / "node_modules" / "solc" / "package.json").exists()


def test_package_json_that_changes_what_is_installed_is_refused(tmp_path: Path) -> None:
    manifest = json.loads((ROOT / "package.json").read_text())
    manifest["devDependencies"]["solc"] = "0.8.27"
    project = _project(tmp_path, manifest)
    result = _install(project)
    assert result.returncode == 1
    assert "does not match package-lock.json" in result.stderr
    assert "node_modules/solc: installed version 0.8.27 but the lock pins 0.8.28" in result.stderr
    # The committed lock is restored, not rewritten to what npm wanted.
    assert (project / "package-lock.json").read_bytes() == (ROOT / "package-lock.json").read_bytes()


def _lock(**packages: dict) -> dict:
    return {"packages": {"": {"devDependencies": {"solc": "0.8.28"}}, **packages}}


SOLC = {"version": "0.8.28", "integrity": "sha512-a"}


def test_other_platforms_entries_do_not_matter() -> None:
    installed = {"packages": {"node_modules/solc": SOLC}}
    darwin = {"version": "1.7.1", "integrity": "sha512-c", "optional": True, "os": ["darwin"]}
    committed = _lock(**{"node_modules/solc": SOLC, "node_modules/@foundry-rs/anvil-darwin-arm64": darwin})
    assert locked.lock_problems({"devDependencies": {"solc": "0.8.28"}}, committed, installed) == []


def test_installed_package_with_other_integrity_is_refused() -> None:
    installed = {"packages": {"node_modules/solc": {**SOLC, "integrity": "sha512-b"}}}
    problems = locked.lock_problems({"devDependencies": {"solc": "0.8.28"}},
                                    _lock(**{"node_modules/solc": SOLC}), installed)
    assert problems == ["node_modules/solc: installed integrity sha512-b but the lock pins sha512-a"]


def test_installed_package_missing_from_the_lock_is_refused() -> None:
    installed = {"packages": {"node_modules/solc": SOLC, "node_modules/extra": {"version": "1.0.0"}}}
    problems = locked.lock_problems({"devDependencies": {"solc": "0.8.28"}},
                                    _lock(**{"node_modules/solc": SOLC}), installed)
    assert problems == ["node_modules/extra 1.0.0 was installed but is not in the lock"]


def test_package_json_the_lock_does_not_declare_is_refused() -> None:
    problems = locked.lock_problems({"devDependencies": {"solc": "0.8.28", "left-pad": "1.3.0"}},
                                    _lock(**{"node_modules/solc": SOLC}), {"packages": {}})
    assert len(problems) == 1 and problems[0].startswith("package.json devDependencies")
