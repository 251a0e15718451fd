"""``fgav plugins``: every component, the plugin that gave it, and the plugins that failed."""

from __future__ import annotations

import json

import click
from rich.console import Console
from rich.table import Table

from fgav.registry import KINDS, components, load_plugins


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def plugins(as_json: bool) -> None:
    """List the registered components and the plugins that failed to load."""
    reg = load_plugins()
    rows = [
        {
            "kind": info.kind,
            "name": info.name,
            "plugin": info.plugin,
            "version": reg.plugins.get(info.plugin, info.version),
            "summary": info.summary,
        }
        for kind in KINDS
        for info in sorted(components(kind).values(), key=lambda i: i.name)
    ]
    failed = [{"plugin": p, "error": e} for p, e in sorted(reg.failed.items())]
    if as_json:
        payload = {"plugins": reg.plugins, "components": rows, "failed": failed}
        click.echo(json.dumps(payload, indent=2))
        return
    console = Console()
    table = Table(title="fgav components", show_lines=False)
    for column in ("kind", "name", "plugin", "version", "summary"):
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*(row[c] for c in ("kind", "name", "plugin", "version", "summary")))
    console.print(table)
    for row in failed:
        console.print(f"[red]failed[/red] plugin {row['plugin']!r}: {row['error']}")
