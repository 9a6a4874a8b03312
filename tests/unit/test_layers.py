"""The package's import graph follows the layers of zkmarket/__init__.py: no package imports one
on its own layer or above (so there are no cycles between packages)."""

from __future__ import annotations

import ast
from pathlib import Path

import zkmarket

ROOT = Path(zkmarket.__file__).parent
LAYERS = [
    {"cli_params", "files"},
    {"prover", "crypto", "model", "store", "planner"},
    {"protocol"},
    {"chain"},
    {"market"},
    {"participants"},
    {"provider_api"},
    {"agent", "consumer"},
    {"cli", "demo"},
]
LAYER_OF = {name: i for i, names in enumerate(LAYERS) for name in names}


def top_package(path: Path) -> str:
    rel = path.relative_to(ROOT)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def imported_packages(path: Path) -> set[str]:
    """The zkmarket packages that `path` imports (absolute or relative imports)."""
    here = list(path.relative_to(ROOT).parts[:-1])
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name.split(".")[1] for a in node.names if a.name.startswith("zkmarket.")}
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                parts = (node.module or "").split(".")
                if parts[0] == "zkmarket" and len(parts) > 1:
                    found.add(parts[1])
                continue
            base = here[:len(here) - (node.level - 1)]
            full = base + [p for p in (node.module or "").split(".") if p]
            found |= {full[0]} if full else {a.name for a in node.names}
    return found


def test_every_package_has_a_layer():
    packages = {top_package(p) for p in ROOT.rglob("*.py")} - {"__init__"}
    assert packages <= set(LAYER_OF), f"packages without a layer: {sorted(packages - set(LAYER_OF))}"


def test_no_package_imports_its_own_layer_or_one_above():
    wrong = []
    for path in sorted(ROOT.rglob("*.py")):
        pkg = top_package(path)
        if pkg == "__init__":
            continue
        for target in imported_packages(path) - {pkg}:
            if LAYER_OF[target] >= LAYER_OF[pkg]:
                wrong.append(f"{path.relative_to(ROOT)} ({pkg}, layer {LAYER_OF[pkg]}) imports {target} "
                             f"(layer {LAYER_OF[target]})")
    assert not wrong, "\n".join(wrong)


def test_the_check_sees_relative_and_absolute_imports():
    # the checker itself: a relative import two levels up and an absolute one are both found
    pkg = ROOT / "consumer" / "guarded_audit.py"
    assert {"participants", "protocol", "provider_api"} <= imported_packages(pkg)
