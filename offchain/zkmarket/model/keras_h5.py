"""Import a trained Keras model saved as .h5 (float weights, read with h5py: no TensorFlow) into a
`FloatNet`, batch norms folded into the convolutions before them, ready for post-training
quantization.

Supported layers, as MobileNet-style classifiers use them: InputLayer, Conv2D, DepthwiseConv2D,
BatchNormalization (after a conv or dense layer that feeds nothing else), ReLU with max_value 6
(ReLU6) or Activation("relu6"), ZeroPadding2D (merged into the next "valid" convolution), Add,
GlobalAveragePooling2D, Dropout (the identity at inference), Dense (linear, or softmax on the
output: the class is the same), and nested functional models (a backbone inside a classifier).
Keras 2 and Keras 3 h5 files are both read. Anything else is refused by name.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .floatnet import FloatLayer, FloatNet
from .mobilenet import same_padding
from .qmodel import ModelFormatError

INPUT = "input"
# How uint8 pixels p map to the float input a Keras model was trained on: (scale, zero point).
# "-1..1" is Keras's MobileNet preprocessing (p / 127.5 - 1), quantized as TFLite's MobileNets do
# it: (p - 128) / 128. "0..1" is p / 255.
INPUT_RANGES = {"-1..1": (1 / 128, 128), "0..1": (1 / 255, 0)}


@dataclass
class _Walk:
    """State of the conversion: FloatNet layers so far and where each Keras tensor lives."""

    weights: object  # the h5 group `model_weights`
    layers: list[FloatLayer] = field(default_factory=list)
    tensor: dict[str, str] = field(default_factory=dict)  # Keras layer name -> FloatNet tensor name
    padding: dict[str, tuple[str, tuple[int, int, int, int]]] = field(default_factory=dict)  # ZeroPadding2D
    consumers: Counter = field(default_factory=Counter)
    shapes: dict[str, tuple[int, int, int]] = field(default_factory=dict)  # FloatNet tensor -> (H, W, C)


def load_keras_h5(path: str | Path) -> FloatNet:
    """The Keras model at `path` as a FloatNet whose input is the model's float input (NHWC)."""
    import h5py  # a pinned dependency; imported here so the rest of the package does not need it

    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise ModelFormatError(f"{path} is not an HDF5 (.h5) file: {e}") from e
    with f:
        if "model_config" not in f.attrs or "model_weights" not in f:
            raise ModelFormatError(f"{path} is not a Keras model file (no model_config / model_weights)")
        try:
            config = json.loads(f.attrs["model_config"])
            walk = _Walk(f["model_weights"])
            _count_consumers(config, walk.consumers)
            outputs = _model(config, walk, [], None)
        except ModelFormatError:
            raise
        except (KeyError, ValueError, TypeError, IndexError) as e:  # a layout this reader does not know
            raise ModelFormatError(f"{path}: unexpected Keras model layout ({type(e).__name__}: {e})") from e
    if len(outputs) != 1:
        raise ModelFormatError(f"{path}: expected one output, got {len(outputs)}")
    shape = walk.shapes[INPUT]
    return FloatNet(INPUT, shape, walk.layers, outputs[0])


def _model(config: dict, walk: _Walk, scope: list[str], outer_input: str | None) -> list[str]:
    """Converts a functional model's layers; returns its output tensors."""
    if config.get("class_name") not in ("Functional", "Model"):
        raise ModelFormatError(f"unsupported Keras model class {config.get('class_name')!r} (need a functional model)")
    for layer in config["config"]["layers"]:
        _layer(layer, walk, scope, outer_input)
    outputs = config["config"]["output_layers"]
    if outputs and isinstance(outputs[0], str):  # Keras 3 writes a single output unnested
        outputs = [outputs]
    return [walk.tensor[out[0]] for out in outputs]


def _inbound(layer: dict) -> list[str]:
    """Names of the layers whose outputs feed `layer` (Keras 3 or Keras 2 node format)."""
    nodes = layer.get("inbound_nodes") or []
    if not nodes:
        return []
    node = nodes[0]
    if isinstance(node, dict):  # Keras 3: {"args": [tensor or [tensors]], ...}
        args = node["args"][0]
        tensors = args if isinstance(args, list) else [args]
        return [t["config"]["keras_history"][0] for t in tensors]
    return [entry[0] for entry in node]  # Keras 2: [["name", node, tensor, {}], ...]


def _count_consumers(config: dict, counts: Counter) -> None:
    for layer in config["config"]["layers"]:
        for name in _inbound(layer):
            counts[name] += 1
        if layer["class_name"] in ("Functional", "Model"):
            _count_consumers(layer, counts)


def _datasets(group) -> dict[str, np.ndarray]:
    """Every dataset under `group`, by base name without Keras 2's ':0' suffix."""
    found: dict[str, np.ndarray] = {}

    def visit(name: str, obj) -> None:  # h5py stops visiting at the first non-None return
        if hasattr(obj, "shape"):
            found.setdefault(name.rsplit("/", 1)[-1].split(":")[0], obj[()])

    group.visititems(visit)
    return found


def _weights(walk: _Walk, scope: list[str], name: str) -> dict[str, np.ndarray]:
    group = walk.weights
    for part in [*scope, name]:
        if part not in group:
            raise ModelFormatError(f"layer {name!r}: no weights in the file")
        group = group[part]
    return _datasets(group)


def _only_consumer(walk: _Walk, producer: str, name: str, what: str) -> None:
    if walk.consumers[producer] != 1:
        raise ModelFormatError(f"layer {name!r}: {what} of {producer!r}, which also feeds other layers: cannot fold")


def _layer(layer: dict, walk: _Walk, scope: list[str], outer_input: str | None) -> None:
    kind, cfg = layer["class_name"], layer["config"]
    name = cfg["name"]
    inbound = _inbound(layer)
    sources = [walk.tensor[i] for i in inbound if i in walk.tensor]
    if kind == "InputLayer":
        if outer_input is not None:  # a nested model's input is its caller's tensor
            walk.tensor[name] = outer_input
            return
        shape = cfg.get("batch_shape") or cfg.get("batch_input_shape")
        if not shape or len(shape) != 4 or None in shape[1:]:
            raise ModelFormatError(f"input {name!r} must have a fixed (H, W, C) shape, got {shape}")
        walk.tensor[name], walk.shapes[INPUT] = INPUT, tuple(shape[1:])
    elif kind in ("Functional", "Model"):
        (outer,) = sources
        (out,) = _model(layer, walk, [*scope, name], outer)
        walk.tensor[name] = out
    elif kind == "ZeroPadding2D":
        (source,) = sources
        (top, bottom), (left, right) = cfg["padding"]
        if walk.consumers[name] != 1:  # merged into one convolution: nothing else may read it
            raise ModelFormatError(f"layer {name!r}: padding that feeds {walk.consumers[name]} layers cannot be merged "
                                   "into one convolution")
        walk.padding[name] = (source, (top, left, bottom, right))
    elif kind in ("Conv2D", "DepthwiseConv2D"):
        _conv(layer, walk, scope, inbound[0])
    elif kind == "BatchNormalization":
        (source,) = sources
        _only_consumer(walk, inbound[0], name, "batch norm")
        producer = _producer(walk, source, name)
        w = _weights(walk, scope, name)
        eps = float(cfg.get("epsilon", 1e-3))
        gamma = w.get("gamma", np.ones_like(w["moving_mean"]))
        factor = gamma / np.sqrt(w["moving_variance"] + eps)
        producer.weight = producer.weight * factor.reshape((-1,) + (1,) * (producer.weight.ndim - 1))
        producer.bias = (producer.bias - w["moving_mean"]) * factor + w.get("beta", 0.0)
        walk.tensor[name] = source
    elif kind in ("ReLU", "Activation"):
        (source,) = sources
        relu6 = (kind == "ReLU" and float(cfg.get("max_value") or 0) == 6.0 and not cfg.get("negative_slope")
                 and not cfg.get("threshold")) or (kind == "Activation" and cfg.get("activation") == "relu6")
        if not relu6:
            raise ModelFormatError(f"layer {name!r}: only ReLU6 activations are supported")
        _only_consumer(walk, inbound[0], name, "activation")
        _producer(walk, source, name).activation = "relu6"
        walk.tensor[name] = source
    elif kind == "Add":
        if len(sources) != 2:
            raise ModelFormatError(f"layer {name!r}: Add of {len(sources)} tensors (need 2)")
        _append(walk, FloatLayer("add", sources, name), walk.shapes[sources[0]])
    elif kind == "GlobalAveragePooling2D":
        (source,) = sources
        _append(walk, FloatLayer("global_avg_pool", [source], name), (1, 1, walk.shapes[source][2]))
    elif kind == "Dropout":
        walk.tensor[name] = sources[0]
    elif kind == "Dense":
        (source,) = sources
        if cfg.get("activation") not in ("linear", "softmax"):
            raise ModelFormatError(f"layer {name!r}: Dense activation {cfg.get('activation')!r} is not supported")
        w = _weights(walk, scope, name)
        bias = w.get("bias", np.zeros(w["kernel"].shape[1]))
        _append(walk, FloatLayer("fully_connected", [source], name, weight=w["kernel"].T.astype(np.float64),
                                 bias=bias.astype(np.float64)), (1, 1, w["kernel"].shape[1]))
    else:
        raise ModelFormatError(f"layer {name!r}: unsupported Keras layer {kind}")


def _producer(walk: _Walk, tensor: str, name: str) -> FloatLayer:
    layer = next((l for l in walk.layers if l.output == tensor), None)
    if layer is None or layer.op not in ("conv2d", "fully_connected"):
        raise ModelFormatError(f"layer {name!r} must follow a convolution or dense layer")
    return layer


def _append(walk: _Walk, layer: FloatLayer, shape: tuple[int, int, int]) -> None:
    walk.layers.append(layer)
    walk.tensor[layer.output] = layer.output
    walk.shapes[layer.output] = shape


def _conv(layer: dict, walk: _Walk, scope: list[str], source_layer: str) -> None:
    cfg, depthwise = layer["config"], layer["class_name"] == "DepthwiseConv2D"
    name = cfg["name"]
    if cfg.get("data_format", "channels_last") != "channels_last" or tuple(cfg.get("dilation_rate", (1, 1))) != (1, 1):
        raise ModelFormatError(f"layer {name!r}: only channels_last, undilated convolutions are supported")
    (sh, sw), (kh, kw) = cfg["strides"], cfg["kernel_size"]
    if sh != sw:
        raise ModelFormatError(f"layer {name!r}: strides {cfg['strides']} differ")
    if source_layer in walk.padding:
        source, pad = walk.padding[source_layer]
        if cfg["padding"] != "valid":
            raise ModelFormatError(f"layer {name!r}: ZeroPadding2D before a '{cfg['padding']}' convolution")
    else:
        source, pad = walk.tensor[source_layer], (0, 0, 0, 0)
        if cfg["padding"] == "same":
            h, w, _ = walk.shapes[source]
            (top, bottom), (left, right) = same_padding(h, kh, sh), same_padding(w, kw, sw)
            pad = (top, left, bottom, right)
    h, w, c_in = walk.shapes[source]
    weights = _weights(walk, scope, name)
    if depthwise:
        if cfg.get("depth_multiplier", 1) != 1:
            raise ModelFormatError(f"layer {name!r}: depth_multiplier must be 1")
        kernel = weights.get("depthwise_kernel", weights.get("kernel"))  # (kh, kw, C, 1)
        weight, groups, c_out = kernel.transpose(2, 0, 1, 3), c_in, c_in
    else:
        if cfg.get("groups", 1) != 1:
            raise ModelFormatError(f"layer {name!r}: grouped convolutions are not supported")
        kernel = weights["kernel"]  # (kh, kw, C_in, C_out)
        weight, groups, c_out = kernel.transpose(3, 0, 1, 2), 1, kernel.shape[3]
    bias = weights.get("bias", np.zeros(c_out))
    if cfg.get("activation", "linear") != "linear":
        raise ModelFormatError(f"layer {name!r}: fused activation {cfg['activation']!r} is not supported")
    out_h = (h + pad[0] + pad[2] - kh) // sh + 1
    out_w = (w + pad[1] + pad[3] - kw) // sw + 1
    _append(walk, FloatLayer("conv2d", [source], name, "none", sh, pad, groups, weight.astype(np.float64),
                             bias.astype(np.float64)), (out_h, out_w, c_out))


def import_keras(path: str | Path, calibration: np.ndarray, input_range: str = "-1..1", name: str | None = None):
    """The Keras model at `path`, quantized by the project's post-training quantizer, calibrated
    on uint8 images (N, H, W, C) read with `input_range`."""
    from .quantize import quantize

    net = load_keras_h5(path)
    scale, zero_point = INPUT_RANGES[input_range]
    if calibration.shape[1:] != net.input_shape:
        raise ModelFormatError(f"calibration images have shape {calibration.shape[1:]}, the model takes {net.input_shape}")
    return quantize(net, calibration, scale, name or Path(path).stem, input_zero_point=zero_point)
