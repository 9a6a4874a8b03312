"""Commitment preimages: bytes then the length marker 1, 31 per field element, little endian;
weights + 128, biases mod p."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import B, conv, document, fc, tensor

from zkmarket.model import qmodel
from zkmarket.model.reference import P, input_commitment_preimage, pack_bytes, weight_commitment_preimage

pytestmark = pytest.mark.unit


def test_pack_bytes_little_endian_31_per_element_then_marker() -> None:
    assert pack_bytes([]) == [1]
    assert pack_bytes([1, 2]) == [1 + 2 * 256 + 1 * 256**2]
    assert pack_bytes([255] * 31) == [2**248 - 1, 1]
    assert pack_bytes(list(range(33))) == [int.from_bytes(bytes(range(31)), "little"), 31 + 32 * 256 + 256**2]
    assert all(e < P for e in pack_bytes([255] * 100))
    for bad in ([256], [-1]):
        with pytest.raises(ValueError, match="byte in 0..255"):
            pack_bytes(bad)


def test_weight_preimage_concatenates_layers_then_biases() -> None:
    model = qmodel.from_dict(document([1, 1, 2], [
        conv("input", tensor("c"), [[[[-128, 127]]], [[[0, 1]]]], [-1, 7], [B, B]),
        {"op": "global_avg_pool", "input": "c", "multiplier": B, "output": tensor("g")},  # no weights
        fc("g", tensor("y"), [[-1, 2]], [-5], [B]),
    ]))
    weight_bytes = [0, 255, 128, 129, 127, 130]  # weights + 128, conv then fc, packed together
    assert weight_commitment_preimage(model) == [
        sum(b * 256**i for i, b in enumerate([*weight_bytes, 1])), P - 1, 7, P - 5]


def test_input_preimage_packs_hwc_bytes() -> None:
    x = np.arange(64, dtype=np.uint8).reshape(8, 8, 1)
    elements = input_commitment_preimage(x)
    assert elements == pack_bytes(list(range(64)))
    assert len(elements) == 3 and elements[2] == 62 + 63 * 256 + 256**2


@pytest.mark.parametrize("length", [1, 30, 31, 32, 62, 64])
def test_a_missing_trailing_zero_byte_packs_differently(length: int) -> None:
    data = [0] * length
    assert pack_bytes(data) != pack_bytes(data[:-1])
