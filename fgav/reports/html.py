"""A report as one self-contained HTML page: inline CSS, figures as PNG data URIs, every string escaped."""

from __future__ import annotations

import base64
from html import escape

from fgav.core.version import __version__
from fgav.reports.document import Figure, Report, Table
from fgav.reports.figures import SCALE

_CSS = """
:root { color-scheme: light; }
body { margin: 0; background: #f6f7f9; color: #1f2328;
  font: 15px/1.55 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", Arial, sans-serif; }
main { max-width: 1180px; margin: 0 auto; padding: 28px 32px 60px; background: #fff; min-height: 100vh;
  box-shadow: 0 0 0 1px #e4e7eb; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 20px; margin: 38px 0 10px; padding-bottom: 6px; border-bottom: 2px solid #e4e7eb; }
h3 { font-size: 15px; margin: 22px 0 6px; color: #333; }
p.meta { margin: 0 0 18px; color: #5b6470; font-size: 13px; }
code { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, monospace; font-size: 0.92em;
  background: #f1f3f5; padding: 1px 5px; border-radius: 4px; }
nav ol { margin: 6px 0 0; padding-left: 22px; columns: 2; font-size: 14px; }
nav a { color: #0b5cad; text-decoration: none; } nav a:hover { text-decoration: underline; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 4px 18px; margin: 8px 0;
  font-size: 14px; }
dl.facts dt { color: #5b6470; } dl.facts dd { margin: 0; }
.scroll { overflow-x: auto; margin: 4px 0 6px; }
table { border-collapse: collapse; font-size: 13.5px; min-width: 40%; }
caption { text-align: left; font-weight: 600; padding: 0 0 6px; }
th, td { padding: 5px 10px; border-bottom: 1px solid #e4e7eb; white-space: nowrap; }
thead th { background: #f1f3f5; border-bottom: 2px solid #d0d5db; text-align: right; vertical-align: bottom; }
thead th.label { text-align: left; }
thead tr.groups th { text-align: center; border-bottom: 1px solid #d0d5db; font-weight: 600; }
thead tr.groups th.blank { background: #fff; border-bottom: none; }
td { text-align: right; font-variant-numeric: tabular-nums; }
td.label { text-align: left; }
tbody th { text-align: left; font-weight: 600; }
tbody tr.start > * { border-top: 1px solid #b9c0c8; }
tbody tr:nth-child(even) { background: #fafbfc; }
tbody tr:hover { background: #eef4fb; }
p.note { margin: 2px 0 14px; color: #5b6470; font-size: 12.5px; }
figure { margin: 14px 0 22px; }
figure img { max-width: 100%; height: auto; border: 1px solid #e4e7eb; border-radius: 6px; }
figcaption { color: #5b6470; font-size: 13px; margin-top: 4px; }
ul.items { font-size: 14px; } ul.items li { margin: 2px 0; word-break: break-all; }
footer { margin-top: 40px; color: #8a929c; font-size: 12px; }
"""


def _png_size(png: bytes) -> tuple[int, int]:
    # The PNG header's IHDR chunk holds width and height as big-endian 32-bit integers.
    return int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")


def _figure(figure: Figure) -> str:
    width, height = _png_size(figure.png)
    data = base64.b64encode(figure.png).decode("ascii")
    caption = f"<figcaption><strong>{escape(figure.title)}.</strong> {escape(figure.caption)}</figcaption>"
    return (f'<figure id="fig-{escape(figure.name)}"><img src="data:image/png;base64,{data}" '
            f'width="{width // SCALE}" height="{height // SCALE}" alt="{escape(figure.title)}">{caption}</figure>')


def _table(table: Table) -> str:
    out = ['<div class="scroll"><table>', f"<caption>{escape(table.title)}</caption>", "<thead>"]
    if table.groups:
        cells = "".join(f'<th colspan="{span}" class="{"blank" if not label else ""}">{escape(label)}</th>'
                        for label, span in table.groups)
        out.append(f'<tr class="groups">{cells}</tr>')
    out.append("<tr>" + "".join(
        f'<th scope="col"{" class=label" if i < table.label_columns else ""}>{escape(h)}</th>'
        for i, h in enumerate(table.header)) + "</tr></thead><tbody>")
    for n, row in enumerate(table.rows):
        # A thin rule where the row's first label changes groups the rows of one part.
        start = ' class="start"' if n and table.label_columns > 1 and row[0] != table.rows[n - 1][0] else ""
        cells = "".join(
            f'<th scope="row" class="label">{escape(c)}</th>' if i == 0
            else f'<td{" class=label" if i < table.label_columns else ""}>{escape(c)}</td>'
            for i, c in enumerate(row))
        out.append(f"<tr{start}>{cells}</tr>")
    out.append("</tbody></table></div>")
    if table.note:
        out.append(f'<p class="note">{escape(table.note)}</p>')
    return "\n".join(out)


def render_html(report: Report) -> str:
    """The report as one HTML page with nothing to fetch: CSS inline, figures as data URIs."""
    body = [f"<h1>{escape(report.title)}</h1>"]
    if report.source:
        body.append(f'<p class="meta">From <code>{escape(report.source)}</code></p>')
    links = ['<li><a href="#run">The run</a></li>'] + [
        f'<li><a href="#section-{i}">{escape(s.title)}</a></li>' for i, s in enumerate(report.sections, 1)]
    body.append(f'<nav aria-label="Contents"><strong>Contents</strong><ol>{"".join(links)}</ol></nav>')
    facts = "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in report.facts)
    body.append(f'<section id="run"><h2>The run</h2><dl class="facts">{facts}</dl></section>')
    for i, section in enumerate(report.sections, 1):
        parts = [f'<section id="section-{i}"><h2>{escape(section.title)}</h2>']
        parts += [f"<p>{escape(t)}</p>" for t in section.text]
        parts += [_figure(f) for f in section.figures]
        parts += [_table(t) for t in section.tables]
        if section.items:
            parts.append('<ul class="items">' + "".join(f"<li>{escape(x)}</li>" for x in section.items) + "</ul>")
        parts.append("</section>")
        body.append("\n".join(parts))
    body.append(f"<footer>Written by fgav {escape(__version__)} (<code>fgav report</code>).</footer>")
    return (
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(report.title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n<main>\n"
        + "\n".join(body) + "\n</main>\n</body>\n</html>\n"
    )
