"""``fgav train`` and ``fgav evaluate``: Click's runner, and two CPU processes under torchrun."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import fgav
from fgav.cli import add_plugin_commands, cli
from tests.torchrun import torchrun
from tests.train.tiny import write_tiny_tree

TINY = ["--backbone", "timm:test_resnet", "--image-size", "32", "--batch-size", "4", "--device", "cpu"]


def run(*args: str) -> Any:
    add_plugin_commands()
    return CliRunner().invoke(cli, list(args))


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_tree(tmp_path_factory.mktemp("tiny"), n_train=16, n_test=13)


def test_train_then_evaluate_write_a_checkpoint_and_json(tree: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    result = run("train", *TINY, "--data", str(tree), "--epochs", "1", "--out", str(out), "--loss-weight", "depth=0.5")
    assert result.exit_code == 0, result.output
    assert fgav.load_model(out).loss_weights["depth"] == 0.5
    result = run("evaluate", "--checkpoint", str(out), "--data", str(tree), "--device", "cpu", "--json", str(tmp_path / "e.json"))
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "e.json").read_text())
    assert report["n"] == 13
    assert set(report["accuracy"]) == {"attribute", "spoof_type", "illumination", "classification"}
    assert set(report["mse"]) == {"depth", "reflection"}
    assert set(report["fas"]) == {"APCER", "BPCER", "ACER", "AUC", "TPR@FPR=1e-2", "TPR@FPR=5e-3", "TPR@FPR=1e-3"}
    assert "classification" in result.output


def test_bad_input_is_a_one_line_error(tree: Path, tmp_path: Path) -> None:
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "x").write_text("")
    result = run("train", *TINY, "--data", str(tree), "--out", str(tmp_path / "taken"))
    assert result.exit_code == 1 and "pass --resume to continue it or --overwrite" in result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1
    result = run("train", *TINY, "--data", str(tree), "--out", str(tmp_path / "a"), "--loss-weight", "depth")
    assert result.exit_code == 1 and "head=weight" in result.output
    result = run("evaluate", "--checkpoint", str(tmp_path / "nowhere"), "--data", str(tree))
    assert result.exit_code == 1 and "is not an fgav checkpoint" in result.output


def _torchrun(*args: str) -> subprocess.CompletedProcess[str]:
    done = torchrun(*args)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    return done


def test_torchrun_trains_and_evaluates_exactly_as_one_process(tree: Path, tmp_path: Path) -> None:
    out = tmp_path / "ddp"
    _torchrun("train", *TINY, "--data", str(tree), "--epochs", "2", "--out", str(out))
    lines = (out / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in lines] == [1, 2]  # rank 0 alone wrote
    assert json.loads(lines[0])["images"] == 16  # both ranks' samples counted
    fgav.load_model(out)  # loads like any checkpoint
    _torchrun("evaluate", "--checkpoint", str(out), "--data", str(tree), "--device", "cpu", "--batch-size", "3",
              "--json", str(tmp_path / "two.json"))  # fmt: skip
    result = run("evaluate", "--checkpoint", str(out), "--data", str(tree), "--device", "cpu", "--json", str(tmp_path / "one.json"))
    assert result.exit_code == 0, result.output
    two, one = (json.loads((tmp_path / f"{n}.json").read_text()) for n in ("two", "one"))
    assert two["n"] == one["n"] == 13  # 13 over 2 ranks: none dropped, none counted twice
    for group in ("accuracy", "mse", "fas"):
        assert two[group].keys() == one[group].keys()
        for key, value in one[group].items():
            assert two[group][key] == pytest.approx(value, rel=1e-5, abs=1e-7), (group, key)


def test_unreadable_images_are_skipped_counted_and_reported(tmp_path: Path) -> None:
    tree = write_tiny_tree(tmp_path / "tree", n_train=8, n_test=6)
    (tree / "Data/train/0/live/000.png").write_bytes(b"not a png")
    (tree / "Data/test/0/live/000.png").write_bytes(b"not a png")
    out = tmp_path / "run"
    result = run("train", *TINY, "--data", str(tree), "--epochs", "1", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "1 unreadable image" in result.output
    assert json.loads((out / "metrics.jsonl").read_text())["skipped"] == 1
    result = run("evaluate", "--checkpoint", str(out), "--data", str(tree), "--device", "cpu", "--json", str(tmp_path / "e.json"))
    report = json.loads((tmp_path / "e.json").read_text())
    assert (report["n"], report["skipped"]) == (5, 1)


def test_evaluate_json_is_written_atomically(tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from fgav.train import train
    from tests.train.tiny import ToyFAS

    train(out=tmp_path / "run", dataset=ToyFAS(4), epochs=1, backbone="timm:test_resnet", image_size=32, batch_size=2,
          device="cpu", progress=False)  # fmt: skip
    target = tmp_path / "e.json"
    target.write_text('{"old": true}\n')
    real = Path.write_text

    def half_then_fail(self: Path, text: str, *args: Any, **kwargs: Any) -> int:
        real(self, text[: len(text) // 2])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Path, "write_text", half_then_fail)
    result = run("evaluate", "--checkpoint", str(tmp_path / "run"), "--data", str(tree), "--device", "cpu", "--json", str(target))
    monkeypatch.undo()
    assert result.exit_code != 0
    assert json.loads(target.read_text()) == {"old": True}  # the earlier file is whole, not half of the new one
