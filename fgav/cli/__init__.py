"""The ``fgav`` command line: a Click group that plugins extend through ``fgav_commands``."""

from __future__ import annotations

from fgav.cli.main import FgavGroup, add_plugin_commands, cli, main

__all__ = ["FgavGroup", "add_plugin_commands", "cli", "main"]
