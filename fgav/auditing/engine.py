"""The audit engine: every (part, attack, epsilon, augmenter) on every batch, shared work once.

It knows the interfaces only (MultiTaskModel, AuxHead, Augmenter, Foolbox attacks),
never a concrete backbone, head or augmenter. Per batch, the data moves to the device
once, the clean outputs and each augmenter's S(x) are computed once and shared by all
parts, attacks and epsilons.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import foolbox as fb
import torch
from foolbox.attacks.base import FixedEpsilonAttack, MinimizationAttack
from torch import Tensor

from fgav.attacks.aiming import PartObjective, foolbox_model
from fgav.auditing.gradient import run_gradient_attack, runs_natively
from fgav.auditing.metrics import MetricAccumulator
from fgav.auditing.result import AuditResult
from fgav.auditing.state import load_state, save_state
from fgav.data import SkipCounter
from fgav.errors import FgavError
from fgav.interfaces import Augmenter
from fgav.model import CLASSIFICATION, MultiTaskModel, check_images

DEFAULT_EPSILON = 8 / 255


@dataclass
class Plan:
    """What an audit runs: parts, named attacks, epsilons and named augmenters."""

    parts: list[str]
    attacks: list[tuple[str, Any]]
    epsilons: list[float]
    augmenters: list[tuple[str, Augmenter]]
    early_stop: bool = True
    seed: int = 0


def _to_device(batch: Mapping[str, Any], device: torch.device) -> dict[str, Any]:
    moved: dict[str, Any] = {}
    for key, value in batch.items():
        if isinstance(value, Tensor):
            moved[key] = value.to(device, non_blocking=True)
        elif isinstance(value, Mapping):
            moved[key] = _to_device(value, device)
        else:
            moved[key] = value
    return moved


def _adversarials(
    attack: Any,
    augmenter: Augmenter,
    objective: PartObjective,
    x: Tensor,
    augmented: Tensor,
    batch: Mapping[str, Any],
    epsilons: Sequence[float],
    early_stop: bool,
) -> list[tuple[float | None, Tensor]]:
    """The adversarial batch for each epsilon (one, with epsilon None, for attacks without)."""
    if runs_natively(attack):
        push = augmenter.mode == "push"
        start = augmented if push else x
        shift = None if push else (augmented - x)
        advs = run_gradient_attack(attack, objective, start, epsilons, shift=shift, early_stop=early_stop)
        return list(zip(epsilons, advs))
    wrapped = augmenter.wrap(attack, batch=batch)
    criterion = fb.criteria.Misclassification(objective.labels)
    fmodel = foolbox_model(objective)
    if isinstance(attack, (FixedEpsilonAttack, MinimizationAttack)):
        _, clipped, _ = wrapped(fmodel, x, criterion, epsilons=list(epsilons))
        return [(eps, c.detach()) for eps, c in zip(epsilons, clipped)]
    # An attack without a budget (Foolbox's SpatialAttack) takes no epsilons, which Foolbox's
    # Attack.__call__ overloads do not allow for.
    _, clipped, _ = cast("Callable[..., Any]", wrapped)(fmodel, x, criterion)
    return [(None, clipped.detach())]


def run_audit(
    model: MultiTaskModel,
    loader: Iterable[Mapping[str, Any]],
    plan: Plan,
    *,
    provides: frozenset[str],
    device: torch.device,
    on_batch: Callable[[int], None] | None = None,
    state_path: Path | None = None,
    resume: bool = False,
    fingerprint: Mapping[str, Any] | None = None,
) -> tuple[dict[tuple[str, str, float | None, str], MetricAccumulator], SkipCounter]:
    """Run the plan over every batch; return the accumulators and the unreadable images skipped.

    With ``state_path``, the state is saved after every batch; with ``resume`` too, an
    existing state is loaded first and its finished batches are not attacked again.
    """
    model = model.to(device).eval()
    for p in model.parameters():
        p.requires_grad_(False)
    accumulators: dict[tuple[str, str, float | None, str], MetricAccumulator] = {}
    skips = SkipCounter()
    start = 0
    if state_path is not None and resume and state_path.exists():
        state = load_state(state_path, fingerprint=fingerprint or {})
        start = int(state["batches_done"])
        skips.paths.extend(state["skipped"])
        for item in state["accumulators"]:
            part, attack, eps, aug = item["key"]
            acc = MetricAccumulator(dict(model.heads), provides)
            try:
                acc.load_state(item["state"])
            except (KeyError, TypeError, ValueError, AttributeError) as exc:  # a hand-edited or foreign state
                raise FgavError(f"{state_path} is not an audit state file (an accumulator's {exc!r} is "
                                "malformed); pass --restart to start the audit again") from None
            accumulators[(part, attack, eps, aug)] = acc
    for number, raw in enumerate(loader):
        if number < start:  # finished before the interruption
            if on_batch is not None:
                on_batch(len(raw["image"]))
            continue
        skips.update(raw)
        if len(raw["image"]):
            # Each batch's random starts come from (seed, batch number) alone, so a resumed
            # audit draws what an uninterrupted one drew; the caller's RNG is left as it was.
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(plan.seed * 1_000_003 + number)
                _attack_batch(model, raw, number, plan, accumulators, provides, device)
        if state_path is not None:
            save_state(state_path, fingerprint=fingerprint or {}, batches_done=number + 1,
                       accumulators=accumulators, skipped=list(skips.paths))
        if on_batch is not None:
            on_batch(len(raw["image"]))
    return accumulators, skips


def _attack_batch(
    model: MultiTaskModel,
    raw: Mapping[str, Any],
    number: int,
    plan: Plan,
    accumulators: dict[tuple[str, str, float | None, str], MetricAccumulator],
    provides: frozenset[str],
    device: torch.device,
) -> None:
    """Every (augmenter, part, attack, epsilon) on one batch, sharing its clean outputs and S(x)."""
    batch = _to_device(raw, device)
    x = batch["image"].float()
    check_images(x, where=f"batch {number}")
    with torch.no_grad():
        clean = model(x)
    for aug_name, augmenter in plan.augmenters:
        with torch.no_grad():
            augmented = augmenter(x, batch).clamp(0, 1)
        for part in plan.parts:
            objective = PartObjective.for_batch(model, part, batch)
            for attack_name, attack in plan.attacks:
                results = _adversarials(attack, augmenter, objective, x, augmented, batch,
                                        plan.epsilons, plan.early_stop)
                for eps, x_adv in results:
                    with torch.no_grad():
                        adv = model(x_adv)
                    key = (part, attack_name, eps, aug_name)
                    if key not in accumulators:
                        accumulators[key] = MetricAccumulator(dict(model.heads), provides)
                    accumulators[key].update(batch, clean, adv, x, x_adv)


def plan_parts(model: MultiTaskModel, heads: Sequence[str] | str, provides: frozenset[str]) -> tuple[list[str], list[str]]:
    """The parts to attack (``all`` is every head of the model) and notes on those skipped."""
    names = model.head_names if heads == "all" or heads == ["all"] else list(heads)
    parts, notes = [], []
    for name in names:
        if name not in model.heads:
            raise FgavError(f"the model has no part {name!r}; its parts: {', '.join(model.head_names)}, or all")
        key = model.heads[name].target_key
        if key in provides:
            parts.append(name)
        else:
            notes.append(f"part {name!r} skipped: the data has no ground truth {key!r}")
    if not parts:
        raise FgavError("no part left to attack: " + "; ".join(notes))
    if "spoof" not in provides:
        raise FgavError("the data has no live/spoof labels ('spoof'): attacks are judged on them")
    return parts, notes


def epsilons_of(eps: float | Sequence[float] | None) -> list[float]:
    """A list of budgets; each must be a finite number >= 0."""
    values = [DEFAULT_EPSILON] if eps is None else ([eps] if isinstance(eps, (int, float)) else list(eps))
    for value in values:
        if not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
            raise FgavError(f"an epsilon must be a finite number >= 0, not {value!r}")
    return [float(v) for v in values]


__all__ = ["AuditResult", "Plan", "check_images", "epsilons_of", "plan_parts", "run_audit"]
