"""MobileNet v2 as built here is the reference architecture: its parameter and multiply-accumulate
counts equal the reference implementations', and it quantizes into a valid model."""

from __future__ import annotations

import numpy as np
import pytest

from zkmarket.model import qmodel, reference
from zkmarket.model.mobilenet import benchmark_model, costs, make_divisible, mobilenet_v2, same_padding

pytestmark = pytest.mark.unit


def test_channel_rounding_follows_the_reference() -> None:
    assert make_divisible(32 * 0.35) == 16  # 11.2 rounds to 8, more than 10% below: 16
    assert make_divisible(int(16 * 0.35)) == 8
    assert make_divisible(24 * 0.75) == 24 and make_divisible(1280 * 1.4) == 1792


def test_same_padding_pads_stride_two_at_the_end() -> None:
    assert same_padding(96, 3, 2) == (0, 1) and same_padding(48, 3, 1) == (1, 1) and same_padding(7, 1, 1) == (0, 0)


def test_mobilenet_v2_1_0_224_has_the_reference_size() -> None:
    # Keras MobileNetV2(alpha=1.0): 3,504,872 trainable parameters, of which 17,056 are batch-norm
    # shifts that folding turns into the conv biases counted here; torchvision: 300.77M MACs.
    c = costs(mobilenet_v2(1.0, 224))
    assert (c.parameters, c.macs) == (3_504_872 - 17_056, 300_774_272)


def test_mobilenet_v2_0_35_96_has_the_papers_size() -> None:
    c = costs(mobilenet_v2(0.35, 96))
    assert (c.macs, c.activations) == (11_934_128, 543_216)
    assert c.parameters == 1_670_088


def test_block_structure() -> None:
    net = mobilenet_v2(0.35, 96)
    ops = [l.op for l in net.layers]
    assert ops.count("add") == 10  # residual adds: blocks with stride 1 and equal channels
    assert len([l for l in net.layers if l.op == "conv2d" and l.groups > 1]) == 17  # one depthwise per block
    assert all(l.activation == "none" for l in net.layers if l.output.endswith("_project"))  # linear bottlenecks
    assert net.layers[-1].weight.shape == (1000, 1280)


def test_benchmark_model_quantizes_and_is_labelled() -> None:
    model = benchmark_model(0.35, 32, classes=10)
    assert "benchmark model: random weights" in model.name
    qmodel.validate(model)
    x = np.random.default_rng(3).integers(0, 256, (2, 32, 32, 3))
    logits, _ = reference.evaluate_batch(model, x)
    assert logits.shape == (2, 10)


def test_bad_sizes_are_refused() -> None:
    with pytest.raises(ValueError, match="alpha > 0"):
        mobilenet_v2(0.0, 96)
