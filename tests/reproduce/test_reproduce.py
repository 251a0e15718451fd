"""``fgav reproduce --quick`` on a tiny configuration: seven tables, figures, resume."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fgav.errors import FgavError
from fgav.reproduce import ReproducedTable, reproduce, runner

TINY = {
    "train_epochs": 1, "train_limit": None, "test_limit": 8, "sfa": {"epochs": 1},
    "attacks": {"cw": {"steps": 2, "binary_search_steps": 1}, "pgd": {"steps": 2}, "stadv": {"steps": 2},
                "sparse": {"steps": 2, "restarts": 1}, "spatial-grid": {}},
}


@pytest.fixture(scope="module")
def tiny_synth(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from fgav.data.synth import generate

    root = tmp_path_factory.mktemp("synth")
    generate(root / "s", n=48, size=32, seed=1, workers=1)
    return root / "s"


def test_quick_reproduction_writes_seven_tables_figures_and_resumes(tiny_synth: Path, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runner, "QUICK", TINY)
    out = tmp_path / "repro"
    report = reproduce(out=out, backbones=["timm:test_resnet", "resnet18"], data=str(tiny_synth), quick=True,
                       only=["tab1", "tab4", "tab7"], device="cpu")
    text = report.read_text()
    for title in ("Tab. 1", "Tab. 4", "Tab. 7", "Fig. 2", "Fig. 3"):
        assert title in text
    tab4 = ReproducedTable.from_dict(json.loads((out / "tables" / "tab4.json").read_text()))
    assert tab4.rows[-1] == "Classification" and tab4.columns == ["without SFA", "with SFA"]
    assert tab4.paper[-1] == [0.6578, 0.9046]
    assert all(v is None or 0 <= v <= 1 for row in tab4.ours for v in row)
    tab7 = json.loads((out / "tables" / "tab7.json").read_text())
    assert tab7["rows"] == ["Original accuracy", "timm:test_resnet", "resnet18"] and len(tab7["columns"]) == 4
    assert (out / "figures" / "fig2_sfa_maps.png").stat().st_size > 0
    assert (out / "figures" / "fig3_examples.png").stat().st_size > 0
    assert (out / "audits" / "tab4.json").is_file()
    with pytest.raises(FgavError, match="use --resume"):
        reproduce(out=out, backbones=["timm:test_resnet"], data=str(tiny_synth), quick=True, only=["tab4"])
    before = (out / "tables" / "tab4.json").read_text()
    reproduce(out=out, backbones=["timm:test_resnet", "resnet18"], data=str(tiny_synth), quick=True, resume=True,
              only=["tab4", "tab5", "tab6"], device="cpu")
    assert (out / "tables" / "tab4.json").read_text() == before, "a finished table is kept on resume"
    text = (out / "report.md").read_text()
    assert "Tab. 5" in text and "Tab. 6" in text
