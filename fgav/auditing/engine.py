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
import foolbox.attacks as fa
import torch
from foolbox.attacks.base import FixedEpsilonAttack, MinimizationAttack
from torch import Tensor

from fgav.auditing.flags import (
    UNBOUNDED,
    AttackRecord,
    Evidence,
    Key,
    is_iterative_linf,
    unbounded_budget,
    uses_gradients,
    zero_gradient_samples,
)
from fgav.auditing.gradient import part_gradient, run_gradient_attack, runs_natively
from fgav.auditing.metrics import MetricAccumulator
from fgav.auditing.result import AuditResult
from fgav.auditing.state import load_state, save_state
from fgav.core.aiming import PartObjective, aimed_model
from fgav.core.distributed import DistContext, gather_objects
from fgav.core.errors import FgavError
from fgav.core.interfaces import Augmenter
from fgav.core.model import CLASSIFICATION, MultiTaskModel, check_images
from fgav.core.types import Batch
from fgav.data import SkipCounter

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
    check: bool = False  # run the flags that need extra passes (unbounded-failure)


def batch_to_device(batch: Mapping[str, Any], device: torch.device) -> Batch:
    """A batch with its tensors (nested ones too) moved to ``device``; other values as they are."""
    moved: dict[str, Any] = {}
    for key, value in batch.items():
        if isinstance(value, Tensor):
            moved[key] = value.to(device, non_blocking=True)
        elif isinstance(value, Mapping):
            moved[key] = batch_to_device(value, device)
        else:
            moved[key] = value
    return cast("Batch", moved)


def adversarial_examples(
    attack: Any,
    augmenter: Augmenter,
    objective: PartObjective,
    x: Tensor,
    augmented: Tensor,
    batch: Batch,
    epsilons: Sequence[float | None],
    early_stop: bool,
    record: AttackRecord | None = None,
) -> list[tuple[float | None, Tensor]]:
    """The adversarial batch for each epsilon (one, with epsilon None, for attacks without).

    ``record``, where given, gets the attack's loss traces and its own decisions where
    the attack reports them (the flags are judged on them).
    """
    # Attacks that read the part's loss itself (fgav's protocol, docs/plugins.md), and Foolbox's
    # plain gradient descent, run natively: push/guide done here, so only for augmenters that
    # keep the base class's wrap (one that overrides wrap must have its wrapping used).
    native = getattr(attack, "run_on_objective", None)
    if (callable(native) or runs_natively(attack)) and type(augmenter).wrap is Augmenter.wrap:
        push = augmenter.mode == "push"
        start = augmented if push else x
        shift = None if push else (augmented - x)
        budgets = cast("Sequence[float]", epsilons)
        if callable(native):
            advs = native(objective, start, list(budgets), shift=shift, early_stop=early_stop)
        else:
            advs = run_gradient_attack(attack, objective, start, budgets, shift=shift, early_stop=early_stop,
                                       record=record)
        return list(zip(epsilons, advs))
    wrapped = augmenter.wrap(attack, batch=batch)
    criterion = fb.criteria.Misclassification(objective.labels)
    fmodel = aimed_model(objective)
    if isinstance(attack, (FixedEpsilonAttack, MinimizationAttack)):
        _, clipped, success = wrapped(fmodel, x, criterion, epsilons=list(epsilons))
        if record is not None:
            for judged in success:
                record.add(None, judged.to(torch.int8))
        return [(eps, c.detach()) for eps, c in zip(epsilons, clipped)]
    # An attack without a budget (Foolbox's SpatialAttack) takes no epsilons, which Foolbox's
    # Attack.__call__ overloads do not allow for.
    _, clipped, success = cast("Callable[..., Any]", wrapped)(fmodel, x, criterion)
    if record is not None:
        record.add(None, success.to(torch.int8))
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
    evidence: dict[Key, Evidence] | None = None,
    first_batch: int = 0,
) -> tuple[dict[Key, MetricAccumulator], SkipCounter]:
    """Run the plan over every batch; return the accumulators and the unreadable images skipped.

    With ``state_path``, the state is saved after every batch; with ``resume`` too, an
    existing state is loaded first and its finished batches are not attacked again.
    ``evidence``, where given, is filled per result with what its flags are judged on
    (:func:`fgav.auditing.flags.judge`). ``first_batch`` is the number of the loader's
    first batch in the whole audit (a torchrun shard's offset): it seeds the random starts.
    """
    evidence = {} if evidence is None else evidence
    model = model.to(device).eval()
    for p in model.parameters():
        p.requires_grad_(False)
    accumulators: dict[Key, MetricAccumulator] = {}
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
            except FgavError as exc:  # one of an older fgav: name the file and the way out
                raise FgavError(f"{state_path} is not an audit state file of this fgav ({exc}); "
                                "pass --restart to start the audit again") from None
            accumulators[(part, attack, eps, aug)] = acc
            if item["state"].get("flags") is not None:
                evidence[(part, attack, eps, aug)] = Evidence.from_state(item["state"]["flags"])
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
                torch.manual_seed(plan.seed * 1_000_003 + first_batch + number)
                _attack_batch(model, raw, number, plan, accumulators, evidence, provides, device)
        if state_path is not None:
            saved = {key: _Saved(acc, evidence.get(key)) for key, acc in accumulators.items()}
            save_state(state_path, fingerprint=fingerprint or {}, batches_done=number + 1,
                       accumulators=saved, skipped=list(skips.paths))
        if on_batch is not None:
            on_batch(len(raw["image"]))
    return accumulators, skips


def gather_shards(
    world: DistContext,
    model: MultiTaskModel,
    provides: frozenset[str],
    accumulators: dict[Key, MetricAccumulator],
    evidence: dict[Key, Evidence],
    skipped: list[str],
) -> tuple[dict[Key, MetricAccumulator], dict[Key, Evidence], list[str]]:
    """Every rank's shard of an audit, merged in rank order (the shards' sample order) on every rank.

    Each rank attacked a contiguous block of batches; merged, the accumulators, the flag
    evidence and the skipped images are those one process would hold after every batch.
    """
    mine = ([(key, acc.state(), evidence[key].state() if key in evidence else None)
             for key, acc in accumulators.items()], skipped)  # fmt: skip
    merged: dict[Key, MetricAccumulator] = {}
    merged_evidence: dict[Key, Evidence] = {}
    paths: list[str] = []
    for items, rank_skipped in gather_objects(mine, world):
        paths += rank_skipped
        for key, acc_state, ev_state in items:
            acc = MetricAccumulator(dict(model.heads), provides)
            acc.load_state(acc_state)
            if key in merged:
                merged[key].merge(acc)
            else:
                merged[key] = acc
            if ev_state is not None:
                ev = Evidence.from_state(ev_state)
                if key in merged_evidence:
                    merged_evidence[key].merge(ev)
                else:
                    merged_evidence[key] = ev
    return merged, merged_evidence, paths


def shard_of(n: int, batch_size: int, world: DistContext) -> tuple[range, int]:
    """This rank's samples of ``n`` and the number of its first batch: a contiguous block of whole batches.

    The batches are dealt out in blocks as even as whole batches allow (a rank may get
    none), so that a batch holds the same samples, and draws the same random starts,
    whichever rank attacks it.
    """
    batches = -(-n // batch_size)
    first = batches * world.rank // world.world_size
    last = batches * (world.rank + 1) // world.world_size
    return range(first * batch_size, min(last * batch_size, n)), first


class _Saved:
    """A result's metrics and flag evidence, saved as one state (the flags under ``"flags"``)."""

    def __init__(self, metrics: MetricAccumulator, evidence: Evidence | None) -> None:
        self.metrics, self.evidence = metrics, evidence

    def state(self) -> dict[str, Any]:
        return {**self.metrics.state(), "flags": self.evidence.state() if self.evidence is not None else None}


def _fgsm_flips(
    augmenter: Augmenter,
    objective: PartObjective,
    x: Tensor,
    augmented: Tensor,
    batch: Batch,
    epsilons: Sequence[float],
    model: MultiTaskModel,
    right: Tensor,
) -> dict[float, Tensor]:
    """FGSM's flips at each budget (one gradient for the sweep): what iterative L-inf attacks must beat."""
    flips = {}
    for eps, x_adv in adversarial_examples(fa.LinfFastGradientAttack(), augmenter, objective, x, augmented,
                                           batch, epsilons, False):
        with torch.no_grad():
            flips[cast(float, eps)] = right & (model(x_adv)[CLASSIFICATION].argmax(1) != objective.labels)
    return flips


def _is_plain_fgsm(attack: Any) -> bool:
    """Whether an attack is FGSM with its defaults (its flips are the reference of ``weaker-than-fgsm``)."""
    return (isinstance(attack, fa.LinfFastGradientAttack) and not attack.random_start
            and attack.abs_stepsize is None and runs_natively(attack))


def _attack_batch(
    model: MultiTaskModel,
    raw: Mapping[str, Any],
    number: int,
    plan: Plan,
    accumulators: dict[Key, MetricAccumulator],
    evidence: dict[Key, Evidence],
    provides: frozenset[str],
    device: torch.device,
) -> None:
    """Every (augmenter, part, attack, epsilon) on one batch, sharing its clean outputs and S(x)."""
    batch = batch_to_device(raw, device)
    x = batch["image"].float()
    check_images(x, where=f"batch {number}")
    with torch.no_grad():
        clean = model(x)
    labels = batch["spoof"].long()
    right = clean[CLASSIFICATION].argmax(1) == labels
    everyone = torch.arange(x.shape[0], device=x.device)
    for aug_name, augmenter in plan.augmenters:
        with torch.no_grad():
            augmented = augmenter(x, batch).clamp(0, 1)
            # In push mode the attack starts from S(x): what S(x) does alone is reported beside it.
            alone = (augmented, model(augmented)) if augmenter.mode == "push" else None
        for part in plan.parts:
            objective = PartObjective.for_batch(model, part, batch)
            fgsm: dict[float, Tensor] = {}  # FGSM's flips per budget, from the plan's own FGSM where it has one
            rivals: list[tuple[float, Evidence]] = []  # the iterative L-inf results to hold against FGSM
            zero: Tensor | None = None  # the part's gradient at the attacks' start: zero or not finite
            for attack_name, attack in plan.attacks:
                record = AttackRecord()
                results = adversarial_examples(attack, augmenter, objective, x, augmented, batch,
                                               plan.epsilons, plan.early_stop, record)
                if zero is None and uses_gradients(attack):
                    # Every attack on this part starts from S(x) (push) or takes its gradients
                    # there (guide); one that took its first gradient there saves the backward.
                    zero = record.start_zero if record.start_zero is not None else \
                        zero_gradient_samples(part_gradient(objective, augmented, everyone)[0])
                keys = []
                for i, (eps, x_adv) in enumerate(results):
                    with torch.no_grad():
                        adv = model(x_adv)
                    key = (part, attack_name, eps, aug_name)
                    keys.append(key)
                    if key not in accumulators:
                        accumulators[key] = MetricAccumulator(dict(model.heads), provides)
                    accumulators[key].update(batch, clean, adv, x, x_adv, alone=alone)
                    ev = evidence.setdefault(key, Evidence())
                    trace, judged = record.at(i)
                    ev.add_batch(right, adv[CLASSIFICATION].argmax(1) != labels, trace=trace, judged=judged,
                                 zero=zero if uses_gradients(attack) else None)
                    if eps is not None and is_iterative_linf(attack):
                        rivals.append((eps, ev))
                    if eps is not None and _is_plain_fgsm(attack):
                        fgsm[eps] = right & (adv[CLASSIFICATION].argmax(1) != labels)
                if plan.check:
                    _check_unbounded(model, attack, augmenter, objective, x, augmented, batch, plan, right,
                                     [evidence[key] for key in keys])
            if rivals and not all(eps in fgsm for eps, _ in rivals):
                fgsm = _fgsm_flips(augmenter, objective, x, augmented, batch, plan.epsilons, model, right)
            for eps, ev in rivals:
                ev.add_fgsm(fgsm[eps])


def _check_unbounded(
    model: MultiTaskModel,
    attack: Any,
    augmenter: Augmenter,
    objective: PartObjective,
    x: Tensor,
    augmented: Tensor,
    batch: Batch,
    plan: Plan,
    right: Tensor,
    evidence: Sequence[Evidence],
) -> None:
    """Run the attack once more with a budget that bounds nothing; its flips go to every result of the sweep."""
    budget = unbounded_budget(attack, x[0])
    if budget is UNBOUNDED:
        return
    ((_, x_adv),) = adversarial_examples(attack, augmenter, objective, x, augmented, batch, [budget],
                                         plan.early_stop)
    with torch.no_grad():
        flipped = right & (model(x_adv)[CLASSIFICATION].argmax(1) != objective.labels)
    for ev in evidence:
        ev.add_unbounded(flipped)


def plan_parts(model: MultiTaskModel, heads: Sequence[str] | str, provides: frozenset[str]) -> tuple[list[str], list[str]]:
    """The parts to attack (``all`` is every head of the model) and notes on those skipped."""
    names = model.head_names if heads == "all" or heads == ["all"] else list(heads)
    parts, notes = [], []
    for name in names:
        if name not in model.heads:
            raise FgavError(f"the model has no part {name!r}; its parts: {', '.join(model.head_names)}, or all")
        missing = model.heads[name].missing_keys(provides)
        if not missing:
            parts.append(name)
        else:
            notes.append(f"part {name!r} skipped: the data has no ground truth {', '.join(map(repr, missing))}")
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


__all__ = ["AuditResult", "Plan", "adversarial_examples", "batch_to_device", "check_images", "epsilons_of",
           "gather_shards", "plan_parts", "run_audit", "shard_of"]
