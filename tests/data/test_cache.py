"""``synth``: SynthSpoof generated once into the cache, atomically, its parameters in its name."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import fgav.data.cache as cache
from fgav.data import open_dataset, synth_path
from fgav.data.testing import label, write_tree


class FakeRenderer:
    """Writes a two-image tree where the renderer would, counting its calls."""

    def __init__(self, fail: bool = False) -> None:
        self.calls: list[dict[str, Any]] = []
        self.fail = fail

    def __call__(self, out: Path, **options: Any) -> None:
        self.calls.append(options)
        write_tree(out, {"Data/test/1/live/a.png": {"label": label(spoof=0)}, "Data/train/2/spoof/b.png": {"label": label(spoof=1)}})
        options["progress"](options["n"])
        if self.fail:
            raise KeyboardInterrupt
        (out / "synthspoof.json").write_text(json.dumps(options | {"progress": None}))


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> FakeRenderer:
    renderer = FakeRenderer()
    monkeypatch.setenv("FGAV_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(cache, "_generate", renderer)
    monkeypatch.setattr(cache, "default_difficulty", lambda: 0.5)
    return renderer


def test_generated_once_with_its_parameters_in_its_name(fake: FakeRenderer, tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    first = synth_path(n=30, size=16, seed=3)
    assert first == tmp_path / "cache" / "synthspoof-n30-s16-seed3-d0.5-v1"
    assert "Generating SynthSpoof (n=30, size=16, seed=3)" in capfd.readouterr().err
    assert synth_path(n=30, size=16, seed=3) == first and len(fake.calls) == 1
    assert fake.calls[0] | {"progress": None} == {"n": 30, "size": 16, "seed": 3, "difficulty": 0.5, "progress": None}
    assert [p.name for p in (tmp_path / "cache").iterdir() if not p.name.endswith(".lock")] == [first.name]
    synth_path(n=30, size=16, seed=4)
    assert len(fake.calls) == 2


def test_open_dataset_synth_uses_the_default(fake: FakeRenderer, tmp_path: Path) -> None:
    dataset = open_dataset("synth", split="train", image_size=8)
    assert dataset.root.name == "synthspoof-n2500-s64-seed0-d0.5-v1" and dataset.paths == ["Data/train/2/spoof/b.png"]
    assert len(open_dataset("synth", split="test")) == 1 and len(fake.calls) == 1


def test_an_interrupted_generation_leaves_nothing(fake: FakeRenderer, tmp_path: Path) -> None:
    fake.fail = True
    with pytest.raises(KeyboardInterrupt):
        synth_path(n=5, size=8, seed=0)
    assert [p.name for p in (tmp_path / "cache").iterdir() if not p.name.endswith(".lock")] == []
    fake.fail = False
    assert (synth_path(n=5, size=8, seed=0) / "synthspoof.json").is_file() and len(fake.calls) == 2


def test_cache_dir_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("FGAV_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache.cache_dir() == tmp_path / "fgav"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert cache.cache_dir() == Path.home() / ".cache" / "fgav"


def test_the_real_renderer_through_the_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("FGAV_CACHE", str(tmp_path))
    root = synth_path(n=16, size=16, seed=2, progress=False)
    assert root.name.startswith("synthspoof-n16-s16-seed2-d") and root.name.endswith(f"-v{cache.format_version()}")
    train, test = open_dataset(root, split="train", image_size=16), open_dataset(root, split="test", image_size=16)
    assert len(train) + len(test) == 16 and {"depth", "reflection"} <= train.provides
    item = train[0]
    assert item["image"].shape == (3, 16, 16) and item["depth"].shape == (1, 16, 16)
