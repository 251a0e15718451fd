"""The report's figures as PNG bytes: ASR against epsilon, ASR per part, the transfer heat map."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from fgav.reports.canvas import (DASHES, GRID, INK, MARKERS, MUTED, PALETTE, Canvas, lerp_colour, luminance,
                                 shorten, wrap, y_axis)

LABEL_WIDTH = 220.0  # longer legend and row labels are shortened
# A perceptually even dark-to-light blue-green ramp (after viridis), for accuracies in [0, 1].
HEAT_STOPS: tuple[str, ...] = ("#440154", "#3B528B", "#21918C", "#5EC962", "#FDE725")


@dataclass(frozen=True)
class Series:
    """One line: its points ``(x, y)`` (``y`` None where there is no value), colour and style index."""

    colour: str
    style: int
    points: Sequence[tuple[float, float | None]]


def _legend(canvas: Canvas, x: float, y: float, blocks: Sequence[tuple[str, Sequence[tuple[str, str, int]]]]) -> None:
    """Legend blocks ``(title, [(label, colour, style)])``: a line sample and marker per entry."""
    for title, entries in blocks:
        canvas.text((x, y), title, size=12, fill=MUTED)
        y += 20
        for label, colour, style in entries:
            canvas.line([(x, y + 7), (x + 30, y + 7)], fill=colour, width=2,
                        dash=DASHES[style % len(DASHES)] if style >= 0 else ())
            if style >= 0:
                canvas.marker((x + 15, y + 7), MARKERS[style % len(MARKERS)], fill=colour)
            canvas.text((x + 38, y), shorten(label, LABEL_WIDTH, canvas), size=13)
            y += 20
        y += 10


def _legend_size(canvas: Canvas, blocks: Sequence[tuple[str, Sequence[tuple[str, str, int]]]]) -> tuple[float, float]:
    width = max([canvas.text_size(t, 12)[0] for t, _ in blocks]
                + [38 + min(canvas.text_size(label, 13)[0], LABEL_WIDTH) for _, e in blocks for label, _, _ in e] + [0])
    height = sum(20 + 20 * len(e) + 10 for _, e in blocks)
    return width, height


def line_chart(
    *,
    title: str,
    x_values: Sequence[float],
    x_labels: Sequence[str],
    series: Sequence[Series],
    legend: Sequence[tuple[str, Sequence[tuple[str, str, int]]]],
    x_label: str,
    y_label: str,
) -> bytes:
    """A line chart of values in [0, 1] against ``x_values`` (ticks at each, labelled ``x_labels``)."""
    probe = Canvas(1, 1)
    legend_w, legend_h = _legend_size(probe, legend)
    plot_w, plot_h = 520.0, 320.0
    left, top = 70.0, 46.0
    width = max(left + plot_w + 30 + legend_w + 20, probe.text_size(title, 15)[0] + 40)
    height = max(top + plot_h + 60, top + legend_h + 10)
    canvas = Canvas(width, height)
    canvas.text((width / 2, 16), title, size=15, anchor="ma")
    box = (left, top, left + plot_w, top + plot_h)
    y_axis(canvas, box, label=y_label)
    lo, hi = min(x_values), max(x_values)
    span = (hi - lo) or 1.0
    # Place ticks by value; fall back to even spacing where labels would collide.
    positions = [left + 30 + (plot_w - 60) * (v - lo) / span for v in x_values]
    widths = [canvas.text_size(lbl, 12)[0] for lbl in x_labels]
    crowded = any(b - a < (wa + wb) / 2 + 6 for a, b, wa, wb in zip(positions, positions[1:], widths, widths[1:]))
    if crowded or len(set(x_values)) != len(x_values):
        n = max(len(x_values) - 1, 1)
        positions = [left + 30 + (plot_w - 60) * i / n for i in range(len(x_values))]
    where = dict(zip(x_values, positions))
    for pos, label in zip(positions, x_labels):
        canvas.line([(pos, top + plot_h), (pos, top + plot_h + 4)], fill=INK)
        canvas.text((pos, top + plot_h + 8), label, size=12, fill=MUTED, anchor="ma")
    canvas.text((left + plot_w / 2, top + plot_h + 32), x_label, size=13, anchor="ma")

    def y_of(v: float) -> float:
        return top + plot_h - plot_h * min(max(v, 0.0), 1.0)

    for s in series:
        run: list[tuple[float, float]] = []
        for x, y in [*s.points, (float("nan"), None)]:
            if y is None or x not in where:
                if len(run) > 1:
                    canvas.line(run, fill=s.colour, width=2, dash=DASHES[s.style % len(DASHES)])
                run = []
            else:
                run.append((where[x], y_of(y)))
        for x, y in s.points:
            if y is not None and x in where:
                canvas.marker((where[x], y_of(y)), MARKERS[s.style % len(MARKERS)], fill=s.colour)
    _legend(canvas, left + plot_w + 30, top, legend)
    return canvas.png()


def bar_chart(
    *,
    title: str,
    groups: Sequence[str],
    bars: Sequence[tuple[str, Sequence[float | None]]],
    y_label: str,
) -> bytes:
    """Grouped bars in [0, 1]: one group per ``groups`` entry, one bar per ``(label, values)`` in ``bars``."""
    probe = Canvas(1, 1)
    legend = [("Augmenter", [(label, PALETTE[i % len(PALETTE)], -1) for i, (label, _) in enumerate(bars)])]
    legend_w, legend_h = _legend_size(probe, legend)
    longest = max([probe.text_size(w, 12)[0] for g in groups for w in g.split()] + [0])
    group_w = max(96.0, 26.0 * len(bars) + 30, min(longest + 12, 180.0))
    plot_w, plot_h = group_w * max(len(groups), 1), 300.0
    left, top = 70.0, 46.0
    label_lines = [wrap(g, group_w - 8, probe, size=12) for g in groups]
    label_h = 16 * max([len(lines) for lines in label_lines] + [1])
    width = max(left + plot_w + 30 + legend_w + 20, probe.text_size(title, 15)[0] + 40)
    height = max(top + plot_h + label_h + 24, top + legend_h + 10)
    canvas = Canvas(width, height)
    canvas.text((width / 2, 16), title, size=15, anchor="ma")
    y_axis(canvas, (left, top, left + plot_w, top + plot_h), label=y_label)
    bar_w = min(26.0, (group_w - 24) / max(len(bars), 1))
    for g, lines in enumerate(label_lines):
        centre = left + group_w * (g + 0.5)
        for i, line in enumerate(lines):
            canvas.text((centre, top + plot_h + 8 + 16 * i), line, size=12, anchor="ma")
        start = centre - bar_w * len(bars) / 2
        for b, (_, values) in enumerate(bars):
            value = values[g] if g < len(values) else None
            x0 = start + b * bar_w
            if value is None:
                canvas.text((x0 + bar_w / 2, top + plot_h - 4), "n/a", size=9, fill=MUTED, anchor="mb")
                continue
            y = top + plot_h - plot_h * min(max(value, 0.0), 1.0)
            canvas.rect((x0 + 1, y, x0 + bar_w - 1, top + plot_h), fill=PALETTE[b % len(PALETTE)])
            canvas.text((x0 + bar_w / 2, y - 2), f"{value:.2f}", size=9, fill=INK, anchor="mb")
    canvas.line([(left, top + plot_h), (left + plot_w, top + plot_h)], fill=INK)
    x, y = left + plot_w + 30, top
    canvas.text((x, y), "Augmenter", size=12, fill=MUTED)
    for i, (label, _) in enumerate(bars):
        canvas.rect((x, y + 22 + 20 * i, x + 14, y + 34 + 20 * i), fill=PALETTE[i % len(PALETTE)])
        canvas.text((x + 22, y + 20 + 20 * i), shorten(label, LABEL_WIDTH, canvas), size=13)
    return canvas.png()


def heat_map(
    *,
    title: str,
    rows: Sequence[str],
    columns: Sequence[tuple[str, str]],
    values: Sequence[Sequence[float | None]],
    value_label: str,
    separate_first_row: bool = False,
) -> bytes:
    """A matrix of values in [0, 1], each cell coloured and labelled; ``columns`` are ``(group, label)``.

    ``separate_first_row`` sets the first row (e.g. the clean accuracy) a little apart.
    """
    probe = Canvas(1, 1)
    cell_w = max([74.0] + [min(probe.text_size(label, 12)[0], 160.0) + 14 for _, label in columns])
    cell_h = 34.0
    rows = [shorten(r, LABEL_WIDTH, probe) for r in rows]
    row_w = max([probe.text_size(r, 13)[0] for r in rows] + [40]) + 16
    left, top = row_w + 10, 78.0
    gap = 8.0 if separate_first_row and len(rows) > 1 else 0.0
    width = max(left + cell_w * len(columns) + 90, probe.text_size(title, 15)[0] + 40)
    height = top + max(cell_h * len(rows) + gap, 80) + 30
    canvas = Canvas(width, height)
    canvas.text((width / 2, 16), title, size=15, anchor="ma")
    # Column groups (the target model) span their columns; the labels (augmenter) sit under them.
    start = 0
    while start < len(columns):
        end = start
        while end + 1 < len(columns) and columns[end + 1][0] == columns[start][0]:
            end += 1
        x0, x1 = left + cell_w * start, left + cell_w * (end + 1)
        canvas.text(((x0 + x1) / 2, top - 27), shorten(columns[start][0], x1 - x0 - 8, canvas), size=13, anchor="ms")
        canvas.line([(x0 + 4, top - 22), (x1 - 4, top - 22)], fill=MUTED)
        start = end + 1
    for j, (_, label) in enumerate(columns):
        canvas.text((left + cell_w * (j + 0.5), top - 6), shorten(label, cell_w - 8, canvas, size=12), size=12,
                    fill=MUTED, anchor="ms")
    for i, row in enumerate(rows):
        y = top + cell_h * i + (gap if i else 0.0)
        canvas.text((left - 10, y + cell_h / 2), row, size=13, anchor="rm")
        for j in range(len(columns)):
            value = values[i][j] if j < len(values[i]) else None
            box = (left + cell_w * j, y, left + cell_w * (j + 1), y + cell_h)
            if value is None:
                canvas.rect(box, fill="#F4F4F4", outline="white", width=2)
                canvas.text(((box[0] + box[2]) / 2, y + cell_h / 2), "-", size=13, fill=MUTED, anchor="mm")
                continue
            colour = lerp_colour(HEAT_STOPS, value)
            canvas.rect(box, fill=colour, outline="white", width=2)
            ink = INK if luminance(colour) > 0.45 else "white"
            canvas.text(((box[0] + box[2]) / 2, y + cell_h / 2), f"{value:.4f}", size=13, fill=ink, anchor="mm")
    # The colour bar: 0 at the bottom, 1 at the top.
    bar_x, bar_top, bar_h = left + cell_w * len(columns) + 20, top, max(cell_h * len(rows) + gap, 80)
    steps = 60
    for k in range(steps):
        y0 = bar_top + bar_h * k / steps
        canvas.rect((bar_x, y0, bar_x + 14, y0 + bar_h / steps + 0.5), fill=lerp_colour(HEAT_STOPS, 1 - k / steps))
    canvas.rect((bar_x, bar_top, bar_x + 14, bar_top + bar_h), outline=GRID)
    for t in (0.0, 0.5, 1.0):
        canvas.text((bar_x + 18, bar_top + bar_h * (1 - t)), f"{t:.1f}", size=11, fill=MUTED, anchor="lm")
    canvas.text((bar_x + 7, bar_top - 8), value_label, size=11, fill=MUTED, anchor="mb")
    return canvas.png()
