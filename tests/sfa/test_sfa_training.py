"""Training SFA against a frozen target (Eq. 4-5), and what it buys an attack."""

from __future__ import annotations

from typing import Any

import foolbox as fb
import pytest
import torch

import fgav
from fgav.core.errors import FgavError
from fgav.sfa import SFA
from tests.sfa.conftest import batches, make_task


def test_fit_lowers_the_loss(fit_run: dict[str, Any]) -> None:
    figures = fit_run["figures"]
    assert figures["steps"] == 12 and figures["samples"] == 192
    assert figures["last_epoch_loss"] < figures["first_epoch_loss"]
    assert fit_run["after"] < fit_run["before"], "the attack-time maps push harder towards the opposite class"
    assert [s[0] for s in fit_run["steps"]] == list(range(1, 13)) and fit_run["steps"][0][1] == 12


def test_fit_marks_fitted_and_freezes_the_target(target: fgav.MultiTaskModel, fit_run: dict[str, Any]) -> None:
    assert not fit_run["sfa"].needs_fit and fit_run["untrained"].needs_fit
    assert not target.training, "the target is left in eval mode"
    assert all(p.requires_grad for p in target.parameters()), "the target's flags are restored"
    assert not fit_run["sfa"].training, "SFA is left in eval mode for attacks"


def test_fit_does_not_touch_the_target(target: fgav.MultiTaskModel) -> None:
    before = {k: v.clone() for k, v in target.state_dict().items()}
    x, spoof = make_task(8, seed=3)
    SFA(work_size=32, latent_dim=4).fit(target, batches(x, spoof, 4), epochs=1, max_steps=1)
    assert all(torch.equal(before[k], v) for k, v in target.state_dict().items())


def test_fit_skips_unreadable_images_and_rejects_empty_loaders(target: fgav.MultiTaskModel) -> None:
    x, spoof = make_task(4, seed=4)
    unreadable = {"image": torch.empty(0, 3, 32, 32), "skipped": ["a.jpg"], "skip_reasons": ["truncated"]}
    loader = [{"image": x[:3], "spoof": spoof[:3], "skipped": ["b.jpg"]}, unreadable]
    figures = SFA(work_size=32, latent_dim=4).fit(target, loader, epochs=1)
    assert figures["samples"] == 3 and figures["steps"] == 1
    with pytest.raises(FgavError, match="no batch"):
        SFA(work_size=32).fit(target, [{"image": x[:1], "spoof": spoof[:1]}])
    with pytest.raises(FgavError, match="'image' and 'spoof'"):
        SFA(work_size=32).fit(target, [{"image": x}])


def _fgsm_asr(model: fb.PyTorchModel, x: torch.Tensor, y: torch.Tensor, augmenter: fgav.Augmenter) -> float:
    right = model(x).argmax(1) == y
    _, _, success = augmenter.wrap(fb.attacks.FGSM())(model, x, y, epsilons=4 / 255)
    return float((success & right).sum() / right.sum())


def test_sfa_push_raises_fgsm_asr(target: fgav.MultiTaskModel, fit_run: dict[str, Any]) -> None:
    """The property of Tab. 1: on a trained target, SFA (push) beats no augmentation, and
    the gain comes from training (an unfitted SFA of the same bound does not give it)."""
    x, y = make_task(64, seed=2)
    model = fgav.foolbox_model(target)
    assert (model(x).argmax(1) == y).float().mean() > 0.9, "the target has learnt the task"
    none = _fgsm_asr(model, x, y, fgav.create_augmenter("none"))
    push = _fgsm_asr(model, x, y, fit_run["sfa"])
    untrained = _fgsm_asr(model, x, y, fit_run["untrained"])
    assert push >= none + 0.1, (none, push)
    assert push >= untrained + 0.1, (untrained, push)
