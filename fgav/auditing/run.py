"""The fine-grained audit: any Foolbox attack aimed at any part, with and without SFA.

``fgav.audit(model, data, heads=..., attacks=..., eps=..., augmenters=..., limit=...)``
returns an :class:`AuditResult`; ``fgav audit`` is the same on the command line.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import Subset

from fgav.auditing.choices import parse_epsilons, parse_names, unique, unique_epsilons
from fgav.auditing.engine import DEFAULT_EPSILON, Plan, check_images, gather_shards, plan_parts, run_audit, shard_of
from fgav.auditing.flags import Evidence, Key, judge
from fgav.auditing.result import AuditEntry, AuditResult
from fgav.auditing.setup import (
    AttackSpec,
    AugmenterSpec,
    build_attacks,
    build_augmenters,
    data_label,
    frozen_model,
    open_data,
    provided_keys,
    training_data,
)
from fgav.auditing.state import claim_state, data_fingerprint, rank_state_path, settings_of, tensor_digest
from fgav.core.devices import full_precision, resolve_device
from fgav.core.distributed import DistContext, on_main, raise_together
from fgav.core.errors import FgavError
from fgav.core.model import MultiTaskModel
from fgav.data import make_loader


def audit(
    model: MultiTaskModel | str | Path,
    data: Any = "synth",
    *,
    heads: Sequence[str] | str = ("classification",),
    attacks: Sequence[AttackSpec] | str = ("fgsm",),
    eps: float | str | Sequence[float | str] | None = DEFAULT_EPSILON,
    augmenters: Sequence[AugmenterSpec] | str = ("none",),
    limit: int | None = None,
    batch_size: int = 32,
    device: str | torch.device = "auto",
    seed: int = 0,
    attack_options: Mapping[str, Mapping[str, Any]] | None = None,
    augmenter_options: Mapping[str, Mapping[str, Any]] | None = None,
    early_stop: bool = True,
    split: str = "test",
    progress: Callable[[int, int], None] | None = None,
    state_path: str | Path | None = None,
    resume: bool = False,
    restart: bool = False,
    keep_state: bool = False,
    check: bool = False,
    world: DistContext | None = None,
) -> AuditResult:
    """Attack parts of a multitask FAS model and measure what each attack does.

    Args:
        model: a MultiTaskModel, or the directory of a checkpoint.
        data: a Dataset of batch dicts, a path, or ``"synth"`` (the embedded SynthSpoof).
        heads: the parts to attack (``"all"`` for every head), a list or one string
            (``"depth"``, ``"depth,attribute"``); each part's loss is ascended, success is
            judged on the live/spoof decision.
        attacks: registered attack names or Foolbox attack instances (or one string).
        eps: one budget or a list (in each attack's norm), numbers or strings as the
            command line takes them (``"8/255"``, ``"2/255,8/255"``). A value given twice
            (a budget, part, attack or augmenter) is attacked once, with a note.
        augmenters: registered augmenter names or Augmenter instances (or one string).
        limit: attack only the first ``limit`` samples.
        batch_size: samples per batch.
        device: ``auto``, ``cpu`` or ``cuda``.
        seed: seeds the random starts of attacks.
        attack_options: keyword options per attack name.
        augmenter_options: keyword options per augmenter name.
        early_stop: iterative gradient attacks stop per sample once the decision flipped.
        split: the split of ``data`` to attack when it is a path.
        progress: called with (samples done, samples in all) after each batch, and with
            (0, samples in all) once everything is built, before the first batch.
        state_path: save the audit's state here after every batch (removed at the end).
            An existing state (an interrupted audit's progress) is never overwritten
            silently: give ``resume`` or ``restart``.
        resume: continue from ``state_path`` where an interrupted audit left it; the
            numbers are the same as an uninterrupted run's. A state written with anything
            that changes the numbers changed (weights, data, settings) is refused.
        restart: discard the state at ``state_path`` and start again.
        keep_state: leave the finished audit's state at ``state_path``; the caller removes
            it once the result is safely written (``resume`` then returns the result
            without attacking again).
        check: also run the failure indicators that cost extra passes (each attack once
            more with an unbounded budget: ``unbounded-failure``). The cheap ones always run.
        world: torchrun's world to split the samples over
            (:func:`fgav.core.distributed.init_distributed`; every rank calls ``audit``
            alike). Each rank attacks a contiguous block of batches on its own device
            (``LOCAL_RANK``'s GPU), saves its progress to its own state file
            (``state_path.rank-R-of-W``), and every rank returns the whole result, equal to
            one process's: a batch holds the same samples and draws the same random
            starts whichever rank attacks it. ``progress`` counts this rank's samples.
            ``None`` (or a world of one): one process.

    Returns:
        An :class:`AuditResult` with one entry per (part, attack, epsilon, augmenter), each
        with its ``flags`` (indicators of attack failure, :mod:`fgav.auditing.flags`).
    """
    started = time.perf_counter()
    if batch_size < 1:
        raise FgavError(f"batch size must be at least 1, not {batch_size}")
    if limit is not None and limit < 1:
        raise FgavError(f"limit must be at least 1, not {limit}")
    ctx = world if world is not None and world.distributed else None  # None: one process
    state = rank_state_path(Path(state_path) if state_path is not None else None, world)
    claim_state(state, resume=resume, restart=restart)
    # One string or a list, as the command line gives them; a repeat would count twice.
    head_names, notes = unique(parse_names(heads, what="part"), what="part")
    attack_specs, repeated = unique(parse_names(attacks, what="attack"), what="attack", key=_identity)
    notes += repeated
    augmenter_specs, repeated = unique(parse_names(augmenters, what="augmenter"), what="augmenter", key=_identity)
    notes += repeated
    epsilons, repeated = unique_epsilons(parse_epsilons(eps))
    notes += repeated
    dev = ctx.device if ctx is not None else resolve_device(device)
    model = frozen_model(model, dev)
    image_size = int(model.config.get("image_size", 64))
    source = data
    data = open_data(data, split=split, image_size=image_size, limit=limit)
    provides = provided_keys(data)
    parts, skipped_parts = plan_parts(model, "all" if "all" in head_names else head_names, provides)
    notes += skipped_parts

    def fit_augmenters() -> list[tuple[str, Any]]:
        return build_augmenters(augmenter_specs, model, augmenter_options or {},
                                training_data(source, image_size=image_size))

    # Under torchrun rank 0 fits (and caches) any augmenter first; the others then load it.
    built = on_main(fit_augmenters, ctx) if ctx is not None else None
    plan = Plan(
        parts=parts,
        attacks=_distinct(build_attacks(attack_specs, attack_options or {}), what="attack"),
        epsilons=epsilons,
        augmenters=_distinct(built if built is not None else fit_augmenters(), what="augmenter"),
        early_stop=early_stop,
        seed=seed,
        check=check,
    )
    samples, first_batch = shard_of(len(data), batch_size, ctx) if ctx is not None else (range(len(data)), 0)
    total = len(samples)
    done = [0]

    def on_batch(n: int) -> None:
        done[0] += n
        if progress is not None:
            progress(done[0], total)

    fingerprint: dict[str, Any] = {}
    if state is not None:  # everything that changes the numbers: a resume with any of it changed is refused
        fingerprint = {
            "model": model.config, "weights": tensor_digest(model.state_dict().items()),
            "data": data_label(source), "data_content": data_fingerprint(data),
            "split": split, "n": total, "parts": parts, "attacks": [name for name, _ in plan.attacks],
            "attack_options": {k: repr(v) for k, v in (attack_options or {}).items()},
            "attack_settings": {name: settings_of(attack) for name, attack in plan.attacks},
            "augmenters": [name for name, _ in plan.augmenters],
            "augmenter_options": {k: repr(v) for k, v in (augmenter_options or {}).items()},
            "augmenter_settings": {name: settings_of(augmenter) for name, augmenter in plan.augmenters},
            "epsilons": epsilons, "batch_size": batch_size, "seed": seed, "early_stop": early_stop,
            "check": check, "shard": [samples.start, samples.stop],
        }
    loader = make_loader(Subset(data, samples) if ctx is not None else data, batch_size=batch_size)
    if progress is not None:
        progress(0, total)
    evidence: dict[Key, Evidence] = {}
    error: str | None = None
    try:
        with full_precision():  # no TF32: the decision an attack judged is the one re-evaluated
            accumulators, skips = run_audit(model, loader, plan, provides=provides, device=dev, on_batch=on_batch,
                                            state_path=state, resume=resume, fingerprint=fingerprint,
                                            evidence=evidence, first_batch=first_batch)
    except FgavError as exc:
        if ctx is None:
            raise
        error = str(exc)
    if ctx is not None:
        raise_together(error, ctx)  # one rank's bad batch stops every rank with its line
    skipped = list(skips.paths)
    if ctx is not None:
        accumulators, evidence, skipped = gather_shards(ctx, model, provides, accumulators, evidence, skipped)
    flags = judge(evidence)
    modes = {name: augmenter.mode for name, augmenter in plan.augmenters}
    results = []
    for (part, attack, eps_value, aug), acc in accumulators.items():
        results.append(AuditEntry.from_mapping({
            "part": part, "attack": attack, "epsilon": eps_value, "augmenter": aug, "mode": modes[aug],
            **acc.result(),
            "early_stop": early_stop,
            "attack_options": {k: repr(v) for k, v in (attack_options or {}).get(attack, {}).items()},
            "flags": [flag.to_dict() for flag in flags.get((part, attack, eps_value, aug), [])],
        }))
    config = {
        "model": model.config,
        "checkpoint": str(model.checkpoint_dir) if model.checkpoint_dir else None,
        "data": data_label(source),
        "split": split,
        "parts": parts,
        "attacks": [name for name, _ in plan.attacks],
        "epsilons": epsilons,
        "augmenters": [name for name, _ in plan.augmenters],
        "limit": limit,
        "batch_size": batch_size,
        "seed": seed,
        "device": str(dev),
        "processes": ctx.world_size if ctx is not None else 1,
        "early_stop": early_stop,
        "check": check,
        "seconds": round(time.perf_counter() - started, 3),
    }
    if state is not None and not keep_state:
        state.unlink(missing_ok=True)  # finished: nothing left to resume
    return AuditResult(results, config, notes, skipped)


def _identity(spec: Any) -> Any:
    """What makes two attack or augmenter specs the same: the name, or the very object."""
    return spec if isinstance(spec, str) else id(spec)


def _distinct(built: list[tuple[str, Any]], *, what: str) -> list[tuple[str, Any]]:
    """Refuse two components under one label: their results would be counted together."""
    labels = [label for label, _ in built]
    clashes = sorted({label for label in labels if labels.count(label) > 1})
    if clashes:
        raise FgavError(f"two {what}s are both named {clashes[0]!r}; give each {what} once "
                        "(an instance's name attribute tells them apart)")
    return built


__all__ = ["AuditResult", "audit", "check_images"]
