"""``fgav audit`` from the command line: a checkpoint on a data tree, outputs, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import fgav
from fgav.cli import add_plugin_commands, cli
from tests.train.tiny import write_tiny_tree


def run(*args: str) -> Any:
    add_plugin_commands()
    return CliRunner().invoke(cli, list(args))


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("audit")
    tree = write_tiny_tree(root / "tree", n_train=8, n_test=6)
    model = fgav.build_model("timm:test_resnet", image_size=32)
    model.save(root / "model")
    return tree, root / "model"


def test_audit_writes_json_csv_and_markdown(setup: tuple[Path, Path], tmp_path: Path) -> None:
    tree, model = setup
    out = tmp_path / "r.json"
    result = run("audit", "--checkpoint", str(model), "--data", str(tree), "--head", "classification",
                 "--head", "depth", "--eps", "2/255,8/255", "--augmenter", "none", "--device", "cpu",
                 "--json", str(out), "--csv", str(tmp_path / "r.csv"), "--markdown", str(tmp_path / "r.md"))
    assert result.exit_code == 0, result.output
    payload = json.loads(out.read_text())
    assert {(r["part"], r["epsilon"]) for r in payload["results"]} == {
        (p, e) for p in ("classification", "depth") for e in (2 / 255, 8 / 255)}
    assert len((tmp_path / "r.csv").read_text().splitlines()) == 5  # a header and four rows
    assert "Depth Map" in (tmp_path / "r.md").read_text()
    assert not out.with_name("r.json.state").exists(), "a finished audit leaves no state behind"


@pytest.mark.parametrize(("args", "message"), [
    (["--attack", "pgd", "--attack-option", "steps=-3"], "steps must be at least 1"),
    (["--attack-option", "fgsm.no_such=1"], "no_such"),
    (["--attack", "fgsmm"], "fgsm"),
    (["--attack-option", "steps"], "key=value"),
    (["--resume"], "nothing to resume"),
    (["--backbone", "resnet18"], "one of --backbone"),
])
def test_bad_input_is_one_line_before_any_bar_or_work(setup: tuple[Path, Path], args: list[str],
                                                      message: str) -> None:
    tree, model = setup
    result = run("audit", "--checkpoint", str(model), "--data", str(tree), "--augmenter", "none",
                 "--device", "cpu", *args)
    assert result.exit_code != 0
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error:") and message in lines[0], result.output
    assert "Traceback" not in result.output


def test_check_runs_the_flags_that_need_extra_passes(setup: tuple[Path, Path], tmp_path: Path) -> None:
    tree, model = setup
    out = tmp_path / "r.json"
    result = run("audit", "--checkpoint", str(model), "--data", str(tree), "--attack", "pgd", "--attack-option",
                 "steps=2", "--eps", "8/255", "--augmenter", "none", "--device", "cpu", "--check", "--json", str(out))
    assert result.exit_code == 0, result.output
    payload = json.loads(out.read_text())
    assert payload["config"]["check"] is True
    (entry,) = payload["results"]
    assert "incomplete-optimization" in {f["code"] for f in entry["flags"]}, "two steps of an untrained model"
    assert "incomplete-optimization" in result.output.replace("\n", ""), result.output  # rich may wrap the line
