"""The committed demo model: accuracy, provability of every input, golden samples."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from zkmarket.model import qmodel, reference
from zkmarket.model.data import load_digits_split

pytestmark = pytest.mark.unit

MODELS = Path(__file__).resolve().parents[2] / "models"


@pytest.fixture(scope="module")
def model() -> qmodel.QModel:
    return qmodel.load(MODELS / "digits-cnn.json")


def test_quantized_accuracy_on_test_split(model: qmodel.QModel) -> None:
    data = load_digits_split()
    _, classes = reference.evaluate_batch(model, data.test_inputs)
    assert np.mean(classes == data.test_labels) >= 0.96


def test_every_uint8_input_fits_the_lookup_range(model: qmodel.QModel) -> None:
    bound = reference.lookup_bound(reference.worst_case_q_range(model).values())
    assert bound <= 2 ** (model.lookup_bits - 1)


def test_golden_samples_match_reference(model: qmodel.QModel) -> None:
    samples = json.loads((MODELS / "digits-cnn.samples.json").read_text())["samples"]
    assert [s["label"] for s in samples] == list(range(10))
    for s in samples:
        assert reference.evaluate(model, s["input"]) == (s["logits"], s["class"])


def test_model_file_is_commit_sized() -> None:
    assert (MODELS / "digits-cnn.json").stat().st_size < 64 * 1024
