"""``fgav.models.default``: trained once into the cache with a note, then loaded."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import torch
from rich.console import Console

import fgav.train.loop as loop
from fgav.errors import FgavError
from fgav.models import default, default_checkpoint, is_cached
from tests.train.tiny import ToyFAS


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

    monkeypatch.setattr(loop, "open_data", tiny_synth)
    console = Console(file=io.StringIO(), width=200)
    model = default("timm:test_resnet", device="cpu", image_size=32, console=console)
    assert opened == ["synth/train"]
    assert "training it once on SynthSpoof" in console.file.getvalue()
    assert is_cached("timm:test_resnet", image_size=32) and not model.training
    assert not [p for p in (tmp_path / "models").iterdir() if p.name.startswith(".")]  # no temporary left
    again = default("timm:test_resnet", device="cpu", image_size=32, progress=False)
    assert opened == ["synth/train"]  # not trained twice
    for (name, a), b in zip(model.state_dict().items(), again.state_dict().values()):
        assert torch.equal(a, b), name
    assert again.checkpoint_dir == default_checkpoint("timm:test_resnet", image_size=32)


def test_an_unknown_backbone_fails_before_training(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FGAV_CACHE", str(tmp_path))
    with pytest.raises(FgavError, match="unknown backbone"):
        default("resnet81")
    assert not (tmp_path / "models").exists()
