"""The common base of fgav's data sets: batch-dict items, ``provides`` and a fixed order.

Every loader (CelebA-Spoof's official layout, a plain folder, SynthSpoof through the
CelebA-Spoof loader) returns a :class:`FASDataset`: a ``torch.utils.data.Dataset``
whose items are batch dicts (:class:`fgav.core.types.Batch`), in the order of the sorted relative paths, so
that "the first N" means the same images on every machine and every run.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import Tensor
from torch.utils.data import Dataset

from fgav.core.errors import FgavError

# The file suffixes the loaders take for images (case-insensitive).
IMAGE_SUFFIXES: frozenset[str] = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"})

# A crop box as fractions of the image's width and height: (left, top, right, bottom).
Box = tuple[float, float, float, float]


class UnreadableImageError(FgavError):
    """An image (or map) file that exists but cannot be decoded: loaders skip and count it."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"cannot read {path}: {reason}")
        self.path, self.reason = path, reason

    def __reduce__(self) -> tuple[Any, ...]:  # crosses DataLoader worker processes intact
        return (type(self), (self.path, self.reason))


class EmptySplitError(FgavError):
    """A split that lists no image (e.g. the empty train labels of an evaluation-only download)."""


def read_image(file: Path, *, size: int, box: Box | None = None, mode: str = "RGB", display: str = "") -> Tensor:
    """Read an image file, crop it to ``box`` and resize it to ``size`` x ``size``.

    Args:
        file: the image file.
        size: the side of the square result.
        box: the crop as fractions of width and height, already clamped to [0, 1];
            ``None`` keeps the whole image.
        mode: ``"RGB"`` for images (3 channels), ``"L"`` for maps (1 channel).
        display: the name used in error messages (default: the file name).

    Returns:
        A float32 tensor ``(C, size, size)`` in [0, 1]. 8-bit images are divided by 255,
        16-bit ones by 65535, float ones in [0, 1] taken as they are (see :func:`unit_range`).

    Raises:
        UnreadableImageError: the file is missing, truncated or not an image, or one
            whose scale is unknown (32-bit integers, floats outside [0, 1]).
    """
    try:
        with Image.open(file) as opened:
            img: Image.Image = opened
            if box is not None and opened.format == "JPEG":
                # Decode a large JPEG at a reduced scale (DCT scaling): the crop still
                # has at least `size` pixels a side, and decoding is several times faster.
                need = (math.ceil(size / max(box[2] - box[0], 1e-6)), math.ceil(size / max(box[3] - box[1], 1e-6)))
                opened.draft(mode, need)
            deep = unit_range(opened)  # a 16-bit or float image: kept in [0, 1] at full depth
            img = deep if deep is not None else img.convert(mode)
            if box is not None:
                img = img.crop(pixel_box(box, img.size))
            if img.size != (size, size):
                img = img.resize((size, size), Image.Resampling.BILINEAR)
            array = np.array(img, dtype=np.float32 if deep is not None else np.uint8)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        reason = (str(exc) or type(exc).__name__).replace(f" '{file}'", "").replace(str(file), "the file")
        raise UnreadableImageError(display or str(file), reason) from None
    tensor = torch.from_numpy(array)
    tensor = tensor.unsqueeze(0) if tensor.dim() == 2 else tensor.permute(2, 0, 1)
    if deep is not None:  # one grey channel in [0, 1]: an image repeats it as RGB
        return tensor.expand(3 if mode == "RGB" else 1, -1, -1).contiguous()
    return tensor.to(torch.float32, memory_format=torch.contiguous_format).div_(255.0)  # one copy


def unit_range(img: Image.Image) -> Image.Image | None:
    """A single-channel image of more than 8 bits as a float (``F``) image in [0, 1].

    16-bit integer images (``I;16*``, and ``I`` where the file says 16 bits per sample)
    are divided by 65535; floating-point images (``F``) are taken as they are when every
    value lies in [0, 1]. Any other image (8-bit, RGB ...) gives ``None``: PIL's own
    conversion is right for it.

    Raises:
        ValueError: a 32-bit integer image, or a float image with values outside [0, 1]
            or not finite: their scale is unknown, and PIL's conversion would clip them
            to all white or all black.
    """
    if img.mode.startswith("I;16"):
        return Image.fromarray(np.asarray(img, dtype=np.float32) / 65535.0)
    if img.mode == "I":
        bits = getattr(img, "tag_v2", {}).get(258, (16,) if img.format == "PNG" else (32,))
        if tuple(bits) != (16,):
            raise ValueError(f"a {bits[0]}-bit integer image: fgav reads 8- and 16-bit images and float ones in [0, 1]")
        return Image.fromarray(np.asarray(img, dtype=np.float32) / 65535.0)
    if img.mode == "F":
        values = np.asarray(img, dtype=np.float32)
        if values.size and not np.isfinite(values).all():
            raise ValueError("a floating-point image with values that are not finite (NaN or infinite)")
        if values.size and not (values.min() >= 0.0 and values.max() <= 1.0):
            low, high = float(values.min()), float(values.max())
            raise ValueError(f"a floating-point image with values in [{low:g}, {high:g}], not in [0, 1]")
        return Image.fromarray(values)
    return None


def pixel_box(box: Box, image_size: tuple[int, int]) -> tuple[int, int, int, int]:
    """The integer pixel box of a fractional ``box`` in an image ``(width, height)``.

    Each edge is rounded to the nearest pixel and clamped to the image; the box keeps at
    least one pixel a side.
    """
    width, height = image_size
    left = min(max(round(box[0] * width), 0), width - 1)
    top = min(max(round(box[1] * height), 0), height - 1)
    right = max(min(round(box[2] * width), width), left + 1)
    bottom = max(min(round(box[3] * height), height), top + 1)
    return left, top, right, bottom


class FASDataset(Dataset):
    """A face anti-spoofing data set whose items are fgav batch dicts, in a fixed order.

    Attributes:
        root: the data set's root folder.
        split: the split it holds (``"train"``, ``"test"`` or ``"all"``).
        image_size: the side ``S`` of every image (and map) it returns.
        paths: each sample's path relative to ``root``, sorted: item ``i`` is ``paths[i]``.
        provides: the batch keys whose ground truth every sample has; a head whose
            target key is not in ``provides`` should be skipped (with a note) by callers.
    """

    provides: frozenset[str]

    def __init__(self, *, root: Path, split: str, image_size: int, paths: Sequence[str], provides: frozenset[str]) -> None:
        if int(image_size) < 1:
            raise FgavError(f"image size must be a positive number of pixels, not {image_size}")
        if not paths:
            raise EmptySplitError(f"the {split!r} split of {root} holds no images")
        self.root = Path(root)
        self.split = split
        self.image_size = int(image_size)
        self.paths: list[str] = list(paths)
        self.provides = frozenset(provides)

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> dict[str, Any]:
        """The batch dict of sample ``index`` (see the module docstring of ``fgav.data``).

        Raises:
            UnreadableImageError: the sample's image or one of its maps cannot be decoded.
            FgavError: the sample's annotation is malformed (e.g. its bounding-box file).
        """
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} out of range for a data set of {len(self)} images")
        index = index % len(self)
        item = self._load(index)
        item["index"] = torch.tensor(index)
        item["path"] = self.paths[index]
        return item

    def _load(self, index: int) -> dict[str, Any]:
        """Read sample ``index``: every key but ``index`` and ``path``."""
        raise NotImplementedError

    def labels(self) -> dict[str, Tensor]:
        """Every label of every sample, without reading an image: batch key -> ``(N, ...)``."""
        raise NotImplementedError

    def map_validity(self) -> dict[str, Tensor]:
        """For each map key (``depth``, ``reflection``), a bool ``(N,)``: ground truth known."""
        return {}

    def limit(self, n: int | None) -> FASDataset:
        """The first ``n`` samples (all of them where ``n`` is ``None`` or larger), same type.

        ``provides`` is recomputed for the kept samples.
        """
        if n is None or n >= len(self):
            return self
        if n < 1:
            raise FgavError(f"a limit must keep at least one image, not {n}")
        subset = copy.copy(self)
        subset._take(n)
        return subset

    def _take(self, n: int) -> None:
        """Keep the first ``n`` samples (subclasses trim their per-sample arrays too)."""
        self.paths = self.paths[:n]

    def __repr__(self) -> str:
        keys = ", ".join(sorted(self.provides))
        return f"{type(self).__name__}({str(self.root)!r}, split={self.split!r}, n={len(self)}, provides=[{keys}])"
