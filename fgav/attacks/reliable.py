"""The reliable ensemble: per sample the worst case of APGD and Square (AutoAttack's habit).

A gradient attack alone reads a model whose gradients are masked (quantized inputs,
saturated or non-differentiable layers) as robust; a score-based attack reads no
gradient. Croce and Hein (2020) run APGD first, then the other attacks on the samples it
left, and keep per sample whichever succeeds. fgav's ensemble does so aimed at any part:
both attacks ascend the part's loss and are judged on the live/spoof decision.
"""

from __future__ import annotations

from typing import ClassVar

import torch
from foolbox.distances import linf
from foolbox.models import Model
from torch import Tensor

from fgav.attacks.apgd import APGDAttack
from fgav.attacks.scoring import (
    LogitAttack,
    Ascent,
    Scorer,
    improves,
    logits_scorer,
    objective_scorer,
)
from fgav.attacks.square import SquareAttack
from fgav.core.aiming import BOUNDS, PartObjective

__all__ = ["ReliableAttack"]


class ReliableAttack(LogitAttack):
    """The reliable ensemble: per sample the worst case of APGD and Square (L-inf).

    APGD (:class:`~fgav.attacks.apgd.APGDAttack`) runs on every sample; Square
    (:class:`~fgav.attacks.square.SquareAttack`) on those whose decision APGD left
    right. Per sample it keeps the point that flips the decision, else the one of higher
    loss (APGD's loss: a part's own, or ``loss`` on the live/spoof logits). Defaults are
    bounded: at most ``steps + 1`` gradients and ``queries`` forwards per sample.

    Args:
        steps: APGD's iterations. Default 100.
        restarts: APGD's random restarts. Default 1.
        loss: APGD's loss on logits, ``"ce"`` or ``"margin"`` (Square always uses the
            margin on logits). Default ``"ce"``.
        queries: Square's model evaluations per sample. Default 1000.
        p_init: Square's initial window share. Default 0.8.
        seed: the random seed of both; ``None`` uses ``torch.initial_seed()``.
    """

    name: ClassVar[str] = "reliable"
    distance = linf

    def __init__(
        self,
        *,
        steps: int = 100,
        restarts: int = 1,
        loss: str = "ce",
        queries: int = 1000,
        p_init: float = 0.8,
        seed: int | None = None,
    ) -> None:
        self.steps = steps
        self.restarts = restarts
        self.queries = queries
        self.apgd = APGDAttack(steps=steps, restarts=restarts, loss=loss, seed=seed)
        self.square = SquareAttack(queries=queries, p_init=p_init, loss="margin", seed=seed)

    display_name = "the reliable ensemble"

    def attack_logits(self, model: Model, x: Tensor, classes: Tensor, *, targeted: bool, epsilon: float) -> Tensor:
        first = logits_scorer(model, classes, targeted=targeted, loss=self.apgd.loss)
        second = logits_scorer(model, classes, targeted=targeted, loss="margin")
        return self.worst_case(first, second, x, epsilon, bounds=model.bounds).x

    def run_on_objective(
        self,
        objective: PartObjective,
        start: Tensor,
        epsilons: list[float],
        *,
        shift: Tensor | None = None,
        early_stop: bool = True,
    ) -> list[Tensor]:
        """The ensemble aimed at a part, one adversarial batch per epsilon (fgav's native protocol)."""
        first = objective_scorer(objective, loss=self.apgd.loss, shift=shift)
        second = objective_scorer(objective, loss="margin", shift=shift)
        return [self.worst_case(first, second, start, eps, early_stop=early_stop).x for eps in epsilons]

    def worst_case(
        self,
        first: Scorer,
        second: Scorer,
        start: Tensor,
        epsilon: float,
        *,
        early_stop: bool = True,
        bounds: tuple[float, float] = BOUNDS,
    ) -> Ascent:
        """APGD on ``first``, then Square on ``second`` where APGD failed; the worse per sample.

        The two are compared on ``first``'s loss (Square's own may be another, e.g. the
        margin where APGD ascends cross entropy).
        """
        kept = self.apgd.ascend(first, start, epsilon, early_stop=early_stop, bounds=bounds)
        left = (~kept.wrong).nonzero().squeeze(1)
        if left.numel() == 0:
            return kept
        with torch.no_grad():
            found = self.square.search(second, start[left], epsilon, index=left, early_stop=early_stop, bounds=bounds)
            loss, wrong = first(found.x, left)
        better = improves(loss, wrong, kept.loss[left], kept.wrong[left])
        chosen = left[better]
        kept.x[chosen], kept.loss[chosen], kept.wrong[chosen] = found.x[better], loss[better], wrong[better]
        return kept
