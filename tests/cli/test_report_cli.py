"""``fgav report``: an audit or transfer JSON to HTML and Markdown from the command line."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from fgav.cli import add_plugin_commands, cli
from tests.reports.test_report import audit_result, transfer_result


def invoke(*args: str) -> tuple[int, str]:
    add_plugin_commands()
    result = CliRunner().invoke(cli, ["report", *args])
    return result.exit_code, result.output


def test_report_writes_html_beside_the_json_by_default(tmp_path: Path) -> None:
    audit_result().to_json(tmp_path / "r.json")
    code, output = invoke(str(tmp_path / "r.json"))
    assert code == 0, output
    html = (tmp_path / "r.html").read_text()
    assert html.startswith("<!doctype html>") and "data:image/png;base64," in html
    assert f"wrote {tmp_path / 'r.html'}" in output
    assert not (tmp_path / "r.md").exists()


def test_report_writes_both_where_asked(tmp_path: Path) -> None:
    transfer_result().to_json(tmp_path / "t.json")
    code, output = invoke(str(tmp_path / "t.json"), "--html", str(tmp_path / "a" / "t.html"),
                          "--markdown", str(tmp_path / "b" / "t.md"))
    assert code == 0, output
    assert "<table>" in (tmp_path / "a" / "t.html").read_text()
    assert "| Original accuracy | 0.9375 |" in (tmp_path / "b" / "t.md").read_text()
    assert (tmp_path / "b" / "t_figures" / "transfer.png").is_file()
    assert "1 figure(s)" in output


def test_missing_file_is_one_line(tmp_path: Path) -> None:
    code, output = invoke(str(tmp_path / "gone.json"))
    assert code == 1
    assert output.strip().splitlines() == [f"Error: no such result file: {tmp_path / 'gone.json'}"]


def test_unknown_json_kind_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "other.json").write_text(json.dumps({"kind": "sfa", "results": []}))
    code, output = invoke(str(tmp_path / "other.json"))
    lines = output.strip().splitlines()
    assert code == 1 and len(lines) == 1 and "Traceback" not in output
    assert lines[0].startswith(f"Error: {tmp_path / 'other.json'} is neither an audit nor a transfer result")
    assert not (tmp_path / "other.html").exists()
