"""Sparse and imperceivable adversarial attacks (Croce and Hein, ICCV 2019) for Foolbox.

PGD0 restricted by the sigma-map: at most ``k`` pixels change (a pixel is all its
channels at one location), each by an amount bounded by ``kappa * sigma``, where sigma
is large only where the image is textured, so the change hides in the texture.
Two variants, as in the authors' code (``pgd_attacks_pt.py``):

- ``colour`` (their colour-image attack, the default): a changed pixel is scaled,
  all its channels together, ``x' = (1 + lambda * sigma) * x`` with one ``lambda`` in
  ``[-kappa, kappa]`` per pixel (:func:`project_l0_sigma`);
- ``box`` (their one-channel attack, applied to every channel): each channel moves
  additively within ``[-kappa * sigma, kappa * sigma]`` (:func:`project_l0_box`).

Written with eagerpy, so it runs on any Foolbox model.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, ClassVar, Literal

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
from fgav.attacks.sweeps import PerEpsilon

__all__ = ["SparseAttack", "VARIANTS", "sigma_map", "project_l0_box", "project_l0_sigma"]

VARIANTS = ("colour", "box")


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


def _keep_top_k(gain: ep.Tensor, k: int) -> ep.Tensor:
    """A ``(N, 1, H, W)`` mask of the ``k`` pixels with the largest ``gain`` ``(N, H, W)``."""
    n, h, w = gain.shape
    # Ranks rather than a threshold, so that ties can never let more than k through.
    rank = (-flatten(gain)).argsort(axis=-1).argsort(axis=-1)
    return (rank < k).reshape((n, 1, h, w))


def project_l0_sigma(
    y: ep.Tensor, x: ep.Tensor, sigma: ep.Tensor, kappa: float, k: int, cap: float | None = None
) -> ep.Tensor:
    """Euclidean projection of images ``y`` onto Croce and Hein's colour sigma-map set.

    The set: images ``x + lambda * sigma * x`` (per channel) with one ``lambda`` per
    pixel, ``|lambda| <= kappa``, in [0, 1], with at most ``k`` pixels changed and, given
    ``cap``, every change at most ``cap``. Per pixel the best ``lambda`` is the
    least-squares one clipped to its interval; the ``k`` pixels whose change brings
    ``y`` closest are kept (the authors' ``project_L0_sigma``, plus the cap).

    Args:
        y: Candidate images ``(N, C, H, W)``.
        x: Clean images in [0, 1], shaped like ``y``.
        sigma: Their sigma-map (:func:`sigma_map`).
        kappa: The bound on ``lambda``.
        k: The number of pixels that may change.
        cap: An optional L-inf bound on each change.

    Returns:
        The projected images.
    """
    d = sigma * x  # the direction a pixel's lambda moves it along
    moves = d > 0
    safe = ep.where(moves, d, ep.ones_like(d))
    far = ep.full_like(d, 1e12)
    low = ep.where(moves, -x / safe, -far)  # x + lambda * d >= 0
    high = ep.where(moves, (1 - x) / safe, far)  # x + lambda * d <= 1
    if cap is not None:
        low = ep.maximum(low, ep.where(moves, -cap / safe, -far))
        high = ep.minimum(high, ep.where(moves, cap / safe, far))
    lam_low = ep.maximum(low.max(axis=1, keepdims=True), -kappa)
    lam_high = ep.minimum(high.min(axis=1, keepdims=True), kappa)
    free = ((y - x) * d).sum(axis=1, keepdims=True) / ep.maximum((d * d).sum(axis=1, keepdims=True), 1e-12)
    lam = ep.minimum(ep.maximum(free, lam_low), lam_high)
    change = lam * d
    gain = (y - x).square().sum(axis=1) - (y - x - change).square().sum(axis=1)
    return x + ep.where(_keep_top_k(gain, k), change, ep.zeros_like(change))


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
    clipped = ep.minimum(ep.maximum(delta, lower), upper)
    gain = (delta.square() - (delta - clipped).square()).sum(axis=1)
    return ep.where(_keep_top_k(gain, k), clipped, ep.zeros_like(clipped))



def _project_at(project: Callable[[ep.Tensor, ep.Tensor], ep.Tensor], index: ep.Tensor, y: ep.Tensor) -> ep.Tensor:
    return project(y, index)


class SparseAttack(PerEpsilon, MinimizationAttack):  # type: ignore[misc]  # PerEpsilon replaces the final __call__
    """Sparse and imperceivable attack (Croce and Hein 2019): PGD0 on k pixels within the sigma-map.

    Each step ascends the cross-entropy of the logits against the criterion's
    labels (descends it towards a target for ``TargetedMisclassification``), with
    the gradient divided by its mean absolute value, then projects onto the allowed
    set: at most ``k`` pixels changed, each within ``kappa`` times the sigma-map
    (:func:`sigma_map`) and within the bounds. ``variant="colour"`` (the default, the
    authors' attack on colour images) scales a pixel's channels together,
    ``x' = (1 + lambda * sigma) * x`` with ``|lambda| <= kappa``
    (:func:`project_l0_sigma`); ``variant="box"`` moves each channel additively within
    ``+-kappa * sigma`` (:func:`project_l0_box`; the authors' one-channel attack).
    Everything runs on the image rescaled to [0, 1] (the model sees it scaled back),
    so a model with bounds (0, 255) is attacked exactly as one with bounds (0, 1).
    Random restarts run only for the samples not yet fooled. Per sample it returns
    the latest adversarial iterate found (as the authors' code); samples never
    fooled get the last iterate of the last restart.

    Epsilon: ``distance`` is L-inf, so Foolbox's ``epsilons`` bound the L-inf
    distortion from the clean image, on top of ``kappa * sigma``. Each epsilon of a
    sweep is its own run, from the same random stream
    (:class:`~fgav.attacks.sweeps.PerEpsilon`), capping each change during the attack,
    so the result at one epsilon does not depend on the others asked and Foolbox's
    clip leaves it untouched. With ``epsilons=None`` only ``k`` and ``kappa * sigma``
    constrain the attack. The pixel budget is ``k``, not epsilon. ``run`` takes
    ``early_stop`` as that cap.

    Args:
        k: The most pixels changed per image. Default 50 (1.2 % of a 64x64 image).
        kappa: Scale of the sigma-map bound; larger is easier and more visible.
            Default 2.0 (with 0.8 and k=10, the colour attack fools 1 of 10 images
            of the test fixture; with these defaults 7 of 10).
        steps: PGD steps per restart. Default 100 (the authors' script).
        step_size: Step length in units of the gradient's mean absolute value,
            i.e. the average change per element and step before projection, on the
            image rescaled to [0, 1]. Default 0.15 (the authors' 120000/255 with
            L1-normalised gradients on 32x32x3 images). Follows ``steps`` when only
            the steps are given (``fgav.create_attack``).
        restarts: Runs from random starting points (the first one too, when
            ``random_start``). Default 3.
        random_start: Start each run from a random point (as the authors: the
            clean image plus uniform noise in ``+-kappa``, colour; a random point
            of the box, box) instead of the clean image. Default True.
        variant: ``"colour"`` (default) or ``"box"``, see above.

    References:
        Francesco Croce, Matthias Hein, "Sparse and imperceivable adversarial
        attacks", ICCV 2019, https://arxiv.org/abs/1909.05040; the authors' code,
        https://github.com/fra31/sparse-imperceivable-attacks
    """

    name: ClassVar[str] = "sparse"
    step_size_option: ClassVar[str] = "step_size"
    distance = linf

    def __init__(
        self,
        *,
        k: int = 50,
        kappa: float = 2.0,
        steps: int = 100,
        step_size: float = 0.15,
        restarts: int = 3,
        random_start: bool = True,
        variant: Literal["colour", "box"] = "colour",
    ) -> None:
        if k < 0 or steps < 0 or restarts < 1:
            raise ValueError("k and steps must be non-negative and restarts at least 1")
        if kappa < 0 or step_size <= 0:
            raise ValueError("kappa must be non-negative and step_size positive")
        if variant not in VARIANTS:
            raise ValueError(f"variant must be one of {', '.join(VARIANTS)}, not {variant!r}")
        self.k = int(k)
        self.kappa = float(kappa)
        self.steps = int(steps)
        self.step_size = float(step_size)
        self.restarts = int(restarts)
        self.random_start = bool(random_start)
        self.variant = variant

    def run(
        self,
        model: Model,
        inputs: T,
        criterion: Misclassification | TargetedMisclassification | T,
        *,
        early_stop: float | None = None,
        **kwargs: Any,
    ) -> T:
        """Returns the perturbed inputs; ``early_stop``, given, caps each change (L-inf)."""
        raise_if_kwargs(kwargs)
        x_in, restore_type = ep.astensor_(inputs)
        verify_input_bounds(x_in, model)
        criterion_ = get_criterion(criterion)
        del inputs, criterion, kwargs
        x_model, call_model, to_layout = _channels_first(model, x_in)
        classes, targeted = _classes(criterion_, len(x_model))
        lo, hi = model.bounds
        scale = hi - lo
        x = (x_model - lo) / scale  # the attack works on [0, 1]: bounds-independent

        def call(z: ep.Tensor) -> ep.Tensor:
            return call_model(lo + scale * z)

        cap = None if early_stop is None else float(early_stop) / scale
        project = self.projection(x, cap)

        best = x
        found = np.zeros(len(x), dtype=bool)
        for _ in range(self.restarts):
            todo = np.flatnonzero(~found)
            if todo.size == 0:
                break
            idx = ep.from_numpy(classes, todo)

            def call_rows(z: ep.Tensor, idx: ep.Tensor = idx) -> ep.Tensor:
                # A restart attacks the samples left unfooled, but the model sees the whole
                # batch (the others clean) and only their rows are read: a model aimed at a
                # part (fgav.foolbox_model) holds per-sample targets by position in the batch.
                return call(x.index_update(idx, z))[idx]

            adv, ok = self._pgd0(call_rows, x[idx], classes[idx], targeted,
                                 functools.partial(_project_at, project, idx))
            best = best.index_update(idx, adv)
            found[todo] = ok.numpy()
        # Scaling back can round past a bound; clipping only shrinks the changes.
        return restore_type(to_layout(ep.clip(lo + scale * best, lo, hi)))

    def projection(
        self, x: ep.Tensor, cap: float | None = None
    ) -> Callable[[ep.Tensor, ep.Tensor], ep.Tensor]:
        """The projection onto the allowed images, for clean images ``x`` (NCHW) in [0, 1].

        Args:
            x: Clean images in [0, 1].
            cap: An optional L-inf bound on each change (in [0, 1] units).

        Returns:
            ``project(y, index)``: the projection of candidate images ``y`` of the
            samples ``index`` (an index tensor into ``x``).
        """
        sigma = sigma_map(x)
        if self.variant == "colour":
            return lambda y, i: project_l0_sigma(y, x[i], sigma[i], self.kappa, self.k, cap)
        lower, upper = self.change_bounds(x, cap)
        return lambda y, i: x[i] + project_l0_box(y - x[i], lower[i], upper[i], self.k)

    def change_bounds(self, x: ep.Tensor, epsilon: float | None = None) -> tuple[ep.Tensor, ep.Tensor]:
        """The box variant's element-wise ``[lower, upper]`` every change must lie in.

        Args:
            x: Clean images ``(N, C, H, W)`` in [0, 1].
            epsilon: An optional extra L-inf cap on each change.

        Returns:
            ``lower <= 0 <= upper``, each shaped like ``x``.
        """
        limit = self.kappa * sigma_map(x)
        if epsilon is not None:
            limit = ep.minimum(limit, float(epsilon))
        return ep.maximum(-limit, -x), ep.minimum(limit, 1 - x)

    def _start(self, x: ep.Tensor, project: Callable[[ep.Tensor], ep.Tensor]) -> ep.Tensor:
        """The first iterate: the clean images, or a random point (projected)."""
        if not self.random_start:
            return x
        if self.variant == "colour":
            noise = ep.uniform(x, x.shape, -self.kappa, self.kappa)
            return project(ep.clip(x + noise, 0, 1))
        # the box variant: a random point of the box, which project() keeps whole on k pixels
        return project(x + (2 * ep.uniform(x, x.shape) - 1) * self.kappa * sigma_map(x))

    def _pgd0(
        self,
        call: Callable[[ep.Tensor], ep.Tensor],
        x: ep.Tensor,
        classes: ep.Tensor,
        targeted: bool,
        project: Callable[[ep.Tensor], ep.Tensor],
    ) -> tuple[ep.Tensor, ep.Tensor]:
        """One PGD0 run on NCHW images in [0, 1]; returns the kept images and their success."""

        def loss_fn(z: ep.Tensor) -> tuple[ep.Tensor, ep.Tensor]:
            logits = call(z)
            ce = ep.crossentropy(logits, classes)
            return (-ce if targeted else ce).sum(), logits

        loss_aux_and_grad = ep.value_and_grad_fn(x, loss_fn, has_aux=True)
        z = self._start(x, project)
        best = z
        found = ep.zeros(x, len(x)).bool()
        for step in range(self.steps + 1):
            _, logits, gradient = loss_aux_and_grad(z)
            predicted = logits.argmax(axis=-1)
            is_adv = predicted == classes if targeted else predicted != classes
            best = ep.where(atleast_kd(is_adv, 4), z, best)
            found = ep.logical_or(found, is_adv)
            if step == self.steps or found.all().item():
                break
            scale = atleast_kd(flatten(gradient.abs()).mean(axis=-1), 4) + 1e-12
            z = project(z + self.step_size * gradient / scale)
        return ep.where(atleast_kd(found, 4), best, z), found
