"""Float scales -> integer multipliers, shared by the quantizer and the ONNX converter.

Both derive every multiplier with these functions from float32-representable scales, so a
model exported to ONNX (float32 scales) and converted back gets bit-identical multipliers.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np


def f32(x: float) -> float:
    """Round a scale to the nearest float32 (what an ONNX file can store), as a Python float."""
    return float(np.float32(x))


def multiplier(real: float, rescale_bits: int) -> int:
    """m = round(real * 2^rescale_bits), halves rounded up."""
    return math.floor(real * 2**rescale_bits + 0.5)


def conv_multipliers(s_in: float, s_w: Iterable[float], s_out: float, rescale_bits: int) -> list[int]:
    """Per-output-channel multipliers of a conv / fully-connected layer: s_in * s_w[o] / s_out."""
    return [multiplier(s_in * float(s) / s_out, rescale_bits) for s in s_w]


def add_multipliers(s_a: float, s_b: float, s_out: float, rescale_bits: int) -> tuple[int, int]:
    """Multipliers (m_a, m_b) of a requantizing add: s_a / s_out and s_b / s_out."""
    return multiplier(s_a / s_out, rescale_bits), multiplier(s_b / s_out, rescale_bits)


def gap_multiplier(s_in: float, pixels: int, s_out: float, rescale_bits: int) -> int:
    """Multiplier of a global average pool over `pixels` = H * W positions: s_in / (H W s_out)."""
    return multiplier(s_in / (pixels * s_out), rescale_bits)
