"""AugmentedAttack: any Foolbox attack run on S(x), in push and guide modes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import foolbox as fb
import pytest
import torch
from foolbox.attacks.base import Attack, FixedEpsilonAttack, get_criterion
from foolbox.distances import linf

import fgav
from fgav.core.errors import FgavError
from fgav.core.wrapping import AugmentedAttack, ShiftedModel

SIZE = 16


class Shift(fgav.Augmenter):
    """Test augmenter: moves live images up and spoof images down by a constant."""

    name: ClassVar[str] = "test-shift"

    def __init__(self, *, amount: float = 0.1, **options: Any) -> None:
        super().__init__(**options)
        self.amount = amount

    def forward(self, x: torch.Tensor, batch: Mapping[str, Any]) -> torch.Tensor:
        sign = 1 - 2 * torch.as_tensor(batch["spoof"], device=x.device).view(-1, 1, 1, 1).float()
        return (x + sign * self.amount).clamp(0, 1)


class MeanBrightness(torch.nn.Module):
    """A toy live/spoof decision: spoof when the mean pixel is above 0.5."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        score = (x.mean(dim=(1, 2, 3)) - 0.5) * 40
        return torch.stack([-score, score], dim=1)


class NudgeAttack(FixedEpsilonAttack):
    """A third-party attack: one step of size epsilon against the gradient of the true logit."""

    distance = linf

    def run(self, model: Any, inputs: Any, criterion: Any, *, epsilon: float, **kwargs: Any) -> Any:
        import eagerpy as ep

        x, restore_type = ep.astensor_(inputs)
        labels = get_criterion(criterion).labels

        def loss(z: ep.Tensor) -> ep.Tensor:
            logits = model(z)
            return logits[range(len(z)), labels].sum()

        _, grad = ep.value_and_grad(loss, x)
        return restore_type((x - epsilon * grad.sign()).clip(0, 1))


@pytest.fixture
def setup() -> tuple[fb.PyTorchModel, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    labels = torch.arange(8) % 2
    # Live images a little below the threshold, spoof ones a little above: right when clean.
    x = (0.5 + (labels.float() * 2 - 1).view(-1, 1, 1, 1) * 0.03 + 0.01 * torch.randn(8, 3, SIZE, SIZE, generator=g)).clamp(0, 1)
    model = fb.PyTorchModel(MeanBrightness().eval(), bounds=(0, 1))
    assert (model(x).argmax(1) == labels).all()
    return model, x, labels


def test_wrap_returns_a_foolbox_attack_keeping_s_of_x(setup: Any) -> None:
    model, x, labels = setup
    attack = Shift(amount=0.1).wrap(fb.attacks.FGSM())
    assert isinstance(attack, Attack) and isinstance(attack, AugmentedAttack)
    raw, clipped, success = attack(model, x, labels, epsilons=0.01)
    assert raw.shape == clipped.shape == x.shape and success.shape == (8,)
    expected = Shift(amount=0.1)(x, {"spoof": labels})
    assert torch.equal(attack.augmented_inputs, expected)


def test_push_is_centred_on_s_of_x_and_guide_on_x(setup: Any) -> None:
    model, x, labels = setup
    eps = 0.01
    push = Shift(amount=0.1, mode="push").wrap(fb.attacks.FGSM())
    _, adv_push, ok_push = push(model, x, labels, epsilons=eps)
    s = push.augmented_inputs
    assert (adv_push - s).abs().amax() <= eps + 1e-6, "push: within epsilon of S(x)"
    assert (adv_push - x).abs().amax() > eps, "push moves farther than epsilon from x"
    assert ok_push.all(), "S(x) moves each image across the brightness threshold"
    guide = Shift(amount=0.1, mode="guide").wrap(fb.attacks.FGSM())
    _, adv_guide, ok_guide = guide(model, x, labels, epsilons=eps)
    assert (adv_guide - x).abs().amax() <= eps + 1e-6, "guide: within epsilon of x"
    assert torch.equal(ok_guide, model(adv_guide).argmax(1) != labels), "success is the real model's verdict"
    assert not ok_guide.any(), "a 0.01 step cannot cross a 0.03 margin"


def test_epsilon_lists_are_handled_like_the_wrapped_attack(setup: Any) -> None:
    model, x, labels = setup
    attack = fgav.create_augmenter("none").wrap(fb.attacks.FGSM())
    raws, clips, success = attack(model, x, labels, epsilons=[0.0, 0.05])
    _, ref_clips, ref_success = fb.attacks.FGSM()(model, x, labels, epsilons=[0.0, 0.05])
    assert isinstance(raws, list) and len(clips) == 2 and success.shape == (2, 8)
    assert torch.equal(success, ref_success), "'none' wrapping changes nothing"
    assert not success[0].any() and success[1].all()
    assert all(torch.equal(a, b) for a, b in zip(clips, ref_clips))


@pytest.mark.parametrize(
    "attack",
    [fb.attacks.L2DeepFoolAttack(steps=20), fb.attacks.L2CarliniWagnerAttack(binary_search_steps=2, steps=10)],
    ids=["deepfool", "cw"],
)
@pytest.mark.parametrize("mode", ["push", "guide"])
def test_minimization_attacks(setup: Any, attack: Attack, mode: str) -> None:
    model, x, labels = setup
    wrapped = Shift(amount=0.02, mode=mode).wrap(attack)
    raw, clipped, success = wrapped(model, x, labels, epsilons=None)
    assert clipped.shape == x.shape
    assert torch.equal(success, model(clipped).argmax(1) != labels)
    assert success.float().mean() >= 0.5, "an unbounded minimization finds adversarials"


@pytest.mark.parametrize("mode", ["push", "guide"])
def test_third_party_attack(setup: Any, mode: str) -> None:
    model, x, labels = setup
    wrapped = Shift(amount=0.025, mode=mode).wrap(NudgeAttack())
    _, clipped, success = wrapped(model, x, labels, epsilons=0.01)
    centre = wrapped.augmented_inputs if mode == "push" else x
    assert (clipped - centre).abs().amax() <= 0.01 + 1e-6
    assert torch.equal(success, model(clipped).argmax(1) != labels)
    # The margin is 0.03: 0.025 from S(x) plus a 0.01 step crosses it, the step alone does not.
    assert success.all() if mode == "push" else not success.any()


def test_guide_gradients_are_taken_at_s_of_x() -> None:
    model = fb.PyTorchModel(MeanBrightness().eval(), bounds=(0, 1))
    x = torch.full((2, 3, 4, 4), 0.5)
    shifted = ShiftedModel(model, torch.full_like(x, 0.2))
    assert torch.allclose(shifted(x), model(torch.full_like(x, 0.7)))
    with pytest.raises(FgavError, match="batch of shape"):
        shifted(x[:1])


def test_batch_labels_override_the_criterion(setup: Any) -> None:
    model, x, labels = setup
    flipped = {"spoof": 1 - labels}
    attack = Shift(amount=0.1).wrap(fb.attacks.FGSM(), batch=flipped)
    attack(model, x, labels, epsilons=0.0)
    assert torch.equal(attack.augmented_inputs, Shift(amount=0.1)(x, flipped))


def test_not_a_foolbox_attack_is_a_clear_error() -> None:
    with pytest.raises(FgavError, match="only Foolbox attacks"):
        Shift().wrap(object())  # type: ignore[arg-type]


def test_repeat_keeps_the_best_of_several_runs(setup: Any) -> None:
    model, x, labels = setup
    attack = Shift(amount=0.025).wrap(fb.attacks.FGSM()).repeat(2)
    _, clipped, success = attack(model, x, labels, epsilons=0.01)
    assert clipped.shape == x.shape and success.all()
