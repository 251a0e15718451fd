"""The ``fgav`` command line: a Click group that plugins extend through ``fgav_commands``."""

from __future__ import annotations

import sys
import warnings
from typing import Any

import click

import fgav
from fgav.errors import FgavError


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
    """Let every loaded plugin (fgav's built-ins first) add its commands to the group."""
    global _commands_added
    if _commands_added and group is cli:
        return
    from fgav.registry import _fail, load_plugins

    reg = load_plugins()
    assert reg.manager is not None
    for name in list(reg.plugins):
        impl = getattr(reg.manager.get_plugin(name), "fgav_commands", None)
        if impl is None:
            continue
        try:
            impl(cli=group)
        except Exception as exc:  # a plugin's broken command must not take the CLI down
            _fail(reg, name, exc, hook="fgav_commands")
    if group is cli:
        _commands_added = True


def main(argv: list[str] | None = None) -> None:
    """Run the ``fgav`` command line."""
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", RuntimeWarning)
            add_plugin_commands()
    except FgavError as exc:  # a name clash among plugins
        click.echo(f"Error: {exc}", err=True)
        sys.exit(1)
    for w in caught:  # one line each: a broken plugin is news, not a traceback
        click.echo(f"Warning: {w.message}", err=True)
    cli.main(args=argv, prog_name="fgav")
