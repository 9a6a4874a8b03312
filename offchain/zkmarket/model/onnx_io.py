"""ONNX import and export of quantized models.

Sellers bring models from standard toolchains: `from_onnx` converts QDQ graphs
(QuantizeLinear / DequantizeLinear around float ops) and QOperator graphs (QLinearConv,
QLinearMatMul, QGemm, QLinearAdd, QLinearGlobalAveragePool) into our format. `to_onnx` and
`float_to_onnx` export our models so standard runtimes (onnxruntime) can cross-check them.

ONNX tensors are NCHW; the exported graph input is the real-valued image as float NCHW
(`x_real = (x_uint8 - zero_point) * scale`, transposed HWC -> CHW), and the model input of a
converted graph is the uint8 HWC quantization of that tensor. Conv weights are reordered from
[O, C, kh, kw] to [O, kh, kw, C] and fully-connected weights from CHW to HWC input order.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from .floatnet import FloatNet, forward
from .qmodel import (
    RELU6_SCALE,
    Add,
    Conv2d,
    FullyConnected,
    GlobalAvgPool,
    InputSpec,
    Layer,
    ModelFormatError,
    QModel,
    Shape,
    TensorSpec,
    output_shape,
    tensor_shapes,
    validate,
)
from .reference import lookup_bits_for, lookup_bound, worst_case_q_range
from .scales import add_multipliers, conv_multipliers, f32, gap_multiplier

OPSET = 13
MS_DOMAIN = "com.microsoft"


# ---------------------------------------------------------------- export


class _Graph:
    """Collects nodes and (deduplicated) initializers of the graph being exported."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: dict[str, TensorProto] = {}

    def const(self, name: str, value: np.ndarray) -> str:
        self.initializers.setdefault(name, numpy_helper.from_array(np.asarray(value), name))
        return name

    def node(self, op: str, inputs: list[str], output: str, **attrs: object) -> str:
        self.nodes.append(helper.make_node(op, inputs, [output], name=output, **attrs))
        return output

    def model(self, name: str, input_name: str, input_shape: Shape, output: str, output_shape: Shape,
              output_is_flat: bool) -> onnx.ModelProto:
        """The finished graph; the output is 2-D [1, C] after a fully-connected layer, else NCHW."""
        h, w, c = input_shape
        out_h, out_w, out_c = output_shape
        graph = helper.make_graph(
            self.nodes, name,
            [helper.make_tensor_value_info(input_name, TensorProto.FLOAT, [1, c, h, w])],
            [helper.make_tensor_value_info(output, TensorProto.FLOAT,
                                           [1, out_c] if output_is_flat else [1, out_c, out_h, out_w])],
            list(self.initializers.values()),
        )
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
        onnx.checker.check_model(model, full_check=True)
        return model


def _float_layer(g: _Graph, op: str, inputs: list[str], result: str, activation: str, weight: str = "",
                 bias: str = "", conv: dict[str, object] | None = None) -> str:
    """Float nodes of one layer (op, then Relu / Clip(0, 6)); the last node writes `result`."""
    pre = result if activation == "none" else f"{result}/pre"
    if op == "conv2d":
        g.node("Conv", [inputs[0], weight, bias], pre, **(conv or {}))
    elif op == "fully_connected":
        flat = g.node("Flatten", inputs, f"{result}/flat", axis=1)
        g.node("Gemm", [flat, weight, bias], pre, transB=1)
    elif op == "add":
        g.node("Add", inputs, pre)
    else:
        g.node("GlobalAveragePool", inputs, pre)
    if activation == "relu6":
        zero, six = g.const("zero", np.float32(0)), g.const("six", np.float32(6))
        g.node("Clip", [pre, zero, six], result)
    elif activation == "relu":
        g.node("Relu", [pre], result)
    return result


def _conv_attrs(kernel: tuple[int, int], stride: int, padding: tuple[int, ...], groups: int) -> dict[str, object]:
    return {"kernel_shape": list(kernel), "strides": [stride, stride], "pads": list(padding), "group": groups}


def _onnx_weight(weight: np.ndarray, input_shape: Shape) -> np.ndarray:
    """Our weight layout -> ONNX: conv [O,kh,kw,C] -> [O,C,kh,kw]; fc HWC input order -> CHW."""
    if weight.ndim == 4:
        return weight.transpose(0, 3, 1, 2)
    h, w, c = input_shape
    return weight.reshape(len(weight), h, w, c).transpose(0, 3, 1, 2).reshape(len(weight), -1)


def float_to_onnx(net: FloatNet, name: str) -> onnx.ModelProto:
    """The float network as an ONNX graph (NCHW float input), e.g. for onnxruntime quantization."""
    shapes = {k: v.shape[1:] for k, v in forward(net, np.zeros((1, *net.input_shape))).tensors.items()}
    g = _Graph()
    for layer in net.layers:
        weight = bias = ""
        conv = None
        if layer.weight is not None:
            w = _onnx_weight(layer.weight, shapes[layer.inputs[0]]).astype(np.float32)
            weight = g.const(f"{layer.output}/w", w)
            bias = g.const(f"{layer.output}/b", layer.bias.astype(np.float32))
            if layer.op == "conv2d":
                conv = _conv_attrs(layer.weight.shape[1:3], layer.stride, layer.padding, layer.groups)
        _float_layer(g, layer.op, layer.inputs, layer.output, layer.activation, weight, bias, conv)
    return g.model(name, net.input_name, net.input_shape, net.output, shapes[net.output],
                   net.layers[-1].op == "fully_connected")


def to_onnx(model: QModel) -> onnx.ModelProto:
    """The quantized model as an ONNX QDQ graph with float NCHW input and dequantized logits output.

    Weight scales are derived from the multipliers (s_w = m * s_out / (s_in * B)), so converting
    the export back with `from_onnx` reproduces every conv / fully-connected multiplier exactly.
    Add and average-pool multipliers are recomputed from the float32 activation scales, which
    reproduces them exactly when they were derived from those scales with `scales` (as
    `quantize` does); a hand-picked multiplier may come back off by the float rounding.
    """
    g = _Graph()
    shapes = tensor_shapes(model)
    specs: dict[str, TensorSpec] = {model.input.name: model.input}
    flat: set[str] = set()  # outputs of fully-connected layers: 2-D in ONNX

    def quantize(real: str, spec: TensorSpec, q_name: str) -> None:
        scale = g.const(f"{spec.name}/scale", np.float32(spec.scale))
        zp = g.const(f"{spec.name}/zero_point", np.uint8(spec.zero_point))
        g.node("QuantizeLinear", [real, scale, zp], q_name)
        g.node("DequantizeLinear", [q_name, scale, zp], f"{spec.name}/real")

    quantize(model.input.name, model.input, f"{model.input.name}/q")
    for layer in model.layers:
        out = layer.output
        inputs = list(layer.inputs) if isinstance(layer, Add) else [layer.input]
        flat_inputs = [name in flat for name in inputs]
        if any(flat_inputs) and not (isinstance(layer, FullyConnected) or all(flat_inputs)):
            raise ModelFormatError(f"layer {out.name!r}: ONNX export cannot mix fully-connected (2-D) outputs "
                                   "with spatial tensors")
        weight = bias = ""
        conv = None
        if isinstance(layer, (Conv2d, FullyConnected)):
            s_in = specs[layer.input].scale
            s_w = (layer.multiplier * out.scale / (s_in * 2**model.rescale_bits)).astype(np.float32)
            w = _onnx_weight(layer.weights, shapes[layer.input]).astype(np.int8)
            weight = _dequantized_const(g, f"{out.name}/w", w, s_w, np.zeros(len(w), np.int8))
            s_b = (s_in * s_w.astype(np.float64)).astype(np.float32)
            bias = _dequantized_const(g, f"{out.name}/b", layer.bias.astype(np.int32), s_b, np.zeros(len(w), np.int32))
            if isinstance(layer, Conv2d):
                conv = _conv_attrs(layer.kernel, layer.stride, layer.padding, layer.groups)
        if isinstance(layer, FullyConnected) or all(flat_inputs):
            flat.add(out.name)
        real_inputs = [f"{name}/real" for name in inputs]
        result = _float_layer(g, layer.op, real_inputs, f"{out.name}/float", layer.activation, weight, bias, conv)
        quantize(result, out, out.name)
        specs[out.name] = out
    return g.model(model.name, model.input.name, model.input.shape, f"{model.output}/real", shapes[model.output],
                   model.output in flat)


def _dequantized_const(g: _Graph, name: str, values: np.ndarray, scale: np.ndarray, zp: np.ndarray) -> str:
    g.const(name, values)
    return g.node("DequantizeLinear", [name, g.const(f"{name}_scale", scale), g.const(f"{name}_zero_point", zp)],
                  f"{name}/real", axis=0)


# ---------------------------------------------------------------- import


@dataclass
class _QuantConst:
    """A quantized initializer: integer values and (per-axis) scale and zero point."""

    values: np.ndarray
    scale: np.ndarray
    zero_point: np.ndarray
    axis: int


@dataclass
class _Pending:
    """A float op whose QuantizeLinear (which supplies the output scale) is still to come."""

    build: Callable[[TensorSpec, str], Layer]
    activation: tuple[float, float] | None = None  # fused Relu / Clip bounds


def from_onnx(source: str | Path | onnx.ModelProto, name: str | None = None, rescale_bits: int = 16,
              lookup_bits: int | None = None) -> QModel:
    """Convert a QDQ or QOperator ONNX model (uint8 or int8 activations, int8 symmetric weights).

    Multipliers are round(real * 2^rescale_bits). `lookup_bits` defaults to the smallest table
    (at least 10 bits) holding the worst-case requantized values of every possible input.
    Raises `ModelFormatError` for ops or quantization schemes the format cannot express.
    """
    model = source if isinstance(source, onnx.ModelProto) else onnx.load(str(source))
    converter = _Converter(model.graph, rescale_bits)
    for node in model.graph.node:
        converter.convert(node)
    qmodel = converter.finish(name or model.graph.name or "onnx-model")
    if lookup_bits is None:
        lookup_bits = lookup_bits_for(lookup_bound(worst_case_q_range(qmodel).values()))
    qmodel.lookup_bits = lookup_bits
    return validate(qmodel)


class _Converter:
    """Walks the (topologically sorted) ONNX nodes, tracking which ONNX tensor is which of ours."""

    def __init__(self, graph: onnx.GraphProto, rescale_bits: int) -> None:
        self.bits = rescale_bits
        self.graph_inputs = {i.name: i for i in graph.input}
        self.consts = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
        self.quant_consts: dict[str, _QuantConst] = {}
        self.quantized: dict[str, str] = {}  # integer ONNX activation -> our tensor
        self.dequantized: dict[str, str] = {}  # float ONNX activation that equals a dequantized tensor of ours
        self.pending: dict[str, _Pending] = {}
        self.specs: dict[str, TensorSpec] = {}
        self.shapes: dict[str, Shape] = {}
        self.layers: list[Layer] = []
        self.input: InputSpec | None = None
        self.outputs = [o.name for o in graph.output]

    def convert(self, node: onnx.NodeProto) -> None:
        handler = self.HANDLERS.get((node.domain or "", node.op_type))
        if handler is None:
            raise ModelFormatError(f"ONNX node {node.name!r}: unsupported op {node.domain or 'ai.onnx'}.{node.op_type}")
        handler(self, node, list(node.input), _attributes(node))

    def finish(self, name: str) -> QModel:
        if self.input is None or not self.layers:
            raise ModelFormatError("ONNX graph: no quantized input or no quantized layer found")
        if len(self.outputs) != 1:
            raise ModelFormatError(f"ONNX graph: expected one output, got {self.outputs}")
        out = self.outputs[0]
        ours = self.quantized.get(out) or self.dequantized.get(out)
        if ours != self.layers[-1].output.name:
            raise ModelFormatError(f"ONNX graph output {out!r} must be the (de)quantized result of the last layer")
        return QModel(name, self.bits, 16, self.input, self.layers, ours)

    # -- tensors

    def _const(self, name: str) -> np.ndarray:
        if name not in self.consts:
            raise ModelFormatError(f"ONNX tensor {name!r}: expected a constant (initializer)")
        return self.consts[name]

    def _activation_params(self, scale: str, zero_point: str) -> tuple[float, int]:
        """(scale, uint8 zero point); int8 activations are shifted by 128 (exactly equivalent)."""
        s, z = self._const(scale), self._const(zero_point)
        if s.size != 1 or z.size != 1:
            raise ModelFormatError(f"ONNX tensor {scale!r}: activations need per-tensor quantization")
        if z.dtype not in (np.uint8, np.int8):
            raise ModelFormatError(f"ONNX tensor {zero_point!r}: activations must be uint8 or int8, got {z.dtype}")
        return float(s), int(z) + (128 if z.dtype == np.int8 else 0)

    def _input(self, name: str, scale: str, zero_point: str) -> str:
        """Our tensor behind a quantized ONNX activation, checking the op reads it with its own parameters."""
        if name not in self.quantized:
            raise ModelFormatError(f"ONNX tensor {name!r}: expected a quantized activation")
        ours = self.quantized[name]
        s, z = self._activation_params(scale, zero_point)
        if (f32(s), z) != (f32(self.specs[ours].scale), self.specs[ours].zero_point):
            raise ModelFormatError(f"ONNX tensor {name!r}: read with scale/zero point {s}/{z}, "
                                   f"written with {self.specs[ours].scale}/{self.specs[ours].zero_point}")
        return ours

    def _real(self, name: str) -> str:
        if name not in self.dequantized:
            raise ModelFormatError(f"ONNX tensor {name!r}: expected the DequantizeLinear of a quantized activation")
        return self.dequantized[name]

    def _weights(self, values: np.ndarray, scale: np.ndarray, zero_point: np.ndarray, axis: int, out_axis: int,
                 where: str) -> tuple[np.ndarray, np.ndarray]:
        """int8 symmetric weights and their per-output-channel scales (a per-tensor scale is broadcast)."""
        if values.dtype != np.int8:
            raise ModelFormatError(f"{where}: weights must be int8, got {values.dtype}")
        if np.any(zero_point != 0):
            raise ModelFormatError(f"{where}: weights must be symmetric (zero point 0)")
        n_out = values.shape[out_axis]
        if scale.size != 1 and (axis % values.ndim != out_axis or scale.size != n_out):
            raise ModelFormatError(f"{where}: weight scales must be per tensor or per output channel")
        return values.astype(np.int64), np.broadcast_to(scale.astype(np.float64).reshape(-1), (n_out,))

    def _quant_const(self, name: str, out_axis: int, where: str) -> tuple[np.ndarray, np.ndarray]:
        if name not in self.quant_consts:
            raise ModelFormatError(f"{where}: weights {name!r} must be a DequantizeLinear of an int8 initializer")
        c = self.quant_consts[name]
        return self._weights(c.values, c.scale, c.zero_point, c.axis, out_axis, where)

    def _bias(self, name: str | None, s_in: float, s_w: np.ndarray, where: str) -> np.ndarray:
        """int32 bias at scale s_in * s_w (QDQ: DequantizeLinear checked to have that scale)."""
        if not name:
            return np.zeros(len(s_w), dtype=np.int64)
        if name in self.quant_consts:
            c = self.quant_consts[name]
            if not np.allclose(c.scale.astype(np.float64), s_in * s_w, rtol=1e-5, atol=0) or np.any(c.zero_point):
                raise ModelFormatError(f"{where}: bias must be quantized with scale input_scale * weight_scale")
            values = c.values
        else:
            values = self._const(name)
        if values.dtype != np.int32 or values.shape != s_w.shape:
            raise ModelFormatError(f"{where}: bias must be int32 of shape {s_w.shape}, "
                                   f"got {values.dtype} {values.shape}")
        return values.astype(np.int64)

    # -- layers

    def _add_layer(self, layer: Layer) -> str:
        self.shapes[layer.output.name] = output_shape(layer, self.shapes)
        self.specs[layer.output.name] = layer.output
        self.layers.append(layer)
        return layer.output.name

    def _conv(self, x: str, w: np.ndarray, s_w: np.ndarray, bias: np.ndarray, attrs: dict, where: str
              ) -> Callable[[TensorSpec, str], Layer]:
        strides = attrs.get("strides", [1, 1])
        explicit_pads = attrs.get("auto_pad", b"NOTSET") in (b"NOTSET", b"VALID")
        if not explicit_pads or any(d != 1 for d in attrs.get("dilations", [1, 1])):
            raise ModelFormatError(f"{where}: only explicit pads and dilation 1 are supported")
        if w.ndim != 4 or len(strides) != 2 or strides[0] != strides[1]:
            raise ModelFormatError(f"{where}: only 2-D convs with equal strides are supported")
        pads = attrs.get("pads", [0, 0, 0, 0])
        s_in = self.specs[x].scale

        def build(out: TensorSpec, activation: str) -> Layer:
            m = np.array(conv_multipliers(s_in, s_w, out.scale, self.bits), dtype=np.int64)
            kernel = (w.shape[2], w.shape[3])
            return Conv2d(x, kernel, strides[0], tuple(pads), attrs.get("group", 1), len(w), w.transpose(0, 2, 3, 1),
                          bias, m, out, activation)

        return build

    def _fc(self, x: str, w: np.ndarray, s_w: np.ndarray, bias: np.ndarray, where: str
            ) -> Callable[[TensorSpec, str], Layer]:
        """`w` is [O, I] over the CHW-flattened input; reorder to our HWC flattening."""
        h, wd, c = self.shapes[x]
        if w.shape[1] != h * wd * c:
            raise ModelFormatError(f"{where}: {w.shape[1]} weight columns for a {h}x{wd}x{c} input")
        w_hwc = w.reshape(len(w), c, h, wd).transpose(0, 2, 3, 1).reshape(len(w), -1)
        s_in = self.specs[x].scale

        def build(out: TensorSpec, activation: str) -> Layer:
            m = np.array(conv_multipliers(s_in, s_w, out.scale, self.bits), dtype=np.int64)
            return FullyConnected(x, len(w), w_hwc, bias, m, out, activation)

        return build

    def _add(self, a: str, b: str) -> Callable[[TensorSpec, str], Layer]:
        s_a, s_b = self.specs[a].scale, self.specs[b].scale
        return lambda out, act: Add((a, b), add_multipliers(s_a, s_b, out.scale, self.bits), out, act)

    def _gap(self, x: str) -> Callable[[TensorSpec, str], Layer]:
        h, w, _ = self.shapes[x]
        s_in = self.specs[x].scale
        return lambda out, act: GlobalAvgPool(x, gap_multiplier(s_in, h * w, out.scale, self.bits), out, act)

    def _finish(self, pending: _Pending, out: TensorSpec, where: str) -> str:
        """Build a pending layer now that its output quantization is known (fusing Relu / Clip)."""
        activation = "none"
        if pending.activation is not None:
            low, high = pending.activation
            top = 255 * out.scale  # largest real value the uint8 output can hold
            if low != 0 or out.zero_point != 0 or top > high * (1 + 1e-6):
                raise ModelFormatError(f"{where}: Relu/Clip({low}, {high}) cannot be fused into an output with "
                                       f"scale {out.scale} and zero point {out.zero_point}")
            activation = "relu6" if high == 6 and math.isclose(out.scale, RELU6_SCALE, rel_tol=1e-6) else "relu"
        return self._add_layer(pending.build(out, activation))

    # -- op handlers: (node, inputs, attributes)

    def _quantize_linear(self, node: onnx.NodeProto, ins: list[str], attrs: dict) -> None:
        x, out = ins[0], node.output[0]
        spec = TensorSpec(out, *self._activation_params(ins[1], ins[2]))
        if x in self.graph_inputs:
            dims = [d.dim_value for d in self.graph_inputs[x].type.tensor_type.shape.dim]
            if len(dims) != 4 or dims[0] not in (0, 1) or 0 in dims[1:]:
                raise ModelFormatError(f"ONNX input {x!r}: expected a fixed NCHW shape [1, C, H, W], got {dims}")
            self.input = InputSpec(x, spec.scale, spec.zero_point, (dims[2], dims[3], dims[1]))
            self.specs[x], self.shapes[x], self.quantized[out] = self.input, self.input.shape, x
        elif x in self.pending:
            self.quantized[out] = self._finish(self.pending.pop(x), spec, f"ONNX node {node.name!r}")
        elif x in self.dequantized:
            self.quantized[out] = self._input_requantized(x, spec)
        else:
            raise ModelFormatError(f"ONNX node {node.name!r}: QuantizeLinear of unsupported tensor {x!r}")

    def _input_requantized(self, x: str, spec: TensorSpec) -> str:
        """A dequantize -> (flatten) -> quantize chain with unchanged parameters is the same tensor."""
        ours = self.dequantized[x]
        if (f32(spec.scale), spec.zero_point) != (f32(self.specs[ours].scale), self.specs[ours].zero_point):
            raise ModelFormatError(f"ONNX tensor {x!r}: requantization without an op is not supported")
        return ours

    def _dequantize_linear(self, node: onnx.NodeProto, ins: list[str], attrs: dict) -> None:
        x, out = ins[0], node.output[0]
        if x in self.consts:
            zp = self.consts[ins[2]] if len(ins) > 2 and ins[2] else np.zeros(1, self.consts[x].dtype)
            self.quant_consts[out] = _QuantConst(self.consts[x], self._const(ins[1]), zp, attrs.get("axis", 1))
        else:
            self.dequantized[out] = self._input(x, ins[1], ins[2])

    def _conv_node(self, node: onnx.NodeProto, ins: list[str], attrs: dict) -> None:
        where = f"ONNX node {node.name!r}"
        x = self._real(ins[0])
        w, s_w = self._quant_const(ins[1], 0, where)
        bias = self._bias(ins[2] if len(ins) > 2 else None, self.specs[x].scale, s_w, where)
        self.pending[node.output[0]] = _Pending(self._conv(x, w, s_w, bias, attrs, where))

    def _gemm(self, node: onnx.NodeProto, ins: list[str], attrs: dict) -> None:
        where = f"ONNX node {node.name!r}"
        if attrs.get("transA", 0) or attrs.get("alpha", 1.0) != 1.0 or attrs.get("beta", 1.0) != 1.0:
            raise ModelFormatError(f"{where}: Gemm needs transA=0, alpha=1, beta=1")
        x = self._real(ins[0])
        trans_b = attrs.get("transB", 0)
        w, s_w = self._quant_const(ins[1], 0 if trans_b else 1, where)
        w = w if trans_b else w.T
        bias = self._bias(ins[2] if len(ins) > 2 else None, self.specs[x].scale, s_w, where)
        self.pending[node.output[0]] = _Pending(self._fc(x, w, s_w, bias, where))

    def _matmul(self, node: onnx.NodeProto, ins: list[str], attrs: dict) -> None:
        where = f"ONNX node {node.name!r}"
        x = self._real(ins[0])
        w, s_w = self._quant_const(ins[1], 1, where)
        self.pending[node.output[0]] = _Pending(self._fc(x, w.T, s_w, self._bias(None, 0, s_w, where), where))

    def _add_node(self, node: onnx.NodeProto, ins: list[str], attrs: dict) -> None:
        self.pending[node.output[0]] = _Pending(self._add(self._real(ins[0]), self._real(ins[1])))

    def _gap_node(self, node: onnx.NodeProto, ins: list[str], attrs: dict) -> None:
        self.pending[node.output[0]] = _Pending(self._gap(self._real(ins[0])))

    def _activation(self, node: onnx.NodeProto, ins: list[str], attrs: dict) -> None:
        x = ins[0]
        if x not in self.pending or self.pending[x].activation is not None:
            raise ModelFormatError(f"ONNX node {node.name!r}: {node.op_type} must directly follow a quantized op")
        if node.op_type == "Relu":
            bounds = (0.0, math.inf)
        else:
            low = float(self._const(ins[1])) if len(ins) > 1 and ins[1] else -math.inf
            high = float(self._const(ins[2])) if len(ins) > 2 and ins[2] else math.inf
            bounds = (low, high)
        self.pending[node.output[0]] = _Pending(self.pending.pop(x).build, bounds)

    def _flatten(self, node: onnx.NodeProto, ins: list[str], attrs: dict) -> None:
        """Flatten(axis=1) only changes the view: our fully-connected layer flattens its input itself."""
        if attrs.get("axis", 1) != 1:
            raise ModelFormatError(f"ONNX node {node.name!r}: only Flatten(axis=1) is supported")
        for table in (self.quantized, self.dequantized):
            if ins[0] in table:
                table[node.output[0]] = table[ins[0]]
                return
        raise ModelFormatError(f"ONNX node {node.name!r}: Flatten of unsupported tensor {ins[0]!r}")

    def _qlinear_conv(self, node: onnx.NodeProto, ins: list[str], attrs: dict) -> None:
        where = f"ONNX node {node.name!r}"
        x = self._input(ins[0], ins[1], ins[2])
        w, s_w = self._weights(self._const(ins[3]), self._const(ins[4]), self._const(ins[5]), 0, 0, where)
        bias = self._bias(ins[8] if len(ins) > 8 else None, self.specs[x].scale, s_w, where)
        out = TensorSpec(node.output[0], *self._activation_params(ins[6], ins[7]))
        self.quantized[out.name] = self._add_layer(self._conv(x, w, s_w, bias, attrs, where)(out, "none"))

    def _qlinear_matmul(self, node: onnx.NodeProto, ins: list[str], attrs: dict) -> None:
        where = f"ONNX node {node.name!r}"
        x = self._input(ins[0], ins[1], ins[2])
        w, s_w = self._weights(self._const(ins[3]), self._const(ins[4]), self._const(ins[5]), 1, 1, where)
        out = TensorSpec(node.output[0], *self._activation_params(ins[6], ins[7]))
        build = self._fc(x, w.T, s_w, self._bias(None, 0, s_w, where), where)
        self.quantized[out.name] = self._add_layer(build(out, "none"))

    def _qgemm(self, node: onnx.NodeProto, ins: list[str], attrs: dict) -> None:
        where = f"ONNX node {node.name!r}"
        if len(ins) < 9 or attrs.get("transA", 0) or attrs.get("alpha", 1.0) != 1.0:
            raise ModelFormatError(f"{where}: QGemm needs a quantized output, transA=0 and alpha=1")
        x = self._input(ins[0], ins[1], ins[2])
        trans_b = attrs.get("transB", 0)
        w, s_w = self._weights(self._const(ins[3]), self._const(ins[4]), self._const(ins[5]),
                               0 if trans_b else 1, 0 if trans_b else 1, where)
        w = w if trans_b else w.T
        bias = self._bias(ins[6], self.specs[x].scale, s_w, where)
        out = TensorSpec(node.output[0], *self._activation_params(ins[7], ins[8]))
        self.quantized[out.name] = self._add_layer(self._fc(x, w, s_w, bias, where)(out, "none"))

    def _qlinear_add(self, node: onnx.NodeProto, ins: list[str], attrs: dict) -> None:
        a, b = self._input(ins[0], ins[1], ins[2]), self._input(ins[3], ins[4], ins[5])
        out = TensorSpec(node.output[0], *self._activation_params(ins[6], ins[7]))
        self.quantized[out.name] = self._add_layer(self._add(a, b)(out, "none"))

    def _qlinear_gap(self, node: onnx.NodeProto, ins: list[str], attrs: dict) -> None:
        if attrs.get("channels_last", 0):
            raise ModelFormatError(f"ONNX node {node.name!r}: only channels_last=0 (NCHW) is supported")
        x = self._input(ins[0], ins[1], ins[2])
        out = TensorSpec(node.output[0], *self._activation_params(ins[3], ins[4]))
        self.quantized[out.name] = self._add_layer(self._gap(x)(out, "none"))

    HANDLERS: dict[tuple[str, str], Callable[[_Converter, onnx.NodeProto, list[str], dict], None]] = {
        ("", "QuantizeLinear"): _quantize_linear,
        ("", "DequantizeLinear"): _dequantize_linear,
        ("", "Conv"): _conv_node,
        ("", "Gemm"): _gemm,
        ("", "MatMul"): _matmul,
        ("", "Add"): _add_node,
        ("", "GlobalAveragePool"): _gap_node,
        ("", "Relu"): _activation,
        ("", "Clip"): _activation,
        ("", "Flatten"): _flatten,
        ("", "QLinearConv"): _qlinear_conv,
        ("", "QLinearMatMul"): _qlinear_matmul,
        (MS_DOMAIN, "QGemm"): _qgemm,
        (MS_DOMAIN, "QLinearAdd"): _qlinear_add,
        (MS_DOMAIN, "QLinearGlobalAveragePool"): _qlinear_gap,
    }


def _attributes(node: onnx.NodeProto) -> dict[str, object]:
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}
