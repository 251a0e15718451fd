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

from fgav.attacks.sparse import VARIANTS, SparseAttack, project_l0_box, project_l0_sigma, sigma_map  # noqa: E402

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
    raw, clipped, success = SparseAttack(k=k, kappa=kappa, steps=20, restarts=2, variant="box")(
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
    random = SparseAttack(k=k, kappa=kappa, steps=0, restarts=1, variant="box")(fmodel, x, y, epsilons=None)[2]
    assert random.float().mean() <= 0.25 and random.float().mean() < rate - 0.3


def test_no_budget_no_change(task) -> None:
    fmodel, _, x, y = task
    attacks = [SparseAttack(k=0, steps=5, restarts=1, variant=v) for v in VARIANTS]
    attacks += [SparseAttack(kappa=0.0, steps=5, restarts=1, variant=v) for v in VARIANTS]
    for attack in attacks:
        raw, _, success = attack(fmodel, x, y, epsilons=None)
        torch.testing.assert_close(raw, x, atol=0, rtol=0)
        assert not success.any()


@pytest.mark.parametrize("epsilon", [0.1, 0.3])
def test_epsilon_caps_each_change(task, epsilon: float) -> None:
    fmodel, net, x, y = task
    attack = SparseAttack(k=3, steps=20, restarts=2, variant="box")
    raw, clipped, success = attack(fmodel, x, y, epsilons=epsilon)
    assert (raw - x).abs().max() <= epsilon + 1e-6
    torch.testing.assert_close(raw, clipped)  # nothing left for Foolbox's clip to do
    assert torch.equal(success, _predict(net, clipped) != y)
    assert (_pixels_changed(x, raw) <= 3).all()
    if epsilon == 0.3:
        assert success.float().mean() >= 0.5  # a cap, not a switch-off


def test_epsilon_list_and_targeted(task) -> None:
    fmodel, net, x, y = task
    attack = SparseAttack(k=3, steps=20, restarts=1, variant="box")
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
    with pytest.raises(ValueError):
        SparseAttack(variant="grey")  # type: ignore[arg-type]
    assert SparseAttack.name == "sparse"
    assert isinstance(SparseAttack(), fb.attacks.base.MinimizationAttack)


def _colour_set_holds(x: torch.Tensor, xp: torch.Tensor, kappa: float, k: int) -> None:
    """``xp`` is in the authors' colour set around ``x``: on at most k pixels, (1 + lambda * sigma) * x."""
    sigma = _sigma(x)
    d = sigma * x
    change = xp - x
    assert (_pixels_changed(x, xp) <= k).all()
    assert xp.min() >= 0 and xp.max() <= 1 + 1e-6
    # one lambda per pixel: change = lambda * d on every channel where d > 0
    lam = (change * d).sum(1, keepdim=True) / (d * d).sum(1, keepdim=True).clamp_min(1e-12)
    torch.testing.assert_close(change, lam * d, atol=1e-5, rtol=0)
    assert lam.abs().max() <= kappa + 1e-5


def test_colour_projection_is_the_euclidean_one() -> None:
    torch.manual_seed(1)
    for _ in range(20):
        x = torch.rand(1, 3, 2, 2) * 0.9 + 0.05
        sigma = torch.rand(1, 3, 2, 2) * 0.5
        y = (x + torch.randn(1, 3, 2, 2) * 0.3).clamp(0, 1)
        kappa, cap = 0.8, (None if _ % 2 else 0.05)
        for k in (0, 1, 2, 4):
            got = project_l0_sigma(*map(ep.astensor, (y, x, sigma)), kappa, k, cap).raw
            assert _pixels_changed(x, got).item() <= k
            d = sigma * x
            lam = ((got - x) * d).sum(1, keepdim=True) / (d * d).sum(1, keepdim=True)
            torch.testing.assert_close(got - x, lam * d, atol=1e-6, rtol=0)
            assert lam.abs().max() <= kappa + 1e-6 and got.min() >= 0 and got.max() <= 1 + 1e-6
            if cap is not None:
                assert (got - x).abs().max() <= cap + 1e-6
            # Brute force: every set of k pixels, each pixel's lambda on a fine grid.
            grid = torch.linspace(-kappa, kappa, 4001).view(-1, 1)
            best_per_pixel = []
            for i in range(2):
                for j in range(2):
                    cand = x[0, :, i, j] + grid * d[0, :, i, j]
                    ok = (cand >= 0).all(1) & (cand <= 1).all(1)
                    if cap is not None:
                        ok &= ((cand - x[0, :, i, j]).abs() <= cap).all(1)
                    cost = (cand - y[0, :, i, j]).square().sum(1)[ok].min()
                    best_per_pixel.append(((x[0, :, i, j] - y[0, :, i, j]).square().sum(), cost))
            best = float("inf")
            for kept in itertools.combinations(range(4), k):
                total = sum(float(c if p in kept else base) for p, (base, c) in enumerate(best_per_pixel))
                best = min(best, total)
            # no worse than the grid's best, and the grid's step bounds how much better
            assert best - 1e-3 <= (got - y).square().sum().item() <= best + 1e-5


def test_colour_variant_fools_within_its_set(task) -> None:
    fmodel, net, x, y = task
    raw, clipped, success = SparseAttack(k=3, kappa=0.8, steps=20, restarts=2)(fmodel, x, y, epsilons=None)
    assert torch.equal(success, _predict(net, clipped) != y)
    _colour_set_holds(x, raw, 0.8, 3)
    assert success.float().mean() >= 0.5
    box = SparseAttack(k=3, kappa=0.8, steps=20, restarts=2, variant="box")(fmodel, x, y, epsilons=None)[0]
    assert not torch.equal(raw, box)  # two different attacks


@pytest.mark.parametrize("variant", VARIANTS)
def test_the_step_does_not_depend_on_the_bounds(task, variant: str) -> None:
    """The same model on [0, 255] is attacked exactly as on [0, 1] (scaled)."""
    fmodel, net, x, y = task
    net255 = torch.nn.Sequential(_Scale(1 / 255), net).eval()
    fmodel255 = fb.PyTorchModel(net255, bounds=(0, 255))
    attack = SparseAttack(k=3, steps=20, restarts=2, variant=variant)
    torch.manual_seed(0)
    raw01, _, ok01 = attack(fmodel, x, y, epsilons=[0.2, None])
    torch.manual_seed(0)
    raw255, _, ok255 = attack(fmodel255, x * 255, y, epsilons=[0.2 * 255, None])
    assert ok01[1].float().mean() >= 0.5
    assert torch.equal(ok01, ok255)
    for a, b in zip(raw01, raw255):
        torch.testing.assert_close(b / 255, a, atol=1e-4, rtol=0)


class _Scale(torch.nn.Module):
    def __init__(self, factor: float) -> None:
        super().__init__()
        self.factor = factor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.factor


class WholeBatchOnly(torch.nn.Module):
    """The task's net, refusing any batch but the whole one (as a model aimed at a part does)."""

    def __init__(self, net: torch.nn.Module, n: int) -> None:
        super().__init__()
        self.net, self.n = net, n

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        assert x.shape[0] == self.n, f"evaluated on {x.shape[0]} inputs of a batch of {self.n}"
        return self.net(x)


@pytest.mark.parametrize("variant", VARIANTS)
def test_restarts_evaluate_the_whole_batch_and_change_no_result(task, variant: str) -> None:
    fmodel, net, x, y = task
    whole = fb.PyTorchModel(WholeBatchOnly(net, len(x)).eval(), bounds=(0, 1))
    attack = SparseAttack(k=1, kappa=0.8, steps=3, restarts=3, variant=variant)
    first = SparseAttack(k=1, kappa=0.8, steps=3, restarts=1, variant=variant)
    torch.manual_seed(0)
    found_first = first(whole, x, y, epsilons=None)[2]
    assert 0 < found_first.sum() < len(x), "the first restart leaves some samples for the next"
    torch.manual_seed(0)
    raw, _, success = attack(whole, x, y, epsilons=None)
    torch.manual_seed(0)
    raw_any, _, success_any = attack(fmodel, x, y, epsilons=None)
    assert torch.equal(success, success_any) and torch.equal(raw, raw_any), "the rows read are the same"
    assert success.sum() >= found_first.sum() and (_pixels_changed(x, raw) <= 1).all()
