"""MobileNet v2 (Sandler et al., 2018) as a `FloatNet`, and its post-training quantization.

The layer list, channel rounding (`make_divisible`), ReLU6, linear bottlenecks and residual adds
follow the reference implementations (Keras `MobileNetV2`, torchvision `mobilenet_v2`), batch
norms folded into the conv biases. Padding is TensorFlow's "same" (a stride-2 layer on an even
input pads one row and column at the bottom and right only), as Keras weights expect.

A model built here from a seed is a *benchmark model*: the real architecture, sizes and costs,
with random weights and so meaningless predictions; its name says so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .floatnet import FloatLayer, FloatNet, forward
from .qmodel import QModel
from .quantize import quantize

# (expansion t, output channels c, repeats n, first stride s) of the inverted residual blocks.
BLOCKS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1))
PAPER_CONFIGS = ((0.35, 96), (0.5, 224), (0.75, 192), (1.0, 224))  # (width multiplier, resolution)
INPUT_SCALE = 1 / 255  # the quantized input: pixel p in 0..255 stands for p / 255
CALIBRATION_IMAGES = 4


def make_divisible(value: float, divisor: int = 8) -> int:
    """Channels rounded to a multiple of `divisor`, never more than 10% below `value` (reference)."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


def same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow "same" padding (before, after) along one axis."""
    total = max((math.ceil(size / stride) - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


@dataclass(frozen=True)
class Costs:
    """What a proof of the network has to cover."""

    parameters: int  # weights and biases
    macs: int  # multiply-accumulates of convolutions and the classifier
    activations: int  # values of every tensor after the input


def mobilenet_v2(alpha: float, resolution: int, classes: int = 1000, seed: int = 0) -> FloatNet:
    """The MobileNet v2 of width multiplier `alpha` on `resolution`^2 x 3 inputs, He-normal weights
    drawn from `seed` (linear layers scaled down so the residual stream stays bounded)."""
    if alpha <= 0 or resolution < 32 or classes < 2:
        raise ValueError(f"need alpha > 0, resolution >= 32 and classes >= 2, got {alpha}, {resolution}, {classes}")
    rng = np.random.default_rng(seed)
    layers: list[FloatLayer] = []
    size = resolution

    def conv(inp: str, out: str, c_in: int, c_out: int, kernel: int, stride: int, depthwise: bool,
             activation: str) -> str:
        nonlocal size
        fan_in = kernel * kernel * (1 if depthwise else c_in)
        gain = 2.0 if activation == "relu6" else 0.5
        weight = rng.normal(0.0, math.sqrt(gain / fan_in), (c_out, kernel, kernel, 1 if depthwise else c_in))
        before, after = same_padding(size, kernel, stride)
        layers.append(FloatLayer("conv2d", [inp], out, activation, stride, (before, before, after, after),
                                 c_in if depthwise else 1, weight, rng.normal(0.0, 0.01, c_out)))
        size = math.ceil(size / stride)
        return out

    first = make_divisible(32 * alpha)
    x, c_in = conv("input", "conv1", 3, first, 3, 2, False, "relu6"), first
    block = 0
    for t, c, n, s in BLOCKS:
        c_out = make_divisible(int(c * alpha))
        for i in range(n):
            stride, name, block_input = (s if i == 0 else 1), f"block{block}", x
            if t != 1:
                x = conv(x, f"{name}_expand", c_in, c_in * t, 1, 1, False, "relu6")
            x = conv(x, f"{name}_depthwise", c_in * t, c_in * t, 3, stride, True, "relu6")
            x = conv(x, f"{name}_project", c_in * t, c_out, 1, 1, False, "none")
            if stride == 1 and c_in == c_out:
                layers.append(FloatLayer("add", [block_input, x], f"{name}_add"))
                x = f"{name}_add"
            c_in, block = c_out, block + 1
    last = make_divisible(1280 * alpha) if alpha > 1.0 else 1280
    x = conv(x, "conv_last", c_in, last, 1, 1, False, "relu6")
    layers.append(FloatLayer("global_avg_pool", [x], "pool"))
    layers.append(FloatLayer("fully_connected", ["pool"], "logits",
                             weight=rng.normal(0.0, math.sqrt(1.0 / last), (classes, last)),
                             bias=np.zeros(classes)))
    return FloatNet("input", (resolution, resolution, 3), layers, "logits")


def costs(net: FloatNet) -> Costs:
    """Parameters, multiply-accumulates and activation count of `net` (shapes from one forward)."""
    shapes = {k: v.shape[1:] for k, v in forward(net, np.zeros((1, *net.input_shape))).tensors.items()}
    macs = 0
    for layer in net.layers:
        if layer.op == "conv2d":
            h, w, _ = shapes[layer.output]
            macs += h * w * layer.weight.size
        elif layer.op == "fully_connected":
            macs += layer.weight.size
    activations = sum(int(np.prod(s)) for name, s in shapes.items() if name != net.input_name)
    return Costs(net.parameter_count(), macs, activations)


def benchmark_model(alpha: float, resolution: int, classes: int = 1000, seed: int = 0) -> QModel:
    """The seeded MobileNet v2 quantized by the project's post-training quantizer, calibrated on
    seeded random images; named as a benchmark model with random weights."""
    net = mobilenet_v2(alpha, resolution, classes, seed)
    calibration = np.random.default_rng(seed + 1).integers(0, 256, (CALIBRATION_IMAGES, resolution, resolution, 3))
    name = f"mobilenet-v2-{alpha:g}-{resolution} (benchmark model: random weights, seed {seed}, {classes} classes)"
    return quantize(net, calibration, INPUT_SCALE, name)
