"""AuditResult: schema 2 with intervals and outcomes, reading schema 1, McNemar, CSV, and Markdown escaping."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from fgav.auditing.result import SCHEMA_VERSION, AuditEntry, AuditResult
from fgav.core.errors import FgavError
from fgav.metrics import wilson_interval
from fgav.reports import write_report

PIPE_PART = "a|b<i>"


def _entry(augmenter: str, outcomes: str, **extra: Any) -> dict[str, Any]:
    right = outcomes.count("0") + outcomes.count("1")
    flipped = outcomes.count("1")
    return {"part": PIPE_PART, "attack": "fgsm", "epsilon": 8 / 255, "augmenter": augmenter, "mode": "push",
            "n": len(outcomes), "n_right_clean": right, "n_flipped": flipped, "asr": flipped / right,
            "asr_ci": list(wilson_interval(flipped, right)), "n_scored": {"classification": len(outcomes)},
            "accuracy": {"classification": 0.5}, "accuracy_ci": {"classification": [0.4, 0.6]},
            "clean_accuracy": {"classification": 0.9}, "clean_accuracy_ci": {"classification": [0.8, 0.95]},
            "change": {}, "distortion": {"linf": 8 / 255, "l2": 1.0, "l0": 10.0}, "fas": {}, "fas_ci": {},
            "breakdown": {}, "outcomes": outcomes, "flags": [], **extra}


def _result() -> AuditResult:
    base = "-" * 4 + "1" * 10 + "0" * 50
    sfa = "-" * 4 + "1" * 30 + "0" * 30
    alone = {"asr": 20 / 60, "asr_ci": list(wilson_interval(20, 60)), "n_flipped": 20,
             "distortion": {"linf": 0.1, "l2": 2.0, "l0": 4096.0}, "outcomes": "-" * 4 + "1" * 20 + "0" * 40}
    return AuditResult([_entry("none", base), _entry("sfa", sfa, alone=alone,
                                                      flags=[{"code": "unstable", "message": "re-run differs"}])],
                       {"epsilons": [8 / 255]}, notes=["a note with <b>|pipe"])


def test_compare_is_mcnemar_on_the_same_samples() -> None:
    result = _result()
    none, sfa = result.results
    test = AuditResult.compare(sfa, none)
    assert (test.only_a, test.only_b, test.both, test.neither) == (20, 0, 10, 30) and test.significant()
    against_alone = AuditResult.compare(sfa, sfa["alone"])
    assert (against_alone.only_a, against_alone.only_b) == (10, 0)
    with pytest.raises(FgavError, match="same samples"):
        AuditResult.compare(sfa, {**none, "outcomes": "01"})
    with pytest.raises(FgavError, match="older fgav"):
        AuditResult.compare(sfa, {k: v for k, v in none.items() if k != "outcomes"})


def test_json_round_trip_and_schema_version(tmp_path: Path) -> None:
    result = _result()
    result.to_json(tmp_path / "r.json")
    payload = json.loads((tmp_path / "r.json").read_text())
    assert payload["schema"] == SCHEMA_VERSION == 2
    assert AuditResult.from_json(tmp_path / "r.json").results == payload["results"]
    (tmp_path / "future.json").write_text(json.dumps({**payload, "schema": 3}))
    with pytest.raises(FgavError, match="schema version 3"):
        AuditResult.from_json(tmp_path / "future.json")


def test_a_version_1_file_is_read_with_intervals_derived_from_its_counts(tmp_path: Path) -> None:
    v1 = {"schema": 1, "config": {}, "results": [{
        "part": "depth", "attack": "fgsm", "epsilon": 8 / 255, "augmenter": "none", "n": 64, "n_right_clean": 50,
        "asr": 0.5, "clean_accuracy": {"classification": 0.78125}, "accuracy": {"classification": 0.5},
        "change": {}, "distortion": {"linf": 0.03, "l2": 1.0, "l0": 9.0}, "fas": {}, "breakdown": {}}]}
    (tmp_path / "v1.json").write_text(json.dumps(v1))
    (entry,) = AuditResult.from_json(tmp_path / "v1.json").results
    assert entry["n_flipped"] == 25 and entry["asr_ci"] == list(wilson_interval(25, 50))
    assert entry["accuracy_ci"]["classification"] == list(wilson_interval(32, 64)) and entry["flags"] == []
    assert "0.50 [0.37, 0.63]" in AuditResult.from_json(tmp_path / "v1.json").to_markdown()


def test_csv_has_intervals_alone_and_flags() -> None:
    rows = list(csv.DictReader(io.StringIO(_result().to_csv())))
    lo, hi = wilson_interval(30, 60)
    assert float(rows[1]["asr.low"]) == pytest.approx(lo) and float(rows[1]["asr.high"]) == pytest.approx(hi)
    assert rows[1]["accuracy.classification.low"] == "0.4" and rows[1]["alone.asr"] == str(20 / 60)
    assert rows[1]["flags"] == "unstable" and rows[0]["flags"] == "" and rows[0]["alone.asr"] == ""


def test_terminal_table_shows_intervals_alone_and_flag_marks() -> None:
    console = Console(width=200, record=True)
    console.print(_result().table())
    text = console.export_text()
    assert "0.50 [0.38, 0.62]" in text and "S(x) alone" in text and "0.33 [0.23, 0.46]" in text
    assert "[1] unstable: re-run differs" in text and "8/255" in text and "0.0314 " not in text.split("\n")[3]


def test_markdown_is_escaped_alike_by_audit_and_report(tmp_path: Path) -> None:
    result = _result()
    audit_md = result.to_markdown()
    write_report(result, markdown=tmp_path / "r.md")
    report_md = (tmp_path / "r.md").read_text()
    for text in (audit_md, report_md):
        assert "a\\|b&lt;i>" in text and "<i>" not in text and "<b>" not in text
        # Every row of a table has as many cells as its header: the escaped pipe splits none.
        widths: list[int] = []
        for line in text.splitlines() + [""]:
            if line.startswith("|"):
                widths.append(len(re.split(r"(?<!\\)\|", line)))
            elif widths:
                assert len(set(widths)) == 1, widths
                widths = []


def test_entries_are_typed_and_read_as_their_json_form(tmp_path: Path) -> None:
    result = _result()
    entry = result.results[1]
    assert isinstance(entry, AuditEntry)
    assert (entry.part, entry.augmenter, entry.n_flipped, entry.flags[0]["code"]) == (PIPE_PART, "sfa", 30, "unstable")
    assert entry.key == (PIPE_PART, "fgsm", 8 / 255, "sfa")
    assert entry["asr"] == entry.asr == 0.5 and entry.get("alone") is entry.alone
    # A field that is None is absent from the mapping, as it is from the JSON.
    assert result.results[0].alone is None and "alone" not in result.results[0]
    assert "alone" not in json.loads(result.to_json())["results"][0]
    back = AuditResult.from_json(tmp_path / "r.json") if result.to_json(tmp_path / "r.json") else None
    assert back is not None and [dict(r) for r in back.results] == [dict(r) for r in result.results]


def test_unknown_keys_are_kept_and_written_back() -> None:
    entry = AuditEntry.from_mapping({**_entry("none", "1100"), "added_by_a_newer_fgav": {"x": 1}})
    assert entry.extra == {"added_by_a_newer_fgav": {"x": 1}} and entry["added_by_a_newer_fgav"] == {"x": 1}
    assert json.loads(AuditResult([entry]).to_json())["results"][0]["added_by_a_newer_fgav"] == {"x": 1}
    with pytest.raises(KeyError):
        entry["no_such_key"]


@pytest.mark.parametrize("key", ["part", "attack", "epsilon", "augmenter"])
def test_an_entry_without_what_names_it_is_refused(key: str) -> None:
    values = _entry("none", "1100")
    del values[key]
    with pytest.raises(FgavError, match=key):
        AuditResult([values])
