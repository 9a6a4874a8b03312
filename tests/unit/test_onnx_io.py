"""ONNX export / import: exact round trip, and onnxruntime-quantized models converted faithfully."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort  # noqa: E402 (a pinned dev dependency: its absence must fail, not skip)
import pytest
from onnx import TensorProto, helper, numpy_helper
from onnxruntime.quantization import (  # noqa: E402
    CalibrationDataReader,
    CalibrationMethod,
    QuantFormat,
    QuantType,
    quantize_static,
)

from zkmarket.model import onnx_io, qmodel, reference
from zkmarket.model.data import DigitsSplit, load_digits_split
from zkmarket.model.qmodel import ModelFormatError

pytestmark = pytest.mark.unit

MODELS = Path(__file__).resolve().parents[2] / "models"
DIGITS_INPUT = qmodel.InputSpec("input", 1 / 255, 0, (8, 8, 1))  # the float model's input quantization


@pytest.fixture(scope="module")
def data() -> DigitsSplit:
    return load_digits_split()


@pytest.fixture(scope="module")
def model() -> qmodel.QModel:
    return qmodel.load(MODELS / "digits-cnn.json")


def _real_nchw(spec: qmodel.InputSpec, x: np.ndarray) -> np.ndarray:
    """The float NCHW tensor whose quantization with the input parameters `spec` is `x`."""
    real = (x.astype(np.float32) - spec.zero_point) * np.float32(spec.scale)
    return real.transpose(2, 0, 1)[None]


def _exact_integer_session(source: bytes | str) -> ort.InferenceSession:
    """An onnxruntime session whose integer matrix products are exact on every x86-64 CPU.

    Without VNNI, onnxruntime multiplies uint8 activations by int8 weights with AVX2
    `vpmaddubsw`, which adds pairs of products into int16 with saturation: a layer's int32
    accumulator can be off by thousands on such CPUs and exact on others (see
    `test_oracle_session_multiplies_exactly`). `session.x64quantprecision` makes onnxruntime use
    its exact u8u8 kernels instead; it also moves the int8 activations of QDQ graphs to uint8, so
    it is needed there too. Only an all-int8 QOperator graph (s8s8 kernels, which widen to int16
    before multiplying: exact) does without it, and must: onnxruntime 1.20 then turns QGemm's
    int8 weights into uint8, for which it has no kernel. What remains between the oracle and our
    integer reference is requantization rounding: float32 scales with round half to even against
    our fixed-point multipliers.
    """
    model = onnx.load_from_string(source) if isinstance(source, bytes) else onnx.load(source)
    initializers = {t.name: t.data_type for t in model.graph.initializer}
    activation_types = {initializers[n.input[2]] for n in model.graph.node  # input 2: the activation's zero point
                        if n.op_type.startswith("QLinear") or n.op_type == "QGemm"}
    options = ort.SessionOptions()
    if activation_types != {TensorProto.INT8}:
        options.add_session_config_entry("session.x64quantprecision", "1")
    return ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])


def _ort_outputs(onnx_model: onnx.ModelProto | str, model: qmodel.QModel, xs: np.ndarray) -> np.ndarray:
    source = onnx_model.SerializeToString() if isinstance(onnx_model, onnx.ModelProto) else onnx_model
    session = _exact_integer_session(source)
    name = session.get_inputs()[0].name
    return np.array([session.run(None, {name: _real_nchw(model.input, x)})[0].reshape(-1) for x in xs])


class _Reader(CalibrationDataReader):
    def __init__(self, batches: list[np.ndarray], name: str = "input") -> None:
        self.items = iter([{name: b} for b in batches])

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self.items, None)


def test_qdq_export_round_trips_exactly(model: qmodel.QModel, data: DigitsSplit) -> None:
    back = onnx_io.from_onnx(onnx_io.to_onnx(model))
    assert qmodel.to_dict(back) == qmodel.to_dict(model)
    logits, _ = reference.evaluate_batch(model, data.test_inputs)
    assert np.array_equal(reference.evaluate_batch(back, data.test_inputs)[0], logits)


def test_export_keeps_weights_multipliers_and_activations(tiny_doc: dict) -> None:
    tiny_doc["layers"][2]["activation"] = "relu"
    tiny_doc["layers"][2]["output"]["zero_point"] = 0
    model = qmodel.from_dict(tiny_doc)
    back = onnx_io.from_onnx(onnx_io.to_onnx(model))
    for layer, converted in zip(model.layers, back.layers, strict=True):
        assert (converted.op, converted.output.name, converted.activation) == (layer.op, layer.output.name,
                                                                                layer.activation)
        if isinstance(layer, (qmodel.Conv2d, qmodel.FullyConnected)):
            for field in ("weights", "bias", "multiplier"):
                assert np.array_equal(getattr(converted, field), getattr(layer, field))


def test_onnxruntime_runs_the_export_like_the_reference(model: qmodel.QModel, data: DigitsSplit) -> None:
    outputs = _ort_outputs(onnx_io.to_onnx(model), model, data.test_inputs)
    logits, classes = reference.evaluate_batch(model, data.test_inputs)
    out = model.layers[-1].output
    ort_logits = np.rint(outputs / np.float32(out.scale)).astype(np.int64) + out.zero_point
    # Only rounding differs (onnxruntime: float scales, round half to even; ours: 16-bit multipliers).
    assert np.abs(ort_logits - logits).max() <= 2
    assert np.mean(outputs.argmax(axis=1) == classes) >= 0.99


def _qlinear_matmul(activation: type[np.integer], k: int) -> bytes:
    """y = a @ b for a [1, k] activation of type `activation` and int8 [k, 1] weights of all 127."""
    dtype = TensorProto.UINT8 if activation is np.uint8 else TensorProto.INT8
    inits = [numpy_helper.from_array(np.float32(1), "one"), numpy_helper.from_array(activation(0), "a_zero"),
             numpy_helper.from_array(np.full((k, 1), 127, np.int8), "b"),
             numpy_helper.from_array(np.int8(0), "b_zero"),
             numpy_helper.from_array(np.float32(2.0**15), "y_scale")]
    node = helper.make_node("QLinearMatMul", ["a", "one", "a_zero", "b", "one", "b_zero", "y_scale", "a_zero"], ["y"])
    graph = helper.make_graph([node], "matmul", [helper.make_tensor_value_info("a", dtype, [1, k])],
                              [helper.make_tensor_value_info("y", dtype, [1, 1])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]).SerializeToString()


@pytest.mark.parametrize(("activation", "value"), [(np.uint8, 255), (np.int8, 127)], ids=["u8s8", "s8s8"])
def test_oracle_session_multiplies_exactly(activation: type[np.integer], value: int) -> None:
    # 255 * 127 + 255 * 127 = 64,770 overflows int16: a saturating kernel returns 32,767 per pair.
    k = 64
    quantized_input = np.full((1, k), value, activation)
    y = _exact_integer_session(_qlinear_matmul(activation, k)).run(None, {"a": quantized_input})[0]
    assert int(y[0, 0]) == round(value * 127 * k / 2**15)


def test_float_export_accuracy(data: DigitsSplit) -> None:
    session = ort.InferenceSession(str(MODELS / "digits-cnn.float.onnx"), providers=["CPUExecutionProvider"])
    preds = [session.run(None, {"input": _real_nchw(DIGITS_INPUT, x)})[0].argmax() for x in data.test_inputs]
    assert np.mean(np.array(preds) == data.test_labels) >= 0.95


@pytest.mark.parametrize("quant_format", [QuantFormat.QDQ, QuantFormat.QOperator], ids=["qdq", "qoperator"])
@pytest.mark.parametrize("activation_type", [QuantType.QUInt8, QuantType.QInt8], ids=["uint8", "int8"])
def test_onnxruntime_quantized_model_converts(tmp_path: Path, data: DigitsSplit, quant_format: QuantFormat,
                                              activation_type: QuantType) -> None:
    path = tmp_path / "quantized.onnx"
    calibration = [_real_nchw(DIGITS_INPUT, x) for x in data.train_inputs[:200]]
    quantize_static(MODELS / "digits-cnn.float.onnx", path, _Reader(calibration), quant_format=quant_format,
                    per_channel=True, activation_type=activation_type, weight_type=QuantType.QInt8,
                    calibrate_method=CalibrationMethod.MinMax)
    converted = onnx_io.from_onnx(path)
    _, classes = reference.evaluate_batch(converted, data.test_inputs)
    ort_classes = _ort_outputs(str(path), converted, data.test_inputs).argmax(axis=1)
    assert np.mean(classes == ort_classes) >= 0.97
    assert np.mean(classes == data.test_labels) >= 0.95


@pytest.mark.parametrize("quant_format", [QuantFormat.QDQ, QuantFormat.QOperator], ids=["qdq", "qoperator"])
def test_matmul_over_spatial_input_converts(tmp_path: Path, quant_format: QuantFormat) -> None:
    # A 1x1 conv, then Flatten of its 2x2x2 NCHW output feeds MatMul: the converter must reorder the
    # MatMul weights from CHW to HWC input order.
    rng = np.random.default_rng(0)
    graph = helper.make_graph(
        [helper.make_node("Conv", ["input", "k"], ["c"], kernel_shape=[1, 1]),
         helper.make_node("Flatten", ["c"], ["flat"], axis=1), helper.make_node("MatMul", ["flat", "w"], ["y"])],
        "matmul", [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 2, 2, 2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])],
        [numpy_helper.from_array(rng.normal(size=(2, 2, 1, 1)).astype(np.float32), "k"),
         numpy_helper.from_array(rng.normal(size=(8, 3)).astype(np.float32), "w")],
    )
    float_path, path = tmp_path / "float.onnx", tmp_path / "quantized.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), float_path)
    calibration = [rng.uniform(0, 1, (1, 2, 2, 2)).astype(np.float32) for _ in range(50)]
    quantize_static(float_path, path, _Reader(calibration), quant_format=quant_format, per_channel=True,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
    converted = onnx_io.from_onnx(path)
    assert [l.op for l in converted.layers] == ["conv2d", "fully_connected"]
    xs = rng.integers(0, 256, (50, 2, 2, 2))
    logits, _ = reference.evaluate_batch(converted, xs)
    out = converted.layers[-1].output
    ort_logits = np.rint(_ort_outputs(str(path), converted, xs) / np.float32(out.scale)) + out.zero_point
    assert np.abs(ort_logits - logits).max() <= 1


def test_uint8_weights_are_rejected(tmp_path: Path, data: DigitsSplit) -> None:
    path = tmp_path / "quantized.onnx"
    calibration = [_real_nchw(DIGITS_INPUT, x) for x in data.train_inputs[:20]]
    quantize_static(MODELS / "digits-cnn.float.onnx", path, _Reader(calibration), quant_format=QuantFormat.QOperator,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QUInt8)
    with pytest.raises(ModelFormatError, match="weights must be int8, got uint8"):
        onnx_io.from_onnx(path)


def test_unsupported_op_is_rejected() -> None:
    scale = numpy_helper.from_array(np.float32(0.1), "s")
    zero = numpy_helper.from_array(np.uint8(0), "z")
    graph = helper.make_graph(
        [helper.make_node("QuantizeLinear", ["input", "s", "z"], ["q"]),
         helper.make_node("DequantizeLinear", ["q", "s", "z"], ["r"]),
         helper.make_node("MaxPool", ["r"], ["y"], name="pool", kernel_shape=[2, 2])],
        "g", [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 1, 4, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1, 3, 3])], [scale, zero],
    )
    with pytest.raises(ModelFormatError, match="ONNX node 'pool': unsupported op ai.onnx.MaxPool"):
        onnx_io.from_onnx(helper.make_model(graph))


def test_float_model_without_quantization_is_rejected() -> None:
    with pytest.raises(ModelFormatError, match="expected the DequantizeLinear of a quantized activation"):
        onnx_io.from_onnx(MODELS / "digits-cnn.float.onnx")
