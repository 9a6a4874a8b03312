"""Bit-exact integer reference of the circuit (`docs/model-format.md`).

The halo2 circuit proves exactly this computation, so the marketplace uses it to predict the
proved result, to check that an input is provable (every requantized value inside the lookup
range) and to build the commitment preimages. Integers only: int64 numpy, floor division.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import ModelError
from .qmodel import Add, Conv2d, FullyConnected, GlobalAvgPool, Layer, QModel, tensor_shapes

# BN254 scalar field modulus: the field of the circuit and of the Poseidon commitments.
P = 21888242871839275222246405745257275088548364400416336345159565490802883612417
BYTES_PER_ELEMENT = 31


class InputError(ModelError):
    """An input that is not a uint8 tensor of the model's input shape."""


class LookupRangeError(ModelError):
    """A requantized value outside the circuit's lookup range: the input cannot be proved."""


@dataclass
class Trace:
    """Everything a batched evaluation computed, by tensor name; arrays have a leading batch axis."""

    tensors: dict[str, np.ndarray]  # uint8 values (int64 arrays), shape (N, H, W, C)
    requantized: dict[str, np.ndarray]  # q before the clip to [0, 255], per layer output


def evaluate(model: QModel, x: Any) -> tuple[list[int], int]:
    """Logits (the output tensor's uint8 values) and class (first index of the largest logit).

    `x` is the uint8 input, shape (H, W, C) or flattened HWC.
    """
    logits, classes = evaluate_batch(model, check_input(model, x)[None])
    return logits[0].tolist(), int(classes[0])


def evaluate_batch(model: QModel, xs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`evaluate` over a batch of shape (N, H, W, C): logits (N, O) and classes (N,)."""
    logits = run(model, xs).tensors[model.output].reshape(len(xs), -1)
    return logits, np.argmax(logits, axis=1)


def requantized_values(model: QModel, x: Any) -> dict[str, list[int]]:
    """Every layer's requantized values q (before the clip), flattened HWC, by output tensor name.

    Raises `LookupRangeError` if any q is outside [-2^(L-1), 2^(L-1)), L = model.lookup_bits.
    """
    trace = run(model, check_input(model, x)[None])
    half = 2 ** (model.lookup_bits - 1)
    for name, q in trace.requantized.items():
        bad = np.flatnonzero((q < -half) | (q >= half))
        if bad.size:
            raise LookupRangeError(
                f"tensor {name!r}: requantized value {int(q.flat[bad[0]])} at flat index {int(bad[0])} "
                f"is outside the lookup range [{-half}, {half}) of lookup_bits={model.lookup_bits}"
            )
    return {name: q.reshape(-1).tolist() for name, q in trace.requantized.items()}


def check_input(model: QModel, x: Any) -> np.ndarray:
    """The input as an int64 (H, W, C) array; `InputError` unless it holds ints in 0..255."""
    shape = model.input.shape
    arr = np.asarray(x)
    if arr.dtype.kind not in "iu":
        raise InputError(f"input must hold integers, got dtype {arr.dtype}")
    if arr.shape not in (shape, (shape[0] * shape[1] * shape[2],)):
        raise InputError(f"input shape {arr.shape} is neither {shape} (HWC) nor its flattening")
    if arr.size and (arr.min() < 0 or arr.max() > 255):
        raise InputError(f"input values must be in 0..255, got {arr.min()}..{arr.max()}")
    return arr.astype(np.int64).reshape(shape)


def run(model: QModel, xs: np.ndarray) -> Trace:
    """Evaluate a batch (N, H, W, C) of uint8 inputs, keeping every tensor."""
    xs = np.asarray(xs)
    if xs.dtype.kind not in "iu" or xs.shape[1:] != model.input.shape:
        raise InputError(f"batch must be integers of shape (N, *{model.input.shape}), got {xs.dtype} {xs.shape}")
    if xs.size and (xs.min() < 0 or xs.max() > 255):
        raise InputError(f"input values must be in 0..255, got {xs.min()}..{xs.max()}")
    xs = xs.astype(np.int64)
    zero_points = {model.input.name: model.input.zero_point}
    tensors = {model.input.name: xs}
    requantized = {}
    for layer in model.layers:
        q = _requantized(layer, tensors, zero_points, 2**model.rescale_bits)
        requantized[layer.output.name] = q
        tensors[layer.output.name] = np.clip(q, 0, 255)
        zero_points[layer.output.name] = layer.output.zero_point
    return Trace(tensors, requantized)


def _requantized(layer: Layer, tensors: dict[str, np.ndarray], zps: dict[str, int], b: int) -> np.ndarray:
    """q = floor((acc * m + B/2) / B) + z_out for one layer (acc * m summed first for `add`)."""
    z_out = layer.output.zero_point
    if isinstance(layer, Add):
        (a, c), (m_a, m_c) = layer.inputs, layer.multiplier
        scaled = (tensors[a] - zps[a]) * m_a + (tensors[c] - zps[c]) * m_c
        return (scaled + b // 2) // b + z_out
    x = tensors[layer.input] - zps[layer.input]
    if isinstance(layer, GlobalAvgPool):
        acc = x.sum(axis=(1, 2), keepdims=True)
    elif isinstance(layer, FullyConnected):
        acc = (x.reshape(len(x), -1) @ layer.weights.T + layer.bias).reshape(len(x), 1, 1, -1)
    else:
        acc = _conv_acc(layer, x)
    return (acc * layer.multiplier + b // 2) // b + z_out


def _conv_acc(layer: Conv2d, x: np.ndarray) -> np.ndarray:
    """Conv accumulators over zero-point-shifted inputs; zero padding = skipped taps."""
    (kh, kw), s, (top, left, bottom, right) = layer.kernel, layer.stride, layer.padding
    xp = np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)))
    h_out = (xp.shape[1] - kh) // s + 1
    w_out = (xp.shape[2] - kw) // s + 1
    acc = np.broadcast_to(layer.bias, (len(x), h_out, w_out, layer.out_channels)).copy()
    for ky in range(kh):
        for kx in range(kw):
            taps = xp[:, ky : ky + s * (h_out - 1) + 1 : s, kx : kx + s * (w_out - 1) + 1 : s, :]
            w = layer.weights[:, ky, kx, :]  # [O, C_in / groups]
            acc += taps @ w.T if layer.groups == 1 else taps * w[:, 0]
    return acc


def worst_case_q_range(model: QModel) -> dict[str, tuple[int, int]]:
    """Bounds of every layer's q over all possible uint8 inputs to that layer (interval arithmetic).

    Every layer input is clipped to 0..255, so if all bounds fit the lookup range, every input
    image is provable.
    """
    zps = {model.input.name: model.input.zero_point} | {l.output.name: l.output.zero_point for l in model.layers}
    shapes = tensor_shapes(model)
    b = 2**model.rescale_bits
    bounds = {}
    for layer in model.layers:
        if isinstance(layer, Add):
            lo = hi = 0
            for name, m in zip(layer.inputs, layer.multiplier):
                lo, hi = lo + (0 - zps[name]) * m, hi + (255 - zps[name]) * m
            scaled = np.array([lo, hi])
        else:
            low, high = 0 - zps[layer.input], 255 - zps[layer.input]
            if isinstance(layer, GlobalAvgPool):
                h, w, _ = shapes[layer.input]
                acc = np.array([[low * h * w], [high * h * w]])
            else:
                w = layer.weights.reshape(len(layer.weights), -1)
                lo_terms, hi_terms = np.minimum(w * low, w * high), np.maximum(w * low, w * high)
                acc = layer.bias + np.stack([lo_terms.sum(axis=1), hi_terms.sum(axis=1)])
            scaled = acc * layer.multiplier
        q = (scaled + b // 2) // b + layer.output.zero_point
        bounds[layer.output.name] = (int(q.min()), int(q.max()))
    return bounds


def lookup_bound(ranges: Iterable[tuple[int, int]]) -> int:
    """The smallest h such that every (lo, hi) range of q values lies in [-h, h)."""
    return max(max(hi + 1, -lo) for lo, hi in ranges)


def lookup_bits_for(bound: int) -> int:
    """The smallest L >= 10 whose lookup range [-2^(L-1), 2^(L-1)) contains [-bound, bound)."""
    return max(10, (bound - 1).bit_length() + 1)


# ---------------------------------------------------------------- commitment preimages


LENGTH_MARKER = 1  # appended after the bytes, so inputs of different lengths never pack alike


def pack_bytes(values: Sequence[int]) -> list[int]:
    """Field elements from the bytes and the length marker, 31 per element, little endian (byte
    i of a chunk * 256^i), as `prover/src/commit.rs` packs them."""
    data = [int(v) for v in values]
    if any(not 0 <= v <= 255 for v in data):
        raise ValueError("pack_bytes: every value must be a byte in 0..255")
    data.append(LENGTH_MARKER)
    return [
        int.from_bytes(bytes(data[i : i + BYTES_PER_ELEMENT]), "little")
        for i in range(0, len(data), BYTES_PER_ELEMENT)
    ]


def weight_commitment_preimage(model: QModel) -> list[int]:
    """pack(every weight + 128, layer by layer, row-major) ++ [bias mod p for every bias]."""
    weighted = [layer for layer in model.layers if isinstance(layer, (Conv2d, FullyConnected))]
    weight_bytes = [int(w) + 128 for layer in weighted for w in layer.weights.reshape(-1)]
    return pack_bytes(weight_bytes) + [int(b) % P for layer in weighted for b in layer.bias]


def input_commitment_preimage(x: Any) -> list[int]:
    """pack(input bytes), the input flattened row-major (HWC)."""
    arr = np.asarray(x)
    if arr.dtype.kind not in "iu":
        raise InputError(f"input must hold integers, got dtype {arr.dtype}")
    return pack_bytes(arr.reshape(-1).tolist())
