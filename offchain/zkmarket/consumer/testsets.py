"""Reading a consumer's examples and labels (``.npy`` or JSON), or the bundled digits test split,
into the byte strings the circuit reads; loading a committed test set with clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..protocol.testset import CommittedTestSet, commit_test_set
from .errors import TestSetFileError


def _load_array(path: Path, what: str):
    if not path.is_file():
        raise TestSetFileError(f"{what} file {path} does not exist")
    if path.suffix == ".npy":
        try:
            return np.load(path, allow_pickle=False)
        except (OSError, ValueError) as e:
            raise TestSetFileError(f"{path}: not a .npy array ({e})") from None
    try:
        return json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise TestSetFileError(f"{path}: not JSON ({e}); {what} go in a .npy array or a JSON list") from None


def _flat_ints(value, where: str) -> list[int]:
    arr = np.asarray(value, dtype=object).reshape(-1) if not isinstance(value, np.ndarray) else value.reshape(-1)
    out = []
    for k, v in enumerate(arr.tolist()):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or (isinstance(v, float) and not v.is_integer()):
            raise TestSetFileError(f"{where}: value {k} is {v!r}; examples must hold integer pixels 0..255")
        v = int(v)
        if not 0 <= v <= 255:
            raise TestSetFileError(f"{where}: value {k} is {v}, outside 0..255 (the circuit reads uint8 pixels)")
        out.append(v)
    return out


def load_examples(images: str | Path, labels: str | Path) -> tuple[list[bytes], list[int]]:
    """Examples as byte strings (each flattened, HWC order as stored) and integer labels."""
    images, labels = Path(images), Path(labels)
    raw = _load_array(images, "examples")
    if isinstance(raw, np.ndarray):
        if raw.ndim < 2 or raw.shape[0] == 0:
            raise TestSetFileError(f"{images}: expected an array of shape (N, ...) with N >= 1, got {raw.shape}")
        examples = list(raw)
    elif isinstance(raw, list) and raw and all(isinstance(x, list) for x in raw):
        examples = raw
    else:
        raise TestSetFileError(f"{images}: expected a non-empty list of examples (each a list of pixels)")
    try:
        items = [bytes(_flat_ints(x, f"{images}: example {i}")) for i, x in enumerate(examples)]
    except ValueError as e:  # ragged nested lists
        raise TestSetFileError(f"{images}: malformed example ({e})") from None
    sizes = sorted({len(x) for x in items})
    if len(sizes) != 1 or sizes[0] == 0:
        raise TestSetFileError(f"{images}: examples have different sizes {sizes}; all must have the model's input size")
    lab = _load_array(labels, "labels")
    lab_list = lab.reshape(-1).tolist() if isinstance(lab, np.ndarray) else lab
    if not isinstance(lab_list, list):
        raise TestSetFileError(f"{labels}: expected a list of class indices")
    out = []
    for i, v in enumerate(lab_list):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or int(v) != v or v < 0:
            raise TestSetFileError(f"{labels}: label {i} is {v!r}; labels must be non-negative class indices")
        out.append(int(v))
    if len(out) != len(items):
        raise TestSetFileError(f"{len(items)} examples in {images} but {len(out)} labels in {labels}")
    return items, out


def digits_examples(n: int, offset: int = 0) -> tuple[list[bytes], list[int]]:
    """The first n examples (from ``offset``) of the bundled digits test split."""
    from ..model.data import load_digits_split

    split = load_digits_split()
    total = len(split.test_labels)
    if not 1 <= n or offset < 0 or offset + n > total:
        raise TestSetFileError(f"the digits test split has {total} examples; cannot take {n} from {offset}")
    return ([bytes(split.test_inputs[i].reshape(-1).tolist()) for i in range(offset, offset + n)],
            [int(split.test_labels[i]) for i in range(offset, offset + n)])


def commit(items: list[bytes], labels: list[int]) -> CommittedTestSet:
    try:
        return commit_test_set(items, labels)
    except ValueError as e:
        raise TestSetFileError(str(e)) from None


def load_committed(path: str | Path) -> CommittedTestSet:
    """A saved test set, recomputed from its examples: a tampered file is refused."""
    if not Path(path).is_file():
        raise TestSetFileError(f"test set file {path} does not exist (make one with `zkmarket testset commit`)")
    try:
        return CommittedTestSet.load(path)
    except ValueError as e:
        raise TestSetFileError(f"refusing the test set: {e}") from None
