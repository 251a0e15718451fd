"""The report's charts, drawn with matplotlib: ASR against ε, ASR per part, the transfer heat map.

Each chart is built as a :class:`matplotlib.figure.Figure` on its own Agg canvas, never
through ``pyplot``, so that drawing one neither needs a display nor changes the user's
matplotlib state (backend, open figures, rcParams). ``*_figure`` functions return the
Figure (tests read its axes); :func:`png` turns one into PNG bytes. Rates are drawn with
their 95 % Wilson intervals as error bars.
"""

from __future__ import annotations

import io
import math
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TypeGuard

from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

SCALE = 2  # PNGs are drawn at twice their displayed size, to stay crisp on high-density screens
DPI = 100
# Colour-blind-safe colours (Okabe and Ito 2008) for parts or augmenters, line styles and markers for the other.
PALETTE: tuple[str, ...] = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000")
LINE_STYLES: tuple[str, ...] = ("-", "--", ":", "-.")
MARKERS: tuple[str, ...] = ("o", "s", "^", "D", "v", "P")
HEAT_MAP = "viridis"  # perceptually even, readable in grey
LABEL_LENGTH = 32  # longer legend and tick labels are shortened

Interval = tuple[float, float] | None


@dataclass(frozen=True)
class Series:
    """One line: a value (None where there is none) and its interval at each x, its label and look."""

    label: str
    values: Sequence[float | None]
    intervals: Sequence[Interval] = field(default_factory=tuple)
    colour: int = 0
    style: int = 0


def _short(text: str) -> str:
    return text if len(text) <= LABEL_LENGTH else text[:LABEL_LENGTH - 1] + "…"


def _title(axes: Any, title: str, width: float) -> None:
    # Wrapped to the figure's width (about 11 characters an inch at this size), never clipped.
    axes.set_title("\n".join(textwrap.wrap(title, max(30, int(width * 11)))), fontsize=11)


def _figure(width: float, height: float) -> Figure:
    figure = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)  # attaches itself as figure.canvas
    return figure


def png(figure: Figure) -> bytes:
    """The figure as PNG bytes, at ``SCALE`` times its displayed size."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI * SCALE, facecolor="white")
    return buffer.getvalue()


def _finite(value: float | None) -> TypeGuard[float]:
    return isinstance(value, (int, float)) and math.isfinite(value)


def _error_bars(values: Sequence[float | None], intervals: Sequence[Interval]) -> list[list[float]] | None:
    """Matplotlib's asymmetric ``yerr`` (below, above) from intervals; None where there are none."""
    if not intervals or not any(i is not None and all(_finite(v) for v in i) for i in intervals):
        return None
    below, above = [], []
    for value, interval in zip(values, intervals):
        if _finite(value) and interval is not None and all(_finite(v) for v in interval):
            below.append(max(float(value) - interval[0], 0.0))
            above.append(max(interval[1] - float(value), 0.0))
        else:
            below.append(0.0)
            above.append(0.0)
    return [below, above]


def line_figure(
    *,
    title: str,
    x_values: Sequence[float],
    x_labels: Sequence[str],
    series: Sequence[Series],
    x_label: str,
    y_label: str,
) -> Figure:
    """A line chart of rates in [0, 1] against ``x_values`` (ticks labelled ``x_labels``), with error bars."""
    figure = _figure(7.6, 4.2)
    axes = figure.add_subplot()
    _title(axes, title, 5.0)
    for s in series:
        points = [(x, v, i) for x, v, i in zip(x_values, s.values, list(s.intervals) or [None] * len(x_values))
                  if _finite(v)]
        if not points:
            continue
        xs, ys, intervals = zip(*points)
        axes.errorbar(xs, ys, yerr=_error_bars(ys, intervals), label=_short(s.label),
                      color=PALETTE[s.colour % len(PALETTE)], linestyle=LINE_STYLES[s.style % len(LINE_STYLES)],
                      marker=MARKERS[s.style % len(MARKERS)], markersize=5, capsize=3, linewidth=1.6)
    axes.set_xticks(list(x_values), [_short(label) for label in x_labels])
    axes.set_ylim(-0.03, 1.03)
    axes.set_xlabel(x_label)
    axes.set_ylabel(y_label)
    axes.grid(True, alpha=0.3)
    if axes.get_legend_handles_labels()[0]:
        axes.legend(loc="center left", bbox_to_anchor=(1.02, 0.5), fontsize=8, frameon=False)
    return figure


def bar_figure(
    *,
    title: str,
    groups: Sequence[str],
    bars: Sequence[tuple[str, Sequence[float | None], Sequence[Interval]]],
    y_label: str,
) -> Figure:
    """Grouped bars of rates in [0, 1]: one group per ``groups`` entry, one bar (with error bar) per series."""
    width = max(6.0, 2.4 + 0.45 * len(groups) * max(len(bars), 1))
    figure = _figure(width, 4.2)
    axes = figure.add_subplot()
    _title(axes, title, width - 2.0)
    bar_width = 0.8 / max(len(bars), 1)
    for k, (label, values, intervals) in enumerate(bars):
        xs = [g + (k - (len(bars) - 1) / 2) * bar_width for g in range(len(groups))]
        heights = [float(v) if _finite(v) else 0.0 for v in values]
        axes.bar(xs, heights, bar_width * 0.92, yerr=_error_bars(values, intervals), capsize=3, label=_short(label),
                 color=PALETTE[k % len(PALETTE)], error_kw={"elinewidth": 1, "ecolor": "#333333"})
        for x, v in zip(xs, values):
            if not _finite(v):  # no value: say so rather than draw a zero
                axes.text(x, 0.02, "n/a", ha="center", va="bottom", fontsize=7, rotation=90, color="#666666")
    axes.set_xticks(range(len(groups)), [_short(g) for g in groups], rotation=20 if len(groups) > 4 else 0,
                    ha="right" if len(groups) > 4 else "center")
    axes.set_ylim(0, 1.05)
    axes.set_ylabel(y_label)
    axes.grid(True, axis="y", alpha=0.3)
    axes.legend(loc="center left", bbox_to_anchor=(1.02, 0.5), fontsize=8, frameon=False, title="Augmenter")
    return figure


def heat_figure(
    *,
    title: str,
    rows: Sequence[str],
    columns: Sequence[tuple[str, str]],
    values: Sequence[Sequence[float | None]],
    value_label: str,
    separate_first_row: bool = False,
) -> Figure:
    """A heat map of values in [0, 1], each cell labelled; columns as (group, label), None cells grey."""
    width = max(5.0, 2.6 + 1.0 * len(columns))
    figure = _figure(width, max(2.6, 1.4 + 0.45 * len(rows)))
    axes = figure.add_subplot()
    _title(axes, title, width - 1.5)
    grid = [[float(v) if _finite(v) else math.nan for v in row] for row in values]
    colours = colormaps[HEAT_MAP].with_extremes(bad="#eeeeee")  # a copy: the registered map stays as it is
    image = axes.imshow(grid, cmap=colours, vmin=0.0, vmax=1.0, aspect="auto")
    for i, row in enumerate(grid):
        for j, value in enumerate(row):
            if math.isnan(value):
                axes.text(j, i, "-", ha="center", va="center", fontsize=8, color="#666666")
            else:
                r, g, b, _ = colours(value)
                ink = "black" if 0.299 * r + 0.587 * g + 0.114 * b > 0.5 else "white"
                axes.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=8, color=ink)
    axes.set_xticks(range(len(columns)), [_short(f"{group}\n{label}" if group else label) for group, label in columns],
                    fontsize=8)
    axes.set_yticks(range(len(rows)), [_short(r) for r in rows], fontsize=8)
    axes.tick_params(length=0)
    if separate_first_row and len(rows) > 1:
        axes.axhline(0.5, color="white", linewidth=4)
    figure.colorbar(image, ax=axes, label=value_label, shrink=0.9)
    return figure
