"""The hook specifications of fgav's plugin system (public API).

A plugin is a module, found through the ``fgav`` entry-point group, that implements
some of these hooks with ``@fgav.hookimpl``. fgav's built-in components register
through these very hooks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    import click

hookspec = pluggy.HookspecMarker("fgav")
hookimpl = pluggy.HookimplMarker("fgav")


@hookspec
def fgav_backbones() -> list[type]:
    """Return backbone classes: subclasses of :class:`fgav.Backbone`, each with a ``name``."""
    raise NotImplementedError


@hookspec
def fgav_heads() -> list[type]:
    """Return auxiliary head classes: subclasses of :class:`fgav.AuxHead`, each with a ``name``."""
    raise NotImplementedError


@hookspec
def fgav_augmenters() -> list[type]:
    """Return augmenter classes: subclasses of :class:`fgav.Augmenter`, each with a ``name``."""
    raise NotImplementedError


@hookspec
def fgav_attacks() -> list[type]:
    """Return attack classes: subclasses of ``foolbox.attacks.base.Attack``, each with a ``name``."""
    raise NotImplementedError


@hookspec
def fgav_commands(cli: "click.Group") -> Any:
    """Add Click commands to the ``fgav`` command group (``cli.add_command``)."""
