"""The extra experiment: hardening aimed at the decision or at every part, its table and figure."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib
import pytest

import fgav
from fgav.reproduce.experiments import EXTRAS, names
from fgav.reproduce.hardening import Arm, compare, figure, robust_accuracy_figure, table
from fgav.train import train
from tests.train.tiny import write_tiny_tree


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("hardening")
    tree = write_tiny_tree(root / "tree", n_train=16, n_test=8)
    train(backbone="timm:test_resnet", out=root / "t", data=str(tree), image_size=32, epochs=2, batch_size=4,
          device="cpu", progress=False)  # fmt: skip
    return tree, root / "t"


def test_every_arm_is_hardened_judged_tabled_and_drawn(setup: tuple[Path, Path], tmp_path: Path) -> None:
    tree, target = setup
    arms = (Arm("decision only", ["classification"]), Arm("every part", "all"))
    lines: list[str] = []
    options = {"arms": arms, "epochs": 1, "eps": [8 / 255, 16 / 255], "judge_limit": 6, "device": "cpu",
               "attack_options": {"apgd": {"steps": 3}, "square": {"queries": 5}},
               "harden_options": {"holdout": 4, "batch_size": 4}}  # fmt: skip
    judgements = compare(fgav.load_model(target), str(tree), out=tmp_path, log=lines.append, **options)
    assert list(judgements) == ["decision only", "every part"]
    assert fgav.load_model(tmp_path / "every-part").config["hardening"]["parts"] == fgav.load_model(target).head_names
    before = [j.robust("before", 8 / 255) for j in judgements.values()]
    assert before[0] == before[1]  # the original is judged once, and both arms compare with it
    result = table(judgements, main="tiny", figure="hardening/robust-accuracy.png")
    assert result.paper is None and result.rows == ["original target", "hardened: decision only", "hardened: every part"]
    assert result.columns == ["clean accuracy", "robust 8/255"]
    assert all(v is not None and not math.isnan(v) for row in result.ours for v in row)
    text = result.to_markdown()
    assert "The paper has no figure for this table" in text and "robust-accuracy.png" in text
    backend = matplotlib.get_backend()
    png = figure(judgements, tmp_path / "robust-accuracy.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert matplotlib.get_backend() == backend, "drawing leaves the user's matplotlib as it was"
    (axes,) = robust_accuracy_figure(judgements).axes
    drawn = {bars.get_label(): list(bars.lines[0].get_ydata()) for bars in axes.containers}  # one errorbar a line
    first = next(iter(judgements.values()))
    assert drawn == {"original target": [first.robust("before", e) for e in first.epsilons],
                     **{f"hardened: {name}": [j.robust("after", e) for e in j.epsilons] for name, j in judgements.items()}}
    # A second call keeps what the first finished.
    again = compare(fgav.load_model(target), str(tree), out=tmp_path, log=lines.append, **options)
    assert sum("kept from the earlier run" in line for line in lines) == 2
    assert again["every part"].rows == judgements["every part"].rows


def test_the_extra_experiment_runs_only_when_named() -> None:
    assert "harden" in EXTRAS
    assert "harden" not in names(None) and names(["harden", "tab1"]) == ["tab1", "harden"]
