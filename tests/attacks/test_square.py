"""SquareAttack: its window schedule, bounds and query budget, and gradient-free success."""

from __future__ import annotations

import os

os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")

import foolbox as fb  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

import fgav  # noqa: E402
from fgav.attacks.scoring import logits_scorer  # noqa: E402
from fgav.attacks.square import SquareAttack, window_share  # noqa: E402
from fgav.core.errors import FgavError  # noqa: E402
from tests.attacks.brightness import Quantized, brightness_data, counting, train_brightness  # noqa: E402

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


def test_the_window_share_halves_on_the_papers_schedule() -> None:
    assert window_share(0.8, 10, 10000) == 0.8 and window_share(0.8, 11, 10000) == 0.4
    assert window_share(0.8, 501, 10000) == 0.8 / 16 and window_share(0.8, 9999, 10000) == 0.8 / 512
    assert window_share(0.8, 1, 1000) == 0.8 and window_share(0.8, 2, 1000) == 0.4  # rescaled


def test_bounds_and_query_budget_hold(bright) -> None:
    net, x, y = bright
    score, counts = counting(logits_scorer(net, y, loss="margin"), len(x))
    with torch.no_grad():
        result = SquareAttack(queries=60).search(score, x, EPS, early_stop=False)
    assert int(counts.max()) == 60 and int(counts.min()) == 60
    assert float((result.x - x).abs().max()) <= EPS + 1e-6
    assert float(result.x.min()) >= 0 and float(result.x.max()) <= 1
    with torch.no_grad():
        again = logits_scorer(net, y, loss="margin")(result.x, torch.arange(len(x)))
    torch.testing.assert_close(again[0], result.loss)
    assert torch.equal(again[1], result.wrong)


def test_it_needs_no_gradient(bright) -> None:
    net, x, y = bright
    masked = fb.PyTorchModel(Quantized(net).eval(), bounds=(0, 1))
    probe = x.clone().requires_grad_(True)
    torch.nn.functional.cross_entropy(Quantized(net)(probe), y).backward()
    assert probe.grad is not None and float(probe.grad.abs().max()) == 0  # the gradient is masked
    _, _, success = SquareAttack(queries=150)(masked, x, y, epsilons=16 / 255)
    assert float(success.float().mean()) > 0.1


def test_each_epsilon_is_attacked_as_if_alone(bright) -> None:
    net, x, y = bright
    fmodel = fb.PyTorchModel(net, bounds=(0, 1))
    attack = SquareAttack(queries=20)
    _, alone, _ = attack(fmodel, x, y, epsilons=[EPS])
    _, swept, _ = attack(fmodel, x, y, epsilons=[1 / 255, EPS])
    assert torch.equal(alone[0], swept[1])


def test_bad_options_and_inputs_are_refused() -> None:
    with pytest.raises(FgavError, match="queries must be at least 1"):
        fgav.create_attack("square", queries=0)
    with pytest.raises(FgavError, match=r"p_init=2.0 is out of range"):
        fgav.create_attack("square", p_init=2.0)
    with pytest.raises(FgavError, match=r"p_init must lie in \(0, 1\]"):  # the options' range takes 0; Square not
        fgav.create_attack("square", p_init=0.0)
    flat = fb.PyTorchModel(torch.nn.Linear(4, 2).eval(), bounds=(0, 1))
    with pytest.raises(ValueError, match=r"Square attacks images \(N, C, H, W\)"):
        SquareAttack(queries=2)(flat, torch.rand(3, 4), torch.zeros(3).long(), epsilons=EPS)
