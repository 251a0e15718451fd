"""``fgav sfa train`` and ``fgav sfa show`` through Click's test runner."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from fgav.cli import add_plugin_commands, cli
from tests.sfa.conftest import make_task


def run(*args: str) -> Any:
    add_plugin_commands()
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A plain live/spoof folder with train and test splits of the tiny task."""
    root = tmp_path_factory.mktemp("task")
    for split, seed in (("train", 10), ("test", 11)):
        x, spoof = make_task(12, seed=seed)
        for i, (image, label) in enumerate(zip(x, spoof)):
            out = root / split / ("spoof" if label else "live") / f"{i:02d}.png"
            out.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray((image.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)).save(out)
    return root


def test_train_then_show(target_dir: Path, folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "sfa"
    result = run("sfa", "train", "--checkpoint", target_dir, "--data", folder, "--epochs", "1", "--batch-size", "4",
                 "--limit", "8", "--alpha", "4/255", "--work-size", "32", "--latent-dim", "8", "--device", "cpu",
                 "--out", out)
    assert result.exit_code == 0, result.output
    assert "loss" in result.output and "wrote" in result.output
    record = json.loads((out / "sfa.json").read_text())
    assert record["alpha"] == pytest.approx(4 / 255) and record["work_size"] == 32
    assert record["training"]["samples"] == 8 and record["target"] == str(target_dir)

    png = tmp_path / "fig.png"
    result = run("sfa", "show", "--checkpoint", target_dir, "--data", folder, "--sfa", out, "--n", "2",
                 "--cell", "32", "--device", "cpu", "--out", png)
    assert result.exit_code == 0, result.output
    image = Image.open(png)
    assert image.mode == "RGB"
    assert image.height >= 4 * 32 and image.width >= 5 * 32, "four rows (2 live, 2 spoof), five columns"
    assert len(np.unique(np.asarray(image).reshape(-1, 3), axis=0)) > 50, "a picture, not a blank"


def test_errors_are_one_line(target_dir: Path, folder: Path, tmp_path: Path) -> None:
    result = run("sfa", "train", "--checkpoint", target_dir, "--data", folder, "--alpha", "eight")
    assert result.exit_code != 0 and "--alpha takes" in result.output and "Traceback" not in result.output
    result = run("sfa", "show", "--checkpoint", target_dir, "--data", folder, "--sfa", tmp_path, "--out", tmp_path / "f.png")
    assert result.exit_code != 0 and "no SFA in" in result.output
    result = run("sfa", "show", "--checkpoint", target_dir, "--data", folder, "--out", tmp_path / "f.jpg")
    assert result.exit_code != 0 and ".png" in result.output
    result = run("sfa", "train", "--checkpoint", tmp_path, "--data", folder)
    assert result.exit_code != 0 and "not an fgav checkpoint" in result.output
