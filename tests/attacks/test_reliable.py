"""ReliableAttack: at least as strong as each of its parts, and unfooled by masked gradients."""

from __future__ import annotations

import copy
import os

os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")

import foolbox as fb  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

import fgav  # noqa: E402
from fgav.core.aiming import PartObjective  # noqa: E402
from fgav.attacks.apgd import APGDAttack  # noqa: E402
from fgav.attacks.reliable import ReliableAttack  # noqa: E402
from fgav.attacks.scoring import logits_scorer  # noqa: E402
from fgav.attacks.square import SquareAttack  # noqa: E402
from fgav.auditing import audit  # noqa: E402
from tests.attacks.brightness import Quantized, brightness_data, counting, train_brightness  # noqa: E402
from tests.auditing.conftest import TensorFAS, train_tiny  # noqa: E402

EPS = 16 / 255
FAST = {"steps": 10, "queries": 100}


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


def _success(attack: fb.attacks.base.FixedEpsilonAttack, model: torch.nn.Module, x, y) -> torch.Tensor:
    _, _, success = attack(fb.PyTorchModel(model.eval(), bounds=(0, 1)), x, y, epsilons=EPS)
    return success


def test_it_is_at_least_as_strong_as_each_part(bright) -> None:
    net, x, y = bright
    apgd = _success(APGDAttack(steps=10), net, x, y)
    square = _success(SquareAttack(queries=100), net, x, y)
    reliable = _success(ReliableAttack(**FAST), net, x, y)
    assert bool((reliable >= apgd).all()), "every sample APGD flips stays flipped"
    assert int(reliable.sum()) >= max(int(apgd.sum()), int(square.sum()))


def test_masked_gradients_stop_apgd_but_not_the_ensemble(bright) -> None:
    net, x, y = bright
    masked = Quantized(net)
    apgd = _success(APGDAttack(steps=10), masked, x, y)
    square = _success(SquareAttack(queries=100), masked, x, y)
    reliable = _success(ReliableAttack(**FAST), masked, x, y)
    assert int(apgd.sum()) == 0 and int(square.sum()) > 0
    # APGD left every sample, so Square ran on the very samples, with the very draws, alone.
    assert torch.equal(reliable, square)


def test_bounds_and_budget_hold(bright) -> None:
    net, x, y = bright
    first, gradients = counting(logits_scorer(net, y), len(x))
    second, queries = counting(logits_scorer(net, y, loss="margin"), len(x))
    result = ReliableAttack(**FAST).worst_case(first, second, x, EPS)
    assert float((result.x - x).abs().max()) <= EPS + 1e-6
    assert float(result.x.min()) >= 0 and float(result.x.max()) <= 1
    assert int(gradients.max()) <= 10 + 1 + 1  # APGD's, and one score of Square's point
    assert int(queries.max()) <= 100
    with torch.no_grad():
        assert torch.equal(net(result.x).argmax(1) != y, result.wrong)


@pytest.fixture(scope="module")
def bright_fas() -> tuple[fgav.MultiTaskModel, TensorFAS]:
    """A tiny multitask target whose live/spoof decision reads brightness (spoof is brighter)."""
    data = TensorFAS(32)
    g = torch.Generator().manual_seed(3)
    for item in data.items:
        texture = torch.nn.functional.interpolate(torch.rand(1, 3, 4, 4, generator=g), size=32, mode="bilinear")[0]
        jitter = 0.06 * (torch.rand(1, generator=g) - 0.5)
        item["image"] = (0.4 + 0.1 * item["spoof"].float() + 0.1 * (texture - 0.5) + jitter).clamp(0, 1)
    return train_tiny(data, steps=30), data


def _asr(model: fgav.MultiTaskModel, data: TensorFAS, part: str) -> dict[str, float]:
    result = audit(model, data.limit(8), heads=[part], attacks=["apgd", "square", "reliable"], eps=[32 / 255],
                   attack_options={"apgd": {"steps": 10}, "square": {"queries": 100}, "reliable": FAST},
                   device="cpu", batch_size=8)
    for r in result.results:
        assert r["distortion"]["linf"] <= 32 / 255 + 1e-5
    return {r["attack"]: r["asr"] for r in result.results}


def test_through_the_audit_aimed_at_depth(bright_fas) -> None:
    asr = _asr(*bright_fas, "depth")
    assert asr["reliable"] >= max(asr["apgd"], asr["square"]) and asr["reliable"] > 0


def test_through_the_audit_on_a_backbone_with_masked_gradients(bright_fas) -> None:
    model, data = bright_fas
    masked = copy.deepcopy(model)
    masked.backbone = Quantized(masked.backbone)
    asr = _asr(masked, data, "classification")
    assert asr["apgd"] == 0 and asr["square"] > 0 and asr["reliable"] == asr["square"]


@pytest.mark.parametrize("name", ["apgd", "square", "reliable"])
@pytest.mark.parametrize("guide", [False, True])
def test_the_native_path_keeps_each_budget_alone(bright_fas, name: str, guide: bool) -> None:
    model, data = bright_fas
    batch = torch.utils.data.default_collate([data[i] for i in range(6)])
    objective = PartObjective.for_batch(model, "depth", batch)
    x = batch["image"]
    shift = (x.flip(0) - x) * 0.5 if guide else None  # guide mode: the loss is read elsewhere
    options = {"apgd": {"steps": 3}, "square": {"queries": 5}, "reliable": {"steps": 3, "queries": 5}}[name]
    attack = fgav.create_attack(name, **options)
    torch.manual_seed(1)
    (alone,) = attack.run_on_objective(objective, x, [8 / 255], shift=shift)
    torch.manual_seed(1)
    small, swept = attack.run_on_objective(objective, x, [2 / 255, 8 / 255], shift=shift)
    assert torch.equal(alone, swept)
    for eps, adv in ((2 / 255, small), (8 / 255, swept)):
        assert float((adv - x).abs().max()) <= eps + 1e-6
        assert float(adv.min()) >= 0 and float(adv.max()) <= 1
