"""``fgav reproduce``: train or reuse the targets and their SFA modules, run every experiment
of Sec. 4, and write ``DIR/report.md`` with the seven tables beside the paper's.

The run goes in phases: the targets, their SFA modules, then the jobs (the audits and
the transfer the tables read), then the tables, figures and report. Each finished job is
written as JSON (``DIR/audits/KEY.json``); an audit also saves its state after every
batch. ``resume`` keeps the finished jobs and continues an interrupted audit from its
last batch, so the numbers equal an uninterrupted run's (every audit is seeded).

Under ``torchrun --nproc_per_node=N -m fgav reproduce`` every phase is split over the N
ranks (targets and SFA modules by backbone, jobs by their estimated cost); each rank
trains and attacks on its own (GPU ``LOCAL_RANK`` on CUDA) and rank 0 writes the report.
``DIR`` must be on a file system every rank sees (always so on one machine).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any, TypedDict

import torch
from rich.console import Console

from fgav.core.devices import resolve_device
from fgav.core.distributed import DistContext, balance, init_distributed, single_process
from fgav.core.errors import FgavError
from fgav.core.io import safe_name, write_atomically
from fgav.core.model import MultiTaskModel
from fgav.data import open_dataset
from fgav.factory import build_model, load_model
from fgav.registry import get_augmenter
from fgav.reports import load_result
from fgav.reproduce.experiments import EXPERIMENTS, names, plan
from fgav.reproduce.figures import write_figures
from fgav.reproduce.jobs import Job, Result, Setting, job_cost, model_flops, run_job
from fgav.reproduce.paper import BACKBONES
from fgav.reproduce.tables import Comparison, ReproducedTable
from fgav.targets import default, is_cached
from fgav.train import train

# How long a rank waits at a barrier for the slowest one (a long C&W audit on a big target).
BARRIER_TIMEOUT = timedelta(hours=24)
Log = Callable[[str], None]


class Profile(TypedDict):
    """A reproduction's scale: training, test images, SFA's options and each attack's."""

    train_epochs: int | None
    train_limit: int | None
    test_limit: int | None
    sfa: dict[str, Any]
    attacks: dict[str, dict[str, Any]]


# Only the steps are cut in the quick profile: fgav.create_attack scales each attack's step
# size to its steps (fgav.core.options.follow_steps), so PGD at 10 steps still crosses its
# budget (2.5 eps of travel) and C&W's Adam step grows tenfold. C&W and EAD drop abort_early,
# which at 10 steps checks the loss after every step and ends the search at its first rise.
QUICK: Profile = {
    "train_epochs": 3, "train_limit": None, "test_limit": 64, "sfa": {"epochs": 1, "limit": 800},
    "attacks": {"cw": {"steps": 10, "binary_search_steps": 2, "abort_early": False},
                "ead": {"steps": 10, "binary_search_steps": 2, "abort_early": False},
                "pgd": {"steps": 10}, "stadv": {"steps": 20}, "sparse": {"steps": 10, "restarts": 1}},
}
# Every built-in attack's defaults are bounded (docs/audit.md, "Attack defaults and times").
FULL: Profile = {
    "train_epochs": None, "train_limit": None, "test_limit": None, "sfa": {"epochs": 3}, "attacks": {},
}


def _targets(backbones: Sequence[str], data: str, out: Path, profile: Profile, quick: bool, ctx: DistContext,
             console: Console, log: Log) -> dict[str, MultiTaskModel]:
    """The target of each backbone: the cached default (full run on synth) or trained into DIR/models.

    Each rank trains its share of the backbones alone, then every rank loads them all.
    """
    folders = {b: out / "models" / safe_name(b) for b in backbones}
    if data == "synth" and not quick:
        todo = [b for b in backbones if not is_cached(b)]
    else:
        todo = list(backbones)  # a finished training is only checked (resume)
    started = {b: (folders[b] / "config.json").is_file() for b in todo}  # looked at before anyone writes
    ctx.barrier()
    cost = _training_cost if ctx.distributed else (lambda _b: 1.0)
    for backbone in balance(todo, cost, ctx.world_size)[ctx.rank]:
        with single_process():
            if data == "synth" and not quick:
                default(backbone, device=ctx.device, progress=ctx.is_main, console=console)
                continue
            log(f"{'checking' if started[backbone] else 'training'} the {backbone} target in {folders[backbone]}")
            train(backbone=backbone, out=folders[backbone], data=data, epochs=profile["train_epochs"],
                  limit=profile["train_limit"], device=ctx.device, resume=started[backbone],
                  progress=ctx.is_main, console=console)  # fmt: skip
    ctx.barrier()
    if data == "synth" and not quick:
        return {b: default(b, device=ctx.device, progress=False) for b in backbones}
    return {b: load_model(folders[b], device=ctx.device) for b in backbones}


def _training_cost(backbone: str) -> float:
    """A target's training cost for the split over ranks: its forward-pass FLOPs at 64 px."""
    return model_flops(build_model(backbone, image_size=64))


def _prepare_sfa(s: Setting, jobs: Sequence[Job], ctx: DistContext, log: Log) -> None:
    """Load or train every SFA module the jobs and figures use, each rank its share of targets.

    All the modules of one target are made by one rank, one after the other, so that two
    never race for the target's ``sfa/`` folder; the default options come first.
    """
    needed: dict[str, list[dict[str, Any]]] = {s.main: [dict(s.sfa_options)]}
    for job in jobs:
        if job.uses_sfa():
            for backbone in [job.backbone] if job.backbone else list(s.targets):
                options = job.sfa_options(s)
                if options not in needed.setdefault(backbone, []):
                    needed[backbone].append(options)
    for backbone in balance(list(needed), lambda b: float(len(needed[b])), ctx.world_size)[ctx.rank]:
        model = s.targets[backbone]
        train = open_dataset(s.data, split="train", image_size=int(model.config.get("image_size", 64)))
        for options in needed[backbone]:
            log(f"SFA of {backbone}: {', '.join(f'{k}={v}' for k, v in options.items()) or 'defaults'}")
            get_augmenter("sfa").for_model(model, data=train, **options)
    ctx.barrier()


def _run_or_load(s: Setting, job: Job, folder: Path, resume: bool, log: Log) -> Result:
    """A job's result: kept from an earlier run on ``resume``, else run (an audit from its saved state)."""
    path = folder / f"{job.key}.json"
    if resume and path.is_file():
        kept = load_result(path)
        ran = {"limit": kept.config.get("limit"), "seed": kept.config.get("seed")}
        if ran != {"limit": s.limit, "seed": s.seed}:
            raise FgavError(f"{path} was made with {ran}, not {({'limit': s.limit, 'seed': s.seed})}: "
                            "resume with the earlier options, or use another --out")
        log(f"{job.key}: kept from the earlier run")
        return kept
    state = folder / f".{job.key}.state"
    log(f"{job.key}: {job.describe()}{' (from its last batch)' if resume and state.is_file() else ''}")
    started = time.perf_counter()
    result = run_job(s, job, state_path=state if job.kind == "audit" else None, resume=resume and state.is_file())
    result.to_json(path)
    log(f"{job.key}: done in {time.perf_counter() - started:.0f} s")
    return result


def reproduce(
    *,
    out: str | Path,
    backbones: Sequence[str] = BACKBONES,
    data: str = "synth",
    quick: bool = False,
    resume: bool = False,
    only: Sequence[str] | None = None,
    limit: int | None = None,
    device: str | torch.device = "auto",
    seed: int = 0,
    console: Console | None = None,
) -> Path | None:
    """Run the paper's experiments and write ``out/report.md``; return its path.

    Under torchrun, every rank calls this; the work is split over them, and rank 0
    writes the report (the other ranks return None).

    Args:
        out: the output directory (tables, audits, figures, report, quick targets).
        backbones: the backbones compared (the paper's four by default).
        data: a data set path or ``synth``.
        quick: small targets, 64 test images and short attacks: minutes on a CPU.
        resume: keep the jobs an interrupted run finished and continue the one it was in.
        only: run only these experiments (``tab1`` ... ``tab7``).
        limit: test images per experiment (default: 64 quick, all otherwise).
        device: ``auto``, ``cpu`` or ``cuda``.
        seed: seeds every audit.
    """
    console = console or Console(stderr=True)
    ctx = init_distributed(resolve_device(device), timeout=BARRIER_TIMEOUT)
    try:
        return _reproduce(ctx, out=Path(out), backbones=backbones, data=data, quick=quick, resume=resume,
                          only=only, limit=limit, seed=seed, console=console)
    finally:
        ctx.close()


def _reproduce(ctx: DistContext, *, out: Path, backbones: Sequence[str], data: str, quick: bool, resume: bool,
               only: Sequence[str] | None, limit: int | None, seed: int, console: Console) -> Path | None:
    started = time.perf_counter()
    tables_dir, audits_dir = out / "tables", out / "audits"
    if not resume and (any(tables_dir.glob("*.json")) or any(audits_dir.glob("*.json"))):
        raise FgavError(f"{out} holds an earlier reproduction: use --resume to continue it, or another --out")
    prefix = f"[rank {ctx.rank}] " if ctx.distributed else ""

    def log(line: str) -> None:
        console.print(prefix + line, highlight=False, markup=False, soft_wrap=True)

    profile = QUICK if quick else FULL
    targets = _targets(backbones, data, out, profile, quick, ctx, console, log)
    setting = Setting(targets=targets, data=data, limit=limit or profile["test_limit"],
                      skip_augmenters=("scorecam",) if quick else (), attack_options=profile["attacks"],
                      sfa_options=profile["sfa"], device=ctx.device, seed=seed, out=out)
    selected = names(only)
    jobs = plan(setting, selected)
    _prepare_sfa(setting, jobs, ctx, log)
    mine = jobs
    if ctx.distributed:
        flops = {name: model_flops(model) for name, model in targets.items()}
        mine = balance(jobs, lambda job: job_cost(setting, job, flops), ctx.world_size)[ctx.rank]
        log(f"{len(mine)} of the {len(jobs)} jobs: {', '.join(job.key for job in mine) or 'none'}")
    audits_dir.mkdir(parents=True, exist_ok=True)
    results = {job.key: _run_or_load(setting, job, audits_dir, resume, log) for job in mine}
    ctx.barrier()
    if not ctx.is_main:
        ctx.barrier()  # wait for rank 0's report, so that every rank ends together
        return None
    for job in jobs:
        if job.key not in results:  # another rank's
            results[job.key] = load_result(audits_dir / f"{job.key}.json")
    tables_dir.mkdir(parents=True, exist_ok=True)
    tables = []
    for name in selected:
        table = EXPERIMENTS[name].table(setting, results)
        write_atomically(tables_dir / f"{name}.json", json.dumps(table.to_dict(), indent=2) + "\n")
        tables.append(table)
    figures = write_figures(setting, results, out, log)
    report = _report(tables, figures, setting, data=data, quick=quick, seconds=time.perf_counter() - started,
                     processes=ctx.world_size)
    write_atomically(out / "report.md", report)
    ctx.barrier()
    return out / "report.md"


def _reading(tables: list[ReproducedTable]) -> list[str]:
    """What the tables support, and only that: each paired comparison's outcome, counted per table.

    A difference is stated only where McNemar's test on the same samples gives p < 0.05;
    everything else is reported as no significant difference.
    """
    lines = []
    for table in tables:
        pairs: dict[tuple[str, str], list[Comparison]] = {}
        for c in table.comparisons:
            pairs.setdefault((c.a, c.b), []).append(c)
        label = table.title.split(":")[0]
        for (a, b), tests in pairs.items():
            parts = []
            for verdict in ("higher", "lower"):
                rows = [c.row for c in tests if c.verdict == verdict]
                if rows:
                    parts.append(f"{verdict} in {len(rows)} ({', '.join(rows)})")
            same = sum(not c.significant for c in tests)
            if same:
                parts.append(f"no significant difference in {same}")
            lines.append(f"- {label}, {a} against {b}, of {len(tests)} rows: {'; '.join(parts)}.")
    if not lines:
        return []
    return ["## What the numbers support", "",
            "Each statement comes from McNemar's paired test on the same samples; a difference is claimed only "
            "where p < 0.05 (the tables list every test). In push mode the attack starts from S(x), so an "
            "SFA gain is read against S(x) alone (no attack) and against guide mode (the attack's own budget).",
            "", *lines, ""]


def _report(tables: list[ReproducedTable], figures: list[tuple[str, str]], s: Setting, *, data: str, quick: bool,
            seconds: float, processes: int) -> str:
    lines = ["# fgav: the paper's experiments, reproduced", ""]
    ran = f"{processes} processes (torchrun)" if processes > 1 else "one process"
    lines.append(f"Data: `{data}`; targets: {', '.join(s.targets)}; test images per experiment: "
                 f"{s.limit or 'all'}; {'quick' if quick else 'full'} run; {ran}; {seconds / 60:.1f} minutes.")
    lines.append("Each cell is ours, with its 95 % Wilson interval in brackets where it is a rate and the paper's "
                 "figure (CelebA-Spoof) in parentheses. Budgets and attack settings: docs/reproduce.md.\n")
    lines += _reading(tables)
    for table in tables:
        lines.append(table.to_markdown())
    for title, path in figures:
        lines += [f"### {title}", "", f"![{title}]({path})", ""]
    lines.append("Raw results: `audits/*.json` (fgav report turns any of them into HTML).")
    return "\n".join(lines) + "\n"
