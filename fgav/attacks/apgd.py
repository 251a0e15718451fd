"""Auto-PGD (APGD; Croce and Hein, ICML 2020) for Foolbox, and aimed at any part of a model.

PGD with a step size that adapts to the loss: it starts at ``2 eps``, moves with momentum
0.75, and at checkpoints (after 22 % of the steps, then at ever shorter intervals down to
6 %) halves where the loss rose in too few of the last steps (``rho``) or where the best
loss did not improve since the last checkpoint without a halving there; a halved sample
restarts from its best point. The step size follows the loss's value, which Foolbox's
models give only as logits: the attack reads a :data:`fgav.attacks.scoring.Scorer`.
"""

from __future__ import annotations

from typing import ClassVar

import torch
from foolbox.distances import Distance, l2, linf
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
    loss_and_grad,
    objective_scorer,
)
from fgav.core.aiming import BOUNDS, PartObjective

__all__ = ["APGDAttack"]

NORMS: tuple[str, ...] = ("linf", "l2")


def _per_sample(values: Tensor, ndim: int) -> Tensor:
    return values.view(-1, *([1] * (ndim - 1)))


def _l2(values: Tensor) -> Tensor:
    return values.flatten(1).norm(dim=1)


class APGDAttack(LogitAttack):
    """Auto-PGD (Croce and Hein 2020): PGD whose step size adapts to the loss, with momentum.

    Per sample it returns the first point whose decision is wrong (with ``early_stop``;
    without it, the wrong point of highest loss), else the point of highest loss. Random
    draws come from a generator seeded with ``seed``, else with ``torch.initial_seed()``,
    so each epsilon of a sweep is attacked alike. Foolbox models must be PyTorch ones.

    Aimed at a part of a multitask model (:meth:`run_on_objective`), APGD ascends that
    part's loss (the live/spoof head: ``loss`` on its logits) and judges success on the
    live/spoof decision.

    Args:
        steps: iterations per run (the authors' default 100).
        restarts: runs from random starts; each later one attacks only the samples not
            yet fooled. Default 1.
        loss: on logits, ``"ce"`` (cross entropy) or ``"margin"`` (C&W's, which does not
            saturate). Default ``"ce"`` (AutoAttack's APGD-CE).
        norm: ``"linf"`` or ``"l2"``. Default ``"linf"``.
        rho: the share of the last steps the loss must rise in to keep the step size (0.75).
        momentum: weight of the new step against the last move (0.75).
        seed: the random seed; ``None`` uses ``torch.initial_seed()``.
    """

    name: ClassVar[str] = "apgd"

    def __init__(
        self,
        *,
        steps: int = 100,
        restarts: int = 1,
        loss: str = "ce",
        norm: str = "linf",
        rho: float = 0.75,
        momentum: float = 0.75,
        seed: int | None = None,
    ) -> None:
        if steps < 1 or restarts < 1:
            raise ValueError(f"steps and restarts must be at least 1, not {steps} and {restarts}")
        if loss not in LOSSES:
            raise ValueError(f"loss must be one of {', '.join(LOSSES)}, not {loss!r}")
        if norm not in NORMS:
            raise ValueError(f"norm must be one of {', '.join(NORMS)}, not {norm!r}")
        if not 0 < rho <= 1 or not 0 < momentum <= 1:
            raise ValueError(f"rho and momentum must lie in (0, 1], not {rho} and {momentum}")
        self.steps = steps
        self.restarts = restarts
        self.loss = loss
        self.norm = norm
        self.rho = rho
        self.momentum = momentum
        self.seed = seed

    @property
    def distance(self) -> Distance:
        return linf if self.norm == "linf" else l2

    display_name = "APGD"

    def attack_logits(self, model: Model, x: Tensor, classes: Tensor, *, targeted: bool, epsilon: float) -> Tensor:
        score = logits_scorer(model, classes, targeted=targeted, loss=self.loss)
        return self.ascend(score, x, epsilon, bounds=model.bounds).x

    def run_on_objective(
        self,
        objective: PartObjective,
        start: Tensor,
        epsilons: list[float],
        *,
        shift: Tensor | None = None,
        early_stop: bool = True,
    ) -> list[Tensor]:
        """APGD aimed at a part, one adversarial batch per epsilon (fgav's native protocol)."""
        score = objective_scorer(objective, loss=self.loss, shift=shift)
        return [self.ascend(score, start, eps, early_stop=early_stop).x for eps in epsilons]

    def ascend(
        self,
        score: Scorer,
        start: Tensor,
        epsilon: float,
        *,
        index: Tensor | None = None,
        early_stop: bool = True,
        bounds: tuple[float, float] = BOUNDS,
    ) -> Ascent:
        """Run APGD on a scorer.

        Args:
            score: the loss to ascend and the verdict.
            start: the points the budget is centred on ``(B, ...)``.
            epsilon: the budget in the attack's norm.
            index: the samples of the scorer's batch that ``start`` holds (default all).
            early_stop: stop a sample once its decision is wrong.
            bounds: the input bounds.

        Returns:
            Per sample the point kept, within ``epsilon`` of ``start`` and inside ``bounds``.
        """
        x0 = start.detach()
        index = torch.arange(len(x0), device=x0.device) if index is None else index
        rng = generator(x0.device, self.seed)
        kept: Ascent | None = None
        for _ in range(self.restarts):
            todo = torch.arange(len(x0), device=x0.device)
            if kept is not None and early_stop:
                todo = todo[~kept.wrong]
            if todo.numel() == 0:
                break
            run = self._run(score, x0[todo], index[todo], epsilon, early_stop, bounds, rng)
            if kept is None:
                kept = run
                continue
            better = improves(run.loss, run.wrong, kept.loss[todo], kept.wrong[todo])
            chosen = todo[better]
            kept.x[chosen], kept.loss[chosen], kept.wrong[chosen] = run.x[better], run.loss[better], run.wrong[better]
        assert kept is not None  # restarts >= 1
        return kept

    def _project(self, x: Tensor, x0: Tensor, eps: float, bounds: tuple[float, float]) -> Tensor:
        delta = x - x0
        if self.norm == "linf":
            delta = delta.clamp(-eps, eps)
        else:
            norms = _l2(delta)
            delta = delta * _per_sample(torch.clamp(eps / (norms + 1e-12), max=1.0), delta.ndim)
        return (x0 + delta).clamp(*bounds)

    def _direction(self, grad: Tensor) -> Tensor:
        if self.norm == "linf":
            return grad.sign()
        return grad / _per_sample(_l2(grad) + 1e-12, grad.ndim)

    def _run(
        self,
        score: Scorer,
        x0: Tensor,
        index: Tensor,
        eps: float,
        early_stop: bool,
        bounds: tuple[float, float],
        rng: torch.Generator,
    ) -> Ascent:
        n = len(x0)
        if self.norm == "linf":
            t = 2 * torch.rand(x0.shape, generator=rng, device=x0.device, dtype=x0.dtype) - 1
            t = t / _per_sample(t.flatten(1).abs().amax(dim=1).clamp_min(1e-12), t.ndim)
        else:
            t = torch.randn(x0.shape, generator=rng, device=x0.device, dtype=x0.dtype)
            t = t / _per_sample(_l2(t) + 1e-12, t.ndim)
        x = (x0 + eps * t).clamp(*bounds)
        loss, grad, wrong = loss_and_grad(score, x, index)
        keep = Ascent(x.clone(), loss.clone(), wrong.clone())
        best_x, best_loss, best_grad = x.clone(), loss.clone(), grad.clone()
        previous = x.clone()
        step = torch.full((n,), 2.0 * eps, device=x0.device, dtype=x0.dtype)
        history = [loss.clone()]  # the loss at each iterate, NaN where a sample had stopped
        best_losses = [best_loss.clone()]
        interval = max(int(0.22 * self.steps), 1)
        shortest, shrink = max(int(0.06 * self.steps), 1), max(int(0.03 * self.steps), 1)
        since_check = 0
        halved = torch.zeros(n, dtype=torch.bool, device=x0.device)
        best_at_check = best_loss.clone()
        active = torch.arange(n, device=x0.device)
        if early_stop:
            active = active[~wrong]
        for i in range(self.steps):
            if active.numel() == 0:
                break
            xa, xa0 = x[active], x0[active]
            momentum = 1.0 if i == 0 else self.momentum
            z = self._project(xa + _per_sample(step[active], xa.ndim) * self._direction(grad[active]), xa0, eps, bounds)
            moved = self._project(xa + momentum * (z - xa) + (1 - momentum) * (xa - previous[active]), xa0, eps, bounds)
            previous[active] = xa
            x[active] = moved
            la, ga, wa = loss_and_grad(score, moved, index[active])
            grad[active] = ga
            now = torch.full_like(loss, torch.nan)
            now[active] = la
            history.append(now)
            better = improves(la, wa, keep.loss[active], keep.wrong[active])
            chosen = active[better]
            keep.x[chosen], keep.loss[chosen], keep.wrong[chosen] = moved[better], la[better], wa[better]
            rose = la > best_loss[active]
            up = active[rose]
            best_x[up], best_loss[up], best_grad[up] = moved[rose], la[rose], ga[rose]
            best_losses.append(best_loss.clone())
            since_check += 1
            if since_check == interval:
                window = torch.stack(history[-(interval + 1):])
                rises = (window[1:] > window[:-1]).sum(dim=0)
                halve = (rises <= self.rho * interval) | (~halved & (best_at_check >= best_loss))
                halved, best_at_check = halve, best_loss.clone()
                step[halve] /= 2
                x[halve], grad[halve] = best_x[halve], best_grad[halve]
                interval, since_check = max(interval - shrink, shortest), 0
            if early_stop:
                active = active[~wa]
        keep.best_losses = torch.stack(best_losses)
        return keep
