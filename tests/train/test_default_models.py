"""``fgav.targets.default``: trained once into the cache with a note, then loaded."""

from __future__ import annotations

import importlib
import json
import io
from pathlib import Path

import pytest
import torch
from rich.console import Console

import fgav.train.loop as loop
import fgav.train.sources as sources
from fgav.core.errors import FgavError
from fgav.targets import default, default_checkpoint, is_cached, read_record
from fgav.targets.defaults import DEFAULT_SFA_TRAINING
from tests.train.tiny import ToyFAS

# fgav.train re-exports the function evaluate, which hides its module's attribute name.
evaluation = importlib.import_module("fgav.train.evaluate")


def test_the_checkpoint_lives_in_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FGAV_CACHE", str(tmp_path))
    from fgav.data.cache import default_difficulty

    d = f"d{default_difficulty():g}"
    assert default_checkpoint("resnet18") == tmp_path / "models" / f"resnet18-synth-s64-{d}-v1"
    assert default_checkpoint("timm:test_resnet", image_size=32).name == f"timm_test_resnet-synth-s32-{d}-v1"


def test_trained_once_with_a_note_then_loaded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FGAV_CACHE", str(tmp_path))
    opened: list[str] = []

    def tiny_synth(data: str, *, split: str, image_size: int, limit: int | None) -> ToyFAS:
        opened.append(f"{data}/{split}")
        return ToyFAS(16, image_size)

    for module in (loop, sources, evaluation):
        monkeypatch.setattr(module, "open_data", tiny_synth)
    console = Console(file=io.StringIO(), width=200)
    model = default("timm:test_resnet", device="cpu", image_size=32, console=console)
    # counted, trained on, measured, then its SFA module trained on it
    assert opened == ["synth/train", "synth/train", "synth/test", "synth/train"]
    sfa_config = default_checkpoint("timm:test_resnet", image_size=32) / "sfa" / "sfa.json"
    assert json.loads(sfa_config.read_text())["training"]["epochs"] == DEFAULT_SFA_TRAINING["epochs"]
    said = console.file.getvalue()
    assert "training it once on SynthSpoof" in said and "12 epochs over 16 images" in said
    assert "Estimated training time: about" in said  # measured from the first batches
    assert "Training the default target's SFA module" in said
    assert "Trained the default timm:test_resnet target in" in said and "live/spoof accuracy" in said
    record = read_record(default_checkpoint("timm:test_resnet", image_size=32))
    assert record["backbone"] == "timm:test_resnet" and 0 <= record["test_accuracy"] <= 1 and record["test_images"] == 16
    assert is_cached("timm:test_resnet", image_size=32) and not model.training
    assert not [p for p in (tmp_path / "models").iterdir() if p.name.startswith(".")]  # no temporary left
    console = Console(file=io.StringIO(), width=200)
    again = default("timm:test_resnet", device="cpu", image_size=32, console=console)
    assert len(opened) == 4  # not trained twice
    assert "Using the cached default timm:test_resnet target" in console.file.getvalue()
    for (name, a), b in zip(model.state_dict().items(), again.state_dict().values()):
        assert torch.equal(a, b), name
    assert again.checkpoint_dir == default_checkpoint("timm:test_resnet", image_size=32)


def test_an_unknown_backbone_fails_before_training(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FGAV_CACHE", str(tmp_path))
    with pytest.raises(FgavError, match="unknown backbone"):
        default("resnet81")
    assert not (tmp_path / "models").exists()
