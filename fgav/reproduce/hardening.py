"""An experiment beyond the paper: does hardening with examples aimed at every part help the decision?

The paper closes by promising that its fine-grained examples can be used for adversarial
training; it measures nothing of the kind, so this table has no paper figure beside it.
At equal training cost (every arm crafts one example per training image with the same
attack, budget and epochs; with several parts each image is aimed at one of them in
turn), the target is hardened with examples aimed at the live/spoof decision alone, at
every part, and at every part with SFA; each is then judged by attacks it did not train
against (:func:`fgav.hardening.judge`). The figure plots the decision's robust accuracy
against the budget, before and after each arm.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from fgav.core.errors import FgavError
from fgav.core.formatting import format_epsilon
from fgav.core.io import write_atomically
from fgav.core.model import MultiTaskModel
from fgav.hardening import GRADIENT_ATTACKS, GRADIENT_FREE_ATTACKS, Judgement, harden, judge
from fgav.metrics import wilson_interval
from fgav.reports.figures import Series, line_figure, png
from fgav.reproduce.jobs import Setting
from fgav.reproduce.tables import ReproducedTable
from fgav.train.checkpointing import STATE_FILE, load_state


@dataclass(frozen=True)
class Arm:
    """One way of hardening: the parts the examples are aimed at, and the augmenter."""

    name: str
    parts: Sequence[str] | str
    augmenter: str = "none"


ARMS: tuple[Arm, ...] = (
    Arm("decision only", ["classification"]),
    Arm("every part", "all"),
    Arm("every part + SFA", "all", "sfa"),
)
# Budgets of the figure (the table reads 4/255 and 8/255).
CURVE_EPS: tuple[float, ...] = (2 / 255, 4 / 255, 8 / 255)
QUICK_HARDENING: dict[str, Any] = {"epochs": 2, "limit": 1000, "judge_limit": 64, "queries": 100,
                                   "sfa": {"epochs": 1, "limit": 800}}  # fmt: skip
Log = Callable[[str], None]


def _finished(folder: Path) -> bool:
    """Whether a hardening run in ``folder`` has done all its epochs (or was stopped by its guard)."""
    if not (folder / STATE_FILE).is_file():
        return False
    state = load_state(folder)
    return bool(state["options"].get("stopped_early")) or (not state["step"] and state["epoch"] >= state["options"]["epochs"])


def compare(
    target: MultiTaskModel,
    data: Any,
    *,
    out: Path,
    arms: Sequence[Arm] = ARMS,
    epochs: int | None = None,
    limit: int | None = None,
    eps: Sequence[float] = CURVE_EPS,
    judge_limit: int | None = 64,
    gradient: Sequence[str] = GRADIENT_ATTACKS,
    gradient_free: Sequence[str] = GRADIENT_FREE_ATTACKS,
    attack_options: Mapping[str, Mapping[str, Any]] | None = None,
    sfa_options: Mapping[str, Any] | None = None,
    harden_options: Mapping[str, Any] | None = None,
    device: Any = "auto",
    seed: int = 0,
    log: Log = lambda _line: None,
) -> dict[str, Judgement]:
    """Harden ``target`` once per arm into ``out/<arm>`` and judge each; resumable per arm.

    A finished arm (its run complete and its ``judgement.json`` written) is kept.
    ``harden_options`` go to every arm's :func:`fgav.harden` (e.g. ``eps``, ``holdout``).

    Raises:
        FgavError: the target is not on disk (hardening reads it back), or bad options.
    """
    if target.checkpoint_dir is None:
        raise FgavError("the hardening comparison needs a target saved on disk")
    judgements: dict[str, Judgement] = {}
    for arm in arms:
        folder = out / arm.name.replace(" ", "-").replace("+", "plus")
        record = folder / "judgement.json"
        if record.is_file():
            data_ = json.loads(record.read_text())
            judgements[arm.name] = Judgement(data_["rows"], data_["clean"], data_["masking"], data_["config"])
            log(f"hardening, {arm.name}: kept from the earlier run")
            continue
        started = (folder / STATE_FILE).is_file()
        if not _finished(folder):
            log(f"hardening, {arm.name}: {'continuing' if started else 'training'} in {folder}")
            run = harden(
                out=folder, checkpoint=None if started else target.checkpoint_dir, data=str(data),
                heads=arm.parts, augmenter=arm.augmenter,
                augmenter_options=sfa_options if arm.augmenter.startswith("sfa") else None,
                epochs=epochs, limit=limit, seed=seed, device=device, resume=started, progress=False,
                **dict(harden_options or {}),
            )  # fmt: skip
            log(f"hardening, {arm.name}: {run.seconds:.0f} s ({run.cpu_seconds:.0f} s CPU)")
        judgement = judge(target, folder, data, heads=["classification"], gradient=gradient,
                          gradient_free=gradient_free, eps=eps, attack_options=attack_options,
                          limit=judge_limit, device=device, seed=seed,
                          reference=next(iter(judgements.values()), None),  # the original is judged once
                          progress=False)
        write_atomically(record, json.dumps(judgement.to_dict(), indent=2) + "\n")
        judgements[arm.name] = judgement
    return judgements


def table(judgements: Mapping[str, Judgement], *, main: str, figure: str | None = None) -> ReproducedTable:
    """The comparison as a table: clean accuracy and robust accuracy at 4/255 and 8/255 per arm."""
    first = next(iter(judgements.values()))
    table_eps = [e for e in first.epsilons if any(abs(e - t) < 1e-9 for t in (4 / 255, 8 / 255))] or first.epsilons
    columns = ["clean accuracy", *[f"robust {format_epsilon(e)}" for e in table_eps]]
    rows = ["original target"]
    ours: list[list[float | None]] = [[first.clean["before"].get("classification"),
                                       *[first.robust("before", e) for e in table_eps]]]  # fmt: skip
    masked = []
    for name, j in judgements.items():
        rows.append(f"hardened: {name}")
        ours.append([j.clean["after"].get("classification"), *[j.robust("after", e) for e in table_eps]])
        masked += [f"{name}: {line}" for line in j.masking if line.startswith("after")]
    notes = [
        "The paper has no figure for this table: it promises adversarial training with its examples, "
        "and measures none.",
        "Equal training cost: each arm crafts one example per training image with the same attack (FGSM with a "
        "random start), budget and epochs; with every part, each image is aimed at one part in turn.",
        f"Robust accuracy: right when clean and not flipped, over {first.config.get('n')} test images, the lower "
        f"of {', '.join(first.config.get('gradient', []))} and {', '.join(first.config.get('gradient_free', []))}.",
    ]
    notes += [f"gradient masking: {line}" for line in masked] or ["no arm shows gradient masking"]
    if figure is not None:
        notes.append(f"![robust accuracy against epsilon]({figure})")
    return ReproducedTable("harden", f"Extra: hardening {main} with examples aimed at the decision or at every part",
                           columns, rows, ours, None, notes)  # fmt: skip


def robust_accuracy_figure(judgements: Mapping[str, Judgement]) -> Figure:
    """Robust accuracy of the decision against epsilon, with 95 % Wilson intervals: the original and each arm."""
    first = next(iter(judgements.values()))
    eps = first.epsilons

    def series(label: str, judgement: Judgement, model: str, colour: int, style: int) -> Series:
        values = [judgement.robust(model, e) for e in eps]
        n = int(judgement.config.get("n") or 0)
        intervals = [wilson_interval(round(v * n), n) if n and math.isfinite(v) else None for v in values]
        return Series(label, values, intervals, colour=colour, style=style)

    lines = [series("original target", first, "before", 7, 1)]
    lines += [series(f"hardened: {name}", j, "after", k, 0) for k, (name, j) in enumerate(judgements.items())]
    return line_figure(title="Robust accuracy of the live/spoof decision, before and after hardening",
                       x_values=[e * 255 for e in eps], x_labels=[format_epsilon(e) for e in eps], series=lines,
                       x_label="ε (L∞)", y_label="robust accuracy")  # fmt: skip


def figure(judgements: Mapping[str, Judgement], path: Path) -> Path:
    """Write :func:`robust_accuracy_figure` as a PNG at ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_atomically(path, png(robust_accuracy_figure(judgements)))


def hardening_jobs(s: Setting) -> list:
    """The extra table runs no audit job of the paper's: it hardens and judges on its own."""
    return []


def hardening_table(s: Setting, results: Mapping[str, Any]) -> ReproducedTable:
    """Harden the main target in every arm (resumable), judge each, draw the figure; the table."""
    if s.out is None:
        raise FgavError("the hardening experiment needs the reproduction's output directory")
    quick = s.limit is not None and s.limit <= QUICK_HARDENING["judge_limit"]
    folder = Path(s.out) / "hardening"
    judgements = compare(
        s.targets[s.main], s.data, out=folder, epochs=QUICK_HARDENING["epochs"] if quick else None,
        limit=QUICK_HARDENING["limit"] if quick else None, judge_limit=s.limit,
        attack_options={"square": {"queries": QUICK_HARDENING["queries"]}} if quick else None,
        sfa_options={**s.sfa_options, **(QUICK_HARDENING["sfa"] if quick else {})}, device=s.device, seed=s.seed,
    )  # fmt: skip
    png = figure(judgements, folder / "robust-accuracy.png")
    return table(judgements, main=s.main, figure=str(png.relative_to(Path(s.out))))


__all__ = ["ARMS", "Arm", "compare", "figure", "hardening_jobs", "hardening_table", "robust_accuracy_figure", "table"]
