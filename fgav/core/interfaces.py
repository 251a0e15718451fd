"""The base classes of fgav's components (public API, see docs/plugins.md).

Every component class has ``name: ClassVar[str]``, its unique registry key, and a
docstring whose first line is its summary in ``fgav plugins``. ``__init__`` takes
keyword options only, so a subclass just calls ``super().__init__()``.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, cast

import torch
from torch import Tensor, nn

from fgav.core.errors import FgavError
from fgav.core.types import Batch
from fgav.core.wrapping import AugmentedAttack

if TYPE_CHECKING:
    from collections.abc import Iterable

    from foolbox.attacks.base import Attack

    from fgav.core.model import MultiTaskModel

def refuse_unknown(kind: str, component: object, options: Mapping[str, Any]) -> None:
    """Refuse the options no class of a component took (Foolbox's ``raise_if_kwargs`` habit).

    The base classes call it with what is left of ``**options`` once every subclass took
    its own, so a misspelled option is a one-line error instead of a silent default.

    Raises:
        FgavError: ``options`` is not empty.
    """
    if options:
        name = getattr(component, "name", "") or type(component).__name__
        names = ", ".join(repr(k) for k in sorted(options))
        raise FgavError(f"{kind} {name!r} takes no option {names}")


class Backbone(nn.Module):
    """A feature extractor: images ``(B,3,H,W)`` in [0,1] to a feature map ``(B,C,h,w)``.

    Subclasses set ``self.out_channels`` in ``__init__``. The feature map is NCHW
    even where the underlying network works in NHWC (Swin).
    """

    name: ClassVar[str] = ""
    out_channels: int

    def __init__(self, **options: Any) -> None:
        super().__init__()
        refuse_unknown("backbone", self, options)

    def forward(self, x: Tensor) -> Tensor:  # pragma: no cover - abstract
        """Return the feature map of images ``x`` in [0,1]."""
        raise NotImplementedError


class AuxHead(nn.Module):
    """One output of a multitask model, with its ground truth, loss and accuracy.

    ``target_key`` names the batch key holding the head's ground truth; ``""`` means
    :meth:`target` computes the ground truth itself (from the image, say). ``needs``
    lists the batch keys :meth:`target` reads where they are not just ``target_key``
    (``None``: ``(target_key,)``, or nothing when ``target_key`` is ``""``). A data set
    that lacks a needed key makes the head be skipped with a note, not a crash; the
    image is always there. ``loss_weight`` is the head's default weight in Eq. 10.
    """

    name: ClassVar[str] = ""
    target_key: ClassVar[str] = ""
    needs: ClassVar[tuple[str, ...] | None] = None
    loss_weight: ClassVar[float] = 1.0

    @classmethod
    def missing_keys(cls, provides: Collection[str]) -> list[str]:
        """The batch keys :meth:`target` needs that ``provides`` (a data set's keys, or a batch) lacks."""
        needs = cls.needs if cls.needs is not None else ((cls.target_key,) if cls.target_key else ())
        return [key for key in needs if key != "image" and key not in provides]

    def __init__(self, in_channels: int, **options: Any) -> None:
        super().__init__()
        refuse_unknown("head", self, options)
        self.in_channels = in_channels

    def forward(self, features: Tensor) -> Tensor:  # pragma: no cover - abstract
        """Return the head's output for a backbone feature map, batch first."""
        raise NotImplementedError

    def target(self, batch: Batch) -> Tensor:
        """Return this head's ground truth from a batch dict (``batch[target_key]``)."""
        if not self.target_key:
            raise FgavError(f"head {self.name!r} sets no target_key, so it must override target()")
        return cast("Mapping[str, Any]", batch)[self.target_key]  # a key the head's data set adds

    def loss(self, pred: Tensor, target: Tensor) -> Tensor:  # pragma: no cover - abstract
        """Return the per-sample loss, shape ``(B,)``: attacks and metrics need it."""
        raise NotImplementedError

    def correct(self, pred: Tensor, target: Tensor) -> Tensor | None:
        """Return which predictions are right, a bool tensor batch first, or ``None``.

        ``None`` (the default) means accuracy is meaningless for this head (maps,
        regressions). Shape ``(B,)``, or ``(B, K)`` for a multilabel head whose
        accuracy is the mean over its K labels (CelebA's attribute accuracy).
        """
        return None


class Augmenter(nn.Module):
    """An input augmentation that makes attacks discrimination-aware (SFA and its baselines).

    ``forward(x, batch)`` returns the augmented input S(x). Wrapping an attack is the
    base class's job (:meth:`wrap`), so every augmenter wraps every Foolbox attack.
    ``mode`` is ``"push"`` (the attack starts from S(x), its budget centred there)
    or ``"guide"`` (gradients taken at S(x), the perturbation applied to x).
    """

    name: ClassVar[str] = ""
    modes: ClassVar[tuple[str, ...]] = ("push", "guide")

    def __init__(self, *, mode: str = "push", **options: Any) -> None:
        super().__init__()
        refuse_unknown("augmenter", self, options)
        if mode not in self.modes:
            raise FgavError(f"augmenter mode must be one of {', '.join(self.modes)}, not {mode!r}")
        self.mode = mode

    @property
    def needs_fit(self) -> bool:
        """Whether :meth:`fit` must run before the augmenter is used."""
        return False

    def fit(self, model: MultiTaskModel, loader: Iterable[Batch]) -> None:
        """Fit the augmenter to a frozen target model (default: nothing to fit)."""

    @classmethod
    def for_model(cls, model: MultiTaskModel, *, data: Any = None, **options: Any) -> Augmenter:
        """Build the augmenter for a target model, fitted on ``data`` where it needs fitting.

        The audit calls this. An augmenter that stores its fit with the target (SFA)
        overrides it to reuse a stored fit.

        Args:
            model: the frozen target.
            data: training batches to fit on, if needed: an iterable of batch dicts (the
                audit gives ``fgav.data.make_loader(train split, batch_size=32,
                shuffle=True)``; an augmenter that overrides this method, like SFA,
                gets the Dataset of the training split itself).
            **options: the augmenter's keyword options.
        """
        augmenter = cls(**options)
        if augmenter.needs_fit:
            if data is None:
                raise FgavError(f"augmenter {cls.name!r} must be fitted to the target: give it training data")
            if isinstance(data, torch.utils.data.Dataset):
                raise FgavError(f"augmenter {cls.name!r} fits on batches: give data=fgav.data.make_loader(dataset, "
                                "batch_size=32, shuffle=True)")
            augmenter.fit(model, data)
        return augmenter

    def forward(self, x: Tensor, batch: Batch) -> Tensor:  # pragma: no cover
        """Return the augmented input S(x), in [0,1], for images ``x`` and their batch."""
        raise NotImplementedError

    def wrap(self, attack: Attack, *, batch: Batch | None = None) -> Attack:
        """Return a Foolbox attack that runs ``attack`` on the augmented input.

        Args:
            attack: any Foolbox attack (fixed-epsilon or minimization, third-party too).
            batch: the batch dict of the inputs; where absent, the labels of the
                criterion stand for ``batch["spoof"]``.
        """
        return AugmentedAttack(attack, self, batch=batch, mode=self.mode)


def per_sample_mean(values: Tensor) -> Tensor:
    """Mean over every dimension but the first: a per-sample loss of shape ``(B,)``."""
    return values.reshape(values.shape[0], -1).mean(dim=1) if values.dim() > 1 else values


def device_of(module: nn.Module) -> torch.device:
    """The device of a module's first parameter (cpu for a module without any)."""
    for p in module.parameters():
        return p.device
    return torch.device("cpu")
