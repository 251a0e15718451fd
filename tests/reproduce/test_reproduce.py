"""``fgav reproduce --quick`` on a tiny configuration: seven tables, figures, resume."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fgav.core.errors import FgavError
from fgav.reproduce import ReproducedTable, reproduce, study as runner
from tests.torchrun import torchrun

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
    assert tab4.rows[-1] == "Classification"
    assert tab4.columns == ["without SFA", "with SFA (push)", "S(x) alone", "SFA guide (equal budget)"]
    assert tab4.paper[-1] == [0.6578, 0.9046, None, None]
    assert all(v is None or 0 <= v <= 1 for row in tab4.ours for v in row)
    assert all(v is not None for v in tab4.ours[-1]), "push, S(x) alone and guide are all measured"
    assert {(c.a, c.b) for c in tab4.comparisons} == {("with SFA (push)", "without SFA"),
                                                      ("with SFA (push)", "S(x) alone"),
                                                      ("SFA guide (equal budget)", "without SFA")}
    assert "## What the numbers support" in text
    tab7 = json.loads((out / "tables" / "tab7.json").read_text())
    assert tab7["rows"] == ["Original accuracy", "timm:test_resnet", "resnet18"] and len(tab7["columns"]) == 4
    assert (out / "figures" / "fig2_sfa_maps.png").stat().st_size > 0
    assert (out / "figures" / "fig3_examples.png").stat().st_size > 0
    assert (out / "figures" / "asr_vs_eps.png").stat().st_size > 0 and "against ε" in text
    kept = (out / "audits" / "parts-resnet18.json").read_text()
    with pytest.raises(FgavError, match="use --resume"):
        reproduce(out=out, backbones=["timm:test_resnet"], data=str(tiny_synth), quick=True, only=["tab4"])
    before = (out / "tables" / "tab4.json").read_text()
    reproduce(out=out, backbones=["timm:test_resnet", "resnet18"], data=str(tiny_synth), quick=True, resume=True,
              only=["tab4", "tab5", "tab6"], device="cpu")
    assert (out / "tables" / "tab4.json").read_text() == before, "a finished table is kept on resume"
    assert (out / "audits" / "parts-resnet18.json").read_text() == kept, "a finished audit is not run again"
    assert (out / "audits" / "parts-timm_test_resnet.json").is_file()
    text = (out / "report.md").read_text()
    assert "Tab. 5" in text and "Tab. 6" in text
    with pytest.raises(FgavError, match="resume with the earlier options"):
        reproduce(out=out, backbones=["timm:test_resnet", "resnet18"], data=str(tiny_synth), quick=True,
                  resume=True, only=["tab4"], limit=4, device="cpu")


def _launch(*args: str, processes: int = 1) -> str:
    script = str(Path(__file__).with_name("launch_tiny.py"))
    if processes > 1:
        done = torchrun(*args, processes=processes, program=(script,))
    else:
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        done = subprocess.run([sys.executable, script, *args], capture_output=True, text=True, timeout=600, env=env)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    return done.stderr


def test_torchrun_splits_the_jobs_over_ranks_and_ends_with_one_process_numbers(tiny_synth: Path,
                                                                                  tmp_path: Path) -> None:
    profile, tables = json.dumps(TINY), ("tab1", "tab5", "tab7")
    one, two = tmp_path / "one", tmp_path / "two"
    _launch(profile, str(one), str(tiny_synth), *tables)
    log = _launch(profile, str(two), str(tiny_synth), *tables, processes=2)
    shares = [line for line in log.splitlines() if "jobs:" in line]
    assert sorted(line.split("]")[0] for line in shares) == ["[rank 0", "[rank 1"]
    assert all(" of the 8 jobs" in line for line in shares)  # tab1's five, two every-part audits, the transfer
    assert "2 processes (torchrun)" in (two / "report.md").read_text()
    for name in tables:
        a, b = (ReproducedTable.from_dict(json.loads((d / "tables" / f"{name}.json").read_text())) for d in (one, two))
        assert b.rows == a.rows and b.columns == a.columns
        flat = [[v for row in t.ours for v in row] for t in (a, b)]
        assert flat[1] == pytest.approx(flat[0], abs=1e-6), name
    tab1 = ReproducedTable.from_dict(json.loads((one / "tables" / "tab1.json").read_text()))
    assert any(v for row in tab1.ours[1:] for v in row), "the tiny target is attackable, so the check has teeth"
    assert sorted(p.name for p in (two / "audits").glob("*.json")) == sorted(p.name for p in (one / "audits").glob("*.json"))
    assert (two / "figures" / "asr_vs_eps.png").is_file()
