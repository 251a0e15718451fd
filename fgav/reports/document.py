"""A report as plain data (facts, sections, tables, figures) that the HTML and Markdown writers render."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fgav.auditing.result import _PART_LABELS
from fgav.core.formatting import format_epsilon, format_number, format_rate


@dataclass
class Table:
    """A table: ``header`` names the columns; ``groups`` (label, span) optionally spans them from above.

    The first ``label_columns`` columns name the row (left-aligned); the others hold values.
    """

    title: str
    header: list[str]
    rows: list[list[str]]
    groups: list[tuple[str, int]] | None = None
    label_columns: int = 1
    note: str = ""

    def flat_header(self) -> list[str]:
        """The header with each group's label joined to its columns' (for formats without spans)."""
        if not self.groups:
            return list(self.header)
        names: list[str] = []
        for label, span in self.groups:
            names += [f"{label} · {h}" if label else h for h in self.header[len(names):len(names) + span]]
        return names + self.header[len(names):]


@dataclass
class Figure:
    """A PNG figure; ``name`` is a file-name-safe stem, unique within its report."""

    name: str
    title: str
    png: bytes
    caption: str = ""


@dataclass
class Section:
    """A titled part of the report: text, figures, tables and a bullet list, in that order."""

    title: str
    text: list[str] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    items: list[str] = field(default_factory=list)


@dataclass
class Report:
    """A whole report: a title, the run's facts (key, value) and its sections."""

    title: str
    source: str
    facts: list[tuple[str, str]]
    sections: list[Section]

    def tables(self) -> list[Table]:
        """Every table, in order."""
        return [t for s in self.sections for t in s.tables]

    def figures(self) -> list[Figure]:
        """Every figure, in order."""
        return [f for s in self.sections for f in s.figures]


def number(value: Any, digits: int = 4) -> str:
    """A value as the report prints it: 4 decimals, ``-`` for none or NaN."""
    if isinstance(value, (bool, int)):
        return format_number(value)
    return format_number(float(value) if isinstance(value, (int, float)) else value, digits)


def rate(value: Any, interval: Any = None, n: Any = None) -> str:
    """A rate with its 95 % interval, to the decimals ``n`` samples support: ``0.62 [0.50, 0.73]``."""
    return format_rate(value, interval, n=n)


def epsilon(value: Any) -> str:
    """A budget as the user gave it (``8/255``, ``0.5``), ``-`` for attacks without a budget."""
    return format_epsilon(value)


def part_label(name: str) -> str:
    """The paper's name of a part (``depth`` -> ``Depth Map``), or the name itself."""
    return _PART_LABELS.get(name, name)


def text_of(value: Any) -> str:
    """A configuration value as one line of text."""
    if value is None:
        return "-"
    if isinstance(value, (list, tuple)):
        return ", ".join(text_of(v) for v in value) or "-"
    if isinstance(value, dict):
        return ", ".join(f"{k}: {text_of(v)}" for k, v in value.items()) or "-"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)
