"""``fgav audit`` from the command line: a checkpoint on a data tree, outputs, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
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
    torch.manual_seed(3)  # the untrained model's weights, whatever ran before (the flags' tests depend on them)
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


def _one_line_error(result: Any, message: str) -> None:
    lines = result.output.strip().splitlines()
    assert result.exit_code != 0 and "Traceback" not in result.output, result.output
    assert len(lines) == 1 and lines[0].startswith("Error:") and message in lines[0], result.output


@pytest.mark.parametrize(("args", "message"), [
    (["--json", "{file}/sub/r.json"], "cannot be created: {file} is a file, not a folder"),
    (["--json", "{dir}"], "is a folder; give a file name"),
    (["--csv", "{file}/r.csv"], "cannot be created"),
    (["--markdown", "{file}/r.md"], "cannot be created"),
    (["--json", "{dir}/r.json", "--state", "{dir}"], "--state {dir} is a folder"),
    (["--json", "{dir}/r", "--csv", "{dir}/r"], "--json and --csv name the same file"),
    (["--eps", ""], "no epsilon given"),
    (["--eps", "8/255,x"], "not 'x'"),
    (["--resume", "--restart", "--json", "{dir}/r.json"], "not both"),
])
def test_unwritable_outputs_and_empty_budgets_fail_before_the_model_is_loaded(tmp_path: Path, args: list[str],
                                                                              message: str) -> None:
    (tmp_path / "file").write_text("x")
    where = {"file": str(tmp_path / "file"), "dir": str(tmp_path)}
    # The checkpoint does not exist: an error about the output proves it came first.
    result = run("audit", "--checkpoint", str(tmp_path / "no-model"), "--device", "cpu",
                 *[a.format(**where) for a in args])
    _one_line_error(result, message.format(**where))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"], "nothing written, nothing left behind"


def test_a_state_file_holding_a_json_list_is_one_line(setup: tuple[Path, Path], tmp_path: Path) -> None:
    tree, model = setup
    (tmp_path / "s.state").write_text("[1, 2, 3]")
    result = run("audit", "--checkpoint", str(model), "--data", str(tree), "--augmenter", "none", "--device", "cpu",
                 "--resume", "--state", str(tmp_path / "s.state"))
    _one_line_error(result, f"{tmp_path / 's.state'} is not an audit state file (it holds a JSON list")


def test_saved_progress_needs_resume_or_restart(setup: tuple[Path, Path], tmp_path: Path) -> None:
    tree, model = setup
    out = tmp_path / "r.json"
    state = tmp_path / "r.json.state"
    state.write_text("progress")
    args = ["audit", "--checkpoint", str(model), "--data", str(tree), "--augmenter", "none", "--device", "cpu",
            "--json", str(out)]
    _one_line_error(run(*args), "pass --resume to continue it, or --restart")
    assert state.read_text() == "progress"
    result = run(*args, "--restart")
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text())["results"][0]["n"] == 6 and not state.exists()


def test_repeated_values_are_counted_once(setup: tuple[Path, Path], tmp_path: Path) -> None:
    tree, model = setup
    out = tmp_path / "r.json"
    result = run("audit", "--checkpoint", str(model), "--data", str(tree), "--device", "cpu", "--json", str(out),
                 "--eps", "8/255,8/255", "--eps", "8/255", "--head", "depth", "--head", "depth",
                 "--attack", "fgsm", "--attack", "fgsm", "--augmenter", "none", "--augmenter", "none")
    assert result.exit_code == 0, result.output
    payload = json.loads(out.read_text())
    assert [(r["part"], r["epsilon"], r["n"]) for r in payload["results"]] == [("depth", 8 / 255, 6)]
    assert "epsilon 8/255 given 3 times: attacked and counted once" in " ".join(result.output.split())


def test_a_result_that_cannot_be_written_at_the_end_is_kept(setup: tuple[Path, Path], tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    tree, model = setup
    # The output was writable when checked and is not at the end (a folder replaced by a file meanwhile).
    monkeypatch.setattr("fgav.cli.audit.check_outputs", lambda paths: None)
    (tmp_path / "gone").write_text("x")
    state = tmp_path / "states" / "a.state"
    args = ["audit", "--checkpoint", str(model), "--data", str(tree), "--augmenter", "none", "--device", "cpu",
            "--state", str(state)]
    result = run(*args, "--json", str(tmp_path / "gone" / "r.json"))
    assert result.exit_code == 1 and "Traceback" not in result.output, result.output
    kept = tmp_path / "states" / "r.json"
    said = f"could not write {tmp_path / 'gone' / 'r.json'} (File exists); wrote it to {kept} instead"
    assert said in " ".join(result.output.split()), result.output
    assert state.exists(), "the state stays until every output is safe"
    result = run(*args, "--resume", "--json", str(tmp_path / "r.json"))
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "r.json").read_text())["results"] == json.loads(kept.read_text())["results"]
    assert not state.exists()
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
