"""A report as Markdown, its figures linked from a folder beside the Markdown file."""

from __future__ import annotations

from urllib.parse import quote

from fgav.reports.document import Report, Table


def _cell(text: str) -> str:
    # A pipe would end the cell; a < could open raw HTML in a renderer.
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("<", "&lt;").replace("\n", " ")


def _line(text: str) -> str:
    return text.replace("<", "&lt;").replace("\n", " ")


def _table(table: Table) -> list[str]:
    header = table.flat_header()
    align = ["---" if i < table.label_columns else "---:" for i in range(len(header))]
    lines = [f"### {_line(table.title)}", "", "| " + " | ".join(_cell(h) for h in header) + " |",
             "|" + "|".join(align) + "|"]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in table.rows]
    if table.note:
        lines += ["", f"*{_line(table.note)}*"]
    return lines + [""]


def render_markdown(report: Report, *, figures_dir: str | None = None) -> str:
    """The report as Markdown; figures are linked as ``figures_dir/<name>.png`` (left out when None)."""
    lines = [f"# {_line(report.title)}", ""]
    if report.source:
        lines += [f"From `{report.source.replace('`', '')}`.", ""]
    lines += ["## The run", "", "| | |", "|---|---|"]
    lines += [f"| {_cell(k)} | {_cell(v)} |" for k, v in report.facts]
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
