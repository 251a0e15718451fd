"""A faster runner for Foolbox's gradient-descent attacks (FGSM, PGD, L2 PGD, BIM, ...).

It runs the attack's own pieces (``normalize``, ``project``, ``get_random_start``, its
step sizes and step count) with three savings Foolbox lacks: a single-step attack's
gradient is computed once for every epsilon of a sweep; iterative attacks drop a sample
from the batch once its live/spoof decision has flipped (AutoAttack's habit; optional);
and the part's per-sample loss is ascended directly, so no softmax saturates.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import cast

import eagerpy as ep
import torch
from foolbox.attacks.gradient_descent_base import BaseGradientDescent, GDOptimizer
from foolbox.types import Bounds
from torch import Tensor

from fgav.attacks.sweeps import draw_seed, same_random_stream
from fgav.auditing.flags import AttackRecord, zero_gradient_samples
from fgav.core.aiming import BOUNDS, PartObjective


def runs_natively(attack: object) -> bool:
    """Whether this runner can run the attack (Foolbox gradient descent, plain steps)."""
    if not isinstance(attack, BaseGradientDescent):
        return False
    probe = attack.get_optimizer(ep.astensor(torch.zeros(1)), 1.0)
    plain = all(getattr(type(attack), m) is getattr(BaseGradientDescent, m) for m in ("get_loss_fn", "value_and_grad"))
    # Foolbox's own subclasses (FGSM's run only checks its options) keep Foolbox's steps.
    foolbox_run = type(attack).run.__module__.startswith("foolbox.")
    return type(probe) is GDOptimizer and plain and foolbox_run


def part_gradient(
    objective: PartObjective, x: Tensor, index: Tensor, shift: Tensor | None = None
) -> tuple[Tensor, Tensor, Tensor]:
    """The part's loss gradient at ``x (+ shift)``, whether each live/spoof decision is wrong there, and the loss.

    ``index`` picks the samples of the objective's batch that ``x`` holds.
    """
    # The gradient is the part's gradient at the (shifted) point itself: no clip in between,
    # so a pixel the shift pushes past a bound keeps its gradient.
    at = x.detach() if shift is None else (x.detach() + shift[index]).clamp(*BOUNDS)
    at = at.clone().requires_grad_(True)
    loss, logits = objective.evaluate(at, index)
    (grad,) = torch.autograd.grad(loss.sum(), at)
    wrong = logits.detach().argmax(dim=1) != objective.labels[index]
    return grad, wrong, loss.detach()


def run_gradient_attack(
    attack: BaseGradientDescent,
    objective: PartObjective,
    start: Tensor,
    epsilons: Sequence[float],
    *,
    shift: Tensor | None = None,
    early_stop: bool = True,
    record: AttackRecord | None = None,
) -> list[Tensor]:
    """Run a Foolbox gradient-descent attack aimed at ``objective`` for every epsilon.

    Args:
        attack: the Foolbox attack (its options are used as they are).
        objective: the part to ascend and its ground truth.
        start: the point the budget is centred on (x, or S(x) for SFA's push mode).
        epsilons: the budgets, in the attack's norm.
        shift: added to the point (then clipped) where gradients are taken (SFA's
            guide mode: S(x) - x); the perturbation still applies to ``start``.
        early_stop: stop a sample once its live/spoof decision is wrong; only
            where gradients are taken at the point itself, so the check is free.
        record: where given, gets per epsilon the loss trace (the part's loss at each
            step, NaN once a sample stopped) and the decisions the runner judged
            (a sample it stopped early was judged wrong at the point returned).

    Returns:
        One adversarial batch per epsilon, within epsilon of ``start`` and in [0,1].
    """
    x0 = start.detach()
    everyone = torch.arange(x0.shape[0], device=x0.device)
    ex0 = ep.astensor(x0)
    if attack.steps == 1 and not attack.random_start and attack.abs_stepsize is None:
        # A single step is linear in epsilon: one gradient serves the whole sweep.
        grad, _, _ = part_gradient(objective, x0, everyone, shift)
        if record is not None:
            record.start_zero = zero_gradient_samples(grad)
        direction = attack.normalize(ep.astensor(grad), x=ex0, bounds=cast(Bounds, BOUNDS))
        results = []
        for eps in epsilons:
            projected = attack.project(ex0 + attack.rel_stepsize * eps * direction, ex0, eps)
            results.append(ep.clip(projected, *BOUNDS).raw.detach())
            if record is not None:  # one step: no trace to read, no decision judged
                record.add(None, None)
        return results
    stop_early = early_stop and shift is None
    results = []
    seed = draw_seed()  # every epsilon starts from the same stream, as fgav's attacks do (fgav.attacks.sweeps)
    for eps in epsilons:
        stepsize = attack.abs_stepsize if attack.abs_stepsize is not None else attack.rel_stepsize * eps
        with same_random_stream(seed, x0.device):
            x = ep.clip(attack.get_random_start(ex0, eps), *BOUNDS).raw if attack.random_start else x0.clone()
        active = everyone
        trace = torch.full((attack.steps, x0.shape[0]), math.nan, device=x0.device)
        judged = torch.full((x0.shape[0],), -1, dtype=torch.int8, device=x0.device)
        for k in range(attack.steps):
            grad, wrong, loss = part_gradient(objective, x[active], active, shift)
            trace[k, active] = loss.float()
            if record is not None and k == 0 and not attack.random_start:
                record.start_zero = zero_gradient_samples(grad)
            if stop_early and bool(wrong.any()):
                judged[active[wrong]] = 1
                keep = ~wrong
                active, grad = active[keep], grad[keep]
                if active.numel() == 0:
                    break
            xa = ep.astensor(x[active])
            step = attack.normalize(ep.astensor(grad), x=xa, bounds=cast(Bounds, BOUNDS)) * stepsize
            xa = ep.clip(attack.project(xa + step, ep.astensor(x0[active]), eps), *BOUNDS)
            x = x.clone()
            x[active] = xa.raw.detach()
        results.append(x.detach())
        if record is not None:
            record.add(trace, judged)
    return results
