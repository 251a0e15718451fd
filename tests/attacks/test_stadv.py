"""STAdvAttack: the warp, the flow loss, and the attack on a tiny spatial model."""

from __future__ import annotations

import os

os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")

import eagerpy as ep  # noqa: E402
import foolbox as fb  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from fgav.attacks.stadv import STAdvAttack, flow_loss, warp  # noqa: E402

SIZE = 16


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    """Tiny tensors gain nothing from threads, which only contend on a busy CPU."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _blob(cx: torch.Tensor, width: float) -> torch.Tensor:
    """Gaussian blobs ``(len(cx), SIZE, SIZE)`` centred at column cx, mid-height."""
    yy, xx = torch.meshgrid(torch.arange(SIZE).float(), torch.arange(SIZE).float(), indexing="ij")
    return torch.exp(-((xx - cx[:, None, None]) ** 2 + (yy - SIZE / 2) ** 2) / (2 * width**2))


@pytest.fixture(scope="module")
def task() -> tuple[fb.PyTorchModel, torch.nn.Module, torch.Tensor, torch.Tensor]:
    """A fixed linear model telling a bright blob on the left (1) from one on the right (0).

    Only moving the blob changes its decision much, which is what a warp does.
    """
    g = torch.Generator().manual_seed(5)
    n = 32
    base = torch.rand(n, 3, SIZE // 4, SIZE // 4, generator=g)
    x = F.interpolate(base, size=SIZE, mode="bilinear", align_corners=False) * 0.5 + 0.1
    y = torch.randint(0, 2, (n,), generator=g)
    cx = torch.where(y == 1, SIZE * 0.35, SIZE * 0.65) + 0.5 * torch.randn(n, generator=g)
    x = (x + 0.4 * _blob(cx, SIZE / 8)[:, None]).clamp(0, 1)
    masks = _blob(torch.tensor([SIZE * 0.65, SIZE * 0.35]), SIZE / 6)
    linear = torch.nn.Linear(3 * SIZE * SIZE, 2, bias=False)
    with torch.no_grad():
        linear.weight.copy_(2 * masks[:, None].expand(2, 3, SIZE, SIZE).reshape(2, -1))
    net = torch.nn.Sequential(torch.nn.Flatten(), linear).eval()
    with torch.no_grad():
        assert (net(x).argmax(1) == y).all()  # the clean predictions are right
    return fb.PyTorchModel(net, bounds=(0, 1)), net, x, y


def _predict(net: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return net(x).argmax(1)


def test_warp_equals_grid_sample() -> None:
    torch.manual_seed(0)
    x = torch.rand(3, 2, 7, 9)
    flow = torch.randn(3, 2, 7, 9) * 3  # large enough to leave the image: border clamp
    gy, gx = torch.meshgrid(torch.arange(7.0), torch.arange(9.0), indexing="ij")
    grid = torch.stack([2 * (gx + flow[:, 0]) / 8 - 1, 2 * (gy + flow[:, 1]) / 6 - 1], dim=-1)
    expected = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=True)
    got = warp(ep.astensor(x), ep.astensor(flow)).raw
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=0)
    # Zero flow is the identity, and gradients reach the flow.
    zero = torch.zeros(3, 2, 7, 9, requires_grad=True)
    out = warp(ep.astensor(x), ep.astensor(zero)).raw
    torch.testing.assert_close(out, x)
    out.sum().backward()
    assert zero.grad is not None and zero.grad.abs().sum() > 0


def test_flow_loss_by_hand() -> None:
    flow = torch.randn(2, 2, 3, 4)
    eps = 1e-8
    expected = torch.zeros(2)
    for b in range(2):
        for i in range(3):
            for j in range(4):
                for di, dj in ((-1, 0), (1, 0), (0, -1), (0, 1)):
                    qi, qj = i + di, j + dj
                    if 0 <= qi < 3 and 0 <= qj < 4:
                        d = flow[b, :, i, j] - flow[b, :, qi, qj]
                        expected[b] += torch.sqrt((d**2).sum() + eps)
    got = flow_loss(ep.astensor(flow), eps=eps).raw
    torch.testing.assert_close(got, expected)
    # A constant flow (a translation) is perfectly smooth.
    shift = flow_loss(ep.astensor(torch.ones(1, 2, 3, 4) * 2.5), eps=0.0).raw
    assert shift.item() == 0.0


@pytest.fixture(scope="module")
def unbounded(task) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The unbounded attack's ``(raw, clipped, success)`` on the task."""
    fmodel, _, x, y = task
    return STAdvAttack(steps=100)(fmodel, x, y, epsilons=None)


def test_fools_most_samples_with_a_warp(task, unbounded) -> None:
    fmodel, net, x, y = task
    attack = STAdvAttack(steps=100)
    raw, clipped, success = unbounded
    assert raw.shape == clipped.shape == x.shape and success.shape == (len(x),)
    assert success.dtype == torch.bool
    rate = success.float().mean().item()
    assert rate >= 0.9, f"stadv fooled only {rate:.0%}"
    assert torch.equal(success, _predict(net, clipped) != y)
    assert raw.min() >= 0 and raw.max() <= 1
    # The result is exactly the warp of x along the kept flow: nothing but moved pixels.
    flow, found = attack.optimize_flow(fmodel, x, y)
    torch.testing.assert_close(raw, warp(ep.astensor(x), ep.astensor(flow)).raw)
    assert torch.equal(found, success)


def test_larger_tau_gives_smoother_flows(task) -> None:
    fmodel, _, x, y = task
    rough_flow, rough_found = STAdvAttack(steps=100, tau=0.001).optimize_flow(fmodel, x, y)
    smooth_flow, smooth_found = STAdvAttack(steps=100, tau=0.05).optimize_flow(fmodel, x, y)
    both = rough_found & smooth_found
    assert both.float().mean() >= 0.8
    rough = flow_loss(ep.astensor(rough_flow)).raw[both]
    smooth = flow_loss(ep.astensor(smooth_flow)).raw[both]
    assert smooth.mean() < 0.7 * rough.mean()
    assert (smooth < rough).float().mean() >= 0.8
    # A huge tau keeps the flow near zero (and then fails): smoothness wins.
    still, _ = STAdvAttack(steps=50, tau=10.0).optimize_flow(fmodel, x, y)
    assert flow_loss(ep.astensor(still)).raw.mean() < 0.1 * smooth.mean()


def test_keeps_the_smoothest_adversarial(task) -> None:
    fmodel, _, x, y = task
    # The trajectory is deterministic, so 120 steps extend the 60-step run: the kept
    # flow may only get smoother, and does (the first adversarial found is no answer).
    short, short_found = STAdvAttack(steps=60).optimize_flow(fmodel, x, y)
    long, long_found = STAdvAttack(steps=120).optimize_flow(fmodel, x, y)
    assert short_found.float().mean() >= 0.5 and (long_found >= short_found).all()
    short_loss = flow_loss(ep.astensor(short)).raw[short_found]
    long_loss = flow_loss(ep.astensor(long)).raw[short_found]
    assert (long_loss <= short_loss + 1e-4).all()
    assert (long_loss < short_loss - 1e-3).float().mean() >= 0.5


def test_confidence_is_kept(task) -> None:
    fmodel, net, x, y = task
    flow, found = STAdvAttack(steps=100, confidence=3.0).optimize_flow(fmodel, x, y)
    assert found.float().mean() >= 0.5
    with torch.no_grad():
        logits = net(warp(ep.astensor(x), ep.astensor(flow)).raw)
    rows = torch.arange(len(x))
    margin = logits[rows, y] - logits[rows, 1 - y]
    assert (margin[found] < -3.0).all()


@pytest.mark.parametrize("epsilon", [0.05, 0.15])
def test_epsilon_bounds_the_claimed_success(task, unbounded, epsilon: float) -> None:
    fmodel, net, x, y = task
    raw, clipped, success = STAdvAttack(steps=100)(fmodel, x, y, epsilons=epsilon)
    assert raw.shape == clipped.shape == x.shape and success.shape == (len(x),)
    # The bound is enforced during the attack, so Foolbox's clip changes nothing.
    assert (raw - x).abs().max() <= epsilon + 1e-6
    torch.testing.assert_close(raw, clipped)
    assert torch.equal(success, _predict(net, clipped) != y)
    assert success.float().mean() <= unbounded[2].float().mean()


def test_epsilon_list_shapes_and_post_hoc_clip(task) -> None:
    fmodel, net, x, y = task
    raws, clippeds, success = STAdvAttack(steps=50)(fmodel, x, y, epsilons=[0.02, None])
    assert len(raws) == len(clippeds) == 2 and success.shape == (2, len(x))
    assert (clippeds[0] - x).abs().max() <= 0.02 + 1e-6
    torch.testing.assert_close(clippeds[1], raws[1])
    for k in range(2):
        assert torch.equal(success[k], _predict(net, clippeds[k]) != y)


def test_options_are_keyword_only_and_checked() -> None:
    with pytest.raises(TypeError):
        STAdvAttack(10)  # type: ignore[misc]
    with pytest.raises(ValueError):
        STAdvAttack(steps=0)
    with pytest.raises(ValueError):
        STAdvAttack(tau=-1.0)
    assert STAdvAttack.name == "stadv"
    assert isinstance(STAdvAttack(), fb.attacks.base.MinimizationAttack)
