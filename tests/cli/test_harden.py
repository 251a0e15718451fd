"""``fgav harden``: Click's runner (train, judge, refusals) and two CPU processes under torchrun."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import fgav
from fgav.cli import add_plugin_commands, cli
from tests.torchrun import torchrun
from tests.train.tiny import write_tiny_tree

TINY = ["--batch-size", "4", "--device", "cpu", "--holdout", "4", "--lr", "2e-3"]


def run(*args: str) -> Any:
    add_plugin_commands()
    return CliRunner().invoke(cli, list(args))


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_tree(tmp_path_factory.mktemp("tiny"), n_train=20, n_test=10)


@pytest.fixture(scope="module")
def target(tree: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("target") / "t"
    result = run("train", "--backbone", "timm:test_resnet", "--image-size", "32", "--batch-size", "4",
                 "--device", "cpu", "--data", str(tree), "--epochs", "2", "--out", str(out))  # fmt: skip
    assert result.exit_code == 0, result.output
    return out


def test_harden_then_judge_writes_the_checkpoint_and_the_judgement(tree: Path, target: Path, tmp_path: Path) -> None:
    out = tmp_path / "h"
    result = run("harden", "--checkpoint", str(target), "--out", str(out), "--data", str(tree), *TINY,
                 "--epochs", "1", "--head", "all", "--eps", "16/255", "--judge-limit", "6", "--judge-eps", "8/255",
                 "--judge-option", "square.queries=5", "--judge-option", "apgd.steps=3",
                 "--json", str(tmp_path / "j.json"), "--markdown", str(tmp_path / "j.md"))  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "hardened 1 epochs" in result.output and "robust accuracy" in result.output
    record = json.loads((tmp_path / "j.json").read_text())
    assert record["hardening"]["epochs"] == 1 and record["hardening"]["cpu_seconds"] > 0
    rows = record["judgement"]["rows"]
    assert {(r["model"], r["kind"]) for r in rows} == {(m, k) for m in ("before", "after")
                                                      for k in ("gradient", "gradient-free")}  # fmt: skip
    assert all(r["n"] == 6 and 0 <= r["robust_accuracy"] <= 1 for r in rows)
    assert "| classification | 8/255 |" in (tmp_path / "j.md").read_text()
    model = fgav.load_model(out)
    assert model.config["hardening"]["parts"] == model.head_names  # all: every head of the target
    assert model.config["hardening"]["eps"] == pytest.approx(16 / 255)
    # Resuming a finished run does nothing more.
    again = run("harden", "--out", str(out), "--data", str(tree), "--resume", "--no-judge", *TINY)
    assert again.exit_code == 0, again.output
    assert "nothing to do" in again.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--eps", "0"], "--eps must be in"),
        (["--eps", "2/255,4/255"], "one training budget"),
        (["--attack", "cw"], "--attack must be one of"),
        (["--head", "nose"], "no part 'nose'"),
        (["--backbone", "resnet18"], "one of them"),
        (["--judge-limit", "0"], "--judge-limit"),
    ],
)
def test_bad_inputs_are_one_line_errors(tree: Path, target: Path, tmp_path: Path, args: list[str], message: str) -> None:
    result = run("harden", "--checkpoint", str(target), "--out", str(tmp_path / "h"), "--data", str(tree), *TINY, *args)
    assert result.exit_code != 0
    assert message in result.output and "Traceback" not in result.output
    assert len([line for line in result.output.splitlines() if line.startswith("Error")]) == 1


def test_torchrun_hardens_with_two_cpu_processes(tree: Path, target: Path, tmp_path: Path) -> None:
    out = tmp_path / "ddp"
    done = torchrun("harden", "--checkpoint", str(target), "--out", str(out), "--data", str(tree), *TINY,
                    "--epochs", "2", "--no-judge")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    lines = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in lines] == [1, 2]  # rank 0 alone wrote
    assert lines[0]["images"] == 16  # 20 less 4 held out, both ranks' samples counted
    assert all("holdout_robust_accuracy" in r for r in lines)
    fgav.load_model(out)  # loads like any checkpoint
