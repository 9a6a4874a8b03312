"""Keras .h5 import: a small MobileNet-style functional model written in the Keras 3 and Keras 2
file layouts (h5py, no TensorFlow) imports into a FloatNet whose output equals a naive numpy
evaluation of the Keras layers, batch norms applied as Keras does (not folded)."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest

from zkmarket.model.floatnet import forward
from zkmarket.model.keras_h5 import load_keras_h5
from zkmarket.model.qmodel import ModelFormatError

pytestmark = pytest.mark.unit

EPS = 1e-3


def _weights(rng: np.random.Generator) -> dict[str, dict[str, np.ndarray]]:
    def bn(c: int) -> dict[str, np.ndarray]:
        return {"gamma": rng.uniform(0.5, 1.5, c), "beta": rng.normal(0, 0.1, c),
                "moving_mean": rng.normal(0, 0.1, c), "moving_variance": rng.uniform(0.5, 2, c)}

    return {
        "stem": {"kernel": rng.normal(0, 0.3, (3, 3, 3, 4))}, "stem_bn": bn(4),
        "dw": {"depthwise_kernel": rng.normal(0, 0.3, (3, 3, 4, 1))}, "dw_bn": bn(4),
        "project": {"kernel": rng.normal(0, 0.3, (1, 1, 4, 4)), "bias": rng.normal(0, 0.1, 4)}, "project_bn": bn(4),
        "dense": {"kernel": rng.normal(0, 0.3, (4, 5)), "bias": rng.normal(0, 0.1, 5)},
    }


# (class, name, config, inputs): the backbone, nested inside a classifier.
BACKBONE = [
    ("InputLayer", "image", {"batch_shape": [None, 8, 8, 3]}, []),
    ("ZeroPadding2D", "pad", {"padding": [[0, 1], [0, 1]]}, ["image"]),
    ("Conv2D", "stem", {"strides": [2, 2], "kernel_size": [3, 3], "padding": "valid", "use_bias": False}, ["pad"]),
    ("BatchNormalization", "stem_bn", {"epsilon": EPS}, ["stem"]),
    ("ReLU", "stem_relu", {"max_value": 6.0, "negative_slope": 0.0, "threshold": 0.0}, ["stem_bn"]),
    ("DepthwiseConv2D", "dw", {"strides": [1, 1], "kernel_size": [3, 3], "padding": "same", "use_bias": False},
     ["stem_relu"]),
    ("BatchNormalization", "dw_bn", {"epsilon": EPS}, ["dw"]),
    ("ReLU", "dw_relu", {"max_value": 6.0}, ["dw_bn"]),
    ("Conv2D", "project", {"strides": [1, 1], "kernel_size": [1, 1], "padding": "same", "use_bias": True},
     ["dw_relu"]),
    ("BatchNormalization", "project_bn", {"epsilon": EPS}, ["project"]),
    ("Add", "residual", {}, ["stem_relu", "project_bn"]),
]
HEAD = [
    ("InputLayer", "input_1", {"batch_shape": [None, 8, 8, 3]}, []),
    ("Functional", "backbone", None, ["input_1"]),
    ("GlobalAveragePooling2D", "pool", {}, ["backbone"]),
    ("Dropout", "drop", {"rate": 0.2}, ["pool"]),
    ("Dense", "dense", {"activation": "softmax", "use_bias": True}, ["drop"]),
]


def _node(inputs: list[str], keras3: bool):
    if not inputs:
        return []
    if not keras3:
        return [[[name, 0, 0, {}] for name in inputs]]
    tensors = [{"class_name": "__keras_tensor__", "config": {"keras_history": [name, 0, 0]}} for name in inputs]
    return [{"args": [tensors if len(tensors) > 1 else tensors[0]], "kwargs": {}}]


def _config(layers, outputs: str, keras3: bool) -> dict:
    out = []
    for kind, name, cfg, inputs in layers:
        if kind == "Functional":
            entry = _config(BACKBONE, "residual", keras3)
            entry["config"]["name"] = name
        else:
            entry = {"class_name": kind, "config": {"name": name, "activation": "linear", **cfg}}
        entry["inbound_nodes"] = _node(inputs, keras3)
        out.append(entry)
    output_layers = [outputs, 0, 0] if keras3 else [[outputs, 0, 0]]
    return {"class_name": "Functional", "config": {"name": "model", "layers": out, "output_layers": output_layers}}


def _write(path: Path, weights: dict, keras3: bool) -> Path:
    with h5py.File(path, "w") as f:
        f.attrs["model_config"] = json.dumps(_config(HEAD, "dense", keras3))
        root = f.create_group("model_weights")
        for layer, values in weights.items():
            group = root.require_group("backbone") if layer != "dense" else root
            group = group.create_group(layer)
            if not keras3:  # Keras 2: model_weights/<layer>/<layer>/<name>:0
                group = group.create_group(layer)
            for name, value in values.items():
                group[name if keras3 else f"{name}:0"] = value
    return path


def _conv(x: np.ndarray, kernel: np.ndarray, stride: int, pad: tuple[int, int, int, int], depthwise: bool):
    """Naive NHWC convolution; kernel in Keras layout (kh, kw, C_in, C_out or 1)."""
    top, left, bottom, right = pad
    x = np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)))
    kh, kw = kernel.shape[:2]
    out_h, out_w = (x.shape[1] - kh) // stride + 1, (x.shape[2] - kw) // stride + 1
    c_out = x.shape[3] if depthwise else kernel.shape[3]
    y = np.zeros((len(x), out_h, out_w, c_out))
    for i in range(out_h):
        for j in range(out_w):
            patch = x[:, i * stride:i * stride + kh, j * stride:j * stride + kw, :]
            if depthwise:
                y[:, i, j, :] = np.einsum("nyxc,yxc->nc", patch, kernel[..., 0])
            else:
                y[:, i, j, :] = np.einsum("nyxc,yxco->no", patch, kernel)
    return y


def _keras_reference(x: np.ndarray, w: dict) -> np.ndarray:
    def bn(y, p):
        return (y - p["moving_mean"]) / np.sqrt(p["moving_variance"] + EPS) * p["gamma"] + p["beta"]

    stem = np.clip(bn(_conv(x, w["stem"]["kernel"], 2, (0, 0, 1, 1), False), w["stem_bn"]), 0, 6)
    dw = np.clip(bn(_conv(stem, w["dw"]["depthwise_kernel"], 1, (1, 1, 1, 1), True), w["dw_bn"]), 0, 6)
    project = bn(_conv(dw, w["project"]["kernel"], 1, (0, 0, 0, 0), False) + w["project"]["bias"], w["project_bn"])
    pooled = (stem + project).mean(axis=(1, 2))
    return pooled @ w["dense"]["kernel"] + w["dense"]["bias"]  # logits: softmax keeps the class


@pytest.mark.parametrize("keras3", [True, False], ids=["keras3", "keras2"])
def test_import_matches_the_keras_layers(tmp_path: Path, keras3: bool) -> None:
    rng = np.random.default_rng(0)
    weights = _weights(rng)
    net = load_keras_h5(_write(tmp_path / "model.h5", weights, keras3))
    assert net.input_shape == (8, 8, 3)
    assert [l.op for l in net.layers] == ["conv2d", "conv2d", "conv2d", "add", "global_avg_pool", "fully_connected"]
    x = rng.uniform(-1, 1, (3, 8, 8, 3))
    ours = forward(net, x).tensors[net.output].reshape(3, -1)
    assert np.allclose(ours, _keras_reference(x, weights), atol=1e-9)


def test_unsupported_layer_is_named(tmp_path: Path) -> None:
    path = _write(tmp_path / "model.h5", _weights(np.random.default_rng(1)), True)
    with h5py.File(path, "r+") as f:
        config = json.loads(f.attrs["model_config"])
        config["config"]["layers"][2]["class_name"] = "MaxPooling2D"
        f.attrs["model_config"] = json.dumps(config)
    with pytest.raises(ModelFormatError, match="layer 'pool': unsupported Keras layer MaxPooling2D"):
        load_keras_h5(path)


def test_padding_read_by_two_layers_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path / "model.h5", _weights(np.random.default_rng(1)), True)
    with h5py.File(path, "r+") as f:
        config = json.loads(f.attrs["model_config"])
        backbone = config["config"]["layers"][1]["config"]["layers"]
        residual = next(l for l in backbone if l["config"]["name"] == "residual")
        residual["inbound_nodes"] = _node(["pad", "project_bn"], True)
        f.attrs["model_config"] = json.dumps(config)
    with pytest.raises(ModelFormatError, match="layer 'pad': padding that feeds 2 layers cannot be merged"):
        load_keras_h5(path)


def test_not_an_h5_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "model.h5"
    path.write_text("{}")
    with pytest.raises(ModelFormatError, match="is not an HDF5"):
        load_keras_h5(path)


def test_cli_imports_and_quantizes(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from zkmarket.cli import main
    from zkmarket.model import qmodel, reference

    rng = np.random.default_rng(2)
    keras_file = _write(tmp_path / "model.h5", _weights(rng), True)
    images = rng.integers(0, 256, (6, 8, 8, 3)).astype(np.uint8)
    np.save(tmp_path / "calibration.npy", images)
    out = tmp_path / "model.json"
    runner = CliRunner(mix_stderr=False)
    result = runner.invoke(main, ["model", "import-keras", str(keras_file), "--calibration",
                                  str(tmp_path / "calibration.npy"), "-o", str(out)])
    assert result.exit_code == 0, result.stderr
    model = qmodel.load(out)
    assert (model.input.scale, model.input.zero_point) == (np.float32(1 / 128), 128)  # Keras MobileNet input
    float_logits = forward(load_keras_h5(keras_file), (images.astype(np.int64) - 128) / 128).tensors["dense"]
    float_logits = float_logits.reshape(6, -1)
    logits, classes = reference.evaluate_batch(model, images)
    out_spec = model.layers[-1].output
    assert np.abs((logits - out_spec.zero_point) * out_spec.scale - float_logits).max() < 0.1

    np.save(tmp_path / "small.npy", images[:, :4])
    refused = runner.invoke(main, ["model", "import-keras", str(keras_file), "--calibration",
                                   str(tmp_path / "small.npy"), "-o", str(out)])
    assert refused.exit_code == 1 and refused.stderr.startswith("error: calibration images have shape (4, 8, 3)")


def test_model_with_an_unknown_layout_is_refused_in_one_error(tmp_path: Path) -> None:
    path = _write(tmp_path / "model.h5", _weights(np.random.default_rng(1)), True)
    with h5py.File(path, "r+") as f:
        config = json.loads(f.attrs["model_config"])
        del config["config"]["output_layers"]
        f.attrs["model_config"] = json.dumps(config)
    with pytest.raises(ModelFormatError, match="unexpected Keras model layout"):
        load_keras_h5(path)
