"""fgav's own components, registered through the same hooks as any third-party plugin.

Each hook imports its modules when called (the one kind of function-level import fgav
keeps on purpose): a kind's modules load only when that kind is first looked up, so
building a model never loads the attacks, SFA or the CLI; and one broken module is
reported by ``fgav plugins`` as a failure of the built-in plugin instead of breaking
``import fgav``. The registry loads this module by name (see ``BUILTIN_PLUGIN``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fgav.core.hookspecs import hookimpl

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
    from fgav.augmenters.none import NoAugmenter
    from fgav.sfa.augmenter import SFA

    return [NoAugmenter, SFA]


@hookimpl
def fgav_attacks() -> list[type]:
    """Foolbox's attacks under short names, and the attacks Foolbox lacks."""
    from fgav.attacks.apgd import APGDAttack
    from fgav.attacks.foolbox_attacks import FOOLBOX_ATTACKS
    from fgav.attacks.reliable import ReliableAttack
    from fgav.attacks.sparse import SparseAttack
    from fgav.attacks.square import SquareAttack
    from fgav.attacks.stadv import STAdvAttack

    return [*FOOLBOX_ATTACKS, STAdvAttack, SparseAttack, APGDAttack, SquareAttack, ReliableAttack]


@hookimpl
def fgav_commands(cli: click.Group) -> None:
    """The built-in subcommands."""
    from fgav.cli.commands import BUILTIN_COMMANDS

    for command in BUILTIN_COMMANDS:
        cli.add_command(command)
