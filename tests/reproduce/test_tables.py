"""A reproduced table: its cells from flagged audit results carry the flags' marks."""

from __future__ import annotations

from fgav.reproduce.tables import ReproducedTable


def test_cells_from_flagged_results_are_marked_and_footnoted() -> None:
    table = ReproducedTable("tab1", "Tab. 1", ["without SFA", "with SFA"], ["FGSM", "PGD"],
                            [[0.5, 0.6], [0.4, 0.7]], [[0.9, 0.95], [0.9, 0.95]],
                            flags=[[[], []], [[{"code": "weaker-than-fgsm", "message": "w"},
                                                  {"code": "incomplete-optimization", "message": "i"}], []]])
    text = table.to_markdown()
    assert "| PGD | 0.4000 [1,2] (0.9000) | 0.7000 (0.9500) |" in text
    assert "| FGSM | 0.5000 (0.9000) | 0.6000 (0.9500) |" in text
    assert "[1] weaker-than-fgsm: w" in text and "[2] incomplete-optimization: i" in text
    again = ReproducedTable.from_dict(table.to_dict())
    assert again.to_markdown() == text
    plain = ReproducedTable("tab1", "Tab. 1", ["ASR"], ["FGSM"], [[0.5]])
    assert "[1]" not in plain.to_markdown() and "Flags" not in plain.to_markdown()
