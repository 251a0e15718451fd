"""The result of an audit: one entry per (part, attack, epsilon, augmenter), and its writers.

The JSON schema (``AuditResult.to_json``) is documented in docs/audit.md.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.table import Table

from fgav.outputs import write_atomically

SCHEMA_VERSION = 1
_PART_LABELS = {
    "attribute": "Facial Attribute",
    "spoof_type": "Spoofing Type",
    "illumination": "Illumination",
    "depth": "Depth Map",
    "reflection": "Reflection Map",
    "classification": "Classification",
}


# Short column names: the table must fit a terminal.
_HEAD_SHORT = {"attribute": "attr", "spoof_type": "type", "illumination": "illum", "classification": "live/spoof"}


def _clean(value: Any) -> Any:
    """JSON has no NaN: NaN becomes null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def markdown_table(header: Sequence[str], body: Sequence[Sequence[str]]) -> list[str]:
    """The lines of a Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(row) + " |" for row in body]


def _fmt(value: Any, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def _eps(value: float | None) -> str:
    if value is None:
        return "-"
    scaled = value * 255
    return f"{round(scaled)}/255" if abs(scaled - round(scaled)) < 1e-6 else f"{value:.4g}"


@dataclass
class AuditResult:
    """An audit's figures: ``results`` (one dict per combination), its configuration and notes."""

    results: list[dict[str, Any]]
    config: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready payload."""
        return _clean({
            "schema": SCHEMA_VERSION,
            "config": self.config,
            "results": self.results,
            "notes": self.notes,
            "skipped": self.skipped,
        })

    def to_json(self, path: str | Path | None = None) -> str:
        """The result as JSON text; written atomically to ``path`` when given."""
        text = json.dumps(self.to_dict(), indent=2)
        if path is not None:
            write_atomically(path, text + "\n")
        return text

    @classmethod
    def from_json(cls, path: str | Path) -> AuditResult:
        """Read a result written by :meth:`to_json`."""
        payload = json.loads(Path(path).read_text())
        return cls(payload["results"], payload.get("config", {}), payload.get("notes", []), payload.get("skipped", []))

    def heads(self) -> list[str]:
        """The heads with an accuracy, in the order of the first result."""
        return list(self.results[0].get("accuracy", {})) if self.results else []

    def rows(self) -> list[dict[str, Any]]:
        """Flat rows (one per result) for tables and CSV."""
        rows = []
        for r in self.results:
            row: dict[str, Any] = {
                "part": r["part"], "attack": r["attack"], "epsilon": r["epsilon"],
                "augmenter": r["augmenter"], "n": r["n"], "asr": r["asr"],
            }
            for head, acc in r.get("accuracy", {}).items():
                row[f"accuracy.{head}"] = acc
            for part, change in r.get("change", {}).items():
                row[f"change.{part}"] = change
            for key, value in r.get("distortion", {}).items():
                row[f"distortion.{key}"] = value
            for key, value in r.get("fas", {}).items():
                row[f"fas.{key}"] = value
            rows.append(row)
        return rows

    def to_csv(self, path: str | Path | None = None) -> str:
        """The flat rows as CSV; written atomically to ``path`` when given."""
        rows = self.rows()
        columns: list[str] = []
        for row in rows:
            columns += [c for c in row if c not in columns]
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=columns)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: ("" if v is None else v) for k, v in _clean(row).items()})
        if path is not None:
            write_atomically(path, buffer.getvalue())
        return buffer.getvalue()

    def _summary(self) -> tuple[list[str], list[list[str]]]:
        heads = self.heads()
        header = ["Attacked part", "Attack", "ε", "Augmenter", "ASR", *[f"acc {_HEAD_SHORT.get(h, h)}" for h in heads],
                  "L∞", "L2", "n"]
        body = []
        for r in self.results:
            body.append([
                _PART_LABELS.get(r["part"], r["part"]), r["attack"], _eps(r["epsilon"]), r["augmenter"],
                _fmt(r["asr"]), *[_fmt(r.get("accuracy", {}).get(h)) for h in heads],
                _fmt(r["distortion"]["linf"]), _fmt(r["distortion"]["l2"], 3), str(r["n"]),
            ])
        return header, body

    def table(self, *, title: str = "fgav audit: attack success rate and accuracy under attack") -> Table:
        """A rich table like the paper's Tab. 4 and 5."""
        header, body = self._summary()
        table = Table(title=title)
        for column in header:
            table.add_column(column, justify="left" if column in ("Attacked part", "Attack", "Augmenter") else "right")
        for row in body:
            table.add_row(*row)
        return table

    def to_markdown(self, path: str | Path | None = None) -> str:
        """The summary table as Markdown (with the notes); written to ``path`` when given."""
        lines = markdown_table(*self._summary()) + [f"\n- {note}" for note in self.notes]
        text = "\n".join(lines) + "\n"
        if path is not None:
            write_atomically(path, text)
        return text

    def find(self, **where: Any) -> list[dict[str, Any]]:
        """The results whose fields equal the given values (e.g. ``part="depth"``)."""
        return [r for r in self.results if all(r.get(k) == v for k, v in where.items())]


def format_epsilons(values: Sequence[float | None]) -> str:
    """Epsilons as a person reads them (8/255 rather than 0.0314)."""
    return ", ".join(_eps(v) for v in values)
