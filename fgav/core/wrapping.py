"""Any Foolbox attack run on an augmented input: the wrapping behind ``Augmenter.wrap``.

Two modes (docs/sfa.md):

- ``push``: the wrapped attack runs from S(x) on the same model, its budget centred
  on S(x). The returned points are within epsilon of S(x), not of x.
- ``guide``: the wrapped attack runs from x against a model that evaluates the real
  one at ``clip(x' + (S(x) - x))``: its gradients are taken at the augmented point, its
  perturbation is applied to x and stays within epsilon of x. Its criterion is judged
  on the real model at x' (not at the shifted point), so a minimization attack stops
  or binary-searches where the real model is fooled, not where the shifted one is.

In both, success is re-judged on the real model at the returned points, so it is
always what the real model says. ``augmented_inputs`` keeps the last S(x) for the
audit, which measures distortion from the clean x.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, ClassVar

import eagerpy as ep
import torch
from foolbox.attacks.base import Attack, AttackWithDistance, Repeated, get_criterion
from foolbox.criteria import Criterion, Misclassification, TargetedMisclassification
from foolbox.distances import Distance
from foolbox.models import Model
from foolbox.types import Bounds

from fgav.core.errors import FgavError
from fgav.core.types import Batch

if TYPE_CHECKING:
    from fgav.core.interfaces import Augmenter

MODES = ("push", "guide")


class ShiftedModel(Model):
    """A Foolbox model that evaluates another one at ``clip(x' + shift)``.

    Gradients through it are those of the real model at the shifted point; the
    shift is fixed (no gradient flows into it).

    Args:
        model: the real Foolbox model.
        shift: ``S(x) - x``, the same shape as the inputs the attack will pass.
    """

    def __init__(self, model: Model, shift: Any) -> None:
        self._model = model
        self._shift = ep.astensor(shift)

    @property
    def bounds(self) -> Bounds:
        return self._model.bounds

    @property
    def data_format(self) -> Any:
        return getattr(self._model, "data_format", None)

    def __call__(self, inputs: Any) -> Any:
        x, restore_type = ep.astensor_(inputs)
        if x.shape != self._shift.shape:
            raise FgavError(
                f"guide mode: the wrapped attack evaluated a batch of shape {tuple(x.shape)}, "
                f"but S(x) was computed for {tuple(self._shift.shape)}"
            )
        lower, upper = self.bounds
        return restore_type(self._model((x + self._shift).clip(lower, upper)))


_NO_EPSILONS: Any = object()  # an attack called without epsilons (Foolbox's SpatialAttack)


def _labels_of(criterion: Criterion) -> ep.Tensor:
    """The live/spoof labels a criterion stands for where no batch was given."""
    if isinstance(criterion, Misclassification):
        return criterion.labels
    if isinstance(criterion, TargetedMisclassification):
        return 1 - criterion.target_classes  # two classes: the target is the other one
    raise FgavError(
        f"cannot read live/spoof labels from a {type(criterion).__name__} criterion: pass batch= to wrap()"
    )


class _RealMisclassification(Misclassification):
    """Misclassification judged on the real model at the perturbed point, whatever outputs come."""

    def __init__(self, labels: Any, model: Model) -> None:
        super().__init__(labels)
        self._model = model

    def __call__(self, perturbed: Any, outputs: Any) -> Any:
        return super().__call__(perturbed, _real_outputs(self._model, perturbed))


class _RealTargetedMisclassification(TargetedMisclassification):
    """TargetedMisclassification judged on the real model at the perturbed point."""

    def __init__(self, target_classes: Any, model: Model) -> None:
        super().__init__(target_classes)
        self._model = model

    def __call__(self, perturbed: Any, outputs: Any) -> Any:
        return super().__call__(perturbed, _real_outputs(self._model, perturbed))


class _RealCriterion(Criterion):
    """Any criterion judged on the real model at the perturbed point."""

    def __init__(self, criterion: Criterion, model: Model) -> None:
        self._criterion, self._model = criterion, model

    def __repr__(self) -> str:
        return f"RealModel({self._criterion!r})"

    def __call__(self, perturbed: Any, outputs: Any) -> Any:
        return self._criterion(perturbed, _real_outputs(self._model, perturbed))


def _real_outputs(model: Model, perturbed: Any) -> Any:
    p, restore_type = ep.astensor_(perturbed)
    raw = p.raw.detach() if isinstance(p.raw, torch.Tensor) else p.raw
    return restore_type(ep.astensor(model(raw)))


def judged_on(criterion: Criterion, model: Model) -> Criterion:
    """The criterion, judged on ``model`` at the perturbed points (keeps Foolbox's types)."""
    if isinstance(criterion, Misclassification):
        return _RealMisclassification(criterion.labels, model)
    if isinstance(criterion, TargetedMisclassification):
        return _RealTargetedMisclassification(criterion.target_classes, model)
    return _RealCriterion(criterion, model)


class AugmentedAttack(AttackWithDistance):
    """A Foolbox attack that runs another one on the augmenter's S(x) (push or guide).

    Args:
        attack: any Foolbox attack (fixed-epsilon or minimization, third-party too).
        augmenter: the fgav augmenter giving S(x).
        batch: the batch dict of the inputs the attack will get; ``None`` means the
            criterion's labels stand for ``batch["spoof"]``.
        mode: ``"push"`` or ``"guide"``.
    """

    name: ClassVar[str] = "augmented"

    def __init__(
        self,
        attack: Attack,
        augmenter: Augmenter,
        *,
        batch: Batch | None = None,
        mode: str = "push",
    ) -> None:
        if not isinstance(attack, Attack):
            raise FgavError(f"only Foolbox attacks can be wrapped, not {type(attack).__name__}")
        if mode not in MODES:
            raise FgavError(f"augmented attack mode must be one of {', '.join(MODES)}, not {mode!r}")
        self.attack, self.augmenter, self.batch, self.mode = attack, augmenter, batch, mode
        self.augmented_inputs: torch.Tensor | None = None

    @property
    def distance(self) -> Distance:
        """The wrapped attack's distance (Foolbox's ``Repeated`` needs it)."""
        distance = getattr(self.attack, "distance", None)
        if distance is None:
            raise FgavError(f"the wrapped attack {type(self.attack).__name__} has no distance")
        return distance

    def repeat(self, times: int) -> Attack:
        """Repeat the whole augmented attack ``times`` times, keeping the best result."""
        return Repeated(self, times)

    def __repr__(self) -> str:
        return f"AugmentedAttack({self.attack!r}, {self.augmenter!r}, mode={self.mode!r})"

    def augment(self, inputs: Any, criterion: Any) -> torch.Tensor:
        """S(x) of ``inputs`` (a torch tensor, or an eagerpy one over torch), without gradient."""
        x = ep.astensor(inputs).raw
        if not isinstance(x, torch.Tensor):
            raise FgavError(f"fgav augmenters work on torch tensors, not {type(x).__name__}")
        batch: dict[str, Any] = dict(self.batch) if self.batch is not None else {}
        if "spoof" not in batch:
            batch["spoof"] = ep.astensor(_labels_of(get_criterion(criterion))).raw
        labels = batch["spoof"]
        if isinstance(labels, torch.Tensor) and len(labels) != len(x):
            raise FgavError(f"the batch has {len(labels)} labels for {len(x)} inputs")
        batch["image"] = x
        for p in self.augmenter.parameters():  # follow the inputs' device, once
            if p.device != x.device:
                self.augmenter.to(x.device)
            break
        with torch.no_grad():
            s = self.augmenter(x.detach(), batch).detach().clamp(0, 1)
        if s.shape != x.shape:
            raise FgavError(f"the augmenter returned shape {tuple(s.shape)} for inputs {tuple(x.shape)}")
        self.augmented_inputs = s
        return s

    def __call__(
        self,
        model: Model,
        inputs: Any,
        criterion: Any,
        *,
        epsilons: Any = _NO_EPSILONS,
        **kwargs: Any,
    ) -> Any:
        """Run the wrapped attack on S(x); return Foolbox's ``(raw, clipped, success)``.

        Epsilons are handled by the wrapped attack (a sequence gives lists, one per
        epsilon; a single value gives tensors). ``success`` is what the real model
        says at the clipped points.
        """
        x, restore_type = ep.astensor_(inputs)
        if tuple(model.bounds) != (0, 1):
            raise FgavError(f"fgav augmenters work on images in [0,1]; the model's bounds are {tuple(model.bounds)}")
        criterion_ = get_criterion(criterion)
        s = self.augment(x, criterion_)
        if epsilons is not _NO_EPSILONS:  # attacks without a budget (a spatial grid) take none
            kwargs["epsilons"] = epsilons
        if self.mode == "push":
            raw, clipped, _ = self.attack(model, s, criterion_, **kwargs)
        else:
            shifted = ShiftedModel(model, s - x.raw)
            judge = judged_on(criterion_, model)
            raw, clipped, _ = self.attack(shifted, x.raw, judge, **kwargs)
        was_iterable = epsilons is not _NO_EPSILONS and isinstance(epsilons, Iterable)
        points = clipped if was_iterable else [clipped]
        success = ep.stack([criterion_(ep.astensor(p), ep.astensor(model(p))) for p in points])
        success = success if was_iterable else success[0]

        def restore(value: Any) -> Any:
            return restore_type(ep.astensor(value))

        raw_ = [restore(r) for r in raw] if was_iterable else restore(raw)
        clipped_ = [restore(c) for c in clipped] if was_iterable else restore(clipped)
        return raw_, clipped_, restore_type(success)
