"""``fgav models``: the default targets cached in the user cache, their SFA modules, and removal."""

from __future__ import annotations

import json

import click
from rich.console import Console
from rich.table import Table

from fgav.core.errors import FgavError
from fgav.targets import cached_targets, remove_cached


def _megabytes(size: int) -> str:
    return f"{size / 2**20:.1f} MB"


@click.group(invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Print the list as JSON.")
@click.pass_context
def models(ctx: click.Context, as_json: bool) -> None:
    """List the cached default targets (fgav audit --backbone), their accuracy, SFA modules and size."""
    if ctx.invoked_subcommand is not None:
        return
    from fgav.data.cache import cache_dir

    targets = cached_targets()
    if as_json:
        click.echo(json.dumps([
            {"name": t.name, "path": str(t.path), "backbone": t.record.get("backbone"),
             "image_size": t.record.get("image_size"), "test_accuracy": t.record.get("test_accuracy"),
             "sfa": [str(p) for p in t.sfa], "bytes": t.size_bytes}
            for t in targets
        ], indent=2))
        return
    if not targets:
        click.echo(f"no default target is cached in {cache_dir() / 'models'} yet")
        return
    table = Table(title=f"Default targets cached in {cache_dir() / 'models'}")
    for column in ("name", "backbone", "size px", "live/spoof acc.", "SFA modules", "on disk"):
        table.add_column(column, justify="left" if column in ("name", "backbone", "SFA modules") else "right")
    for t in targets:
        accuracy = t.record.get("test_accuracy")
        table.add_row(
            t.name, str(t.record.get("backbone", "?")), str(t.record.get("image_size", "?")),
            f"{accuracy:.3f}" if isinstance(accuracy, float) else "-",
            ", ".join(p.name for p in t.sfa) or "-", _megabytes(t.size_bytes),
        )
    Console(width=None if Console().is_terminal else 160).print(table)


@models.command("remove")
@click.argument("names", nargs=-1)
@click.option("--all", "remove_all", is_flag=True, help="Remove every cached default target.")
def remove(names: tuple[str, ...], remove_all: bool) -> None:
    """Delete cached default targets and their SFA modules (retrained when next needed)."""
    if remove_all:
        names = tuple(t.name for t in cached_targets())
    elif not names:
        raise FgavError("name the targets to remove (see `fgav models`), or give --all")
    known = {t.name for t in cached_targets()}
    unknown = [n for n in names if n not in known]
    if unknown:  # nothing is removed unless every name is right
        raise FgavError(f"no cached default target {unknown[0]!r}; cached: {', '.join(sorted(known)) or 'none'}")
    for name in dict.fromkeys(names):
        path = remove_cached(name)
        click.echo(f"removed {path}")
