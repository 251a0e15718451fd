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

from fgav.auditing.engine import DEFAULT_EPSILON, Plan, check_images, epsilons_of, plan_parts, run_audit
from fgav.auditing.flags import Evidence, Key, judge
from fgav.auditing.result import AuditResult
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
from fgav.data import make_loader
from fgav.devices import resolve_device
from fgav.errors import FgavError
from fgav.model import MultiTaskModel


def audit(
    model: MultiTaskModel | str | Path,
    data: Any = "synth",
    *,
    heads: Sequence[str] | str = ("classification",),
    attacks: Sequence[AttackSpec] = ("fgsm",),
    eps: float | Sequence[float] | None = DEFAULT_EPSILON,
    augmenters: Sequence[AugmenterSpec] = ("none",),
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
    check: bool = False,
) -> AuditResult:
    """Attack parts of a multitask FAS model and measure what each attack does.

    Args:
        model: a MultiTaskModel, or the directory of a checkpoint.
        data: a Dataset of batch dicts, a path, or ``"synth"`` (the embedded SynthSpoof).
        heads: the parts to attack (``"all"`` for every head); each part's loss is
            ascended, success is judged on the live/spoof decision.
        attacks: registered attack names or Foolbox attack instances.
        eps: one budget or a list (in each attack's norm).
        augmenters: registered augmenter names or Augmenter instances.
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
        resume: continue from ``state_path`` where an interrupted audit left it; the
            numbers are the same as an uninterrupted run's.
        check: also run the failure indicators that cost extra passes (each attack once
            more with an unbounded budget: ``unbounded-failure``). The cheap ones always run.

    Returns:
        An :class:`AuditResult` with one entry per (part, attack, epsilon, augmenter), each
        with its ``flags`` (indicators of attack failure, :mod:`fgav.auditing.flags`).
    """
    started = time.perf_counter()
    dev = resolve_device(device)
    model = frozen_model(model, dev)
    if batch_size < 1:
        raise FgavError(f"batch size must be at least 1, not {batch_size}")
    image_size = int(model.config.get("image_size", 64))
    source = data
    data = open_data(data, split=split, image_size=image_size, limit=limit)
    provides = provided_keys(data)
    parts, notes = plan_parts(model, heads, provides)
    epsilons = epsilons_of(eps)
    plan = Plan(
        parts=parts,
        attacks=build_attacks(attacks, attack_options or {}),
        epsilons=epsilons,
        augmenters=build_augmenters(augmenters, model, augmenter_options or {},
                                    training_data(source, image_size=image_size)),
        early_stop=early_stop,
        seed=seed,
        check=check,
    )
    total = len(data)
    done = [0]

    def on_batch(n: int) -> None:
        done[0] += n
        if progress is not None:
            progress(done[0], total)

    if resume and state_path is None:
        raise FgavError("resuming needs the state file of the interrupted audit (state_path)")
    fingerprint = {
        "model": model.config, "data": data_label(source),
        "split": split, "n": total, "parts": parts, "attacks": [name for name, _ in plan.attacks],
        "attack_options": {k: repr(v) for k, v in (attack_options or {}).items()},
        "augmenters": [name for name, _ in plan.augmenters], "epsilons": epsilons,
        "batch_size": batch_size, "seed": seed, "early_stop": early_stop,
        "check": check,
    }
    state = Path(state_path) if state_path is not None else None
    loader = make_loader(data, batch_size=batch_size)
    if progress is not None:
        progress(0, total)
    evidence: dict[Key, Evidence] = {}
    accumulators, skips = run_audit(model, loader, plan, provides=provides, device=dev, on_batch=on_batch,
                                    state_path=state, resume=resume, fingerprint=fingerprint, evidence=evidence)
    flags = judge(evidence)
    modes = {name: augmenter.mode for name, augmenter in plan.augmenters}
    results = []
    for (part, attack, eps_value, aug), acc in accumulators.items():
        entry: dict[str, Any] = {"part": part, "attack": attack, "epsilon": eps_value, "augmenter": aug}
        entry["mode"] = modes[aug]
        entry.update(acc.result())
        entry["early_stop"] = early_stop
        entry["attack_options"] = {k: repr(v) for k, v in (attack_options or {}).get(attack, {}).items()}
        entry["flags"] = [flag.to_dict() for flag in flags.get((part, attack, eps_value, aug), [])]
        results.append(entry)
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
        "early_stop": early_stop,
        "check": check,
        "seconds": round(time.perf_counter() - started, 3),
    }
    if state is not None:
        state.unlink(missing_ok=True)  # finished: nothing left to resume
    return AuditResult(results, config, notes, list(skips.paths))


__all__ = ["AuditResult", "audit", "check_images"]
