"""Every command checks each output path before any work: one line, nothing loaded, nothing left.

The inputs named here (checkpoints, data, results) do not exist: an error about the output
proves the check ran first. The unwritable places fail for root too (see tests/test_io_outputs.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from fgav.cli import add_plugin_commands, cli


def run(*args: str) -> Any:
    add_plugin_commands()
    return CliRunner().invoke(cli, list(args))


UNDER_A_FILE = "cannot be created: {file} is a file, not a folder"

COMMANDS = {
    "evaluate --json": (["evaluate", "--checkpoint", "{missing}", "--json", "{file}/sub/e.json"], UNDER_A_FILE),
    "evaluate --json a folder": (["evaluate", "--checkpoint", "{missing}", "--json", "{dir}"], "is a folder"),
    "train --out": (["train", "--data", "{missing}", "--out", "{file}/run"], UNDER_A_FILE),
    "train --out a file": (["train", "--data", "{missing}", "--out", "{file}"], "is a file, not a folder"),
    "sfa train --out": (["sfa", "train", "--checkpoint", "{missing}", "--data", "{missing}", "--out", "{file}/sfa"],
                        UNDER_A_FILE),
    "sfa show --out": (["sfa", "show", "--checkpoint", "{missing}", "--data", "{missing}", "--out", "{file}/f.png"],
                       UNDER_A_FILE),
    "report --html": (["report", "{missing}.json", "--html", "{file}/r.html"], UNDER_A_FILE),
    "report --markdown": (["report", "{missing}.json", "--markdown", "{file}/r.md"], UNDER_A_FILE),
    "transfer --json": (["transfer", "--checkpoint", "{missing}", "--checkpoint", "{missing}2", "--json",
                         "{file}/t.json"], UNDER_A_FILE),
    "transfer --markdown a folder": (["transfer", "--checkpoint", "{missing}", "--checkpoint", "{missing}2",
                                      "--markdown", "{dir}"], "is a folder"),
    "data synth OUT": (["data", "synth", "{file}/out", "--n", "4"], UNDER_A_FILE),
    "reproduce --out": (["reproduce", "--data", "{missing}", "--out", "{file}/repro"], UNDER_A_FILE),
}


@pytest.mark.parametrize("name", COMMANDS)
def test_every_output_is_checked_before_any_work(tmp_path: Path, name: str) -> None:
    args, message = COMMANDS[name]
    (tmp_path / "file").write_text("x")
    where = {"file": str(tmp_path / "file"), "dir": str(tmp_path), "missing": str(tmp_path / "missing")}
    result = run(*[a.format(**where) for a in args])
    lines = result.output.strip().splitlines()
    assert result.exit_code != 0 and "Traceback" not in result.output, result.output
    assert len(lines) == 1 and lines[0].startswith("Error:") and message.format(**where) in lines[0], result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"], "nothing written, nothing left behind"


def test_transfer_refuses_a_model_given_twice(tmp_path: Path) -> None:
    result = run("transfer", "--checkpoint", str(tmp_path / "m"), "--checkpoint", str(tmp_path / "m"))
    assert result.exit_code != 0 and "is given twice" in result.output and "Traceback" not in result.output
