"""The judgement: robust accuracy, the gradient-free attack, and masked gradients called out."""

from __future__ import annotations

import io
import math
from pathlib import Path

import foolbox as fb
import pytest
import torch
from rich.console import Console
from torch import Tensor, nn

import fgav
from fgav.core.aiming import PartObjective, foolbox_model
from fgav.core.errors import FgavError
from fgav.core.model import MultiTaskModel
from fgav.hardening import GRADIENT_ATTACKS, GRADIENT_FREE_ATTACKS, Judgement, judge, masking_verdicts, robust_accuracy
from fgav.hardening.evaluation import JUDGE_ATTACK_OPTIONS, judge_attack_options
from tests.hardening.tiny import train_target
from tests.train.tiny import ToyFAS


# Square needs a larger budget than APGD on the tiny target: ToyFAS's noise hides it.
EPS = 0.3


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return train_target(tmp_path_factory.mktemp("target") / "t", heads=["classification"])


class Quantized(nn.Module):
    """A backbone that rounds its input to 16 levels first: zero gradients everywhere."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner
        self.out_channels = inner.out_channels  # type: ignore[assignment]

    def forward(self, x: Tensor) -> Tensor:
        return self.inner(torch.round(x * 16) / 16)


def _masked(target: Path) -> MultiTaskModel:
    model = fgav.load_model(target)
    return MultiTaskModel(Quantized(model.backbone), dict(model.heads.items()), config=model.config).eval()


def _batch(n: int = 16) -> dict[str, Tensor]:
    data = ToyFAS(n, seed=1)
    return {k: torch.stack([data[i][k] for i in range(n)]) for k in data[0]}


def test_a_model_with_masked_gradients_is_called_out(target: Path) -> None:
    judgement = judge(target, _masked(target), ToyFAS(16, seed=1), eps=[EPS], device="cpu",
                      attack_options={"apgd": {"steps": 10}, "square": {"queries": 200}})  # fmt: skip
    grad = judgement.robust("after", EPS, kind="gradient")
    free = judgement.robust("after", EPS, kind="gradient-free")
    assert grad >= 0.9 and free <= grad - 0.3  # APGD sees no gradient; Square does not need one
    assert judgement.robust("after", EPS) == free  # the robust accuracy is the lower figure
    assert any(line.startswith("after") and "masked" in line for line in judgement.masking)
    assert any(line.startswith("after: apgd") and "zero-gradients" in line for line in judgement.masking)
    assert not any(line.startswith("before") for line in judgement.masking)
    text = judgement.to_markdown()
    assert "masking: after" in text and "| classification | 0.3 |" in text
    assert judgement.to_dict()["config"]["gradient"] == list(GRADIENT_ATTACKS) == ["apgd"]
    assert judgement.to_dict()["config"]["gradient_free"] == list(GRADIENT_FREE_ATTACKS) == ["square"]


def test_robust_accuracy_counts_right_and_unflipped_over_all() -> None:
    assert robust_accuracy({"n": 10, "n_right_clean": 8, "asr": 0.25}) == pytest.approx(0.6)
    assert robust_accuracy({"n": 10, "n_right_clean": 0, "asr": float("nan")}) == 0.0
    assert math.isnan(robust_accuracy({"n": 0, "n_right_clean": 0, "asr": None}))


def test_masking_verdicts_compare_gradient_free_with_gradient_per_budget() -> None:
    def row(model: str, kind: str, value: float, eps: float = 4 / 255) -> dict:
        return {"model": model, "part": "classification", "attack": kind, "kind": kind, "epsilon": eps,
                "robust_accuracy": value, "asr": 0.0, "n": 10, "flags": []}  # fmt: skip

    rows = [row("before", "gradient", 0.2), row("before", "gradient-free", 0.3),
            row("after", "gradient", 0.9), row("after", "gradient-free", 0.85),
            row("after", "gradient", 0.9, 8 / 255), row("after", "gradient-free", 0.5, 8 / 255)]  # fmt: skip
    lines = masking_verdicts(Judgement(rows, {"before": {}, "after": {}}))
    assert len(lines) == 1 and lines[0].startswith("after, 8/255")


def test_masking_verdicts_repeat_the_flags_of_masked_or_broken_gradients() -> None:
    def row(attack: str, flags: list) -> dict:
        kind = "gradient-free" if attack == "square" else "gradient"
        return {"model": "after", "part": "classification", "attack": attack, "kind": kind, "epsilon": 4 / 255,
                "robust_accuracy": 0.5, "asr": 0.5, "n": 10, "flags": flags}  # fmt: skip

    rows = [row("apgd", [{"code": "unbounded-failure"}, {"code": "not-monotone"}]),
            row("square", ["zero-gradients"])]  # fmt: skip
    lines = masking_verdicts(Judgement(rows, {"before": {}, "after": {}}))
    assert lines == ["after: apgd on classification at 4/255 raised unbounded-failure",
                     "after: square on classification at 4/255 raised zero-gradients"]  # fmt: skip


def test_the_judgement_needs_an_attack(target: Path) -> None:
    with pytest.raises(FgavError, match="at least one attack"):
        judge(target, target, ToyFAS(4), gradient=[], gradient_free=[])


@pytest.mark.parametrize("given", [None, {}, {"apgd": {}, "square": {}}, {"square": {"p_init": 0.5}}])
def test_given_options_are_merged_over_the_judges_cpu_sized_ones(given: dict | None) -> None:
    # fgav harden passes {"apgd": {}, "square": {}} without --judge-option: that must keep
    # APGD's 20 steps and Square's 300 queries, not reset them to 100 and 1,000 (a judge 3x slower).
    options = judge_attack_options(given)
    assert options["apgd"]["steps"] == JUDGE_ATTACK_OPTIONS["apgd"]["steps"] == 20
    assert options["square"]["queries"] == JUDGE_ATTACK_OPTIONS["square"]["queries"] == 300
    assert options["square"].get("p_init") == (0.5 if given and given.get("square") else None)


def test_a_given_option_overrides_only_itself() -> None:
    options = judge_attack_options({"apgd": {"steps": 100}, "reliable": {"queries": 50}})
    assert options == {"apgd": {"steps": 100}, "reliable": {"queries": 50}, "square": {"queries": 300}}


@pytest.mark.parametrize("progress", [True, False])
def test_the_judgement_shows_each_audits_progress_unless_told_not_to(target: Path, progress: bool) -> None:
    out = io.StringIO()  # not a terminal: plain lines
    judge(target, target, ToyFAS(8, seed=1), eps=[EPS], device="cpu", progress=progress,
          console=Console(file=out, width=200), attack_options={"apgd": {"steps": 2}, "square": {"queries": 5}})
    lines = out.getvalue().splitlines()
    expected = [f"judging {model}: {attack}: 8/8 (100%)" for model in ("before", "after") for attack in ("apgd", "square")]
    assert [line.split(",")[0] for line in lines if line.startswith("judging")] == (expected if progress else [])
