"""Train the demo digits CNN (numpy, Adam, seeded) and quantize it into a `QModel` file.

Usage: python -m zkmarket.model.train OUT.json [--float-onnx F.onnx] [--samples S.json]
Deterministic for a given numpy/BLAS build; a few seconds on two CPU cores.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from . import onnx_io, qmodel, reference
from .data import INPUT_SCALE, INPUT_SHAPE, DigitsSplit, load_digits_split
from .floatnet import FloatLayer, FloatNet, backward, forward
from .quantize import max_abs_q, quantize

SEED = 0
EPOCHS = 40
BATCH = 32
LEARNING_RATE = 0.01
WIDTHS = (8, 16, 48)  # stem / block / expanded channels: 2,554 parameters


def digits_mobilenet(rng: np.random.Generator) -> FloatNet:
    """MobileNet-v2-like: conv, depthwise s2, pointwise, one inverted residual block, GAP, FC."""
    stem, block, expanded = WIDTHS

    def conv(inp: str, out: str, c_in: int, c_out: int, k: int, stride: int, depthwise: bool,
             activation: str) -> FloatLayer:
        c_group = 1 if depthwise else c_in
        weight = rng.normal(0.0, np.sqrt(2.0 / (k * k * c_group)), (c_out, k, k, c_group))
        pad = (k // 2,) * 4
        return FloatLayer("conv2d", [inp], out, activation, stride, pad, c_in if depthwise else 1,
                          weight, np.zeros(c_out))

    layers = [
        conv("input", "conv1", 1, stem, 3, 1, False, "relu6"),
        conv("conv1", "dw1", stem, stem, 3, 2, True, "relu6"),
        conv("dw1", "pw1", stem, block, 1, 1, False, "relu6"),
        conv("pw1", "expand", block, expanded, 1, 1, False, "relu6"),
        conv("expand", "dw2", expanded, expanded, 3, 1, True, "relu6"),
        conv("dw2", "project", expanded, block, 1, 1, False, "none"),
        FloatLayer("add", ["project", "pw1"], "residual"),
        FloatLayer("global_avg_pool", ["residual"], "pool"),
        FloatLayer("fully_connected", ["pool"], "logits",
                   weight=rng.normal(0.0, np.sqrt(1.0 / block), (10, block)), bias=np.zeros(10)),
    ]
    return FloatNet("input", INPUT_SHAPE, layers, "logits")


def train(net: FloatNet, x: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> None:
    """Minimise softmax cross-entropy with Adam and a cosine learning-rate schedule."""
    params = [p for l in net.layers if l.weight is not None for p in (l.weight, l.bias)]
    first_moments = [np.zeros_like(p) for p in params]
    second_moments = [np.zeros_like(p) for p in params]
    step = 0
    for epoch in range(EPOCHS):
        lr = LEARNING_RATE * 0.5 * (1 + np.cos(np.pi * epoch / EPOCHS))
        order = rng.permutation(len(x))
        for start in range(0, len(x), BATCH):
            idx = order[start : start + BATCH]
            cache = forward(net, x[idx])
            logits = cache.tensors[net.output].reshape(len(idx), -1)
            p = np.exp(logits - logits.max(axis=1, keepdims=True))
            p /= p.sum(axis=1, keepdims=True)
            p[np.arange(len(idx)), y[idx]] -= 1
            layer_grads = backward(net, cache, (p / len(idx))[:, None, None, :])
            grads = [g for pair in layer_grads if pair is not None for g in pair]
            step += 1
            for param, grad, m1, m2 in zip(params, grads, first_moments, second_moments):
                _adam(param, grad, m1, m2, lr, step)


def _adam(param: np.ndarray, grad: np.ndarray, m1: np.ndarray, m2: np.ndarray, lr: float, step: int,
          beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8) -> None:
    m1 += (1 - beta1) * (grad - m1)
    m2 += (1 - beta2) * (grad * grad - m2)
    param -= lr * (m1 / (1 - beta1**step)) / (np.sqrt(m2 / (1 - beta2**step)) + eps)


def float_predictions(net: FloatNet, images: np.ndarray) -> np.ndarray:
    """Classes predicted by the float network for uint8 images."""
    logits = forward(net, images * INPUT_SCALE).tensors[net.output]
    return logits.reshape(len(images), -1).argmax(axis=1)


def train_and_quantize(out_path: str | Path, float_onnx_path: str | Path | None = None,
                       samples_path: str | Path | None = None) -> dict[str, Any]:
    """Train, quantize, save the model JSON (and optionally the float ONNX and golden samples).

    Returns the report: accuracies on the test split, parameter count and lookup sizing.
    """
    started = time.perf_counter()
    data = load_digits_split()
    rng = np.random.default_rng(SEED)
    net = digits_mobilenet(rng)
    train(net, data.train_inputs * INPUT_SCALE, data.train_labels, rng)
    trained = time.perf_counter()
    model = quantize(net, data.train_inputs, INPUT_SCALE, "digits-cnn")
    qmodel.save(model, out_path)
    if float_onnx_path is not None:
        Path(float_onnx_path).write_bytes(onnx_io.float_to_onnx(net, "digits-cnn-float").SerializeToString())
    if samples_path is not None:
        Path(samples_path).write_text(json.dumps(golden_samples(model, data)) + "\n")
    float_pred = float_predictions(net, data.test_inputs)
    _, quant_pred = reference.evaluate_batch(model, data.test_inputs)
    worst = reference.worst_case_q_range(model).values()
    return {
        "float_test_accuracy": float(np.mean(float_pred == data.test_labels)),
        "quantized_test_accuracy": float(np.mean(quant_pred == data.test_labels)),
        "float_quantized_agreement": float(np.mean(float_pred == quant_pred)),
        "test_size": len(data.test_labels),
        "parameters": net.parameter_count(),
        "lookup_bits": model.lookup_bits,
        "max_abs_q_train": max_abs_q(model, data.train_inputs),
        "max_abs_q_test": max_abs_q(model, data.test_inputs),
        "worst_case_abs_q": reference.lookup_bound(worst),
        "model_bytes": Path(out_path).stat().st_size,
        "train_seconds": round(trained - started, 1),
    }


def golden_samples(model: qmodel.QModel, data: DigitsSplit) -> dict[str, Any]:
    """The first test image of each digit with its reference logits and class (for Rust tests)."""
    samples = []
    for digit in range(10):
        image = data.test_inputs[np.flatnonzero(data.test_labels == digit)[0]]
        logits, cls = reference.evaluate(model, image)
        samples.append({"label": digit, "input": image.reshape(-1).tolist(), "logits": logits, "class": cls})
    return {"model": model.name, "input_layout": "HWC flattened", "samples": samples}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="quantized model JSON to write")
    parser.add_argument("--float-onnx", type=Path, help="also write the float model as ONNX")
    parser.add_argument("--samples", type=Path, help="also write golden test samples as JSON")
    args = parser.parse_args()
    print(json.dumps(train_and_quantize(args.out, args.float_onnx, args.samples), indent=2))


if __name__ == "__main__":
    main()
