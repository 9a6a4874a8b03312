"""Small hand-written model documents shared by the model-format and reference tests."""

from __future__ import annotations

import copy
from typing import Any

import pytest

B = 2**16  # the 2^rescale_bits of every test model
RELU6 = 6 / 255


def tensor(name: str, zero_point: int = 0, scale: float = 0.05) -> dict[str, Any]:
    return {"name": name, "scale": scale, "zero_point": zero_point}


def document(input_shape: list[int], layers: list[dict[str, Any]], input_zp: int = 0) -> dict[str, Any]:
    """A model document whose output is the last layer's output."""
    return {
        "format": "zkmarket-qmodel",
        "version": 1,
        "name": "tiny",
        "rescale_bits": 16,
        "lookup_bits": 12,
        "input": {"name": "input", "shape": input_shape, "scale": 1 / 255, "zero_point": input_zp},
        "layers": layers,
        "output": layers[-1]["output"]["name"],
    }


def conv(inp: str, out: dict[str, Any], weights: list, bias: list[int], multiplier: list[int], stride: int = 1,
         padding: list[int] | None = None, groups: int = 1, activation: str = "none") -> dict[str, Any]:
    return {
        "op": "conv2d", "input": inp, "kernel": [len(weights[0]), len(weights[0][0])], "stride": stride,
        "padding": padding or [0, 0, 0, 0], "groups": groups, "out_channels": len(weights),
        "weights": weights, "bias": bias, "multiplier": multiplier, "output": out, "activation": activation,
    }


def fc(inp: str, out: dict[str, Any], weights: list[list[int]], bias: list[int], multiplier: list[int]
       ) -> dict[str, Any]:
    return {"op": "fully_connected", "input": inp, "out_features": len(weights), "weights": weights, "bias": bias,
            "multiplier": multiplier, "output": out, "activation": "none"}


TINY = document(
    [4, 4, 2],
    [
        conv("input", tensor("c1", scale=RELU6),
             [[[[1, -2], [3, 4], [0, 1]] for _ in range(3)], [[[-1, 0], [2, 2], [5, -5]] for _ in range(3)]],
             [10, -20], [300, 400], stride=2, padding=[1, 1, 1, 1], activation="relu6"),
        conv("c1", tensor("d1", 5), [[[[2]], [[-1]]], [[[1]], [[1]]]], [0, 3], [B, B // 2], padding=[0, 0, 1, 0],
             groups=2),
        {"op": "add", "inputs": ["d1", "c1"], "multiplier": [B // 2, B // 3], "output": tensor("a1", 7)},
        {"op": "global_avg_pool", "input": "a1", "multiplier": B // 4, "output": tensor("g1", 2)},
        fc("g1", tensor("logits", 100), [[1, 2], [-3, 4], [5, -6]], [7, -8, 9], [B, B, B]),
    ],
    input_zp=3,
)


@pytest.fixture
def tiny_doc() -> dict[str, Any]:
    """A valid document using every op: conv s2 p1 relu6, depthwise, add, global_avg_pool, fc."""
    return copy.deepcopy(TINY)
