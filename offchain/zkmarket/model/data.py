"""The bundled scikit-learn 8x8 digits as uint8 HWC images, with one fixed train/test split.

Training, the accuracy tests and the demos all use this split, so reported accuracies are
comparable and reproducible without any download.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

INPUT_SHAPE = (8, 8, 1)
# The quantized digits CNN trained by `python -m zkmarket.model.train` (committed, 14 KB).
DIGITS_MODEL = Path(__file__).resolve().parents[3] / "models" / "digits-cnn.json"
INPUT_SCALE = float(np.float32(1 / 255))  # uint8 pixel p stands for the real value p / 255


class DigitsSplit(NamedTuple):
    """uint8 images (N, 8, 8, 1) and int64 labels (N,): stratified 80/20 split, seed 0."""

    train_inputs: np.ndarray
    train_labels: np.ndarray
    test_inputs: np.ndarray
    test_labels: np.ndarray


def load_digits_split() -> DigitsSplit:
    """Digits pixels 0..16 scaled to 0..255 (rounded), split 80/20 stratified with seed 0."""
    digits = load_digits()
    pixels = digits.images.astype(np.int64)
    images = ((pixels * 255 + 8) // 16).astype(np.uint8).reshape(-1, *INPUT_SHAPE)
    train_inputs, test_inputs, train_labels, test_labels = train_test_split(
        images, digits.target.astype(np.int64), test_size=0.2, stratify=digits.target, random_state=0
    )
    return DigitsSplit(train_inputs, train_labels, test_inputs, test_labels)
