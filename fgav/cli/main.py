"""The ``fgav`` command line: a Click group that plugins extend through ``fgav_commands``."""

from __future__ import annotations

import warnings
from typing import Any

import click

import fgav
from fgav.core.errors import FgavError
from fgav.registry import KINDS, components, load_plugins


class FgavGroup(click.Group):
    """A Click group that turns fgav's user-facing errors into one-line messages."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except FgavError as exc:
            raise click.ClickException(str(exc)) from None


@click.group(cls=FgavGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(fgav.__version__, "--version", prog_name="fgav")
def cli() -> None:
    """fgav: expose the fine-grained adversarial vulnerability of face anti-spoofing models."""


_commands_added = False


def add_plugin_commands(group: click.Group = cli) -> None:
    """Let every loaded plugin (fgav's built-ins first) add its commands to the group.

    Each plugin adds its commands to a group of its own first; a command whose name is
    taken (a plugin's ``train``) is refused like a component clash: the earlier one
    keeps the name, the plugin's command is reported as failed in ``fgav plugins``.
    """
    global _commands_added
    if _commands_added and group is cli:
        return
    reg = load_plugins()
    for name, call in reg.hook_callers("fgav_commands"):
        staging = click.Group(name)
        try:
            call(cli=staging)
        except Exception as exc:  # a plugin's broken command must not take the CLI down
            reg.record_failure(name, exc, hook="fgav_commands")
            continue
        for command_name, command in staging.commands.items():
            if command_name in group.commands:
                reg.record_failure(name, f"the command {command_name!r} is taken: left out", hook="fgav_commands")
            else:
                group.add_command(command, command_name)
    if group is cli:
        _commands_added = True


def main(argv: list[str] | None = None) -> None:
    """Run the ``fgav`` command line."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RuntimeWarning)
        add_plugin_commands()
        for kind in KINDS:  # every plugin's faults are told here, once, as one line each
            components(kind)
    for w in caught:  # one line each: a broken plugin is news, not a traceback
        click.echo(f"Warning: {w.message}", err=True)
    cli.main(args=argv, prog_name="fgav")
