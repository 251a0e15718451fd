"""Tiny CelebA-Spoof-layout trees and plain folders for tests (fgav's and plugins').

``write_tree(root, {"Data/test/1/live/a.png": {"label": label(spoof=0), "bb": "0 0 224 224 1"}})``
writes the images, box files, maps and label JSON of a data set that
:func:`fgav.data.open_dataset` reads, in milliseconds.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image


def label(*, spoof: int, spoof_type: int = 0, illumination: int = 0, environment: int = 0, attrs: tuple[int, ...] = ()) -> list[int]:
    """A 44-int CelebA-Spoof label vector with the given attribute indices set."""
    vector = [0] * 44
    for a in attrs:
        vector[a] = 1
    vector[40:44] = [spoof_type, illumination, environment, spoof]
    return vector


def write_image(file: Path, array: np.ndarray) -> None:
    """Write a uint8 array as an image (format from the suffix), making its folder."""
    file.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array.astype(np.uint8)).save(file)


def boxed_image(width: int, height: int, box: tuple[int, int, int, int], inside: int = 200, outside: int = 20) -> np.ndarray:
    """An RGB image, ``outside`` grey everywhere and ``inside`` within the pixel box (l, t, r, b)."""
    array = np.full((height, width, 3), outside, dtype=np.uint8)
    left, top, right, bottom = box
    array[top:bottom, left:right] = inside
    return array


def write_tree(root: Path, samples: dict[str, dict[str, Any]], *, protocol: str = "intra_test") -> Path:
    """Write a CelebA-Spoof tree: ``rel -> {label, image, bb (text or None), depth, reflection}``.

    Each split's label file holds the samples under ``Data/<split>/``.
    """
    splits: dict[str, dict[str, list[int]]] = {}
    for rel, spec in samples.items():
        file = root / rel
        write_image(file, spec.get("image", np.full((32, 32, 3), 128)))
        if spec.get("bb") is not None:
            (file.parent / f"{file.stem}_BB.txt").write_text(spec["bb"])
        for key in ("depth", "reflection"):
            if spec.get(key) is not None:
                write_image(file.parent / f"{file.stem}_{key}.png", spec[key])
        splits.setdefault(rel.split("/")[1], {})[rel] = spec["label"]
    metas = root / "metas" / protocol
    metas.mkdir(parents=True, exist_ok=True)
    for split, labels in splits.items():
        (metas / f"{split}_label.json").write_text(json.dumps(labels))
    return root


def write_folder(root: Path, counts: dict[str, int], *, size: int = 16) -> Path:
    """Write a plain folder: ``counts`` maps ``live``/``spoof`` (or ``train/live`` ...) to images."""
    for folder, n in counts.items():
        for i in range(n):
            write_image(Path(root) / folder / f"{i:03d}.png", np.full((size, size, 3), 40 if "live" in folder else 220))
    return Path(root)
