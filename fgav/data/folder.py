"""A plain folder of images with binary labels: ``ROOT/{live,spoof}/**/*.{jpg,png,...}``.

For users who have live and spoof images and nothing else: items carry ``image``
(the whole image, resized), ``spoof``, ``index`` and ``path``; every other head is
skipped by the commands, with a note. ``ROOT/{train,test}/{live,spoof}/`` is read as
two splits; a folder without split subfolders is one set, whatever split is asked.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from fgav.core.errors import FgavError
from fgav.data.dataset import IMAGE_SUFFIXES, FASDataset, read_image

CLASSES = ("live", "spoof")  # folder name -> label: its index (0 live, 1 spoof)


def has_classes(folder: Path) -> bool:
    """Whether ``folder`` holds a ``live/`` or a ``spoof/`` subfolder."""
    return any((Path(folder) / c).is_dir() for c in CLASSES)


def _images_under(folder: Path) -> list[str]:
    """The image files below ``folder`` (recursively), as sorted paths relative to it."""
    found: list[str] = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames.sort()
        rel = Path(dirpath).relative_to(folder)
        found.extend((rel / f).as_posix() for f in filenames if Path(f).suffix.lower() in IMAGE_SUFFIXES)
    return sorted(found)


class FolderDataset(FASDataset):
    """Live and spoof images from ``live/`` and ``spoof/`` folders: binary labels only."""

    def __init__(self, root: str | Path, *, split: str = "test", image_size: int = 64) -> None:
        """Index the images (no image is read).

        Args:
            root: the folder holding ``live/`` and ``spoof/`` (or ``train/`` and ``test/``
                each holding them).
            split: the split subfolder to read where there is one; otherwise ignored
                and the data set's split is ``"all"``.
            image_size: the side of the returned images.

        Raises:
            FgavError: no live or spoof folder, or no image in them.
        """
        root = Path(root)
        base = root / split if has_classes(root / split) else root
        if not has_classes(base):
            raise FgavError(f"{root} holds neither a live/ nor a spoof/ folder")
        paths: list[str] = []
        spoof: list[int] = []
        for label, name in enumerate(CLASSES):
            if (base / name).is_dir():
                files = [(base / name / f).relative_to(root).as_posix() for f in _images_under(base / name)]
                paths.extend(files)
                spoof.extend([label] * len(files))
        order = sorted(range(len(paths)), key=paths.__getitem__)
        self._spoof = torch.tensor([spoof[i] for i in order], dtype=torch.int64)
        super().__init__(
            root=root,
            split=split if base != root else "all",
            image_size=image_size,
            paths=[paths[i] for i in order],
            provides=frozenset({"spoof"}),
        )

    def _load(self, index: int) -> dict[str, Any]:
        rel = self.paths[index]
        image = read_image(self.root / rel, size=self.image_size, display=rel)
        return {"image": image, "spoof": self._spoof[index].clone()}

    def labels(self) -> dict[str, Tensor]:
        """The live/spoof label of every sample ``(N,)``, without reading images."""
        return {"spoof": self._spoof.clone()}

    def _take(self, n: int) -> None:
        super()._take(n)
        self._spoof = self._spoof[:n]
