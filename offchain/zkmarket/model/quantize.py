"""Post-training quantization of a `FloatNet` into a `QModel`.

int8 symmetric per-output-channel weights, uint8 activations (ReLU6 outputs fixed to scale
6/255 and zero point 0, linear outputs min/max-calibrated), int32 biases at scale s_in * s_w,
and the smallest lookup table that holds every calibration requantized value with margin.
"""

from __future__ import annotations

import numpy as np

from . import reference
from .floatnet import FloatNet, forward
from .qmodel import (
    RELU6_SCALE,
    Add,
    Conv2d,
    FullyConnected,
    GlobalAvgPool,
    InputSpec,
    Layer,
    QModel,
    TensorSpec,
    validate,
)
from .scales import add_multipliers, conv_multipliers, f32, gap_multiplier

RESCALE_BITS = 16
MAX_LOOKUP_BITS = 16
MARGIN = 2  # calibration |q| times this must fit the lookup range: one bit of headroom
INT32_MAX = 2**31 - 1


def quantize(net: FloatNet, calibration: np.ndarray, input_scale: float, name: str,
             input_zero_point: int = 0) -> QModel:
    """Quantize `net` using uint8 calibration images (N, H, W, C) whose pixel p means
    (p - input_zero_point) * input_scale."""
    calibration = np.asarray(calibration, dtype=np.int64)  # uint8 arithmetic would wrap below the zero point
    float_tensors = forward(net, (calibration - input_zero_point) * input_scale).tensors
    specs = {net.input_name: TensorSpec(net.input_name, f32(input_scale), input_zero_point)}
    layers: list[Layer] = []
    for fl in net.layers:
        out = _output_spec(fl.output, fl.activation, float_tensors[fl.output])
        s_in = specs[fl.inputs[0]].scale
        if fl.op == "add":
            m = add_multipliers(s_in, specs[fl.inputs[1]].scale, out.scale, RESCALE_BITS)
            layers.append(Add((fl.inputs[0], fl.inputs[1]), m, out, fl.activation))
        elif fl.op == "global_avg_pool":
            h, w = float_tensors[fl.inputs[0]].shape[1:3]
            m = gap_multiplier(s_in, h * w, out.scale, RESCALE_BITS)
            layers.append(GlobalAvgPool(fl.inputs[0], m, out, fl.activation))
        else:
            # Per channel: int8 weights, and an int32 bias even where trained weights are ~0 (a
            # channel a batch norm switched off) but the bias is not.
            s_w = np.maximum(np.abs(fl.weight).reshape(len(fl.weight), -1).max(axis=1) / 127,
                             np.abs(fl.bias) / (s_in * INT32_MAX))
            s_w[s_w == 0] = 1.0
            w_shape = (-1,) + (1,) * (fl.weight.ndim - 1)
            weights = np.clip(np.round(fl.weight / s_w.reshape(w_shape)), -127, 127).astype(np.int64)
            bias = np.round(fl.bias / (s_in * s_w)).astype(np.int64)
            m = np.array(conv_multipliers(s_in, s_w, out.scale, RESCALE_BITS), dtype=np.int64)
            if fl.op == "conv2d":
                kernel = (fl.weight.shape[1], fl.weight.shape[2])
                layers.append(Conv2d(fl.inputs[0], kernel, fl.stride, fl.padding, fl.groups, len(weights),
                                     weights, bias, m, out, fl.activation))
            else:
                layers.append(FullyConnected(fl.inputs[0], len(weights), weights, bias, m, out, fl.activation))
        specs[out.name] = out
    model_input = InputSpec(net.input_name, specs[net.input_name].scale, input_zero_point, net.input_shape)
    model = QModel(name, RESCALE_BITS, MAX_LOOKUP_BITS, model_input, layers, net.output)
    model.lookup_bits = choose_lookup_bits(max_abs_q(model, calibration))
    return validate(model)


def _output_spec(name: str, activation: str, values: np.ndarray) -> TensorSpec:
    """ReLU6: fixed 6/255, zero point 0. Linear: asymmetric min/max range that includes 0."""
    if activation == "relu6":
        return TensorSpec(name, f32(RELU6_SCALE), 0)
    lo, hi = min(float(values.min()), 0.0), max(float(values.max()), 0.0)
    scale = f32((hi - lo or 1.0) / 255)  # an all-zero tensor still needs a positive scale
    return TensorSpec(name, scale, int(np.clip(round(-lo / scale), 0, 255)))


def max_abs_q(model: QModel, xs: np.ndarray) -> int:
    """The smallest h with every requantized q of the batch inside [-h, h)."""
    qs = reference.run(model, xs).requantized.values()
    return reference.lookup_bound((int(q.min()), int(q.max())) for q in qs)


def choose_lookup_bits(bound: int) -> int:
    """Smallest L in 10..16 whose lookup range holds [-MARGIN * bound, MARGIN * bound)."""
    bits = reference.lookup_bits_for(MARGIN * bound)
    if bits > MAX_LOOKUP_BITS:
        raise ValueError(f"requantized values up to {bound} need more than {MAX_LOOKUP_BITS} lookup bits")
    return bits
