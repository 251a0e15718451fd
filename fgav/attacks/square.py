"""The Square attack (Andriushchenko et al., ECCV 2020), L-inf, for Foolbox and any part.

A score-based random search: it never reads a gradient, so masked or broken gradients do
not stop it. It starts from vertical stripes of ``+-eps`` and, per query, sets a random
square window of each image to ``x +- eps`` (one sign per channel), keeping the change
where the loss rises or the decision flips. The window's share of the image, ``p``,
halves on the paper's schedule (iterations 10, 50, 200, 500, 1000, 2000, 4000, 6000 and
8000 of 10,000, rescaled to the number of queries).
"""

from __future__ import annotations

import math
from typing import ClassVar

import torch
from foolbox.distances import linf
from foolbox.models import Model
from torch import Tensor

from fgav.attacks.scoring import (
    LogitAttack,
    LOSSES,
    Ascent,
    Scorer,
    generator,
    improves,
    logits_scorer,
    objective_scorer,
)
from fgav.core.aiming import BOUNDS, PartObjective

__all__ = ["SquareAttack", "window_share"]

# The paper's schedule for 10,000 iterations: p halves after each of these.
_HALVINGS: tuple[int, ...] = (10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000)


def window_share(p_init: float, query: int, queries: int) -> float:
    """The share ``p`` of the image a window covers at a query (the paper's schedule)."""
    at = int(query / queries * 10000)
    return p_init / 2 ** sum(at > h for h in _HALVINGS)


class SquareAttack(LogitAttack):
    """The L-inf Square attack (Andriushchenko et al. 2020): a score-based random search.

    Each query proposes a random square window per image set to ``x +- epsilon`` (one
    sign per channel) and keeps it where the loss rises or the decision flips; a sample
    stops once its decision is wrong. ``queries`` bounds the model evaluations per sample.
    Random draws come from a generator seeded with ``seed``, else with
    ``torch.initial_seed()``, so each epsilon of a sweep is attacked alike. Foolbox
    models must be PyTorch ones.

    Aimed at a part of a multitask model (:meth:`run_on_objective`), Square ascends that
    part's loss (for the live/spoof head, ``loss`` on its logits) and judges success on
    the live/spoof decision.

    Args:
        queries: model evaluations per sample, the first one included. Default 1000.
        p_init: the window's initial share of the image. Default 0.8 (AutoAttack's; the
            paper's 0.05 suits 10,000 queries on ImageNet-sized images, and on small
            images with a thousand queries it finds less).
        loss: on logits, ``"margin"`` (the authors') or ``"ce"``. Default ``"margin"``.
        seed: the random seed; ``None`` uses ``torch.initial_seed()``.
    """

    name: ClassVar[str] = "square"
    distance = linf

    def __init__(
        self, *, queries: int = 1000, p_init: float = 0.8, loss: str = "margin", seed: int | None = None
    ) -> None:
        if queries < 1:
            raise ValueError(f"queries must be at least 1, not {queries}")
        if not 0 < p_init <= 1:
            raise ValueError(f"p_init must lie in (0, 1], not {p_init}")
        if loss not in LOSSES:
            raise ValueError(f"loss must be one of {', '.join(LOSSES)}, not {loss!r}")
        self.queries = queries
        self.p_init = p_init
        self.loss = loss
        self.seed = seed

    display_name = "Square"

    def attack_logits(self, model: Model, x: Tensor, classes: Tensor, *, targeted: bool, epsilon: float) -> Tensor:
        score = logits_scorer(model, classes, targeted=targeted, loss=self.loss)
        with torch.no_grad():
            return self.search(score, x, epsilon, bounds=model.bounds).x

    def run_on_objective(
        self,
        objective: PartObjective,
        start: Tensor,
        epsilons: list[float],
        *,
        shift: Tensor | None = None,
        early_stop: bool = True,
    ) -> list[Tensor]:
        """Square aimed at a part, one adversarial batch per epsilon (fgav's native protocol)."""
        score = objective_scorer(objective, loss=self.loss, shift=shift)
        with torch.no_grad():
            return [self.search(score, start, eps, early_stop=early_stop).x for eps in epsilons]

    def search(
        self,
        score: Scorer,
        start: Tensor,
        epsilon: float,
        *,
        index: Tensor | None = None,
        early_stop: bool = True,
        bounds: tuple[float, float] = BOUNDS,
    ) -> Ascent:
        """Run the search on a scorer (call it under ``torch.no_grad()``: no gradient is read).

        Args:
            score: the loss to ascend and the verdict.
            start: images ``(B, C, H, W)`` the budget is centred on.
            epsilon: the L-inf budget.
            index: the samples of the scorer's batch that ``start`` holds (default all).
            early_stop: stop a sample once its decision is wrong (else it keeps searching
                for a wrong point of higher loss).
            bounds: the input bounds.

        Returns:
            Per sample the best point found, within ``epsilon`` of ``start`` and inside ``bounds``.
        """
        x0 = start.detach()
        if x0.ndim != 4:
            raise ValueError(f"Square attacks images (N, C, H, W), not shape {tuple(x0.shape)}")
        n, c, h, w = x0.shape
        device = x0.device
        index = torch.arange(n, device=device) if index is None else index
        rng = generator(device, self.seed)

        def signs(*shape: int) -> Tensor:
            return torch.randint(0, 2, shape, generator=rng, device=device).to(x0.dtype) * 2 - 1

        x = (x0 + epsilon * signs(n, c, 1, w)).clamp(*bounds)
        loss, wrong = score(x, index)
        best = Ascent(x, loss.detach().clone(), wrong.clone())
        rows = torch.arange(h, device=device)
        cols = torch.arange(w, device=device)
        for query in range(1, self.queries):
            active = torch.arange(n, device=device)
            if early_stop:
                active = active[~best.wrong]
            if active.numel() == 0:
                break
            m = active.numel()
            side = max(int(round(math.sqrt(window_share(self.p_init, query, self.queries) * h * w))), 1)
            side = min(side, h - 1 if h > 1 else 1, w - 1 if w > 1 else 1)
            top = torch.randint(0, h - side + 1, (m, 1), generator=rng, device=device)
            left = torch.randint(0, w - side + 1, (m, 1), generator=rng, device=device)
            inside = ((rows >= top) & (rows < top + side))[:, None, :, None] & (
                (cols >= left) & (cols < left + side)
            )[:, None, None, :]
            xa, xa0 = best.x[active], x0[active]
            proposal = (xa0 + epsilon * signs(m, c, 1, 1)).clamp(*bounds)
            # Redraw the signs of a window the proposal would leave as it is (the authors' habit).
            for _ in range(3):
                same = ((proposal - xa).abs() * inside).flatten(1).amax(dim=1) < 1e-7
                if not bool(same.any()):
                    break
                redraw = (xa0[same] + epsilon * signs(int(same.sum()), c, 1, 1)).clamp(*bounds)
                proposal[same] = redraw
            candidate = torch.where(inside, proposal, xa)
            la, wa = score(candidate, index[active])
            better = improves(la.detach(), wa, best.loss[active], best.wrong[active])
            chosen = active[better]
            best.x[chosen], best.loss[chosen], best.wrong[chosen] = candidate[better], la.detach()[better], wa[better]
        return best
