"""Load, validate and save quantized models (`docs/model-format.md`).

The prover circuit, the reference evaluator and the ONNX converter all consume this one JSON
document, so every malformed field is rejected here with a `ModelFormatError` that names the
layer and field, before any of them sees it.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Union

import numpy as np

from .errors import ModelError

FORMAT = "zkmarket-qmodel"
VERSION = 1
ACTIVATIONS = ("none", "relu", "relu6")
INT8 = (-128, 127)
INT32 = (-(2**31), 2**31 - 1)
UINT8 = (0, 255)
# The circuit's bounds (prover/src/model.rs). They also keep every accumulator product of the
# reference (int32 biases, int8 weights, uint8 activations) well inside int64.
MULTIPLIER = (0, 2**24)
LOOKUP_BITS = (9, 20)  # q must at least cover the clip range [0, 255], hence L >= 9
RELU6_SCALE = 6 / 255

Shape = tuple[int, int, int]


class ModelFormatError(ModelError):
    """A model document (or ONNX graph) that does not follow `docs/model-format.md`."""


@dataclass
class TensorSpec:
    """Name and (informational) quantization parameters of an activation tensor."""

    name: str
    scale: float
    zero_point: int


@dataclass
class InputSpec(TensorSpec):
    """The model input: an activation tensor with a fixed HWC shape."""

    shape: Shape


@dataclass
class Conv2d:
    """Ordinary (groups 1) or depthwise (groups == C_in) 2-D convolution."""

    input: str
    kernel: tuple[int, int]
    stride: int
    padding: tuple[int, int, int, int]  # top, left, bottom, right
    groups: int
    out_channels: int
    weights: np.ndarray  # int64 [O, kh, kw, C_in / groups]
    bias: np.ndarray  # int64 [O]
    multiplier: np.ndarray  # int64 [O]
    output: TensorSpec
    activation: str = "none"
    op = "conv2d"


@dataclass
class FullyConnected:
    """Dense layer over the HWC-flattened input; output shape [1, 1, O]."""

    input: str
    out_features: int
    weights: np.ndarray  # int64 [O, I]
    bias: np.ndarray  # int64 [O]
    multiplier: np.ndarray  # int64 [O]
    output: TensorSpec
    activation: str = "none"
    op = "fully_connected"


@dataclass
class Add:
    """Requantizing element-wise sum of two same-shaped tensors (inverted-residual add)."""

    inputs: tuple[str, str]
    multiplier: tuple[int, int]
    output: TensorSpec
    activation: str = "none"
    op = "add"


@dataclass
class GlobalAvgPool:
    """Per-channel mean over height and width; output shape [1, 1, C]."""

    input: str
    multiplier: int
    output: TensorSpec
    activation: str = "none"
    op = "global_avg_pool"


Layer = Union[Conv2d, FullyConnected, Add, GlobalAvgPool]


@dataclass
class QModel:
    """A validated quantized model; build one with `from_dict`, `load` or `validate`."""

    name: str
    rescale_bits: int
    lookup_bits: int
    input: InputSpec
    layers: list[Layer]
    output: str


def load(path: str | Path) -> QModel:
    """Read and validate a model JSON file."""
    try:
        doc = json.loads(Path(path).read_text())
    except json.JSONDecodeError as e:
        raise ModelFormatError(f"{path}: not valid JSON: {e}") from e
    return from_dict(doc)


def save(model: QModel, path: str | Path) -> None:
    """Validate and write a model, one layer per line (small, diff-friendly)."""
    Path(path).write_text(dumps(model))


def dumps(model: QModel) -> str:
    """The JSON text `save` writes."""
    doc = to_dict(validate(model))
    layers = ",\n".join("    " + json.dumps(layer, separators=(",", ":")) for layer in doc.pop("layers"))
    head = ",\n".join(f"  {json.dumps(k)}: {json.dumps(v)}" for k, v in doc.items() if k != "output")
    return f'{{\n{head},\n  "layers": [\n{layers}\n  ],\n  "output": {json.dumps(doc["output"])}\n}}\n'


def validate(model: QModel) -> QModel:
    """Check a model built in Python (e.g. by the quantizer) exactly as a loaded file is checked."""
    return from_dict(to_dict(model))


def to_dict(model: QModel) -> dict[str, Any]:
    """The JSON document of a model (plain Python ints, lists and floats)."""
    return {
        "format": FORMAT,
        "version": VERSION,
        "name": model.name,
        "rescale_bits": model.rescale_bits,
        "lookup_bits": model.lookup_bits,
        "input": {**_tensor_dict(model.input), "shape": list(model.input.shape)},
        "layers": [_layer_dict(layer) for layer in model.layers],
        "output": model.output,
    }


def _tensor_dict(t: TensorSpec) -> dict[str, Any]:
    return {"name": t.name, "scale": float(t.scale), "zero_point": int(t.zero_point)}


def _layer_dict(layer: Layer) -> dict[str, Any]:
    d: dict[str, Any] = {"op": layer.op}
    if isinstance(layer, Conv2d):
        d |= {
            "input": layer.input,
            "kernel": list(layer.kernel),
            "stride": layer.stride,
            "padding": list(layer.padding),
            "groups": layer.groups,
            "out_channels": layer.out_channels,
        }
    elif isinstance(layer, FullyConnected):
        d |= {"input": layer.input, "out_features": layer.out_features}
    elif isinstance(layer, Add):
        d |= {"inputs": list(layer.inputs), "multiplier": [int(m) for m in layer.multiplier]}
    else:
        d |= {"input": layer.input, "multiplier": int(layer.multiplier)}
    if isinstance(layer, (Conv2d, FullyConnected)):
        d |= {
            "weights": np.asarray(layer.weights).tolist(),
            "bias": np.asarray(layer.bias).tolist(),
            "multiplier": np.asarray(layer.multiplier).tolist(),
        }
    return d | {"output": _tensor_dict(layer.output), "activation": layer.activation}


# ---------------------------------------------------------------- parsing and validation


def from_dict(doc: Any) -> QModel:
    """Parse and validate a model document; raise `ModelFormatError` on the first problem."""
    _fields(doc, "model", {"format", "version", "name", "rescale_bits", "lookup_bits", "input", "layers", "output"})
    if doc["format"] != FORMAT:
        raise ModelFormatError(f"model.format: expected {FORMAT!r}, got {doc['format']!r}")
    if doc["version"] != VERSION or type(doc["version"]) is not int:
        raise ModelFormatError(f"model.version: expected {VERSION}, got {doc['version']!r}")
    name = _str(doc["name"], "model.name")
    rescale_bits = _int(doc["rescale_bits"], "model.rescale_bits", 1, 32)
    lookup_bits = _int(doc["lookup_bits"], "model.lookup_bits", *LOOKUP_BITS)
    inp = _fields(doc["input"], "input", {"name", "shape", "scale", "zero_point"})
    shape = _int_list(inp["shape"], "input.shape", 3, 1, 2**16)
    model_input = InputSpec(**vars(_tensor(inp, "input")), shape=(shape[0], shape[1], shape[2]))
    if not isinstance(doc["layers"], list) or not doc["layers"]:
        raise ModelFormatError("model.layers: expected a non-empty list")
    shapes: dict[str, Shape] = {model_input.name: model_input.shape}
    layers = []
    for i, raw in enumerate(doc["layers"]):
        where = f"layer {i}"
        if isinstance(raw, dict) and isinstance(raw.get("output"), dict):
            where += f" ({raw.get('op')} -> {raw['output'].get('name')!r})"
        layer = _parse_layer(raw, where, shapes)
        if layer.output.name in shapes:
            raise ModelFormatError(f"{where}.output.name: tensor {layer.output.name!r} is already defined")
        shapes[layer.output.name] = output_shape(layer, shapes)
        layers.append(layer)
    output = _str(doc["output"], "model.output")
    if output != layers[-1].output.name:
        raise ModelFormatError(
            f"model.output: {output!r} must name the last layer's output {layers[-1].output.name!r}"
        )
    return QModel(name, rescale_bits, lookup_bits, model_input, layers, output)


def tensor_shapes(model: QModel) -> dict[str, Shape]:
    """HWC shape of every tensor (input and each layer's output), by name."""
    shapes: dict[str, Shape] = {model.input.name: model.input.shape}
    for layer in model.layers:
        shapes[layer.output.name] = output_shape(layer, shapes)
    return shapes


def output_shape(layer: Layer, shapes: dict[str, Shape]) -> Shape:
    """HWC shape of a layer's output given the shapes of the tensors defined so far."""
    if isinstance(layer, Conv2d):
        h, w, _ = shapes[layer.input]
        (kh, kw), (top, left, bottom, right) = layer.kernel, layer.padding
        return (
            (h + top + bottom - kh) // layer.stride + 1,
            (w + left + right - kw) // layer.stride + 1,
            layer.out_channels,
        )
    if isinstance(layer, FullyConnected):
        return (1, 1, layer.out_features)
    if isinstance(layer, Add):
        return shapes[layer.inputs[0]]
    return (1, 1, shapes[layer.input][2])


def _parse_layer(raw: Any, where: str, shapes: dict[str, Shape]) -> Layer:
    if not isinstance(raw, dict):
        raise ModelFormatError(f"{where}: expected an object")
    op = raw.get("op")
    common = {"op", "output", "activation"}
    if op == "conv2d":
        _fields(raw, where, common | {"input", "kernel", "stride", "padding", "groups", "out_channels",
                                      "weights", "bias", "multiplier"})
    elif op == "fully_connected":
        _fields(raw, where, common | {"input", "out_features", "weights", "bias", "multiplier"})
    elif op == "add":
        _fields(raw, where, common | {"inputs", "multiplier"})
    elif op == "global_avg_pool":
        _fields(raw, where, common | {"input", "multiplier"})
    else:
        raise ModelFormatError(
            f"{where}.op: unknown op {op!r} (expected conv2d, fully_connected, add or global_avg_pool)"
        )
    output = _tensor(_fields(raw["output"], f"{where}.output", {"name", "scale", "zero_point"}), f"{where}.output")
    activation = raw.get("activation", "none")
    if activation not in ACTIVATIONS:
        raise ModelFormatError(f"{where}.activation: {activation!r} is not one of {ACTIVATIONS}")
    if activation != "none" and output.zero_point != 0:
        raise ModelFormatError(
            f"{where}.output.zero_point: a {activation} layer needs zero point 0, got {output.zero_point}"
        )
    if activation == "relu6" and not math.isclose(output.scale, RELU6_SCALE, rel_tol=1e-6):
        raise ModelFormatError(f"{where}.output.scale: a relu6 layer needs scale 6/255, got {output.scale}")
    if op == "add":
        inputs = raw["inputs"]
        if not isinstance(inputs, list) or len(inputs) != 2:
            raise ModelFormatError(f"{where}.inputs: expected a list of two tensor names")
        a, b = (_tensor_name(n, f"{where}.inputs[{k}]", shapes) for k, n in enumerate(inputs))
        if shapes[a] != shapes[b]:
            raise ModelFormatError(f"{where}.inputs: shapes differ: {a!r} is {shapes[a]}, {b!r} is {shapes[b]}")
        m = _int_list(raw["multiplier"], f"{where}.multiplier", 2, *MULTIPLIER)
        return Add((a, b), (m[0], m[1]), output, activation)
    source = _tensor_name(raw["input"], f"{where}.input", shapes)
    if op == "global_avg_pool":
        return GlobalAvgPool(source, _int(raw["multiplier"], f"{where}.multiplier", *MULTIPLIER), output, activation)
    h, w, c = shapes[source]
    if op == "fully_connected":
        o = _int(raw["out_features"], f"{where}.out_features", 1, 2**16)
        weight_shape: tuple[int, ...] = (o, h * w * c)
        layer: Layer = FullyConnected(source, o, *_weights(raw, where, weight_shape), output, activation)
        return layer
    kh, kw = _int_list(raw["kernel"], f"{where}.kernel", 2, 1, 2**8)
    stride = _int(raw["stride"], f"{where}.stride", 1, 2**8)
    padding = _int_list(raw["padding"], f"{where}.padding", 4, 0, 2**8)
    o = _int(raw["out_channels"], f"{where}.out_channels", 1, 2**16)
    groups = _int(raw["groups"], f"{where}.groups", 1, 2**16)
    if groups not in (1, c):
        raise ModelFormatError(f"{where}.groups: must be 1 or the input channel count {c}, got {groups}")
    if groups == c != 1 and o != c:
        raise ModelFormatError(f"{where}.out_channels: a depthwise conv over {c} channels needs {c}, got {o}")
    top, left, bottom, right = padding
    if h + top + bottom < kh or w + left + right < kw:
        raise ModelFormatError(f"{where}.kernel: {kh}x{kw} kernel is larger than the padded {h}x{w} input")
    weight_shape = (o, kh, kw, c // groups)
    return Conv2d(
        source, (kh, kw), stride, (top, left, bottom, right), groups, o, *_weights(raw, where, weight_shape),
        output, activation,
    )


def _weights(raw: dict[str, Any], where: str, shape: tuple[int, ...]) -> tuple[np.ndarray, ...]:
    return (
        _int_array(raw["weights"], shape, INT8, f"{where}.weights"),
        _int_array(raw["bias"], shape[:1], INT32, f"{where}.bias"),
        _int_array(raw["multiplier"], shape[:1], MULTIPLIER, f"{where}.multiplier"),
    )


def _fields(value: Any, where: str, allowed: set[str]) -> dict[str, Any]:
    """Require an object with exactly the allowed keys (`activation` may be omitted)."""
    if not isinstance(value, dict):
        raise ModelFormatError(f"{where}: expected an object, got {type(value).__name__}")
    missing = sorted(allowed - set(value) - {"activation"})
    if missing:
        raise ModelFormatError(f"{where}: missing field(s) {', '.join(missing)}")
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise ModelFormatError(f"{where}: unknown field(s) {', '.join(unknown)}")
    return value


def _tensor(d: dict[str, Any], where: str) -> TensorSpec:
    scale = d["scale"]
    if type(scale) not in (int, float) or not math.isfinite(scale) or scale <= 0:
        raise ModelFormatError(f"{where}.scale: expected a positive finite number, got {scale!r}")
    zero_point = _int(d["zero_point"], f"{where}.zero_point", *UINT8)
    return TensorSpec(_str(d["name"], f"{where}.name"), float(scale), zero_point)


def _tensor_name(value: Any, where: str, shapes: dict[str, Shape]) -> str:
    name = _str(value, where)
    if name not in shapes:
        raise ModelFormatError(f"{where}: unknown tensor {name!r} (not the input or an earlier layer's output)")
    return name


def _str(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise ModelFormatError(f"{where}: expected a non-empty string, got {value!r}")
    return value


def _int(value: Any, where: str, lo: int, hi: int) -> int:
    if type(value) is not int:
        raise ModelFormatError(f"{where}: expected an integer, got {value!r}")
    if not lo <= value <= hi:
        raise ModelFormatError(f"{where}: {value} is outside [{lo}, {hi}]")
    return value


def _int_list(value: Any, where: str, length: int, lo: int, hi: int) -> list[int]:
    if not isinstance(value, list) or len(value) != length:
        raise ModelFormatError(f"{where}: expected a list of {length} integers, got {value!r}")
    return [_int(v, f"{where}[{i}]", lo, hi) for i, v in enumerate(value)]


def _int_array(value: Any, shape: tuple[int, ...], bounds: tuple[int, int], where: str) -> np.ndarray:
    """Check a nested list of ints against an exact shape and range; return it as int64."""

    def check(v: Any, depth: int, path: str) -> None:
        if depth == len(shape):
            _int(v, path, *bounds)
            return
        if not isinstance(v, list) or len(v) != shape[depth]:
            got = f"length {len(v)}" if isinstance(v, list) else type(v).__name__
            raise ModelFormatError(f"{path}: expected shape {list(shape[depth:])}, got {got}")
        for i, item in enumerate(v):
            check(item, depth + 1, f"{path}[{i}]")

    check(value, 0, where)
    return np.array(value, dtype=np.int64).reshape(shape)
