"""Every built-in attack, with its defaults, against a small trained model (Foolbox's convention).

As in Foolbox's tests/test_attacks.py: an untargeted attack must lower the accuracy,
a targeted one must reach targets not reached before. fgav asks more of its
built-ins (a real attack, not a dent): at least a quarter of the images flipped, the
results within the model's bounds and within the budget, and ``success`` what the
model says at the returned points.
"""

from __future__ import annotations

from typing import NamedTuple

import foolbox as fb
import pytest
import torch

import fgav
from fgav.attacks.sparse import SparseAttack

from .conftest import CLASSES, Trained


class Row(NamedTuple):
    """An attack of the table: its name, epsilon (``"none"``: it takes no epsilon) and norm."""

    attack: str
    epsilon: float | None | str
    norm: str = "linf"
    targeted: bool = True


TABLE = [
    Row("fgsm", 16 / 255, targeted=False),  # Foolbox's FGSM is untargeted only
    Row("pgd", 16 / 255),
    Row("l2pgd", 1.0, norm="l2"),
    Row("cw", None),
    Row("ead", None),
    Row("deepfool", None, targeted=False),  # untargeted by design
    Row("spatial-grid", "none", targeted=False),
    Row("stadv", None),
    Row("stadv", 16 / 255),
    Row("sparse", None),
    Row("sparse", 16 / 255, targeted=False),
    Row("apgd", 16 / 255),
    Row("square", 16 / 255),
    Row("reliable", 16 / 255),
]


def _accuracy(net: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        return (net(x).argmax(1) == y).float().mean().item()


def _run(row: Row, t: Trained, criterion: object) -> tuple[torch.Tensor, torch.Tensor]:
    attack = fgav.create_attack(row.attack)
    torch.manual_seed(0)
    if row.epsilon == "none":
        _, clipped, success = attack(t.fmodel, t.x, criterion)
    else:
        _, clipped, success = attack(t.fmodel, t.x, criterion, epsilons=row.epsilon)
    return clipped, success


def test_every_builtin_attack_is_in_the_table() -> None:
    from fgav.builtin import fgav_attacks

    assert {cls.name for cls in fgav_attacks()} <= {row.attack for row in TABLE}


@pytest.mark.parametrize("row", TABLE, ids=lambda r: f"{r.attack}-{r.epsilon}")
def test_untargeted_lowers_accuracy_within_bounds_and_budget(trained: Trained, row: Row) -> None:
    t = trained
    clean = _accuracy(t.net, t.x, t.y)
    clipped, success = _run(row, t, fb.criteria.Misclassification(t.y))
    adversarial = _accuracy(t.net, clipped, t.y)
    assert adversarial < clean, f"{row.attack}: accuracy {clean:.2f} -> {adversarial:.2f}"
    assert adversarial <= 0.75 * clean, f"{row.attack} flipped less than a quarter: {adversarial:.2f}"
    assert clipped.min() >= 0 and clipped.max() <= 1
    with torch.no_grad():
        assert torch.equal(success, t.net(clipped).argmax(1) != t.y)
    if isinstance(row.epsilon, float):
        change = (clipped - t.x).flatten(1)
        size = change.abs().amax(1) if row.norm == "linf" else change.norm(dim=1)
        assert size.max() <= row.epsilon + 1e-5
    if row.attack == "sparse":
        changed = ((clipped - t.x).abs().amax(1) > 0).flatten(1).sum(1)
        assert changed.max() <= SparseAttack().k


@pytest.mark.parametrize("row", [r for r in TABLE if r.targeted], ids=lambda r: f"{r.attack}-{r.epsilon}")
def test_targeted_reaches_targets(trained: Trained, row: Row) -> None:
    t = trained
    target = (t.y + 1) % CLASSES
    criterion = fb.criteria.TargetedMisclassification(target)
    with torch.no_grad():
        before = int((t.net(t.x).argmax(1) == target).sum())
    clipped, success = _run(row, t, criterion)
    with torch.no_grad():
        reached = t.net(clipped).argmax(1) == target
    assert int(reached.sum()) > before
    assert torch.equal(success, reached)
