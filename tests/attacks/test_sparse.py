"""SparseAttack: the sigma-map, the L0 projection, and the attack on a tiny model."""

from __future__ import annotations

import itertools
import os

os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")

import eagerpy as ep  # noqa: E402
import foolbox as fb  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from fgav.attacks.sparse import SparseAttack, project_l0_box, sigma_map  # noqa: E402

SIZE = 16


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    """Tiny tensors gain nothing from threads, which only contend on a busy CPU."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def task() -> tuple[fb.PyTorchModel, torch.nn.Module, torch.Tensor, torch.Tensor]:
    """A fixed "reddest pixel" detector on noise: class 0 if it is in the left half.

    Each image has one pure red pixel on its class's side; the noise is never as
    red, so the clean predictions are right by a clear margin.
    """
    redness = torch.nn.Conv2d(3, 1, 1, bias=False)
    head = torch.nn.Linear(2, 2, bias=False)
    with torch.no_grad():
        redness.weight.copy_(torch.tensor([1.0, -0.5, -0.5]).reshape(1, 3, 1, 1))
        head.weight.copy_(4 * torch.eye(2))
    net = torch.nn.Sequential(
        redness, torch.nn.AdaptiveMaxPool2d((1, 2)), torch.nn.Flatten(), head
    ).eval()
    g = torch.Generator().manual_seed(0)
    n = 48
    x = torch.rand(n, 3, SIZE, SIZE, generator=g) * 0.7
    y = torch.randint(0, 2, (n,), generator=g)
    rows = torch.randint(0, SIZE, (n,), generator=g)
    cols = torch.randint(0, SIZE // 2, (n,), generator=g) + y * (SIZE // 2)
    x[torch.arange(n), :, rows, cols] = torch.tensor([1.0, 0.0, 0.0])
    with torch.no_grad():
        logits = net(x)
    assert (logits.argmax(1) == y).all() and (logits[:, 0] - logits[:, 1]).abs().min() > 0.5
    return fb.PyTorchModel(net, bounds=(0, 1)), net, x, y


def _predict(net: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return net(x).argmax(1)


def _pixels_changed(x: torch.Tensor, xp: torch.Tensor) -> torch.Tensor:
    return ((xp - x).abs().amax(dim=1) > 0).flatten(1).sum(1)


def _sigma(x: torch.Tensor) -> torch.Tensor:
    return sigma_map(ep.astensor(x)).raw


def test_sigma_map_by_hand() -> None:
    x = np.random.default_rng(0).random((2, 3, 5, 6)).astype(np.float32)
    expected = np.zeros_like(x)
    _, _, h, w = x.shape
    for i in range(h):
        for j in range(w):
            vertical = x[:, :, [max(i - 1, 0), i, min(i + 1, h - 1)], j]
            horizontal = x[:, :, i, [max(j - 1, 0), j, min(j + 1, w - 1)]]
            expected[:, :, i, j] = np.sqrt(np.minimum(vertical.std(-1), horizontal.std(-1)))
    got = sigma_map(ep.astensor(torch.from_numpy(x))).raw.numpy()
    np.testing.assert_allclose(got, expected, atol=1e-6)
    # A flat image has no texture to hide a change in.
    assert _sigma(torch.full((1, 3, 4, 4), 0.3)).abs().max() < 1e-3


def test_projection_is_the_euclidean_one() -> None:
    torch.manual_seed(0)
    for _ in range(20):
        delta = torch.randn(1, 2, 2, 3)
        lower, upper = -torch.rand(1, 2, 2, 3), torch.rand(1, 2, 2, 3)
        for k in (0, 1, 2, 6):
            got = project_l0_box(*map(ep.astensor, (delta, lower, upper)), k).raw
            assert _pixels_changed(torch.zeros_like(got), got).item() <= k
            assert (got >= lower).all() and (got <= upper).all()
            # Brute force over every set of k kept pixels.
            best = float("inf")
            for kept in itertools.combinations(range(6), k):
                mask = torch.zeros(6)
                mask[list(kept)] = 1
                cand = delta.clamp(lower, upper) * mask.reshape(1, 1, 2, 3)
                best = min(best, (cand - delta).square().sum().item())
            assert (got - delta).square().sum().item() == pytest.approx(best, abs=1e-5)


@pytest.mark.parametrize("k", [1, 3])
def test_fools_within_k_pixels_and_sigma(task, k: int) -> None:
    fmodel, net, x, y = task
    kappa = 0.8
    raw, clipped, success = SparseAttack(k=k, kappa=kappa, steps=20, restarts=2)(
        fmodel, x, y, epsilons=None
    )
    assert raw.shape == clipped.shape == x.shape and success.shape == (len(x),)
    assert torch.equal(success, _predict(net, clipped) != y)
    rate = success.float().mean().item()
    assert rate >= (0.4 if k == 1 else 0.9), f"sparse fooled only {rate:.0%} with k={k}"
    assert (_pixels_changed(x, raw) <= k).all()
    assert ((raw - x).abs() <= kappa * _sigma(x) + 1e-6).all()
    assert raw.min() >= 0 and raw.max() <= 1
    # The same budget spent at random (no gradient steps) rarely fools the model.
    random = SparseAttack(k=k, kappa=kappa, steps=0, restarts=1)(fmodel, x, y, epsilons=None)[2]
    assert random.float().mean() <= 0.25 and random.float().mean() < rate - 0.3


def test_no_budget_no_change(task) -> None:
    fmodel, _, x, y = task
    no_pixels = SparseAttack(k=0, steps=5, restarts=1)
    no_change = SparseAttack(kappa=0.0, steps=5, restarts=1)
    for attack in (no_pixels, no_change):
        raw, _, success = attack(fmodel, x, y, epsilons=None)
        torch.testing.assert_close(raw, x, atol=0, rtol=0)
        assert not success.any()


@pytest.mark.parametrize("epsilon", [0.1, 0.3])
def test_epsilon_caps_each_change(task, epsilon: float) -> None:
    fmodel, net, x, y = task
    attack = SparseAttack(k=3, steps=20, restarts=2)
    raw, clipped, success = attack(fmodel, x, y, epsilons=epsilon)
    assert (raw - x).abs().max() <= epsilon + 1e-6
    torch.testing.assert_close(raw, clipped)  # nothing left for Foolbox's clip to do
    assert torch.equal(success, _predict(net, clipped) != y)
    assert (_pixels_changed(x, raw) <= 3).all()
    if epsilon == 0.3:
        assert success.float().mean() >= 0.5  # a cap, not a switch-off


def test_epsilon_list_and_targeted(task) -> None:
    fmodel, net, x, y = task
    attack = SparseAttack(k=3, steps=20, restarts=1)
    raws, clippeds, success = attack(fmodel, x, y, epsilons=[0.05, None])
    assert len(raws) == len(clippeds) == 2 and success.shape == (2, len(x))
    assert (clippeds[0] - x).abs().max() <= 0.05 + 1e-6
    for i in range(2):
        assert torch.equal(success[i], _predict(net, clippeds[i]) != y)
    target = fb.criteria.TargetedMisclassification(1 - y)
    _, clipped, hit = attack(fmodel, x, target, epsilons=None)
    assert hit.float().mean() >= 0.9
    assert torch.equal(hit, _predict(net, clipped) == 1 - y)


def test_options_are_keyword_only_and_checked() -> None:
    with pytest.raises(TypeError):
        SparseAttack(5)  # type: ignore[misc]
    with pytest.raises(ValueError):
        SparseAttack(k=-1)
    with pytest.raises(ValueError):
        SparseAttack(restarts=0)
    assert SparseAttack.name == "sparse"
    assert isinstance(SparseAttack(), fb.attacks.base.MinimizationAttack)
