"""Model document validation: every malformed field is rejected with a message naming it."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from zkmarket.model import qmodel
from zkmarket.model.qmodel import ModelFormatError

pytestmark = pytest.mark.unit

Doc = dict[str, Any]


def test_valid_document_round_trips(tiny_doc: Doc, tmp_path) -> None:
    model = qmodel.from_dict(tiny_doc)
    assert [l.op for l in model.layers] == ["conv2d", "conv2d", "add", "global_avg_pool", "fully_connected"]
    assert model.layers[0].weights.shape == (2, 3, 3, 2)
    path = tmp_path / "m.json"
    qmodel.save(model, path)
    assert qmodel.to_dict(qmodel.load(path)) == tiny_doc | {"layers": [
        l | {"activation": l.get("activation", "none")} for l in tiny_doc["layers"]]}
    assert json.loads(path.read_text())["layers"][1]["groups"] == 2


def test_tensor_shapes(tiny_doc: Doc) -> None:
    shapes = qmodel.tensor_shapes(qmodel.from_dict(tiny_doc))
    assert shapes == {"input": (4, 4, 2), "c1": (2, 2, 2), "d1": (2, 2, 2), "a1": (2, 2, 2), "g1": (1, 1, 2),
                      "logits": (1, 1, 3)}


def _set(path: str, value: Any) -> Callable[[Doc], None]:
    """A mutation setting doc[path] (dot-separated keys / list indices)."""

    def mutate(doc: Doc) -> None:
        *parents, last = [int(p) if p.isdigit() else p for p in path.split(".")]
        target = doc
        for p in parents:
            target = target[p]
        target[last] = value

    return mutate


def _delete(path: str) -> Callable[[Doc], None]:
    def mutate(doc: Doc) -> None:
        *parents, last = path.split(".")
        target = doc
        for p in parents:
            target = target[int(p) if p.isdigit() else p]
        del target[last]

    return mutate


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (_set("format", "onnx"), "model.format: expected 'zkmarket-qmodel'"),
        (_set("version", 2), "model.version: expected 1"),
        (_set("version", True), "model.version: expected 1"),
        (_set("lookup_bits", 8), "model.lookup_bits: 8 is outside [9, 20]"),
        (_set("rescale_bits", 16.0), "model.rescale_bits: expected an integer"),
        (_delete("name"), "model: missing field(s) name"),
        (_set("extra", 1), "model: unknown field(s) extra"),
        (_set("input.shape", [4, 4]), "input.shape: expected a list of 3 integers"),
        (_set("input.zero_point", 256), "input.zero_point: 256 is outside [0, 255]"),
        (_set("input.scale", 0), "input.scale: expected a positive finite number"),
        (_set("layers", []), "model.layers: expected a non-empty list"),
        (_set("layers.0.op", "maxpool"), "layer 0 (maxpool -> 'c1').op: unknown op 'maxpool'"),
        (_set("layers.0.weights.1.2.0.1", 128), "layer 0 (conv2d -> 'c1').weights[1][2][0][1]: 128 is outside [-128,"),
        (_set("layers.0.weights.1.2", [[1, 2]]), "layer 0 (conv2d -> 'c1').weights[1][2]: expected shape [3, 2], got"),
        (_set("layers.0.weights.0.0.0", [1, 2, 3]), "weights[0][0][0]: expected shape [2], got length 3"),
        (_set("layers.0.weights.0.0.0.0", 1.5), "weights[0][0][0][0]: expected an integer, got 1.5"),
        (_set("layers.0.bias", [2**31, 0]), "layer 0 (conv2d -> 'c1').bias[0]: 2147483648 is outside"),
        (_set("layers.0.bias", [1]), "bias: expected shape [2], got length 1"),
        (_set("layers.0.multiplier", [-1, 1]), "multiplier[0]: -1 is outside [0, 16777216]"),
        (_set("layers.0.input", "nope"), "layer 0 (conv2d -> 'c1').input: unknown tensor 'nope'"),
        (_set("layers.1.input", "d1"), "layer 1 (conv2d -> 'd1').input: unknown tensor 'd1'"),
        (_set("layers.2.inputs", ["d1", "missing"]), "layer 2 (add -> 'a1').inputs[1]: unknown tensor 'missing'"),
        (_set("layers.2.inputs", ["d1", "input"]), "inputs: shapes differ: 'd1' is (2, 2, 2), 'input' is (4, 4, 2)"),
        (_set("layers.2.multiplier", [1]), "layer 2 (add -> 'a1').multiplier: expected a list of 2 integers"),
        (_set("layers.0.output.zero_point", 3), "layer 0 (conv2d -> 'c1').output.zero_point: a relu6 layer needs zero"),
        (_set("layers.0.output.scale", 0.05), "output.scale: a relu6 layer needs scale 6/255"),
        (_set("layers.2.activation", "relu"), "layer 2 (add -> 'a1').output.zero_point: a relu layer needs zero point"),
        (_set("layers.2.activation", "sigmoid"), "activation: 'sigmoid' is not one of"),
        (_set("layers.1.out_channels", 3), "layer 1 (conv2d -> 'd1').out_channels: a depthwise conv over 2 channels"),
        (_set("layers.1.groups", 3), "groups: must be 1 or the input channel count 2, got 3"),
        (_set("layers.0.kernel", [7, 7]), "kernel: 7x7 kernel is larger than the padded 4x4 input"),
        (_set("layers.0.stride", 0), "stride: 0 is outside"),
        (_set("layers.0.padding", [1, 1, 1]), "padding: expected a list of 4 integers"),
        (_set("layers.4.weights", [[1, 2, 3]] * 3), "layer 4 (fully_connected -> 'logits').weights[0]: expected shape"),
        (_set("layers.3.multiplier", [1]), "layer 3 (global_avg_pool -> 'g1').multiplier: expected an integer"),
        (_set("layers.3.output.name", "c1"), "output.name: tensor 'c1' is already defined"),
        (_set("layers.4.kernel", [1, 1]), "layer 4 (fully_connected -> 'logits'): unknown field(s) kernel"),
        (_delete("layers.4.bias"), "layer 4 (fully_connected -> 'logits'): missing field(s) bias"),
        (_set("output", "g1"), "model.output: 'g1' must name the last layer's output 'logits'"),
    ],
)
def test_malformed_documents_are_rejected(tiny_doc: Doc, mutate: Callable[[Doc], None], message: str) -> None:
    mutate(tiny_doc)
    with pytest.raises(ModelFormatError) as error:
        qmodel.from_dict(tiny_doc)
    assert message in str(error.value)


def test_activation_defaults_to_none(tiny_doc: Doc) -> None:
    del tiny_doc["layers"][1]["activation"]
    assert qmodel.from_dict(tiny_doc).layers[1].activation == "none"


def test_load_reports_invalid_json(tmp_path) -> None:
    path = tmp_path / "bad.json"
    path.write_text("{")
    with pytest.raises(ModelFormatError, match="not valid JSON"):
        qmodel.load(path)


def test_validate_checks_models_built_in_python(tiny_doc: Doc) -> None:
    model = qmodel.from_dict(tiny_doc)
    model.layers[0].weights = np.full_like(model.layers[0].weights, 200)
    with pytest.raises(ModelFormatError, match=r"weights\[0\]\[0\]\[0\]\[0\]: 200 is outside"):
        qmodel.validate(model)
