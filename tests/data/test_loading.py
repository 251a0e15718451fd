"""make_loader: batches of batch dicts; unreadable images skipped, listed and counted."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from rich.console import Console
from torch.utils.data import Subset

from fgav.core.errors import FgavError
from fgav.data import SkipCounter, UnreadableImageError, make_loader, open_dataset
from fgav.data.testing import label, write_folder, write_tree


def corrupt_tree(root: Path) -> Path:
    """Six images: b.png is not an image, d.jpg is a truncated JPEG."""
    samples = {f"Data/test/1/live/{c}.png": {"label": label(spoof=0)} for c in "ace"}
    samples |= {f"Data/test/1/spoof/{c}.png": {"label": label(spoof=1, spoof_type=1)} for c in "bf"}
    samples["Data/test/1/spoof/d.jpg"] = {"label": label(spoof=1, spoof_type=2), "bb": "0 0 224 224 1"}
    write_tree(root, samples)
    (root / "Data/test/1/spoof/b.png").write_bytes(b"\x89PNG not really")
    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(buffer, "JPEG")
    (root / "Data/test/1/spoof/d.jpg").write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    return root


def test_unreadable_images_are_skipped_and_counted(tmp_path: Path) -> None:
    dataset = open_dataset(corrupt_tree(tmp_path), image_size=16)
    with pytest.raises(UnreadableImageError, match="Data/test/1/spoof/b.png"):
        dataset[dataset.paths.index("Data/test/1/spoof/b.png")]
    skips = SkipCounter()
    seen: list[str] = []
    for batch in make_loader(dataset, batch_size=4):
        skips.update(batch)
        assert batch["image"].shape[0] == len(batch["path"]) == len(batch["spoof"])
        seen += batch["path"]
    assert sorted(skips.paths) == ["Data/test/1/spoof/b.png", "Data/test/1/spoof/d.jpg"]
    assert len(skips) == 2 and len(skips.reasons) == 2 and all(skips.reasons)
    assert seen == [p for p in dataset.paths if p not in skips.paths]
    message = skips.message()
    assert message is not None and message.startswith("2 unreadable images skipped: ")
    assert "b.png" in message and "d.jpg" in message


def test_a_batch_of_only_unreadable_images_still_arrives(tmp_path: Path) -> None:
    dataset = open_dataset(corrupt_tree(tmp_path), image_size=16)
    bad = [dataset.paths.index(p) for p in ("Data/test/1/spoof/b.png", "Data/test/1/spoof/d.jpg")]
    batches = list(make_loader(Subset(dataset, bad), batch_size=2))
    assert len(batches) == 1
    batch = batches[0]
    assert batch["image"].shape == (0, 3, 16, 16) and len(batch["skipped"]) == 2
    assert set(batch) == {"image", "skipped", "skip_reasons"}


def test_worker_processes_skip_too(tmp_path: Path) -> None:
    dataset = open_dataset(corrupt_tree(tmp_path), image_size=16)
    skips, paths = SkipCounter(), []
    for batch in make_loader(dataset, batch_size=2, num_workers=2):
        skips.update(batch)
        paths += batch["path"]
    assert len(paths) == 4 and sorted(skips.paths) == ["Data/test/1/spoof/b.png", "Data/test/1/spoof/d.jpg"]


def test_malformed_annotation_in_a_worker_is_one_line(tmp_path: Path) -> None:
    root = write_tree(tmp_path, {"Data/test/1/live/a.png": {"label": label(spoof=0), "bb": "nonsense"}})
    loader = make_loader(open_dataset(root), batch_size=1, num_workers=1)
    with pytest.raises(FgavError) as exc:
        list(loader)
    assert str(exc.value).startswith("malformed bounding-box file Data/test/1/live/a_BB.txt") and "\n" not in str(exc.value)


def test_shuffle_is_seeded_and_batches_are_batch_dicts(tmp_path: Path) -> None:
    dataset = open_dataset(write_folder(tmp_path, {"live": 6, "spoof": 6}), image_size=8)
    order = lambda seed: torch.cat([b["index"] for b in make_loader(dataset, batch_size=5, shuffle=True, seed=seed)])
    assert order(1).tolist() == order(1).tolist() and sorted(order(1).tolist()) == list(range(12))
    assert order(1).tolist() != order(2).tolist()
    plain = list(make_loader(dataset, batch_size=5, drop_last=True))
    assert [len(b["image"]) for b in plain] == [5, 5] and plain[0]["index"].tolist() == [0, 1, 2, 3, 4]
    assert plain[0]["image"].dtype == torch.float32 and plain[0]["skipped"] == []
    assert make_loader(dataset, batch_size=2).dataset.provides == frozenset({"spoof"})
    with pytest.raises(FgavError, match="batch size"):
        make_loader(dataset, batch_size=0)


def test_valid_masks_are_collated(tmp_path: Path) -> None:
    root = write_tree(tmp_path, {"Data/test/1/live/a.png": {"label": label(spoof=0)}, "Data/test/1/spoof/b.png": {"label": label(spoof=1)}})
    batch = next(iter(make_loader(open_dataset(root, image_size=8), batch_size=2)))
    assert batch["valid"]["depth"].tolist() == [False, True] and batch["depth"].shape == (2, 1, 8, 8)


def test_skip_counter_report() -> None:
    skips = SkipCounter()
    assert skips.message() is None
    skips.update({"skipped": [f"x{i}.png" for i in range(7)], "skip_reasons": ["bad"] * 7})
    console = Console(file=io.StringIO(), width=200)
    skips.report(console, show=3)
    text = console.file.getvalue()  # type: ignore[attr-defined]
    assert "7 unreadable images skipped: x0.png, x1.png, x2.png (and 4 more)" in text
