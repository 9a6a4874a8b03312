"""Reference evaluator: hand-computed tiny models and a literal scalar transcription of the spec."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from conftest import B, conv, document, fc, tensor

from zkmarket.model import qmodel, reference
from zkmarket.model.reference import InputError, LookupRangeError

pytestmark = pytest.mark.unit


def _model(doc: dict[str, Any]) -> qmodel.QModel:
    return qmodel.from_dict(doc)


def test_conv_with_padding_and_stride_2() -> None:
    # x - z_in = [[0, 1, 2], [3, 4, 5], [6, 7, 8]]; Sobel kernel; output 2x2 centred on the corners.
    sobel = [[[1], [0], [-1]], [[2], [0], [-2]], [[1], [0], [-1]]]
    model = _model(document([3, 3, 1], [conv("input", tensor("y", 128), [sobel], [10], [B // 2], stride=2,
                                             padding=[1, 1, 1, 1])], input_zp=1))
    x = np.arange(1, 10).reshape(3, 3, 1)
    # acc: (0,0): 10 - 2*1 - 4 = 4 ; (0,1): 10 + 2*1 + 4 = 16 ; (1,0): 10 - 4 - 2*7 = -8 ; (1,1): 10 + 4 + 2*7 = 28
    # q = floor((acc * B/2 + B/2) / B) + 128 = floor((acc + 1) / 2) + 128  (floor: -8 -> floor(-3.5) = -4)
    assert reference.evaluate(model, x) == ([130, 136, 124, 142], 3)
    assert reference.requantized_values(model, x) == {"y": [130, 136, 124, 142]}


def test_depthwise_per_channel_multipliers_and_clip() -> None:
    weights = [[[[1], [2]], [[3], [4]]], [[[-1], [-1]], [[-1], [-1]]]]
    model = _model(document([2, 2, 2], [conv("input", tensor("y"), weights, [240, 100], [B, B // 4], groups=2)]))
    x = np.array([[[1, 5], [2, 6]], [[3, 7], [4, 8]]])
    # channel 0: 240 + 1 + 4 + 9 + 16 = 270 -> clipped to 255 ; channel 1: (100 - 26) / 4 = 18.5 -> 19
    assert reference.requantized_values(model, x) == {"y": [270, 19]}
    assert reference.evaluate(model, x) == ([255, 19], 0)


def test_add_requantizes_both_inputs() -> None:
    identity = [[[[1, 0]]], [[[0, 1]]]]
    model = _model(document([1, 1, 2], [
        conv("input", tensor("c", 20), identity, [0, 0], [B, B]),  # c = x - 10 + 20
        {"op": "add", "inputs": ["c", "input"], "multiplier": [B // 2, 3 * B // 4], "output": tensor("y", 5)},
    ], input_zp=10))
    x = np.array([[[0, 200]]])
    # channel 0: -10/2 - 10*3/4 = -12.5 -> floor(-12) + 5 = -7 -> 0 ; channel 1: 190 * 1.25 = 237.5 -> 238 + 5
    assert reference.requantized_values(model, x) == {"c": [10, 210], "y": [-7, 243]}
    assert reference.evaluate(model, x) == ([0, 243], 1)


def test_global_average_pool() -> None:
    model = _model(document([2, 2, 1], [
        {"op": "global_avg_pool", "input": "input", "multiplier": B // 4, "output": tensor("y", 1)}], input_zp=5))
    # (5 + 15 + 25 + 36) / 4 = 20.25 -> 20, + 1
    assert reference.evaluate(model, np.array([10, 20, 30, 41]).reshape(2, 2, 1)) == ([21], 0)


def test_fully_connected_flattens_hwc_and_ties_pick_first() -> None:
    model = _model(document([1, 2, 2], [
        fc("input", tensor("y", 50), [[1, 1, 1, 1], [0, 0, 0, -1], [1, -1, 1, -1]], [0, 10, 0], [B, B, 2 * B])],
        input_zp=1))
    x = np.array([[[1, 2], [3, 4]]])  # flattened HWC: 1 2 3 4 -> minus z_in: 0 1 2 3
    # acc = [6, 10 - 3, -2] ; q = acc * [1, 1, 2] + 50
    assert reference.evaluate(model, x) == ([56, 57, 46], 1)
    tie = _model(document([1, 1, 1], [fc("input", tensor("y"), [[0], [1], [1]], [5, 0, 0], [B] * 3)]))
    assert reference.evaluate(tie, np.array([[[4]]])) == ([5, 4, 4], 0)


def test_inputs_are_checked(tiny_doc: dict[str, Any]) -> None:
    model = _model(tiny_doc)
    good = np.zeros((4, 4, 2), dtype=np.uint8)
    assert reference.evaluate(model, good) == reference.evaluate(model, good.reshape(-1).tolist())
    for bad, message in [
        (np.zeros((4, 4, 1), dtype=np.uint8), r"input shape \(4, 4, 1\) is neither \(4, 4, 2\)"),
        (np.zeros(31, dtype=np.uint8), "input shape"),
        (np.full((4, 4, 2), 256), r"input values must be in 0..255, got 256..256"),
        (np.full((4, 4, 2), -1), "input values must be in 0..255"),
        (np.zeros((4, 4, 2)), "input must hold integers, got dtype float64"),
    ]:
        with pytest.raises(InputError, match=message):
            reference.evaluate(model, bad)
    with pytest.raises(InputError, match="batch must be integers of shape"):
        reference.evaluate_batch(model, good)


def test_lookup_range_is_enforced() -> None:
    doc = document([1, 1, 1], [fc("input", tensor("y"), [[100]], [0], [B])])
    doc["lookup_bits"] = 15  # range [-16384, 16384)
    model = _model(doc)
    assert reference.requantized_values(model, np.array([[[163]]])) == {"y": [16300]}
    with pytest.raises(LookupRangeError, match=r"'y': requantized value 16400 .* outside the lookup range "
                                               r"\[-16384, 16384\) of lookup_bits=15"):
        reference.requantized_values(model, np.array([[[164]]]))
    assert reference.worst_case_q_range(model) == {"y": (0, 25500)}


# ---------------------------------------------------------------- literal transcription of the spec


def _spec_evaluate(doc: dict[str, Any], x: list[int]) -> dict[str, list[int]]:
    """Requantized q of every layer, computed one scalar at a time exactly as the spec words it."""
    b = 2 ** doc["rescale_bits"]
    inp = doc["input"]
    tensors = {inp["name"]: (x, inp["shape"], inp["zero_point"])}
    qs = {}

    def requant(acc: int, m: int, z: int) -> int:
        return (acc * m + b // 2) // b + z

    for layer in doc["layers"]:
        z_out = layer["output"]["zero_point"]
        if layer["op"] == "add":
            (a, sa, za), (c, _, zc) = tensors[layer["inputs"][0]], tensors[layer["inputs"][1]]
            ma, mc = layer["multiplier"]
            q = [((va - za) * ma + (vc - zc) * mc + b // 2) // b + z_out for va, vc in zip(a, c)]
            shape = sa
        else:
            v, (h, w, c), z = tensors[layer["input"]]

            def at(iy: int, ix: int, ci: int) -> int:
                return v[(iy * w + ix) * c + ci] - z

            if layer["op"] == "global_avg_pool":
                shape = [1, 1, c]
                q = [requant(sum(at(iy, ix, ci) for iy in range(h) for ix in range(w)), layer["multiplier"], z_out)
                     for ci in range(c)]
            elif layer["op"] == "fully_connected":
                shape = [1, 1, layer["out_features"]]
                q = [requant(layer["bias"][o] + sum((v[i] - z) * wi for i, wi in enumerate(layer["weights"][o])),
                             layer["multiplier"][o], z_out) for o in range(layer["out_features"])]
            else:
                (kh, kw), s, (top, left, bottom, right) = layer["kernel"], layer["stride"], layer["padding"]
                ho, wo, oc = (h + top + bottom - kh) // s + 1, (w + left + right - kw) // s + 1, layer["out_channels"]
                shape, q = [ho, wo, oc], []
                for oy in range(ho):
                    for ox in range(wo):
                        for o in range(oc):
                            acc = layer["bias"][o]
                            for ky in range(kh):
                                for kx in range(kw):
                                    iy, ix = oy * s - top + ky, ox * s - left + kx
                                    if not (0 <= iy < h and 0 <= ix < w):
                                        continue  # taps in the padding are skipped
                                    for cg, wt in enumerate(layer["weights"][o][ky][kx]):
                                        acc += at(iy, ix, cg if layer["groups"] == 1 else o) * wt
                            q.append(requant(acc, layer["multiplier"][o], z_out))
        qs[layer["output"]["name"]] = q
        tensors[layer["output"]["name"]] = ([min(max(v, 0), 255) for v in q], shape, z_out)
    return qs


def _random_doc(rng: np.random.Generator) -> dict[str, Any]:
    """A random valid model with every op (random strides, paddings, zero points, multipliers)."""
    h, w, c = (int(v) for v in rng.integers(3, 7, 3))

    def ints(lo: int, hi: int, *shape: int) -> list:
        return rng.integers(lo, hi, shape).tolist()

    def zp() -> int:
        return int(rng.integers(0, 256))

    stride, pad = int(rng.integers(1, 3)), ints(0, 2, 4)
    c1 = int(rng.integers(1, 5))
    k = int(rng.integers(1, 4))
    layers = [conv("input", tensor("c1", zp()), ints(-128, 128, c1, k, k, c), ints(-5000, 5000, c1),
                   ints(0, 3000, c1), stride=stride, padding=pad)]
    h1, w1 = (h + pad[0] + pad[2] - k) // stride + 1, (w + pad[1] + pad[3] - k) // stride + 1
    layers.append(conv("c1", tensor("d1", zp()), ints(-128, 128, c1, 3, 3, 1), ints(-5000, 5000, c1),
                       ints(0, 3000, c1), padding=[1, 1, 1, 1], groups=c1))
    layers.append({"op": "add", "inputs": ["d1", "c1"], "multiplier": ints(0, 2 * B, 2), "output": tensor("a1", zp())})
    layers.append({"op": "global_avg_pool", "input": "a1", "multiplier": int(rng.integers(0, 2 * B)),
                   "output": tensor("g1", zp())})
    layers.append(fc("a1", tensor("f1", zp()), ints(-128, 128, 4, h1 * w1 * c1), ints(-5000, 5000, 4),
                     ints(0, 3000, 4)))
    layers.append({"op": "add", "inputs": ["f1", "f1"], "multiplier": ints(0, B, 2), "output": tensor("f2", zp())})
    layers.append(fc("g1", tensor("logits", zp()), ints(-128, 128, 3, c1), ints(-5000, 5000, 3), ints(0, 3000, 3)))
    doc = document([h, w, c], layers, input_zp=zp())
    doc["lookup_bits"] = 20
    return doc


@pytest.mark.parametrize("seed", range(20))
def test_reference_matches_literal_spec_on_random_models(seed: int) -> None:
    rng = np.random.default_rng(seed)
    doc = _random_doc(rng)
    model = _model(doc)
    x = rng.integers(0, 256, model.input.shape)
    expected = _spec_evaluate(doc, x.reshape(-1).tolist())
    assert reference.requantized_values(model, x) == expected
    logits = [min(max(v, 0), 255) for v in expected["logits"]]
    assert reference.evaluate(model, x) == (logits, logits.index(max(logits)))
    bounds = reference.worst_case_q_range(model)
    assert all(bounds[name][0] <= min(q) and max(q) <= bounds[name][1] for name, q in expected.items())
