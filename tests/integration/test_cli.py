"""The `zkmarket prover` commands from the README, end to end, and their one-line errors."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from zkmarket.cli import main
from zkmarket.model.data import DIGITS_MODEL

pytestmark = pytest.mark.integration


def run(*args: str, ok: bool = True):
    result = CliRunner().invoke(main, ["prover", *args])
    assert (result.exit_code == 0) == ok, result.output
    return result


def test_compile_setup_prove_verify_commit_export(tmp_path, digits_split):
    circuit, proof, image = tmp_path / "circuit.json", tmp_path / "proof.json", tmp_path / "image.json"
    image.write_text(json.dumps(digits_split.test_inputs[2].tolist()))
    assert "8 advice columns, 1 lookup table" in run("compile", str(DIGITS_MODEL), "-o", str(circuit)).output
    assert "vk" in json.loads(run("setup", str(circuit)).output.split("\n", 1)[1])
    assert "class" in run("prove", str(circuit), str(image), "-o", str(proof)).output
    assert "valid" in run("verify", str(circuit), str(proof)).output
    saved = json.loads(proof.read_text())
    assert run("commit", "input", str(image)).output.strip() == saved["instances"][0]
    assert run("commit", "weights", str(DIGITS_MODEL)).output.strip() == saved["instances"][1]
    inferred = json.loads(run("infer", str(DIGITS_MODEL), str(image)).output)
    assert inferred["class"] == saved["predicted_class"]
    sol = tmp_path / "Verifier.sol"
    run("export-verifier", str(circuit), "-o", str(sol))
    assert "pragma solidity ^0.8" in sol.read_text()

    saved["instances"][2] = "0x9"
    proof.write_text(json.dumps(saved))
    assert "INVALID" in run("verify", str(circuit), str(proof), ok=False).output


def test_errors_are_one_line_not_tracebacks(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2, 3]")
    result = run("compile", str(bad), "-o", str(tmp_path / "c.json"), ok=False)
    assert result.output.startswith("error: invalid model") and "Traceback" not in result.output
    result = run("infer", str(DIGITS_MODEL), str(bad), ok=False)
    assert "the model expects" in result.output
