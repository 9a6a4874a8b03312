"""Float CNN with hand-written forward and backward passes (numpy, NHWC, im2col).

The float network mirrors the quantized format layer for layer (same ops, tensor names,
weight layouts), so post-training quantization and ONNX export are direct translations.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class FloatLayer:
    """One layer; `weight` is [O, kh, kw, C_in / groups] for conv2d and [O, I] for fully_connected."""

    op: str  # "conv2d" | "fully_connected" | "add" | "global_avg_pool"
    inputs: list[str]
    output: str
    activation: str = "none"  # "none" | "relu6"
    stride: int = 1
    padding: tuple[int, int, int, int] = (0, 0, 0, 0)  # top, left, bottom, right
    groups: int = 1
    weight: np.ndarray | None = None
    bias: np.ndarray | None = None


@dataclass
class FloatNet:
    """Layers evaluated in order over named tensors; input and activations are NHWC."""

    input_name: str
    input_shape: tuple[int, int, int]
    layers: list[FloatLayer]
    output: str

    def parameter_count(self) -> int:
        return sum(l.weight.size + l.bias.size for l in self.layers if l.weight is not None)


@dataclass
class Cache:
    """Forward values needed by the backward pass."""

    tensors: dict[str, np.ndarray]
    pre_activation: dict[str, np.ndarray] = field(default_factory=dict)
    columns: dict[str, np.ndarray] = field(default_factory=dict)


def forward(net: FloatNet, x: np.ndarray) -> Cache:
    """Run a batch (N, H, W, C); `cache.tensors` holds every named tensor."""
    cache = Cache({net.input_name: x})
    t = cache.tensors
    for layer in net.layers:
        if layer.op == "conv2d":
            cols = _im2col(t[layer.inputs[0]], layer.weight.shape[1:3], layer.stride, layer.padding)
            cache.columns[layer.output] = cols
            if layer.groups == 1:
                z = cols.reshape(*cols.shape[:3], -1) @ layer.weight.reshape(len(layer.weight), -1).T
            else:
                z = np.einsum("nhwyxc,cyx->nhwc", cols, layer.weight[..., 0])
            z = z + layer.bias
        elif layer.op == "fully_connected":
            x_in = t[layer.inputs[0]]
            z = (x_in.reshape(len(x_in), -1) @ layer.weight.T + layer.bias)[:, None, None, :]
        elif layer.op == "add":
            z = t[layer.inputs[0]] + t[layer.inputs[1]]
        else:
            z = t[layer.inputs[0]].mean(axis=(1, 2), keepdims=True)
        cache.pre_activation[layer.output] = z
        t[layer.output] = np.clip(z, 0, 6) if layer.activation == "relu6" else z
    return cache


def backward(net: FloatNet, cache: Cache, grad_output: np.ndarray) -> list[tuple[np.ndarray, np.ndarray] | None]:
    """Gradients (d weight, d bias) per layer (None for add / pool), given d loss / d output."""
    grads: dict[str, np.ndarray] = {net.output: grad_output}
    params: list[tuple[np.ndarray, np.ndarray] | None] = [None] * len(net.layers)
    for i in reversed(range(len(net.layers))):
        layer = net.layers[i]
        g = grads.pop(layer.output)
        if layer.activation == "relu6":
            z = cache.pre_activation[layer.output]
            g = g * ((z > 0) & (z < 6))
        x_in = cache.tensors[layer.inputs[0]]
        if layer.op == "conv2d":
            cols = cache.columns[layer.output]
            kernel = layer.weight.shape[1:3]
            if layer.groups == 1:
                flat_cols = cols.reshape(-1, np.prod(cols.shape[3:]))
                flat_g = g.reshape(-1, g.shape[-1])
                d_w = (flat_g.T @ flat_cols).reshape(layer.weight.shape)
                d_cols = (flat_g @ layer.weight.reshape(len(layer.weight), -1)).reshape(cols.shape)
            else:
                d_w = np.einsum("nhwyxc,nhwc->cyx", cols, g)[..., None]
                d_cols = np.einsum("nhwc,cyx->nhwyxc", g, layer.weight[..., 0])
            params[i] = (d_w, g.sum(axis=(0, 1, 2)))
            _accumulate(grads, layer.inputs[0], _col2im(d_cols, x_in.shape, kernel, layer.stride, layer.padding))
        elif layer.op == "fully_connected":
            flat_g = g.reshape(len(g), -1)
            params[i] = (flat_g.T @ x_in.reshape(len(x_in), -1), flat_g.sum(axis=0))
            _accumulate(grads, layer.inputs[0], (flat_g @ layer.weight).reshape(x_in.shape))
        elif layer.op == "add":
            for name in layer.inputs:
                _accumulate(grads, name, g)
        else:
            _accumulate(grads, layer.inputs[0], np.broadcast_to(g / (x_in.shape[1] * x_in.shape[2]), x_in.shape))
    return params


def _accumulate(grads: dict[str, np.ndarray], name: str, g: np.ndarray) -> None:
    grads[name] = grads[name] + g if name in grads else g


def _im2col(x: np.ndarray, kernel: tuple[int, int], stride: int, padding: tuple[int, int, int, int]) -> np.ndarray:
    """Patches (N, H_out, W_out, kh, kw, C) of a zero-padded NHWC batch."""
    (kh, kw), (top, left, bottom, right) = kernel, padding
    xp = np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)))
    h_out = (xp.shape[1] - kh) // stride + 1
    w_out = (xp.shape[2] - kw) // stride + 1
    cols = np.empty((len(x), h_out, w_out, kh, kw, x.shape[3]), dtype=x.dtype)
    for ky in range(kh):
        for kx in range(kw):
            cols[:, :, :, ky, kx, :] = xp[:, ky : ky + stride * (h_out - 1) + 1 : stride,
                                          kx : kx + stride * (w_out - 1) + 1 : stride, :]
    return cols


def _col2im(d_cols: np.ndarray, shape: tuple[int, ...], kernel: tuple[int, int], stride: int,
            padding: tuple[int, int, int, int]) -> np.ndarray:
    """Adjoint of `_im2col`: scatter-add patch gradients back onto the (unpadded) input."""
    (kh, kw), (top, left, bottom, right) = kernel, padding
    n, h, w, c = shape
    dxp = np.zeros((n, h + top + bottom, w + left + right, c), dtype=d_cols.dtype)
    h_out, w_out = d_cols.shape[1:3]
    for ky in range(kh):
        for kx in range(kw):
            dxp[:, ky : ky + stride * (h_out - 1) + 1 : stride,
                kx : kx + stride * (w_out - 1) + 1 : stride, :] += d_cols[:, :, :, ky, kx, :]
    return dxp[:, top : top + h, left : left + w, :]
