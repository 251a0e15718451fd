"""``fgav --version`` and ``fgav plugins``."""

from __future__ import annotations

import json
import subprocess
import sys

from click.testing import CliRunner

import fgav
from fgav.cli import add_plugin_commands, cli


def test_version() -> None:
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0 and fgav.__version__ in result.output


def test_plugins_json_lists_the_four_backbones_and_six_heads() -> None:
    add_plugin_commands()
    result = CliRunner().invoke(cli, ["plugins", "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    names = {(c["kind"], c["name"]) for c in payload["components"] if c["plugin"] == "fgav"}
    for backbone in ("vgg13", "resnet18", "densenet121", "swin"):
        assert ("backbone", backbone) in names
    for head in ("attribute", "spoof_type", "illumination", "depth", "reflection", "classification"):
        assert ("head", head) in names
    row = next(c for c in payload["components"] if c["name"] == "resnet18")
    assert row["version"] == fgav.__version__ and row["summary"].startswith("ResNet-18")
    assert payload["failed"] == []


def test_plugins_table_and_python_dash_m() -> None:
    out = subprocess.run([sys.executable, "-m", "fgav", "plugins"], capture_output=True, text=True, check=True)
    assert "resnet18" in out.stdout and "classification" in out.stdout


def test_bad_input_is_one_line_without_traceback() -> None:
    add_plugin_commands()
    result = CliRunner().invoke(cli, ["no-such-command"])
    assert result.exit_code != 0 and "Traceback" not in result.output


def test_every_builtin_command_is_in_the_cli_reference() -> None:
    """docs/cli.md documents each built-in command, so a new one cannot go undocumented."""
    from pathlib import Path

    import click

    from fgav.cli.commands import BUILTIN_COMMANDS

    reference = (Path(__file__).parents[2] / "docs" / "cli.md").read_text()
    for command in BUILTIN_COMMANDS:
        subcommands = command.commands if isinstance(command, click.Group) else {"": command}
        for sub in subcommands:
            title = f"## `fgav {command.name}{' ' + sub if sub else ''}`"
            assert title in reference, f"{title} missing from docs/cli.md"
