"""Sparse and imperceivable adversarial attacks (Croce and Hein, ICCV 2019) for Foolbox.

PGD0 restricted by the sigma-map: at most ``k`` pixels change (a pixel is all its
channels at one location), each channel by at most ``kappa * sigma`` where sigma is
large only where the image is textured, so the change hides in the texture.
Written with eagerpy, so it runs on any Foolbox model.
"""

from __future__ import annotations

from typing import Any, Callable, ClassVar

import eagerpy as ep
import numpy as np
from foolbox.attacks.base import (
    MinimizationAttack,
    T,
    get_criterion,
    raise_if_kwargs,
    verify_input_bounds,
)
from foolbox.criteria import Misclassification, TargetedMisclassification
from foolbox.devutils import atleast_kd, flatten
from foolbox.distances import linf
from foolbox.models import Model

from fgav.attacks.stadv import _channels_first, _classes

__all__ = ["SparseAttack", "sigma_map", "project_l0_box"]


def _std3(a: ep.Tensor, b: ep.Tensor, c: ep.Tensor) -> ep.Tensor:
    mean = (a + b + c) / 3
    return ep.sqrt(((a - mean).square() + (b - mean).square() + (c - mean).square()) / 3)


def sigma_map(x: ep.Tensor) -> ep.Tensor:
    """Croce and Hein's sigma-map of images in [0, 1].

    Per channel and pixel: the standard deviation of the pixel and its two
    neighbours along the height, the same along the width, the smaller of the
    two, then its square root (as in the authors' code; edges repeat the border).

    Args:
        x: Images ``(N, C, H, W)`` in [0, 1].

    Returns:
        The sigma-map, shaped like ``x``.
    """
    up = ep.concatenate([x[:, :, :1], x[:, :, :-1]], axis=2)
    down = ep.concatenate([x[:, :, 1:], x[:, :, -1:]], axis=2)
    left = ep.concatenate([x[:, :, :, :1], x[:, :, :, :-1]], axis=3)
    right = ep.concatenate([x[:, :, :, 1:], x[:, :, :, -1:]], axis=3)
    return ep.sqrt(ep.minimum(_std3(up, x, down), _std3(left, x, right)))


def project_l0_box(delta: ep.Tensor, lower: ep.Tensor, upper: ep.Tensor, k: int) -> ep.Tensor:
    """Euclidean projection onto ``{at most k pixels nonzero} ∩ [lower, upper]``.

    The box is separable, so keeping a pixel costs the distance to its clipped
    value and dropping it costs its full norm: keep the ``k`` pixels that gain most.
    The box must contain zero.

    Args:
        delta: Perturbations ``(N, C, H, W)``.
        lower: Element-wise lower bounds (at most zero), shaped like ``delta``.
        upper: Element-wise upper bounds (at least zero), shaped like ``delta``.
        k: The number of pixels that may change.

    Returns:
        The projected perturbations, with exactly at most ``k`` pixels nonzero.
    """
    n, _, h, w = delta.shape
    clipped = ep.minimum(ep.maximum(delta, lower), upper)
    gain = flatten((delta.square() - (delta - clipped).square()).sum(axis=1))
    # Ranks rather than a threshold, so that ties can never let more than k through.
    rank = (-gain).argsort(axis=-1).argsort(axis=-1)
    keep = (rank < k).reshape((n, 1, h, w))
    return ep.where(keep, clipped, ep.zeros_like(clipped))


class SparseAttack(MinimizationAttack):
    """Sparse and imperceivable attack (Croce and Hein 2019): PGD0 on k pixels within the sigma-map.

    Each step ascends the cross-entropy of the logits against the criterion's
    labels (descends it towards a target for ``TargetedMisclassification``), with
    the gradient divided by its mean absolute value, then projects onto the set of
    perturbations that change at most ``k`` pixels, each channel by at most
    ``kappa * sigma(x)`` (:func:`sigma_map`, computed on the image rescaled to
    [0, 1] and scaled back to the model's bounds) and stay within the bounds.
    Random restarts run only for the samples not yet fooled. Per sample it returns
    the latest adversarial iterate found (as the authors' code); samples never
    fooled get the last iterate of the last restart.

    Epsilon: ``distance`` is L-inf, so Foolbox's ``epsilons`` bound the L-inf
    distortion from the clean image, on top of ``kappa * sigma``. When every
    epsilon is a number, the smallest one caps each change during the attack, so
    the result is inside every epsilon and Foolbox's clip leaves it untouched.
    With ``epsilons=None`` (or a list holding ``None``) only ``k`` and
    ``kappa * sigma`` constrain the attack, and numeric epsilons are Foolbox's
    plain clip of that result. The pixel budget is ``k``, not epsilon.

    Args:
        k: The most pixels changed per image. Default 10.
        kappa: Scale of the sigma-map bound; larger is easier and more visible.
            Default 0.8.
        steps: PGD steps per restart. Default 100 (the authors' script).
        step_size: Step length in units of the gradient's mean absolute value,
            i.e. the average change per element and step before projection.
            Default 0.15 (the authors' 120000/255 with L1-normalised gradients on
            32x32x3 images).
        restarts: Runs from random starting points (the first one too, when
            ``random_start``). Default 5 (the authors' script).
        random_start: Start each run from a random point of the box instead of
            the clean image. Default True.

    References:
        Francesco Croce, Matthias Hein, "Sparse and imperceivable adversarial
        attacks", ICCV 2019, https://arxiv.org/abs/1909.05040
    """

    name: ClassVar[str] = "sparse"
    distance = linf

    def __init__(
        self,
        *,
        k: int = 10,
        kappa: float = 0.8,
        steps: int = 100,
        step_size: float = 0.15,
        restarts: int = 5,
        random_start: bool = True,
    ) -> None:
        if k < 0 or steps < 0 or restarts < 1:
            raise ValueError("k and steps must be non-negative and restarts at least 1")
        if kappa < 0 or step_size <= 0:
            raise ValueError("kappa must be non-negative and step_size positive")
        self.k = int(k)
        self.kappa = float(kappa)
        self.steps = int(steps)
        self.step_size = float(step_size)
        self.restarts = int(restarts)
        self.random_start = bool(random_start)

    def run(
        self,
        model: Model,
        inputs: T,
        criterion: Misclassification | TargetedMisclassification | T,
        *,
        early_stop: float | None = None,
        **kwargs: Any,
    ) -> T:
        """Returns the perturbed inputs (see the class docstring for ``early_stop``)."""
        raise_if_kwargs(kwargs)
        x_in, restore_type = ep.astensor_(inputs)
        verify_input_bounds(x_in, model)
        criterion_ = get_criterion(criterion)
        del inputs, criterion, kwargs
        x, call, to_layout = _channels_first(model, x_in)
        classes, targeted = _classes(criterion_, len(x))
        lower, upper = self.change_bounds(x, model.bounds, early_stop)

        best = x
        found = np.zeros(len(x), dtype=bool)
        for _ in range(self.restarts):
            todo = np.flatnonzero(~found)
            if todo.size == 0:
                break
            idx = ep.from_numpy(classes, todo)
            adv, ok = self._pgd0(call, x[idx], classes[idx], targeted, lower[idx], upper[idx])
            best = best.index_update(idx, adv)
            found[todo] = ok.numpy()
        # x + (hi - x) can round past hi; clipping only shrinks the changes.
        return restore_type(to_layout(ep.clip(best, *model.bounds)))

    def change_bounds(
        self, x: ep.Tensor, bounds: tuple[float, float], epsilon: float | None = None
    ) -> tuple[ep.Tensor, ep.Tensor]:
        """The element-wise box ``[lower, upper]`` every change must lie in.

        Args:
            x: Clean images ``(N, C, H, W)`` within ``bounds``.
            bounds: The model's input bounds.
            epsilon: An optional extra L-inf cap on each change.

        Returns:
            ``lower <= 0 <= upper``, each shaped like ``x``.
        """
        lo, hi = bounds
        limit = self.kappa * (hi - lo) * sigma_map((x - lo) / (hi - lo))
        if epsilon is not None:
            limit = ep.minimum(limit, float(epsilon))
        return ep.maximum(-limit, lo - x), ep.minimum(limit, hi - x)

    def _pgd0(
        self,
        call: Callable[[ep.Tensor], ep.Tensor],
        x: ep.Tensor,
        classes: ep.Tensor,
        targeted: bool,
        lower: ep.Tensor,
        upper: ep.Tensor,
    ) -> tuple[ep.Tensor, ep.Tensor]:
        """One PGD0 run on NCHW images; returns the kept images and their success."""

        def loss_fn(delta: ep.Tensor) -> tuple[ep.Tensor, ep.Tensor]:
            logits = call(x + delta)
            ce = ep.crossentropy(logits, classes)
            return (-ce if targeted else ce).sum(), logits

        loss_aux_and_grad = ep.value_and_grad_fn(x, loss_fn, has_aux=True)
        delta = ep.zeros_like(x)
        if self.random_start:
            delta = lower + (upper - lower) * ep.uniform(x, x.shape)
        delta = project_l0_box(delta, lower, upper, self.k)
        best = x + delta
        found = ep.zeros(x, len(x)).bool()
        for step in range(self.steps + 1):
            _, logits, gradient = loss_aux_and_grad(delta)
            predicted = logits.argmax(axis=-1)
            is_adv = predicted == classes if targeted else predicted != classes
            best = ep.where(atleast_kd(is_adv, 4), x + delta, best)
            found = ep.logical_or(found, is_adv)
            if step == self.steps or found.all().item():
                break
            scale = atleast_kd(flatten(gradient.abs()).mean(axis=-1), 4) + 1e-12
            delta = project_l0_box(
                delta + self.step_size * gradient / scale, lower, upper, self.k
            )
        return ep.where(atleast_kd(found, 4), best, x + delta), found
