"""Scores for attacks that read loss values (APGD, Square): a per-sample loss and a verdict.

A :data:`Scorer` maps points of a batch to the loss an attack ascends and whether each
point is adversarial. APGD needs the loss's value (its step size follows it) and Square
needs values only; fgav's straight-through logits (:class:`fgav.core.aiming.AimedModule`)
give neither for a part other than the live/spoof head, so these attacks take a scorer:
:func:`logits_scorer` on a Foolbox model's logits, :func:`objective_scorer` on a part of a
multitask model. Both judge success on the decision (for a part: the live/spoof decision).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import eagerpy as ep
import torch
import torch.nn.functional as F
from foolbox.attacks.base import FixedEpsilonAttack, T, get_criterion, raise_if_kwargs, verify_input_bounds
from foolbox.criteria import Criterion, Misclassification, TargetedMisclassification
from foolbox.models import Model
from torch import Tensor

from fgav.core.aiming import BOUNDS, PartObjective
from fgav.core.model import CLASSIFICATION

__all__ = [
    "LOSSES",
    "Ascent",
    "LogitAttack",
    "Scorer",
    "criterion_classes",
    "generator",
    "improves",
    "logit_loss",
    "logits_scorer",
    "loss_and_grad",
    "objective_scorer",
    "torch_inputs",
]

LOSSES: tuple[str, ...] = ("ce", "margin")
"""The losses on logits: cross entropy, and the margin (best other logit minus the label's)."""

Scorer = Callable[[Tensor, Tensor], tuple[Tensor, Tensor]]
"""``score(x, index) -> (loss, wrong)``: for the samples ``index`` of the batch at points
``x``, the per-sample loss to ascend ``(B,)`` (differentiable in ``x`` where gradients are
enabled) and whether each point is adversarial ``(B,)`` (bool)."""


def logit_loss(logits: Tensor, classes: Tensor, *, targeted: bool = False, loss: str = "ce") -> Tensor:
    """A per-sample loss on logits that grows as the decision leaves ``classes`` (or nears them).

    Args:
        logits: ``(B, K)``.
        classes: the labels to leave, or with ``targeted`` the targets to reach, ``(B,)``.
        targeted: whether ``classes`` are targets.
        loss: ``"ce"`` (cross entropy, negated when targeted) or ``"margin"`` (the best
            other logit minus the class's logit, reversed when targeted).
    """
    if loss == "ce":
        ce = F.cross_entropy(logits, classes, reduction="none")
        return -ce if targeted else ce
    if loss != "margin":
        raise ValueError(f"loss must be one of {', '.join(LOSSES)}, not {loss!r}")
    own = logits.gather(1, classes.unsqueeze(1)).squeeze(1)
    others = logits.masked_fill(F.one_hot(classes, logits.shape[1]).bool(), -torch.inf).max(dim=1).values
    return own - others if targeted else others - own


def _wrong(logits: Tensor, classes: Tensor, targeted: bool) -> Tensor:
    predicted = logits.detach().argmax(dim=1)
    return predicted == classes if targeted else predicted != classes


def criterion_classes(criterion: Criterion, n: int) -> tuple[Tensor, bool]:
    """The labels to leave (or the targets to reach) of a Foolbox criterion, and whether targeted.

    Raises:
        ValueError: the criterion is not (Targeted)Misclassification, or has not ``n`` labels.
    """
    if isinstance(criterion, Misclassification):
        classes, targeted = criterion.labels, False
    elif isinstance(criterion, TargetedMisclassification):
        classes, targeted = criterion.target_classes, True
    else:
        raise ValueError(f"unsupported criterion {criterion!r}: use (Targeted)Misclassification")
    if classes.shape != (n,):
        raise ValueError(f"expected {n} labels, got shape {classes.shape}")
    return classes.raw, targeted


def logits_scorer(
    model: Callable[[Tensor], Tensor], classes: Tensor, *, targeted: bool = False, loss: str = "ce"
) -> Scorer:
    """A scorer on a classifier's logits (a Foolbox PyTorch model, or any module)."""

    def score(x: Tensor, index: Tensor) -> tuple[Tensor, Tensor]:
        logits = model(x)
        c = classes[index]
        return logit_loss(logits, c, targeted=targeted, loss=loss), _wrong(logits, c, targeted)

    return score


def objective_scorer(objective: PartObjective, *, loss: str = "ce", shift: Tensor | None = None) -> Scorer:
    """A scorer on a part of a multitask model: its loss, judged on the live/spoof decision.

    Args:
        objective: the part and its ground truth.
        loss: for the classification part, the loss on its logits (see :func:`logit_loss`);
            any other part ascends its own loss.
        shift: SFA's guide mode: the loss is taken at ``x + shift`` (clipped), the verdict
            at ``x`` itself, the point the attack returns (one more forward per score).
    """

    def score(x: Tensor, index: Tensor) -> tuple[Tensor, Tensor]:
        labels = objective.labels[index]
        at = x if shift is None else (x + shift[index]).clamp(*BOUNDS)
        part_loss, logits = objective.evaluate(at, index)
        if objective.part == CLASSIFICATION:
            part_loss = logit_loss(logits, labels, loss=loss)
        if shift is not None:
            with torch.no_grad():
                logits = objective.model(x)[CLASSIFICATION]
        return part_loss, _wrong(logits, labels, False)

    return score


def loss_and_grad(score: Scorer, x: Tensor, index: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """The loss, its gradient in ``x`` and the verdict at ``x`` (all detached)."""
    with torch.enable_grad():
        at = x.detach().clone().requires_grad_(True)
        loss, wrong = score(at, index)
        (grad,) = torch.autograd.grad(loss.sum(), at)
    return loss.detach(), grad.detach(), wrong.detach()


def improves(loss: Tensor, wrong: Tensor, best_loss: Tensor, best_wrong: Tensor) -> Tensor:
    """Whether a point beats the best so far: it flips the decision first, then has the higher loss."""
    return (wrong & ~best_wrong) | ((wrong == best_wrong) & (loss > best_loss))


def generator(device: torch.device, seed: int | None) -> torch.Generator:
    """The random source of one run: ``seed``, else the seed torch's global RNG was given.

    Drawing nothing from the global RNG keeps a sample's result at one epsilon independent
    of the other epsilons of a sweep (Foolbox runs them one after the other), and the
    audit's per-batch seed still decides the draws.
    """
    return torch.Generator(device=device).manual_seed(torch.initial_seed() if seed is None else seed)


@dataclass
class Ascent:
    """What a loss-reading attack returns per sample: the point kept, its loss and verdict.

    ``best_losses`` (APGD only) is the best loss found so far after each step of the first
    run, ``(steps + 1, B)``: the loss APGD's step-size rule follows.
    """

    x: Tensor
    loss: Tensor
    wrong: Tensor
    best_losses: Tensor | None = None


def torch_inputs(x: ep.Tensor, attack: str) -> Tensor:
    """The raw tensor of a Foolbox input; fgav's loss-reading attacks run on PyTorch models.

    Raises:
        ValueError: the model is not a PyTorch one.
    """
    if not isinstance(x, ep.PyTorchTensor):
        raise ValueError(f"{attack} runs on PyTorch models, not on {type(x).__name__} inputs")
    return x.raw


class LogitAttack(FixedEpsilonAttack):
    """A Foolbox fixed-epsilon attack on a loss of a model's logits (APGD, Square, the ensemble).

    Foolbox's ``run`` preamble lives here once (unknown keywords refused, the bounds
    checked, the criterion read into classes); a subclass implements :meth:`attack_logits`.
    """

    display_name: str = "the attack"
    """How errors name the attack (``torch_inputs``)."""

    def run(
        self,
        model: Model,
        inputs: T,
        criterion: Criterion | T,
        *,
        early_stop: float | None = None,
        epsilon: float,
        **kwargs: Any,
    ) -> T:
        raise_if_kwargs(kwargs)
        x, restore_type = ep.astensor_(inputs)
        del inputs, kwargs
        verify_input_bounds(x, model)
        raw = torch_inputs(x, self.display_name)
        classes, targeted = criterion_classes(get_criterion(criterion), len(raw))
        return restore_type(ep.astensor(self.attack_logits(model, raw, classes, targeted=targeted, epsilon=epsilon)))

    def attack_logits(self, model: Model, x: Tensor, classes: Tensor, *, targeted: bool, epsilon: float) -> Tensor:
        """The adversarial points of ``x`` (a torch batch in ``model.bounds``) within ``epsilon``."""
        raise NotImplementedError
