"""``fgav report``: an audit or transfer JSON as a self-contained HTML page and Markdown."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console

from fgav.core.io import check_outputs, check_writable


@click.command()
@click.argument("result", type=click.Path(path_type=Path))
@click.option("--html", "html_path", type=click.Path(path_type=Path),
              help="Write one self-contained HTML page (figures embedded). Default: RESULT with .html.")
@click.option("--markdown", "markdown_path", type=click.Path(path_type=Path),
              help="Write Markdown; its figures go to FILE's stem + _figures/ beside it.")
def report(result: Path, html_path: Path | None, markdown_path: Path | None) -> None:
    """Turn an audit or transfer JSON into an HTML page and Markdown a person wants to read.

    RESULT is the file written by fgav audit --json or fgav transfer --json.
    With neither --html nor --markdown the HTML page goes beside RESULT.
    """
    from fgav.reports import figures_dir_for, write_report

    if html_path is None and markdown_path is None:
        html_path = result.with_suffix(".html")
    check_outputs({"--html": html_path, "--markdown": markdown_path})
    if markdown_path is not None:
        check_writable(figures_dir_for(markdown_path), what="--markdown's figures folder", folder=True)
    err = Console(stderr=True)
    written = write_report(result, html=html_path, markdown=markdown_path)
    for path in written:
        if path.suffix != ".png":
            err.print(f"wrote {path}", markup=False, highlight=False, soft_wrap=True)
    figures = [p for p in written if p.suffix == ".png"]
    if figures:
        err.print(f"wrote {len(figures)} figure(s) into {figures[0].parent}/", markup=False, highlight=False,
                  soft_wrap=True)
