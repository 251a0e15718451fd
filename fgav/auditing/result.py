"""The result of an audit: one entry per (part, attack, epsilon, augmenter), and its writers.

The JSON schema (``AuditResult.to_json``) is documented in docs/audit.md; version 2 adds
the 95 % Wilson interval of every rate (``<name>_ci``), per-sample ``outcomes``, S(x)'s
own figures (``alone``) for push augmenters and ``flags``. :meth:`AuditResult.from_json`
reads version 1 files too.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from rich.table import Table
from rich.text import Text

from fgav.core.errors import FgavError
from fgav.core.formatting import (
    format_epsilon,
    format_epsilons,
    format_number,
    format_rate,
    markdown_line,
    markdown_table,
)
from fgav.core.io import json_ready, write_atomically
from fgav.metrics.stats import McNemar, mcnemar, wilson_interval

SCHEMA_VERSION = 2
READABLE_SCHEMAS = (1, 2)
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


# The names the transfer result still imports; one implementation, in fgav.core.formatting.
_fmt, _eps = format_number, format_epsilon
ALONE = "S(x) alone"  # the attack column of an augmenter's own row (push mode, no attack)


def outcomes_of(entry: Mapping[str, Any]) -> list[bool | None]:
    """An entry's per-sample outcomes: True flipped, False resisted, None wrong when clean.

    Raises:
        FgavError: the entry has none (a result of schema version 1).
    """
    text = entry.get("outcomes")
    if not isinstance(text, str):
        raise FgavError("the result has no per-sample outcomes (written by an older fgav): audit again to compare")
    return [True if c == "1" else False if c == "0" else None for c in text]


def flag_footnotes(entries: Sequence[Mapping[str, Any]]) -> tuple[list[str], list[str]]:
    """Each entry's flag mark (``1,2``, empty without flags) and the footnotes they point to.

    A flag is ``{"code": ..., "message": ...}``; each distinct one gets a number, in order
    of first appearance.
    """
    numbers: dict[tuple[str, str], int] = {}
    marks = []
    for entry in entries:
        own = []
        for flag in entry.get("flags") or []:
            key = (str(flag.get("code", "")), str(flag.get("message", ""))) if isinstance(flag, Mapping) \
                else (str(flag), "")
            own.append(numbers.setdefault(key, len(numbers) + 1))
        marks.append(",".join(str(n) for n in own))
    notes = [f"[{n}] {code}: {message}" if message else f"[{n}] {code}" for (code, message), n in numbers.items()]
    return marks, notes


def _upgrade(entry: dict[str, Any]) -> dict[str, Any]:
    """A version 1 entry with what version 2 derives from it: counts and intervals (no outcomes)."""
    entry = dict(entry)
    right = entry.get("n_right_clean")
    if isinstance(right, int) and isinstance(entry.get("asr"), (int, float)):
        entry.setdefault("n_flipped", round(entry["asr"] * right))
        entry.setdefault("asr_ci", list(wilson_interval(entry["n_flipped"], right)))
    n = entry.get("n")
    if isinstance(n, int):  # version 1 scored every sample of every head with an accuracy
        for key in ("clean_accuracy", "accuracy"):
            values = entry.get(key) or {}
            entry.setdefault(f"{key}_ci", {h: list(wilson_interval(round(v * n), n)) for h, v in values.items()
                                            if isinstance(v, (int, float)) and math.isfinite(v)})
    entry.setdefault("flags", [])
    return entry


@dataclass(eq=False)
class AuditEntry(Mapping[str, Any]):
    """One result of an audit: the figures of one (part, attack, epsilon, augmenter).

    The fields are typed attributes (``entry.asr``); the entry is also a read-only mapping
    of its JSON form (``entry["asr"]``, ``dict(entry)``): read from JSON, it holds the keys
    the JSON had (``null`` ones too); built directly, those not ``None`` and the four that
    name the entry (a spatial attack's epsilon is ``None``). Keys this fgav does not know (from a newer writer, or a caller's own) are
    kept in ``extra`` and read back the same way.
    """

    part: str
    attack: str
    epsilon: float | None
    augmenter: str
    mode: str | None = None
    n: int = 0
    n_right_clean: int | None = None
    n_flipped: int | None = None
    asr: float | None = None
    asr_ci: list[float] | None = None
    n_scored: dict[str, int] = field(default_factory=dict)
    clean_accuracy: dict[str, float] = field(default_factory=dict)
    clean_accuracy_ci: dict[str, list[float]] = field(default_factory=dict)
    accuracy: dict[str, float] = field(default_factory=dict)
    accuracy_ci: dict[str, list[float]] = field(default_factory=dict)
    change: dict[str, float] = field(default_factory=dict)
    distortion: dict[str, float] = field(default_factory=dict)
    fas: dict[str, float] = field(default_factory=dict)
    fas_ci: dict[str, list[float]] = field(default_factory=dict)
    fas_nonfinite_scores: int | None = None
    breakdown: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    outcomes: str | None = None
    """Per sample: ``1`` flipped, ``0`` resisted, ``-`` wrong when clean (schema 2)."""
    alone: dict[str, Any] | None = None
    """S(x)'s own figures for a push augmenter: ``asr``, ``asr_ci``, ``n_flipped``, ``distortion``, ``outcomes``."""
    early_stop: bool | None = None
    attack_options: dict[str, str] = field(default_factory=dict)
    flags: list[dict[str, str]] = field(default_factory=list)
    """Raised indicators of attack failure: ``{"code": ..., "message": ...}`` each."""
    extra: dict[str, Any] = field(default_factory=dict)
    given: frozenset[str] | None = field(default=None, repr=False)
    """The fields its JSON form had (a ``null`` one included); ``None``: those not ``None``."""

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> AuditEntry:
        """An entry from its JSON form (unknown keys go to ``extra``).

        Raises:
            FgavError: a key that names the entry (part, attack, epsilon, augmenter) is missing.
        """
        if isinstance(values, AuditEntry):
            return values
        missing = [k for k in _IDENTITY if k not in values]
        if missing:
            raise FgavError(f"an audit result entry lacks {', '.join(missing)}: not a result of fgav audit")
        known = {k: v for k, v in values.items() if k in _FIELDS}
        return cls(**known, extra={k: v for k, v in values.items() if k not in _FIELDS}, given=frozenset(known))

    def _has(self, name: str) -> bool:
        if self.given is not None:
            return name in self.given or name in _IDENTITY
        return name in _IDENTITY or getattr(self, name) is not None

    def _present(self) -> Iterator[str]:
        for name in _FIELDS:
            if self._has(name):
                yield name
        yield from (k for k in self.extra if k not in _FIELDS)

    def __getitem__(self, key: str) -> Any:
        if key in _FIELDS:
            if self._has(key):  # a spatial attack's epsilon is None, and present
                return getattr(self, key)
        elif key in self.extra:
            return self.extra[key]
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return self._present()

    def __len__(self) -> int:
        return sum(1 for _ in self._present())

    def __repr__(self) -> str:
        return f"AuditEntry(part={self.part!r}, attack={self.attack!r}, epsilon={self.epsilon!r}, " \
               f"augmenter={self.augmenter!r}, asr={self.asr!r}, flags={[f.get('code') for f in self.flags]!r})"

    @property
    def key(self) -> tuple[str, str, float | None, str]:
        """What the entry is the result of: (part, attack, epsilon, augmenter)."""
        return (self.part, self.attack, self.epsilon, self.augmenter)


_IDENTITY = ("part", "attack", "epsilon", "augmenter")
_FIELDS = tuple(f.name for f in fields(AuditEntry) if f.name not in ("extra", "given"))


@dataclass
class AuditResult:
    """An audit's figures: ``results`` (one :class:`AuditEntry` per combination), its configuration and notes.

    Entries given as mappings (their JSON form) are read into :class:`AuditEntry`.
    """

    results: list[AuditEntry]
    config: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.results = [AuditEntry.from_mapping(r) for r in self.results]

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready payload."""
        return json_ready({
            "schema": SCHEMA_VERSION,
            "config": self.config,
            "results": [dict(r) for r in self.results],
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
    def from_dict(cls, payload: Mapping[str, Any]) -> AuditResult:
        """Read :meth:`to_dict`'s payload, of schema version 1 or 2.

        Raises:
            FgavError: a schema version this fgav cannot read.
        """
        version = payload.get("schema", 1)
        if version not in READABLE_SCHEMAS:
            raise FgavError(f"audit result schema version {version!r}: this fgav reads versions "
                            f"{', '.join(map(str, READABLE_SCHEMAS))} (a newer fgav wrote it?)")
        results = [dict(r) for r in payload["results"]]
        if version == 1:
            results = [_upgrade(r) for r in results]
        return cls([AuditEntry.from_mapping(r) for r in results], dict(payload.get("config") or {}),
                   list(payload.get("notes") or []),
                   list(payload.get("skipped") or []))

    @classmethod
    def from_json(cls, path: str | Path) -> AuditResult:
        """Read a result written by :meth:`to_json` (schema version 1 or 2)."""
        return cls.from_dict(json.loads(Path(path).read_text()))

    def heads(self) -> list[str]:
        """The heads with an accuracy, in the order of the first result."""
        return list(self.results[0].get("accuracy", {})) if self.results else []

    def rows(self) -> list[dict[str, Any]]:
        """Flat rows (one per result) for tables and CSV; an interval as ``<name>.low``/``<name>.high``."""
        rows = []
        for r in self.results:
            row: dict[str, Any] = {
                "part": r["part"], "attack": r["attack"], "epsilon": r["epsilon"],
                "augmenter": r["augmenter"], "n": r["n"], "n_right_clean": r.get("n_right_clean"), "asr": r["asr"],
            }
            _interval(row, "asr", r.get("asr_ci"))
            for head, acc in r.get("accuracy", {}).items():
                row[f"accuracy.{head}"] = acc
                _interval(row, f"accuracy.{head}", (r.get("accuracy_ci") or {}).get(head))
            for head, acc in r.get("clean_accuracy", {}).items():
                row[f"clean_accuracy.{head}"] = acc
                _interval(row, f"clean_accuracy.{head}", (r.get("clean_accuracy_ci") or {}).get(head))
            for part, change in r.get("change", {}).items():
                row[f"change.{part}"] = change
            for key, value in r.get("distortion", {}).items():
                row[f"distortion.{key}"] = value
            for key, value in r.get("fas", {}).items():
                row[f"fas.{key}"] = value
                _interval(row, f"fas.{key}", (r.get("fas_ci") or {}).get(key))
            alone = r.get("alone")
            if isinstance(alone, Mapping):
                row["alone.asr"] = alone.get("asr")
                _interval(row, "alone.asr", alone.get("asr_ci"))
                for key, value in (alone.get("distortion") or {}).items():
                    row[f"alone.distortion.{key}"] = value
            row["flags"] = ";".join(str(f.get("code", f)) if isinstance(f, Mapping) else str(f)
                                    for f in r.get("flags") or [])
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
            writer.writerow({k: ("" if v is None else v) for k, v in json_ready(row).items()})
        if path is not None:
            write_atomically(path, buffer.getvalue())
        return buffer.getvalue()

    def alone_rows(self) -> list[dict[str, Any]]:
        """What each push augmenter's S(x) does with no attack: one entry-like dict per augmenter.

        ``part`` is ``-``, ``attack`` is :data:`ALONE`, ``epsilon`` 0; ``asr``, ``asr_ci``,
        ``distortion`` and ``outcomes`` as in an entry.
        """
        seen: dict[str, dict[str, Any]] = {}
        for r in self.results:
            alone = r.get("alone")
            if isinstance(alone, Mapping) and r["augmenter"] not in seen:
                seen[r["augmenter"]] = {**alone, "part": "-", "attack": ALONE, "epsilon": 0.0,
                                        "augmenter": r["augmenter"], "n": r["n"],
                                        "n_right_clean": r.get("n_right_clean")}
        return list(seen.values())

    def _summary(self) -> tuple[list[str], list[list[str]], list[str]]:
        heads = self.heads()
        entries = self.results + self.alone_rows()
        marks, footnotes = flag_footnotes(entries)
        flagged = any(marks)
        # Intervals beside the accuracies only where the table stays narrow.
        head_ci = len(heads) <= 2
        header = ["Attacked part", "Attack", "ε", "Augmenter", "ASR [95% CI]",
                  *[f"acc {_HEAD_SHORT.get(h, h)}" for h in heads], "L∞", "L2", "n", *(["flags"] if flagged else [])]
        body = []
        for r, mark in zip(entries, marks):
            acc, acc_ci, scored = r.get("accuracy") or {}, r.get("accuracy_ci") or {}, r.get("n_scored") or {}
            dist = r.get("distortion") or {}
            body.append([
                _PART_LABELS.get(r["part"], r["part"]), r["attack"], format_epsilon(r["epsilon"]), r["augmenter"],
                format_rate(r.get("asr"), r.get("asr_ci"), n=r.get("n_right_clean")),
                *[format_rate(acc.get(h), acc_ci.get(h) if head_ci else None, n=scored.get(h, r.get("n")))
                  for h in heads],
                format_number(dist.get("linf")), format_number(dist.get("l2"), 3), str(r["n"]),
                *([mark] if flagged else []),
            ])
        return header, body, footnotes

    def table(self, *, title: str = "fgav audit: attack success rate and accuracy under attack") -> Table:
        """A rich table like the paper's Tab. 4 and 5, each rate with its 95 % Wilson interval."""
        header, body, footnotes = self._summary()
        caption = ["ASR: [95% Wilson interval]; rows 'S(x) alone': the augmenter with no attack."]
        # Text, not markup: a part or augmenter name in brackets must print as it is.
        table = Table(title=Text(title), caption=Text("\n".join(caption + footnotes)), caption_justify="left")
        for column in header:
            table.add_column(Text(column),
                             justify="left" if column in ("Attacked part", "Attack", "Augmenter") else "right")
        for row in body:
            table.add_row(*[Text(cell) for cell in row])
        return table

    def to_markdown(self, path: str | Path | None = None) -> str:
        """The summary table as Markdown (with flags' footnotes and the notes); written to ``path`` when given."""
        header, body, footnotes = self._summary()
        lines = markdown_table(header, body, label_columns=4)
        lines += [""] + [f"- {markdown_line(f)}" for f in footnotes] if footnotes else []
        lines += [""] + [f"- {markdown_line(note)}" for note in self.notes] if self.notes else []
        text = "\n".join(lines) + "\n"
        if path is not None:
            write_atomically(path, text)
        return text

    def find(self, **where: Any) -> list[AuditEntry]:
        """The results whose fields equal the given values (e.g. ``part="depth"``)."""
        return [r for r in self.results if all(r.get(k) == v for k, v in where.items())]

    @staticmethod
    def compare(a: Mapping[str, Any], b: Mapping[str, Any]) -> McNemar:
        """McNemar's paired test of two entries' per-sample success on the same samples.

        ``a`` and ``b`` are entries (or an entry's ``alone``, or a row of
        :meth:`alone_rows`) of audits of the same samples in the same order.

        Raises:
            FgavError: an entry without outcomes, or the two cover different samples.
        """
        first, second = outcomes_of(a), outcomes_of(b)
        if len(first) != len(second):
            raise FgavError(f"cannot pair {len(first)} and {len(second)} samples: compare audits of the same samples")
        return mcnemar(first, second)


def _interval(row: dict[str, Any], name: str, interval: Any) -> None:
    if isinstance(interval, (list, tuple)) and len(interval) == 2:
        row[f"{name}.low"], row[f"{name}.high"] = interval


__all__ = ["ALONE", "SCHEMA_VERSION", "AuditEntry", "AuditResult", "flag_footnotes", "format_epsilons", "outcomes_of"]
