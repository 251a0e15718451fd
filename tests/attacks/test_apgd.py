"""APGDAttack: bounds and budgets, its kept best loss, and attacks on a tiny trained model."""

from __future__ import annotations

import os

os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")

import foolbox as fb  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

import fgav  # noqa: E402
from fgav.attacks.apgd import APGDAttack  # noqa: E402
from fgav.attacks.scoring import logits_scorer  # noqa: E402
from fgav.core.errors import FgavError  # noqa: E402
from tests.attacks.brightness import brightness_data, counting, train_brightness  # noqa: E402

EPS = 8 / 255


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    """Tiny tensors gain nothing from threads, which only contend on a busy CPU."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def bright() -> tuple[torch.nn.Module, torch.Tensor, torch.Tensor]:
    x, y = brightness_data(48)
    return train_brightness(x, y, steps=100), x, y


def test_it_lowers_adversarial_accuracy_below_pgd_with_as_many_steps(bright) -> None:
    net, x, y = bright
    fmodel = fb.PyTorchModel(net, bounds=(0, 1))
    assert fb.accuracy(fmodel, x, y) == 1.0
    _, _, ours = APGDAttack(steps=20)(fmodel, x, y, epsilons=EPS)
    _, _, pgd = fb.attacks.LinfPGD(steps=20)(fmodel, x, y, epsilons=EPS)
    assert 0 < float(ours.float().mean()) and int(ours.sum()) >= int(pgd.sum())


@pytest.mark.parametrize("norm, eps", [("linf", EPS), ("l2", 0.5)])
def test_bounds_and_gradient_budget_hold(bright, norm: str, eps: float) -> None:
    net, x, y = bright
    attack = APGDAttack(steps=12, restarts=2, norm=norm)
    score, counts = counting(logits_scorer(net, y), len(x))
    result = attack.ascend(score, x, eps)
    delta = (result.x - x).flatten(1)
    size = delta.abs().amax(dim=1) if norm == "linf" else delta.norm(dim=1)
    assert float(size.max()) <= eps + 1e-5
    assert float(result.x.min()) >= 0 and float(result.x.max()) <= 1
    assert int(counts.max()) <= 2 * (12 + 1)  # one gradient per step and one at each start
    # A restart attacks only the samples the first run left, and the verdicts are true.
    with torch.no_grad():
        assert torch.equal(net(result.x).argmax(1) != y, result.wrong)


def test_the_kept_best_loss_never_decreases(bright) -> None:
    net, x, y = bright
    result = APGDAttack(steps=30, loss="margin").ascend(logits_scorer(net, y, loss="margin"), x, 2 / 255,
                                                        early_stop=False)
    best = result.best_losses
    assert best is not None and best.shape == (31, len(x))
    assert bool((best[1:] >= best[:-1]).all())
    assert float((best[-1] > best[0]).float().mean()) > 0.9  # it climbs
    right = ~result.wrong
    torch.testing.assert_close(result.loss[right], best[-1][right])  # the kept point is the best one
    with torch.no_grad():
        again = logits_scorer(net, y, loss="margin")(result.x, torch.arange(len(x)))[0]
    torch.testing.assert_close(again, result.loss, atol=1e-5, rtol=1e-5)


def test_each_epsilon_is_attacked_as_if_alone(bright) -> None:
    net, x, y = bright
    fmodel = fb.PyTorchModel(net, bounds=(0, 1))
    attack = APGDAttack(steps=5)
    _, alone, _ = attack(fmodel, x, y, epsilons=[EPS])
    _, swept, _ = attack(fmodel, x, y, epsilons=[1 / 255, EPS])
    assert torch.equal(alone[0], swept[1])


def test_model_bounds_scale_the_attack(bright) -> None:
    net, x, y = bright

    class Scaled(torch.nn.Module):
        def forward(self, v: torch.Tensor) -> torch.Tensor:
            return net(v / 255)

    scaled = Scaled().eval()
    _, unit, _ = APGDAttack(steps=5)(fb.PyTorchModel(net, bounds=(0, 1)), x, y, epsilons=EPS)
    _, wide, _ = APGDAttack(steps=5)(fb.PyTorchModel(scaled, bounds=(0, 255)), x * 255, y, epsilons=EPS * 255)
    torch.testing.assert_close(wide / 255, unit, atol=1e-4, rtol=0)


def test_bad_options_are_refused() -> None:
    with pytest.raises(FgavError, match="loss must be one of ce, margin"):
        fgav.create_attack("apgd", loss="dlr")
    with pytest.raises(FgavError, match="steps=0 is out of range"):
        fgav.create_attack("apgd", steps=0)
    with pytest.raises(FgavError, match="norm must be one of linf, l2"):
        fgav.create_attack("apgd", norm="l1")
    with pytest.raises(TypeError, match="unexpected keyword"):
        APGDAttack().run(fb.PyTorchModel(torch.nn.Identity().eval(), bounds=(0, 1)), torch.zeros(1, 2), torch.zeros(1).long(),
                         epsilon=0.1, stepsize=3)
