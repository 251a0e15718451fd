"""A reproduced table: our figures beside the paper's, as JSON and Markdown."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from fgav.auditing.flags import with_mark
from fgav.auditing.result import flag_footnotes


@dataclass
class ReproducedTable:
    """One of the paper's tables, measured: rows of our values with the paper's beside them."""

    id: str
    title: str
    columns: list[str]
    rows: list[str]
    ours: list[list[float | None]]
    paper: list[list[float | None]] | None = None
    notes: list[str] = field(default_factory=list)
    flags: list[list[list[dict[str, str]]]] | None = None
    """Per cell, the flags of the audit result it comes from (fgav.auditing.flags); None: not tracked."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (NaN as null)."""
        data = asdict(self)
        for key in ("ours", "paper"):
            if data[key] is not None:
                data[key] = [[_none_if_nan(v) for v in row] for row in data[key]]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ReproducedTable:
        """Read :meth:`to_dict`'s output."""
        return cls(**data)

    def to_markdown(self) -> str:
        """A Markdown table: each column as "ours (paper)" where the paper gives one."""
        header = ["", *self.columns]
        lines = [f"### {self.title}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        flagged = [{"flags": cell} for row in self.flags or [] for cell in row]
        marks_list, footnotes = flag_footnotes(flagged)
        marks = iter(marks_list)
        for i, row in enumerate(self.rows):
            cells = []
            for j, value in enumerate(self.ours[i]):
                has_mark = self.flags is not None and i < len(self.flags) and j < len(self.flags[i])
                cell = with_mark(_fmt(value), next(marks) if has_mark else "")
                paper = self.paper[i][j] if self.paper is not None and i < len(self.paper) else None
                if paper is not None:
                    cell += f" ({_fmt(paper)})"
                cells.append(cell)
            lines.append("| " + " | ".join([row, *cells]) + " |")
        if self.paper is not None:
            lines.append("\nIn parentheses: the paper's figure (ResNet-18 and the others on CelebA-Spoof).")
        lines += [f"- {note}" for note in self.notes]
        lines += [f"- Flags: {line}" for line in footnotes]
        return "\n".join(lines) + "\n"


def _none_if_nan(value: float | None) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else value


def _fmt(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.4f}"
