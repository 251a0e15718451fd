"""CelebA-Spoof in its official on-disk layout (SynthSpoof writes the same layout).

```
ROOT/Data/{train,test}/<subject>/{live,spoof}/<id>.{jpg,png}
ROOT/Data/.../<id>_BB.txt                   x y w h score, in a 224 x 224 frame
ROOT/metas/<protocol>/{train,test}_label.json   relative path -> 44 ints
```

Protocols are folders under ``metas``: ``intra_test``, ``protocol1``,
``protocol2/test_on_high_quality_device``, ``..._middle_...``, ``..._low_...``.
CelebA-Spoof has no depth or reflection maps; fgav looks for ``<id>_depth.png`` and
``<id>_reflection.png`` beside each image (SynthSpoof writes them) or in folders that
mirror ``Data/`` (``depth_dir``/``reflection_dir``). Where a map is absent, the label
fixes it when it can (a spoof's depth is zero, a live face's reflection is zero) and
the sample is marked invalid for that map otherwise.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import torch
from torch import Tensor

from fgav.core.errors import FgavError
from fgav.data.dataset import Box, EmptySplitError, FASDataset, read_image
from fgav.data.labels import LABEL_KEYS, LABEL_LENGTH, SPOOF_INDEX, out_of_range, split_label

BB_FRAME = 224.0  # CelebA-Spoof's bounding boxes are given in a 224 x 224 frame
MAP_KEYS = ("depth", "reflection")


def protocols(root: Path) -> list[str]:
    """The protocols (folders under ``metas``, relative) that hold a ``*_label.json``."""
    metas = Path(root) / "metas"
    found = {p.parent.relative_to(metas).as_posix() for p in metas.rglob("*_label.json")}
    return sorted(found)


def read_label_file(file: Path, *, display: str) -> tuple[list[str], np.ndarray]:
    """Read a label JSON (relative path -> 44 ints) and check its shape.

    Returns:
        The keys as written and their label vectors ``(N, 44)`` int64, in file order.

    Raises:
        FgavError: the file is missing, not JSON, not a dict of lists, lists no image,
            a vector is not 44 integers, or a label lies outside its range (see
            :data:`fgav.data.labels.LABEL_RANGES`); the message names the file (and the key).
    """
    try:
        with open(file, encoding="utf-8") as f:
            content = json.load(f)
    except FileNotFoundError:
        raise FgavError(f"label file {display} is missing") from None
    except (OSError, ValueError) as exc:
        raise FgavError(f"label file {display} is not readable JSON: {exc}") from None
    if not isinstance(content, dict):
        raise FgavError(f"label file {display} must be a dict of lists (path -> 44 ints), not a {type(content).__name__}")
    if not content:
        raise EmptySplitError(f"label file {display} lists no images (an empty split)")
    for key, vector in content.items():
        if not isinstance(vector, list):
            raise FgavError(f"label file {display}: {key!r} must map to a list of {LABEL_LENGTH} ints, not a {type(vector).__name__}")
        if len(vector) != LABEL_LENGTH:
            raise FgavError(f"label file {display}: {key!r} has {len(vector)} labels, expected {LABEL_LENGTH}")
    try:
        vectors = np.array(list(content.values()))
    except (ValueError, TypeError):  # ragged nesting: some entry holds a list
        vectors = np.array([], dtype=object)
    if vectors.dtype.kind not in "iu" or vectors.ndim != 2:  # only then search for the culprit
        key = next((k for k, v in content.items() if not all(type(x) is int for x in v)), next(iter(content)))
        raise FgavError(f"label file {display}: {key!r} holds a label that is not an integer")
    vectors = vectors.astype(np.int64)
    bad = out_of_range(vectors)
    if bad is not None:  # caught here, not as an IndexError mid-training or a wrong metric
        row, what = bad
        raise FgavError(f"label file {display}: {list(content)[row]!r} has {what}")
    return list(content), vectors


def read_box(file: Path, *, display: str, margin: float = 0.0) -> Box:
    """Read an ``x y w h [score]`` file (224 frame) as a fractional box, with margin, clamped.

    Raises:
        FgavError: the file is unreadable, not four or five numbers, has a non-positive
            width or height, or lies wholly outside the frame.
    """
    try:
        text = file.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise FgavError(f"bounding-box file {display} is not readable: {exc}") from None
    fields = text.split()
    try:
        numbers = [float(v) for v in fields]
    except ValueError:
        numbers = []
    if len(numbers) not in (4, 5) or not all(np.isfinite(numbers)):
        raise FgavError(f"malformed bounding-box file {display}: expected 'x y w h score', got {text.strip()[:60]!r}")
    x, y, w, h = numbers[:4]
    if w <= 0 or h <= 0:
        raise FgavError(f"malformed bounding-box file {display}: width and height must be positive, got {w:g} x {h:g}")
    left, right = (x - margin * w) / BB_FRAME, (x + w + margin * w) / BB_FRAME
    top, bottom = (y - margin * h) / BB_FRAME, (y + h + margin * h) / BB_FRAME
    left, top, right, bottom = max(left, 0.0), max(top, 0.0), min(right, 1.0), min(bottom, 1.0)
    if right <= left or bottom <= top:
        raise FgavError(f"malformed bounding-box file {display}: the box lies outside the {BB_FRAME:g}-pixel frame")
    return left, top, right, bottom


def _normalize_key(key: str) -> str:
    """A label key relative to the root: mirrors prefix it with their own folder name."""
    parts = PurePosixPath(key.replace("\\", "/")).parts
    return "/".join(parts[parts.index("Data") :]) if "Data" in parts else "/".join(parts)


class _Listing:
    """File names per folder, each folder listed once: a stat per file would be slow."""

    def __init__(self) -> None:
        self._cache: dict[Path, frozenset[str]] = {}

    def names(self, folder: Path) -> frozenset[str]:
        if folder not in self._cache:
            try:
                self._cache[folder] = frozenset(os.listdir(folder))
            except OSError:
                self._cache[folder] = frozenset()
        return self._cache[folder]

    def find(self, folder: Path, candidates: tuple[str, ...]) -> Path | None:
        names = self.names(folder)
        return next((folder / c for c in candidates if c in names), None)


class CelebASpoofDataset(FASDataset):
    """CelebA-Spoof (or SynthSpoof): face crops from the bounding boxes, 44 labels, maps."""

    def __init__(
        self,
        root: str | Path,
        *,
        split: str = "test",
        image_size: int = 64,
        protocol: str = "intra_test",
        margin: float = 0.0,
        depth_dir: str | Path | None = None,
        reflection_dir: str | Path | None = None,
    ) -> None:
        """Index one split of one protocol (reads the label JSON and lists folders; no image).

        Args:
            root: the folder holding ``Data/`` and ``metas/``.
            split: ``"train"`` or ``"test"``.
            image_size: the side of the returned images and maps.
            protocol: the folder under ``metas`` (e.g. ``protocol2/test_on_low_quality_device``).
            margin: grow the box by this fraction of its width (height) on each side.
            depth_dir: a folder mirroring ``Data/`` with depth maps (same stem, or ``<stem>_depth``).
            reflection_dir: likewise for reflection maps.

        Raises:
            FgavError: a missing or malformed label file, an image listed but missing,
                an empty split, a negative margin.
        """
        root = Path(root)
        if split not in ("train", "test"):
            raise FgavError(f"CelebA-Spoof has the splits 'train' and 'test', not {split!r}")
        if not margin >= 0:
            raise FgavError(f"the crop margin is a fraction of the box, >= 0, not {margin}")
        protocol = protocol.strip("/")
        label_file = root / "metas" / protocol / f"{split}_label.json"
        display = f"metas/{protocol}/{split}_label.json"
        if not label_file.is_file():
            known = ", ".join(protocols(root)) or "none"
            raise FgavError(f"label file {display} is missing under {root} (protocols found: {known})")
        keys, vectors = read_label_file(label_file, display=display)
        normalized = [_normalize_key(k) for k in keys]
        order = sorted(range(len(keys)), key=normalized.__getitem__)
        paths = [normalized[i] for i in order]
        self.label_file = label_file
        self.protocol, self.margin = protocol, float(margin)
        self._labels = vectors[order]
        self._index_files(root, paths, display, depth_dir, reflection_dir)
        spoof = self._labels[:, SPOOF_INDEX] != 0
        self._valid = {
            "depth": np.array([f is not None for f in self._maps["depth"]]) | spoof,
            "reflection": np.array([f is not None for f in self._maps["reflection"]]) | ~spoof,
        }
        super().__init__(root=root, split=split, image_size=image_size, paths=paths, provides=self._provides())

    def _provides(self) -> frozenset[str]:
        """The label keys, and each map whose ground truth every sample has."""
        return frozenset(LABEL_KEYS) | {k for k in MAP_KEYS if self._valid[k].all()}

    def _index_files(
        self, root: Path, paths: list[str], display: str, depth_dir: str | Path | None, reflection_dir: str | Path | None
    ) -> None:
        """Check every listed image exists; find each one's box file and maps."""
        listing = _Listing()
        mirrors = {"depth": Path(depth_dir) if depth_dir else None, "reflection": Path(reflection_dir) if reflection_dir else None}
        for key, folder in mirrors.items():
            if folder is not None and not folder.is_dir():
                raise FgavError(f"the {key} folder {folder} does not exist")
        self._boxes: list[Path | None] = []
        self._maps: dict[str, list[Path | None]] = defaultdict(list)
        missing: list[str] = []
        for rel in paths:
            file = root / rel
            folder, stem = file.parent, file.stem
            if file.name not in listing.names(folder):
                missing.append(rel)
            self._boxes.append(listing.find(folder, (f"{stem}_BB.txt",)))
            inner = PurePosixPath(rel)
            inner = inner.relative_to("Data") if inner.parts[:1] == ("Data",) else inner
            for key in MAP_KEYS:
                found = listing.find(folder, (f"{stem}_{key}.png",))
                mirror = mirrors[key]
                if found is None and mirror is not None:
                    names = (f"{stem}_{key}.png", f"{stem}.png", f"{stem}.jpg", file.name)
                    found = listing.find(mirror / inner.parent, names)
                self._maps[key].append(found)
        if missing:
            more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
            raise FgavError(f"image {missing[0]} is listed in {display} but missing under {root}{more}")

    def _load(self, index: int) -> dict[str, Any]:
        rel = self.paths[index]
        bb = self._boxes[index]
        box = read_box(bb, display=self._rel(bb), margin=self.margin) if bb is not None else None
        size = self.image_size
        item: dict[str, Any] = {"image": read_image(self.root / rel, size=size, box=box, display=rel)}
        item.update(split_label(self._labels[index].tolist()))
        for key in MAP_KEYS:
            file = self._maps[key][index]
            if file is not None:
                item[key] = read_image(file, size=size, box=box, mode="L", display=self._rel(file))
            else:  # the label fixes it (valid) or nobody knows it (invalid): zero either way
                item[key] = torch.zeros(1, size, size)
        item["valid"] = {key: bool(self._valid[key][index]) for key in MAP_KEYS}
        return item

    def _rel(self, file: Path) -> str:
        try:
            return file.relative_to(self.root).as_posix()
        except ValueError:
            return str(file)

    def labels(self) -> dict[str, Tensor]:
        """The label vectors split into batch keys, each ``(N, ...)``, without reading images."""
        vectors = torch.from_numpy(self._labels)
        return {
            "attributes": vectors[:, :40].float(),
            "spoof_type": vectors[:, 40].clone(),
            "illumination": vectors[:, 41].clone(),
            "environment": vectors[:, 42].clone(),
            "spoof": vectors[:, SPOOF_INDEX].clone(),
        }

    def label_vectors(self) -> Tensor:
        """The raw 44-int label vectors ``(N, 44)`` int64, in the data set's order."""
        return torch.from_numpy(self._labels.copy())

    def map_validity(self) -> dict[str, Tensor]:
        return {key: torch.from_numpy(self._valid[key].copy()) for key in MAP_KEYS}

    def _take(self, n: int) -> None:
        super()._take(n)
        self._labels = self._labels[:n]
        self._boxes = self._boxes[:n]
        self._maps = {k: v[:n] for k, v in self._maps.items()}
        self._valid = {k: v[:n] for k, v in self._valid.items()}
        self.provides = self._provides()
