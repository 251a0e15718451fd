"""The plain-folder loader: live/ and spoof/ images with binary labels only."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from fgav.core.errors import FgavError
from fgav.data import FolderDataset, open_dataset
from fgav.data.testing import write_folder, write_image


def test_binary_labels_keys_and_order(tmp_path: Path) -> None:
    write_folder(tmp_path, {"live": 2, "spoof": 3}, size=20)
    write_image(tmp_path / "spoof/nested/deep.jpg", np.full((10, 30, 3), 220))
    (tmp_path / "live/notes.txt").write_text("not an image")
    dataset = open_dataset(tmp_path, image_size=12)
    assert isinstance(dataset, FolderDataset)
    assert dataset.paths == sorted(dataset.paths) and len(dataset) == 6
    assert "spoof/nested/deep.jpg" in dataset.paths and not any(p.endswith(".txt") for p in dataset.paths)
    assert dataset.provides == frozenset({"spoof"}) and dataset.split == "all"
    assert dataset.labels()["spoof"].tolist() == [0, 0, 1, 1, 1, 1]
    item = dataset[5]
    assert set(item) == {"image", "spoof", "index", "path"}
    assert item["image"].shape == (3, 12, 12) and item["spoof"].item() == 1 and item["index"].item() == 5
    assert torch.allclose(item["image"], torch.full((3, 12, 12), 220 / 255))  # whole image, resized
    assert dataset[0]["spoof"].item() == 0 and dataset[0]["path"] == "live/000.png"


def test_split_subfolders(tmp_path: Path) -> None:
    write_folder(tmp_path, {"train/live": 1, "train/spoof": 2, "test/live": 3})
    train, test = open_dataset(tmp_path, split="train"), open_dataset(tmp_path, split="test")
    assert (len(train), len(test)) == (3, 3) and train.split == "train"
    assert test.labels()["spoof"].tolist() == [0, 0, 0] and train.paths[0] == "train/live/000.png"


def test_only_one_class_folder(tmp_path: Path) -> None:
    write_folder(tmp_path, {"spoof": 2})
    assert open_dataset(tmp_path).labels()["spoof"].tolist() == [1, 1]


def test_empty_and_bad_folders(tmp_path: Path) -> None:
    (tmp_path / "live").mkdir()
    with pytest.raises(FgavError, match="holds no images"):
        open_dataset(tmp_path)
    with pytest.raises(FgavError, match="neither a live/ nor a spoof/"):
        FolderDataset(tmp_path / "live")
    write_folder(tmp_path, {"live": 1})
    with pytest.raises(FgavError, match="need CelebA-Spoof's layout"):
        open_dataset(tmp_path, depth_dir=tmp_path)
    with pytest.raises(FgavError, match="positive"):
        open_dataset(tmp_path, image_size=0)
