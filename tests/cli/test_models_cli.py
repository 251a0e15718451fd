"""``fgav models``: list and remove the cached default targets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from fgav.cli import add_plugin_commands, cli
from fgav.targets import RECORD_FILE, default_checkpoint


def _fake_target(backbone: str, *, accuracy: float) -> Path:
    folder = default_checkpoint(backbone)
    (folder / "sfa").mkdir(parents=True)
    (folder / "model.safetensors").write_bytes(b"0" * 2048)
    (folder / "config.json").write_text("{}")
    (folder / "sfa" / "config.json").write_text("{}")
    (folder / RECORD_FILE).write_text(json.dumps({"backbone": backbone, "image_size": 64, "test_accuracy": accuracy}))
    return folder


def test_lists_then_removes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FGAV_CACHE", str(tmp_path))
    add_plugin_commands()
    runner = CliRunner()
    assert "no default target is cached" in runner.invoke(cli, ["models"]).output
    r18, swin = _fake_target("resnet18", accuracy=0.986), _fake_target("swin", accuracy=0.93)
    (r18.parent / f".{r18.name}-tmp").mkdir()  # an unfinished training: not listed
    listed = json.loads(runner.invoke(cli, ["models", "--json"]).output)
    assert [t["name"] for t in listed] == [r18.name, swin.name]
    assert listed[0]["test_accuracy"] == 0.986 and listed[0]["sfa"] == [str(r18 / "sfa")]
    assert listed[0]["bytes"] >= 2048
    table = runner.invoke(cli, ["models"]).output
    assert "0.986" in table and "resnet18" in table
    refused = runner.invoke(cli, ["models", "remove", r18.name, "resnet81"])
    assert refused.exit_code == 1 and "no cached default target 'resnet81'" in refused.output
    assert r18.exists()  # nothing removed when one name is wrong
    assert runner.invoke(cli, ["models", "remove", r18.name]).exit_code == 0 and not r18.exists()
    assert runner.invoke(cli, ["models", "remove", "--all"]).exit_code == 0 and not swin.exists()
    assert runner.invoke(cli, ["models", "remove"]).exit_code == 1
