"""The `zkmarket prover` commands from the README, end to end, and their one-line errors."""

from __future__ import annotations

import json

import pytest
from cli_checks import fails
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


@pytest.fixture(scope="module")
def circuit(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("circuit") / "circuit.json"
    run("compile", str(DIGITS_MODEL), "-o", str(path))
    return str(path)


def _prover(*args: str):
    return CliRunner(mix_stderr=False).invoke(main, ["prover", *args], catch_exceptions=False)


@pytest.mark.parametrize("command", ["infer", "prove", "commit"])
def test_pixel_beyond_a_machine_int_is_one_line(tmp_path, circuit, command):
    image = tmp_path / "image.json"
    image.write_text(json.dumps([0, 0, 0, 2**70] + [0] * 60))
    args = {"infer": ["infer", str(DIGITS_MODEL), str(image)],
            "prove": ["prove", circuit, str(image), "-o", str(tmp_path / "proof.json")],
            "commit": ["commit", "input", str(image)]}[command]
    fails(_prover(*args), f"input[3] = {2**70} is not a byte (0..=255)")


def test_missing_model_file_is_one_line(tmp_path):
    image = tmp_path / "image.json"
    image.write_text(json.dumps([0] * 64))
    fails(_prover("infer", str(tmp_path / "missing.json"), str(image)), "MODEL: file", "missing.json not found",
          code=2)
    fails(_prover("verify", str(tmp_path), str(image)), "CIRCUIT:", "is a directory, expected a file", code=2)


@pytest.mark.parametrize(("given", "described"), [(str(DIGITS_MODEL), "it holds a quantized model"),
                                                   ("circuit", "it holds compiled circuit settings")])
def test_wrong_file_where_a_proof_is_expected_is_named(circuit, given, described):
    given = circuit if given == "circuit" else given
    err = fails(_prover("verify", circuit, given), "is not a proof file", described,
                "a proof holds circuit_id, instances, logits, predicted_class, proof")
    assert "__init__" not in err and "keyword" not in err


def test_proof_with_fields_of_the_wrong_type_is_refused(tmp_path, circuit):
    proof = tmp_path / "proof.json"
    proof.write_text(json.dumps({"proof": 5, "instances": ["0x1"], "logits": [], "predicted_class": 0,
                                 "circuit_id": "x"}))
    fails(_prover("verify", circuit, str(proof)), "do not have a proof's types")


def test_compile_checks_products_as_asked(tmp_path):
    out = str(tmp_path / "circuit.json")
    freivalds = run("compile", str(DIGITS_MODEL), "--matmul", "freivalds", "-o", out).output
    assert "9 advice columns" in freivalds and "5 layers by Freivalds' test" in freivalds
    assert json.loads((tmp_path / "circuit.json").read_text())["params"]["two_phase"] is True
    # auto keeps the digits CNN direct: Freivalds' test would not lower its 2^15 rows
    auto = run("compile", str(DIGITS_MODEL), "-o", out).output
    assert "2^15 rows, 8 advice columns" in auto and "Freivalds" not in auto
    refused = run("compile", str(DIGITS_MODEL), "--matmul", "sometimes", "-o", out, ok=False)
    assert "'sometimes' is not one of" in refused.output
