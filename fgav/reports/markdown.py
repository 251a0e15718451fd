"""A report as Markdown, its figures linked from a folder beside the Markdown file."""

from __future__ import annotations

from urllib.parse import quote

from fgav.core.formatting import markdown_cell as _cell, markdown_line as _line, markdown_table
from fgav.reports.document import Report, Table


def _table(table: Table) -> list[str]:
    lines = [f"### {_line(table.title)}", "",
             *markdown_table(table.flat_header(), table.rows, label_columns=max(table.label_columns, 1))]
    if table.note:
        lines += ["", f"*{_line(table.note)}*"]
    return lines + [""]


def render_markdown(report: Report, *, figures_dir: str | None = None) -> str:
    """The report as Markdown; figures are linked as ``figures_dir/<name>.png`` (left out when None)."""
    lines = [f"# {_line(report.title)}", ""]
    if report.source:
        lines += [f"From `{report.source.replace('`', '')}`.", ""]
    lines += ["## The run", "", *markdown_table(["", ""], report.facts)]
    lines.append("")
    for section in report.sections:
        lines += [f"## {_line(section.title)}", ""]
        for text in section.text:
            lines += [_line(text), ""]
        if figures_dir is not None:
            for figure in section.figures:
                lines += [f"![{_cell(figure.title)}]({quote(figures_dir)}/{quote(figure.name)}.png)", "",
                          f"*{_line(figure.title)}.* {_line(figure.caption)}", ""]
        for table in section.tables:
            lines += _table(table)
        if section.items:
            lines += [f"- {_line(item)}" for item in section.items] + [""]
    return "\n".join(lines).rstrip() + "\n"
