"""fgav's own components, registered through the same hooks as any third-party plugin.

Each hook imports its modules when called, so that one broken module is reported by
``fgav plugins`` as a failure of the built-in plugin instead of breaking ``import fgav``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fgav.hookspecs import hookimpl

if TYPE_CHECKING:
    import click


@hookimpl
def fgav_backbones() -> list[type]:
    """The timm backbones of the paper and any timm model as ``timm:<name>``."""
    from fgav.backbones import BUILTIN_BACKBONES

    return list(BUILTIN_BACKBONES)


@hookimpl
def fgav_heads() -> list[type]:
    """The six heads of the paper's multitask model (Sec. 3.3)."""
    from fgav.heads import BUILTIN_HEADS

    return list(BUILTIN_HEADS)


@hookimpl
def fgav_augmenters() -> list[type]:
    """The identity and SFA."""
    from fgav.augmenters import BUILTIN_AUGMENTERS

    return list(BUILTIN_AUGMENTERS)


@hookimpl
def fgav_attacks() -> list[type]:
    """Foolbox's attacks under short names, and the attacks Foolbox lacks."""
    from fgav.attacks import BUILTIN_ATTACKS

    return list(BUILTIN_ATTACKS)


@hookimpl
def fgav_commands(cli: click.Group) -> None:
    """The built-in subcommands."""
    from fgav.cli.commands import BUILTIN_COMMANDS

    for command in BUILTIN_COMMANDS:
        cli.add_command(command)
