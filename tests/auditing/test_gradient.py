"""fgav's runner of Foolbox's gradient attacks gives Foolbox's results, faster."""

from __future__ import annotations

import foolbox as fb
import torch

import fgav
from fgav.auditing.gradient import run_gradient_attack, runs_natively
from fgav.core.aiming import PartObjective, aimed_model
from tests.conftest import make_batch

EPSILONS = [1 / 255, 4 / 255, 8 / 255]


def _setup(part: str = "classification"):
    torch.manual_seed(0)
    model = fgav.build_model("timm:test_resnet", image_size=32).eval()
    batch = make_batch(6, 32)
    return model, batch, PartObjective.for_batch(model, part, batch)


def test_fgsm_sweep_equals_foolbox_for_every_epsilon() -> None:
    model, batch, objective = _setup()
    attack = fgav.create_attack("fgsm")
    assert runs_natively(attack)
    ours = run_gradient_attack(attack, objective, batch["image"], EPSILONS)
    _, theirs, _ = attack(aimed_model(objective), batch["image"], fb.criteria.Misclassification(batch["spoof"]),
                          epsilons=EPSILONS)
    for a, b in zip(ours, theirs):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-6)


def test_pgd_without_early_stop_equals_foolbox_with_the_same_seed() -> None:
    model, batch, objective = _setup()
    attack = fgav.create_attack("pgd", steps=4)
    torch.manual_seed(5)
    ours = run_gradient_attack(attack, objective, batch["image"], EPSILONS[1:], early_stop=False)
    torch.manual_seed(5)
    _, theirs, _ = attack(aimed_model(objective), batch["image"], fb.criteria.Misclassification(batch["spoof"]),
                          epsilons=EPSILONS[1:])
    for a, b in zip(ours, theirs):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-5)


def test_early_stop_freezes_flipped_samples_and_keeps_them_flipped() -> None:
    model, batch, objective = _setup()
    attack = fgav.create_attack("pgd", steps=10, random_start=False)
    x = batch["image"]
    with torch.no_grad():
        right = model(x)["classification"].argmax(1) == batch["spoof"]
    (stopped,) = run_gradient_attack(attack, objective, x, [8 / 255], early_stop=True)
    (full,) = run_gradient_attack(attack, objective, x, [8 / 255], early_stop=False)
    with torch.no_grad():
        wrong_stopped = model(stopped)["classification"].argmax(1) != batch["spoof"]
        wrong_full = model(full)["classification"].argmax(1) != batch["spoof"]
    # Every sample PGD flips is flipped with early stopping too, with no larger distortion.
    assert bool((wrong_stopped | ~wrong_full).all())
    assert (stopped - x).abs().amax() <= 8 / 255 + 1e-6
    assert float((stopped - x).abs().sum()) <= float((full - x).abs().sum()) + 1e-4
    # A sample wrong from the start is never moved.
    (again,) = run_gradient_attack(attack, objective, x, [8 / 255], early_stop=True)
    torch.testing.assert_close(again[~right], x[~right])


def test_guide_mode_takes_gradients_at_the_shifted_point_and_stays_near_x() -> None:
    model, batch, objective = _setup("depth")
    x = batch["image"]
    shift = torch.full_like(x, 0.05)
    (adv,) = run_gradient_attack(fgav.create_attack("fgsm"), objective, x, [4 / 255], shift=shift)
    assert (adv - x).abs().amax() <= 4 / 255 + 1e-6
    at = (x + shift).clamp(0, 1).requires_grad_(True)
    loss = model.heads["depth"].loss(model(at)["depth"], objective.target)
    (grad,) = torch.autograd.grad(loss.sum(), at)
    expected = (x + 4 / 255 * grad.sign()).clamp(0, 1)
    torch.testing.assert_close(adv, expected, rtol=0, atol=1e-6)
