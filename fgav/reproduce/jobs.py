"""The reproduction's unit of work: a :class:`Job` (one audit, or the transfer matrix).

The seven tables read the results of a set of jobs; a job shared by two tables (Tab. 5
and Tab. 6 read the same audits) runs once. Under torchrun the jobs are split over
the ranks by their estimated cost (:func:`job_cost`), each rank runs its own, and rank 0
builds the tables from all the results.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fgav.auditing import AuditResult, audit
from fgav.core.errors import FgavError
from fgav.core.model import MultiTaskModel
from fgav.registry import create_attack
from fgav.transfer import TransferResult, transfer

Result = AuditResult | TransferResult


@dataclass
class Setting:
    """What every experiment shares: the targets, the data, budgets and attack options."""

    targets: Mapping[str, MultiTaskModel]
    data: Any
    limit: int | None
    attack_options: Mapping[str, Mapping[str, Any]]
    sfa_options: Mapping[str, Any]
    device: Any = "auto"
    batch_size: int = 32
    seed: int = 0
    skip_augmenters: Sequence[str] = ()
    out: Path | None = None  # the reproduction's folder, for experiments that write their own files

    @property
    def main(self) -> str:
        """The backbone of the single-model tables (ResNet-18 where trained, as in the paper)."""
        return "resnet18" if "resnet18" in self.targets else next(iter(self.targets))


@dataclass(frozen=True)
class Job:
    """One audit of one target (``kind="audit"``) or the transfer among all targets (``"transfer"``).

    ``options`` are :func:`fgav.audit`'s (or :func:`~fgav.transfer.transfer`'s)
    keyword options, plus ``sfa_options`` that override the setting's SFA options.
    """

    key: str
    kind: str
    backbone: str | None
    options: Mapping[str, Any]

    def sfa_options(self, s: Setting) -> dict[str, Any]:
        """The options SFA is built with for this job."""
        return {**s.sfa_options, **self.options.get("sfa_options", {})}

    def uses_sfa(self) -> bool:
        """Whether any augmenter of this job is SFA (in any mode)."""
        return any(str(a).partition(":")[0] == "sfa" for a in self.options.get("augmenters", ()))

    def describe(self) -> str:
        """A short line for the log: what the job runs, and on what."""
        o = self.options
        attacks = o.get("attacks") or [o.get("attack")]
        where = f"on {self.backbone}" if self.backbone else "transfer among every target"
        return f"{'+'.join(map(str, attacks))} {where}, {'/'.join(map(str, o.get('augmenters', ())))}"


def unique_jobs(jobs: Sequence[Job]) -> list[Job]:
    """The jobs in order, each key once (the same key must mean the same job).

    Raises:
        FgavError: two experiments ask for different jobs under one key.
    """
    seen: dict[str, Job] = {}
    for job in jobs:
        if job.key in seen and seen[job.key] != job:
            raise FgavError(f"two experiments define the job {job.key!r} differently")
        seen.setdefault(job.key, job)
    return list(seen.values())


def run_job(s: Setting, job: Job, *, state_path: Path | None = None, resume: bool = False) -> Result:
    """Run one job: an audit (resumable per batch through ``state_path``) or the transfer."""
    options = {k: v for k, v in job.options.items() if k != "sfa_options"}
    augmenter_options = {"sfa": job.sfa_options(s)}
    if job.kind == "transfer":
        attack = options.pop("attack")
        return transfer(dict(s.targets), s.data, attack=attack, limit=s.limit, batch_size=s.batch_size,
                        device=s.device, seed=s.seed, attack_options=s.attack_options.get(attack, {}),
                        augmenter_options=augmenter_options, **options)
    if job.backbone is None:
        raise FgavError(f"the audit job {job.key!r} names no target")
    return audit(s.targets[job.backbone], s.data, limit=s.limit, batch_size=s.batch_size, device=s.device,
                 seed=s.seed, attack_options=s.attack_options, augmenter_options=augmenter_options,
                 state_path=state_path, resume=resume, **options)


def model_flops(model: MultiTaskModel) -> float:
    """The floating-point operations of one forward pass of one image (a cost measure)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    size = int(model.config.get("image_size", 64))
    x = torch.zeros(1, 3, size, size, device=next(model.parameters()).device)
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(x)
    return float(counter.get_total_flops()) or 1.0


def attack_steps(name: str, options: Mapping[str, Any]) -> int:
    """The gradient steps one run of an attack takes (steps x binary searches x restarts)."""
    attack = create_attack(name, **dict(options))
    steps = 1
    for attribute in ("steps", "binary_search_steps", "restarts"):
        value = getattr(attack, attribute, None)
        if isinstance(value, int) and value > 0:
            steps *= value
    return steps


def job_cost(s: Setting, job: Job, flops: Mapping[str, float]) -> float:
    """A job's estimated cost: forward-pass FLOPs x passes (every job sees the same images).

    A one-step attack takes one gradient for all its budgets, then one forward pass per
    budget; an iterative one runs per budget.
    """
    o = job.options

    def passes(attack: str, n_eps: int) -> float:
        steps = attack_steps(attack, s.attack_options.get(attack, {}))
        return 3.0 + n_eps if steps == 1 else 3.0 * steps * n_eps

    n_eps = len(o["eps"]) if isinstance(o.get("eps"), (list, tuple)) else 1
    n_aug = len(o.get("augmenters", ("none",)))
    if job.kind == "transfer":
        every = sum(flops[name] for name in s.targets)
        per_source = passes(str(o["attack"]), n_eps)
        return n_aug * sum(flops[src] * per_source + every * n_eps for src in s.targets)
    if job.backbone is None:
        raise FgavError(f"the audit job {job.key!r} names no target")
    model = s.targets[job.backbone]
    heads = o.get("heads", ("classification",))
    n_parts = len(model.heads) if heads == "all" else len(heads)
    return flops[job.backbone] * n_parts * n_aug * sum(passes(a, n_eps) for a in o.get("attacks", ("fgsm",)))
