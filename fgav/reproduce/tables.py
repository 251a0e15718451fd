"""A reproduced table: our figures (with their 95 % intervals) beside the paper's, as JSON and Markdown."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from fgav.auditing.flags import with_mark
from fgav.auditing.result import flag_footnotes
from fgav.core.formatting import format_number, format_rate, markdown_line, markdown_table
from fgav.metrics.stats import ALPHA, McNemar, format_p

Interval = list[float] | None


@dataclass
class Comparison:
    """McNemar's paired test of two cells of one row, measured on the same samples."""

    row: str
    a: str
    b: str
    only_a: int
    only_b: int
    p_value: float

    @classmethod
    def of(cls, row: str, a: str, b: str, test: McNemar) -> Comparison:
        """The comparison of columns ``a`` and ``b`` in ``row`` from a McNemar test."""
        return cls(row, a, b, test.only_a, test.only_b, test.p_value)

    @property
    def significant(self) -> bool:
        """Whether the two differ at level :data:`~fgav.metrics.stats.ALPHA` (0.05)."""
        return self.p_value < ALPHA

    @property
    def verdict(self) -> str:
        """``higher`` or ``lower`` (A against B) where significant, else ``no difference``."""
        if not self.significant:
            return "no difference"
        return "higher" if self.only_a > self.only_b else "lower"


@dataclass
class ReproducedTable:
    """One of the paper's tables, measured: rows of our values with the paper's beside them.

    ``intervals`` holds the 95 % Wilson interval of each of our cells that is a rate
    (None elsewhere); ``samples`` the test images behind each rate (it sets the decimals);
    ``comparisons`` the paired tests of cells the reading may compare; ``flags`` per
    cell the attack-failure flags of the result it comes from (None: not tracked).
    """

    id: str
    title: str
    columns: list[str]
    rows: list[str]
    ours: list[list[float | None]]
    paper: list[list[float | None]] | None = None
    notes: list[str] = field(default_factory=list)
    intervals: list[list[Interval]] | None = None
    samples: int | None = None
    comparisons: list[Comparison] = field(default_factory=list)
    flags: list[list[list[dict[str, str]]]] | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (NaN as null)."""
        data = asdict(self)
        for key in ("ours", "paper"):
            if data[key] is not None:
                data[key] = [[_none_if_nan(v) for v in row] for row in data[key]]
        if data["intervals"] is not None:
            data["intervals"] = [[None if i is None or any(_none_if_nan(v) is None for v in i) else list(i)
                                  for i in row] for row in data["intervals"]]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ReproducedTable:
        """Read :meth:`to_dict`'s output."""
        data = dict(data)
        data["comparisons"] = [Comparison(**c) for c in data.get("comparisons") or []]
        return cls(**data)

    def cell(self, i: int, j: int, mark: str = "") -> str:
        """Our cell as text: a rate with its interval, or a plain number, its flag mark; the paper's in parentheses."""
        value = self.ours[i][j]
        interval = self.intervals[i][j] if self.intervals is not None and j < len(self.intervals[i]) else None
        text = with_mark(format_rate(value, interval, n=self.samples) if interval is not None else _fmt(value), mark)
        paper = self.paper[i][j] if self.paper is not None and i < len(self.paper) and j < len(self.paper[i]) else None
        return f"{text} ({_fmt(paper)})" if paper is not None else text

    def to_markdown(self) -> str:
        """A Markdown table: each column as "ours [interval] (paper)" where the paper gives one."""
        cells = [(i, j) for i in range(len(self.rows)) for j in range(len(self.ours[i]))]
        marks, footnotes = flag_footnotes([{"flags": self._flags(i, j)} for i, j in cells])
        mark_of = dict(zip(cells, marks))
        body = [[row, *[self.cell(i, j, mark_of[(i, j)]) for j in range(len(self.ours[i]))]]
                for i, row in enumerate(self.rows)]
        lines = [f"### {markdown_line(self.title)}", "", *markdown_table(["", *self.columns], body, label_columns=1)]
        legend = []
        if self.intervals is not None:
            legend.append("in brackets: the 95 % Wilson interval")
        if self.paper is not None:
            legend.append("in parentheses: the paper's figure (ResNet-18 and the others on CelebA-Spoof)")
        if legend:
            text = "; ".join(legend)
            lines.append("\n" + text[0].upper() + text[1:] + ".")
        if self.comparisons:
            lines.append("\nPaired comparisons (McNemar, same samples; a difference is claimed where p < "
                         f"{ALPHA:g}):")
            for c in self.comparisons:
                lines.append(f"- {markdown_line(c.row)}: {markdown_line(c.a)} vs {markdown_line(c.b)}: "
                             f"{c.only_a} vs {c.only_b} samples flipped by one only, p = {format_p(c.p_value)}: "
                             f"{c.verdict}")
        lines += [f"- {markdown_line(note)}" for note in self.notes]
        lines += [f"- Attack-failure flag {markdown_line(line)}" for line in footnotes]
        return "\n".join(lines) + "\n"

    def _flags(self, i: int, j: int) -> list[dict[str, str]]:
        if self.flags is None or i >= len(self.flags) or j >= len(self.flags[i]):
            return []
        return list(self.flags[i][j])


def _none_if_nan(value: float | None) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else value


def _fmt(value: float | None) -> str:
    return format_number(value if value is None else float(value), 4)
