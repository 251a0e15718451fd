"""``read_image`` by bit depth: 8-bit, 16-bit and float images give the same picture; unknown scales are refused."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from fgav.data.dataset import UnreadableImageError, read_image

# A grey ramp at 16 bits, and the same picture at 8 bits (its high bytes).
RAMP16 = (np.arange(48 * 48).reshape(48, 48) * 28 + 300).astype(np.uint16)
RAMP8 = (RAMP16 >> 8).astype(np.uint8)


def write(path: Path, array: np.ndarray) -> Path:
    Image.fromarray(array).save(path)
    return path


@pytest.mark.parametrize(
    ("name", "array"),
    [
        ("deep.png", RAMP16),  # a 16-bit PNG: PIL's I;16
        ("deep.tif", RAMP16),  # I;16 TIFF
        ("float.tif", (RAMP16 / 65535).astype(np.float32)),  # F TIFF in [0, 1]
    ],
)
@pytest.mark.parametrize("mode", ["RGB", "L"])
def test_deep_images_read_as_their_8_bit_picture(tmp_path: Path, name: str, array: np.ndarray, mode: str) -> None:
    write(tmp_path / "eight.png", RAMP8)
    deep = read_image(write(tmp_path / name, array), size=32, mode=mode, box=(0.1, 0.1, 0.9, 0.9))
    eight = read_image(tmp_path / "eight.png", size=32, mode=mode, box=(0.1, 0.1, 0.9, 0.9))
    assert deep.shape == eight.shape == ((3 if mode == "RGB" else 1), 32, 32) and deep.dtype == torch.float32
    assert 0.1 < float(deep.mean()) < 0.9  # not all white, not all black
    # The 8-bit picture rounds each resized pixel once more: within two quantisation steps.
    assert float((deep - eight).abs().max()) <= 2 / 255


@pytest.mark.parametrize(
    ("array", "reason"),
    [
        (RAMP16.astype(np.int32) * 1000, "32-bit integer image"),
        ((RAMP16 / 65535 * 300).astype(np.float32), r"floating-point image with values in \[.*\], not in \[0, 1\]"),
        (np.full((8, 8), np.nan, dtype=np.float32), "floating-point image with values that are not finite"),
    ],
)
def test_images_of_unknown_scale_are_refused_naming_the_file(tmp_path: Path, array: np.ndarray, reason: str) -> None:
    path = write(tmp_path / "odd.tif", array)
    with pytest.raises(UnreadableImageError, match=f"cannot read Data/odd.tif: a {reason}"):
        read_image(path, size=16, display="Data/odd.tif")
