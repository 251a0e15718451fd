"""Hardening: robustness rises, the run is a checkpoint, resume is exact, refusals, the guard."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import fgav
from fgav.core.errors import FgavError
from fgav.hardening import craft, harden, judge
from fgav.hardening.trainer import HardenRecipe, split_holdout
from fgav.train.checkpointing import METRICS_FILE, STATE_FILE, load_state
from tests.hardening.tiny import EPS, HARDEN, train_target
from tests.train.tiny import ToyFAS


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return train_target(tmp_path_factory.mktemp("target") / "t")


def _weights(directory: Path) -> dict[str, torch.Tensor]:
    return load_file(str(directory / "model.safetensors"))


def test_hardening_raises_robust_accuracy_under_pgd_and_keeps_clean_accuracy(target: Path, tmp_path: Path) -> None:
    result = harden(checkpoint=target, out=tmp_path / "h", dataset=ToyFAS(64), epochs=3, holdout=8, **HARDEN)
    assert result.epochs == 3 and not result.stopped_early and result.cpu_seconds > 0
    judgement = judge(target, tmp_path / "h", ToyFAS(32, seed=1), eps=[EPS], gradient=["pgd"], gradient_free=[],
                      device="cpu", attack_options={"pgd": {"steps": 10, "rel_stepsize": 0.25}})  # fmt: skip
    before, after = judgement.robust("before", EPS), judgement.robust("after", EPS)
    assert before <= 0.5, "the clean-trained target should be breakable at this budget"
    assert after >= before + 0.4
    assert judgement.clean["after"]["classification"] >= 0.9
    # The run is a checkpoint with its records: every epoch, the guard's figures, the options.
    records = [json.loads(line) for line in (tmp_path / "h" / METRICS_FILE).read_text().splitlines()]
    assert [r["epoch"] for r in records] == [1, 2, 3]
    assert all(0 <= r["holdout_robust_accuracy"] <= r["holdout_clean_accuracy"] <= 1 for r in records)
    assert all(r["cpu_seconds"] > 0 and not r["catastrophic_overfitting"] for r in records)
    model = fgav.load_model(tmp_path / "h")
    assert model.config["hardening"]["parts"] == ["attribute", "spoof_type", "illumination", "depth", "reflection",
                                                  "classification"][-1:]  # fmt: skip
    assert model.config["hardening"]["target"] == str(target)
    assert (load_state(tmp_path / "h")["epoch"], load_state(tmp_path / "h")["step"]) == (3, 0)


def test_an_interrupted_run_resumes_to_the_same_model_bit_for_bit(target: Path, tmp_path: Path) -> None:
    common = {"checkpoint": target, "dataset": ToyFAS(40), "epochs": 2, "holdout": 8, "heads": "all", **HARDEN}
    harden(out=tmp_path / "whole", **common)

    def stop(epoch: int, step: int, _loss: float) -> None:
        if (epoch, step) == (0, 2):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        harden(out=tmp_path / "cut", on_step=stop, **common)
    assert (load_state(tmp_path / "cut")["epoch"], load_state(tmp_path / "cut")["step"]) == (0, 2)
    resumed = harden(out=tmp_path / "cut", resume=True, **{k: v for k, v in common.items() if k != "checkpoint"})
    assert resumed.epochs == 2
    whole, cut = _weights(tmp_path / "whole"), _weights(tmp_path / "cut")
    assert whole.keys() == cut.keys() and all(torch.equal(whole[k], cut[k]) for k in whole)
    lines = lambda d: [json.loads(x) for x in (d / METRICS_FILE).read_text().splitlines()]  # noqa: E731
    assert [r["loss"] for r in lines(tmp_path / "cut")][-1] == pytest.approx(lines(tmp_path / "whole")[-1]["loss"])


def test_the_guard_discards_a_collapsed_epoch_and_stops(target: Path, tmp_path: Path) -> None:
    out = tmp_path / "h"
    harden(checkpoint=target, out=out, dataset=ToyFAS(40), epochs=1, holdout=8, **HARDEN)
    kept = _weights(out)
    # Pretend the best held-out PGD accuracy so far was far higher than any epoch can reach.
    state = torch.load(out / STATE_FILE, weights_only=True)
    options = json.loads(state["options_json"])
    options["best_guard"] = 2.0
    state["options_json"] = json.dumps(options)
    torch.save(state, out / STATE_FILE)
    result = harden(out=out, dataset=ToyFAS(40), epochs=3, resume=True, **HARDEN)
    assert result.stopped_early and len(result.metrics) == 1 and result.metrics[0]["catastrophic_overfitting"]
    after = _weights(out)
    assert all(torch.equal(kept[k], after[k]) for k in kept)  # the collapsed epoch's weights discarded
    again = harden(out=out, dataset=ToyFAS(40), epochs=5, resume=True, **HARDEN)
    assert again.metrics == []  # a stopped run stays stopped


def test_craft_deals_the_batch_out_to_the_parts_within_the_budget(target: Path) -> None:
    model = fgav.load_model(target)
    data = ToyFAS(12)
    batch = {k: torch.stack([data[i][k] for i in range(12)]) for k in data[0]}
    torch.manual_seed(0)
    recipe = HardenRecipe(eps=EPS)
    parts = ["classification", "depth", "spoof_type"]
    adv = craft(model, batch, parts=parts, attack=recipe.crafting_attack(), eps=EPS, augmenter=None)
    x = batch["image"]
    assert adv.shape == x.shape and float((adv - x).abs().max()) <= EPS + 1e-6
    assert float(adv.min()) >= 0 and float(adv.max()) <= 1
    assert bool(((adv - x).abs().flatten(1).amax(1) > EPS / 2).all())  # every sample was attacked
    with pytest.raises(FgavError, match="no part 'nose'"):
        craft(model, batch, parts=["nose"], attack=recipe.crafting_attack(), eps=EPS, augmenter=None)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"eps": 0.0}, "--eps must be in"),
        ({"clean_fraction": 1.0}, "--clean-fraction"),
        ({"attack": "cw"}, "--attack must be one of"),
        ({"steps": 3}, "fgsm-rs takes one step"),
        ({"epochs": 0}, "at least 1"),
        ({"holdout": 500}, "leaves nothing to train on"),
        ({"heads": ["nose"]}, "no part 'nose'"),
        ({"checkpoint": None}, "--checkpoint DIR or --backbone NAME"),
        ({"backbone": "resnet18"}, "--checkpoint DIR or --backbone NAME"),
    ],
)
def test_bad_inputs_are_one_line_errors(target: Path, tmp_path: Path, changes: dict, message: str) -> None:
    options = {"checkpoint": target, "out": tmp_path / "h", "dataset": ToyFAS(16), **HARDEN, **changes}
    with pytest.raises(FgavError, match=message) as info:
        harden(**options)
    assert "\n" not in str(info.value)


def test_an_existing_output_needs_resume_or_overwrite(target: Path, tmp_path: Path) -> None:
    (tmp_path / "h").mkdir()
    (tmp_path / "h" / "x").write_text("mine")
    with pytest.raises(FgavError, match="--resume to continue it or --overwrite"):
        harden(checkpoint=target, out=tmp_path / "h", dataset=ToyFAS(16), **HARDEN)
    with pytest.raises(FgavError, match="nothing to resume"):
        harden(out=tmp_path / "empty", dataset=ToyFAS(16), resume=True, **HARDEN)


def test_the_holdout_is_drawn_once_and_kept_apart() -> None:
    train_set, guard = split_holdout(ToyFAS(20), 5, seed=3)
    again, guard_again = split_holdout(ToyFAS(20), 5, seed=3)
    assert guard is not None and guard_again is not None
    assert list(guard.indices) == list(guard_again.indices) and len(guard) == 5  # type: ignore[attr-defined]
    assert not set(guard.indices) & set(train_set.indices)  # type: ignore[attr-defined]
    assert split_holdout(ToyFAS(20), 0, seed=3)[1] is None
