"""The before/after judgement of a hardened model, by attacks it did not train against.

Per part, before and after: the clean accuracy of every head, and the robust accuracy of
the live/spoof decision (right when clean and not flipped, over all samples) at several
budgets under a gradient attack and a gradient-free one. A model whose gradient-free
robust accuracy falls far below its gradient one is masking gradients (Carlini et al.,
"On Evaluating Adversarial Robustness", 2019): it is reported so, and its robust
accuracy is the lower figure, never the higher.

The attacks are parameters (registered names); the defaults are the two halves of the
``reliable`` ensemble, run apart so that their figures can be compared: APGD (20 steps)
and Square (300 queries), sized so that a 64-image judgement stays in minutes on a CPU.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import torch
from rich.console import Console
from rich.progress import TaskID
from rich.table import Table

from fgav.auditing import audit
from fgav.core.errors import FgavError
from fgav.core.formatting import format_epsilon, markdown_table
from fgav.core.model import CLASSIFICATION, MultiTaskModel
from fgav.core.progress import ProgressLike, progress_display
from fgav.factory import load_model

JUDGE_EPSILONS: tuple[float, ...] = (2 / 255, 4 / 255, 8 / 255)
GRADIENT_ATTACKS: tuple[str, ...] = ("apgd",)
GRADIENT_FREE_ATTACKS: tuple[str, ...] = ("square",)
# Bounded for a CPU: APGD's step-size schedule converges in far fewer steps than its
# default 100 on 64-px inputs, and Square's wide early windows do most of their work in
# the first few hundred queries (its default is 1,000).
JUDGE_ATTACK_OPTIONS: dict[str, dict[str, Any]] = {"apgd": {"steps": 20}, "square": {"queries": 300}}
# The audit's flags that mean the gradients the attack followed were masked or broken.
MASKING_FLAGS: tuple[str, ...] = ("zero-gradients", "unbounded-failure")
# A gradient-free robust accuracy this far below the gradient one reads as masked gradients.
MASKING_GAP = 0.10


def robust_accuracy(entry: Mapping[str, Any]) -> float:
    """Right when clean and not flipped, over all samples, from an audit result's entry."""
    n = int(entry["n"])
    if n == 0:
        return math.nan
    right = int(entry["n_right_clean"])
    asr = entry["asr"]
    flipped = 0 if right == 0 or asr is None or not math.isfinite(asr) else round(asr * right)
    return (right - flipped) / n


@dataclass
class Judgement:
    """Before/after figures: clean accuracies, robust accuracies, and what masks gradients.

    ``rows`` has one dict per (model, part, attack, epsilon): ``model`` (``before`` or
    ``after``), ``part``, ``attack``, ``kind`` (``gradient`` or ``gradient-free``),
    ``epsilon``, ``robust_accuracy``, ``asr``, ``n`` and the audit's ``flags`` (if any).
    """

    rows: list[dict[str, Any]]
    clean: dict[str, dict[str, float]]
    masking: list[str] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)

    def robust(self, model: str, epsilon: float, *, part: str = CLASSIFICATION, kind: str | None = None) -> float:
        """The decision's robust accuracy: the lowest over the attacks (of ``kind``) at a budget.

        Gradient-free attacks judge the decision alone, so they count for every part.
        """
        values = [
            r["robust_accuracy"] for r in self.rows
            if r["model"] == model and abs(r["epsilon"] - epsilon) < 1e-9
            and (r["part"] == part or r["kind"] == "gradient-free") and (kind is None or r["kind"] == kind)
        ]  # fmt: skip
        return min(values) if values else math.nan

    @property
    def parts(self) -> list[str]:
        """The parts the gradient attacks were aimed at, in order."""
        return list(dict.fromkeys(r["part"] for r in self.rows if r["kind"] == "gradient"))

    @property
    def epsilons(self) -> list[float]:
        """The budgets, in order."""
        return sorted({float(r["epsilon"]) for r in self.rows})

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (NaN as null)."""
        clean = lambda v: None if isinstance(v, float) and not math.isfinite(v) else v  # noqa: E731
        rows = [{k: clean(v) for k, v in r.items()} for r in self.rows]
        return {"rows": rows, "clean": self.clean, "masking": self.masking, "config": self.config}

    def summary(self) -> list[list[str]]:
        """Rows of (part, budget, before: gradient / gradient-free / robust, after: the same, change)."""
        body = []
        for part in self.parts:
            for eps in self.epsilons:
                cells = [part, format_epsilon(eps)]
                for model in ("before", "after"):
                    cells += [_fmt(self.robust(model, eps, part=part, kind=k)) for k in ("gradient", "gradient-free")]
                    cells.append(_fmt(self.robust(model, eps, part=part)))
                change = self.robust("after", eps, part=part) - self.robust("before", eps, part=part)
                cells.append(_fmt(change, sign=True))
                body.append(cells)
        return body

    HEADER: ClassVar[tuple[str, ...]] = ("aimed at", "eps", "before grad", "before free", "before robust",
                                         "after grad", "after free", "after robust", "change")  # fmt: skip

    def to_markdown(self) -> str:
        """The clean-accuracy and robust-accuracy tables, and the masking verdicts, in Markdown."""
        heads = list(dict.fromkeys(h for m in self.clean.values() for h in m))
        lines = ["Clean accuracy of every head:", ""]
        lines += markdown_table(["head", "before", "after"],
                                [[h, _fmt(self.clean["before"].get(h)), _fmt(self.clean["after"].get(h))] for h in heads])
        lines += ["", "Robust accuracy of the live/spoof decision (the lowest over the attacks):", ""]
        lines += markdown_table(list(self.HEADER), self.summary())
        lines += [""] + ([f"- masking: {m}" for m in self.masking] or ["- no sign of gradient masking"])
        return "\n".join(lines) + "\n"

    def tables(self) -> list[Table]:
        """Rich tables: clean accuracies, then robust accuracies."""
        clean = Table(title="clean accuracy")
        for column in ("head", "before", "after"):
            clean.add_column(column, justify="left" if column == "head" else "right")
        for h in dict.fromkeys(h for m in self.clean.values() for h in m):
            clean.add_row(h, _fmt(self.clean["before"].get(h)), _fmt(self.clean["after"].get(h)))
        robust = Table(title="robust accuracy of the live/spoof decision",
                       caption="grad: " + ", ".join(self.config.get("gradient", [])) + "; free: "
                       + ", ".join(self.config.get("gradient_free", [])) + f"; n = {self.config.get('n')}")  # fmt: skip
        for column in self.HEADER:
            robust.add_column(column, justify="left" if column == "aimed at" else "right")
        for row in self.summary():
            robust.add_row(*row)
        return [clean, robust]


def _fmt(value: float | None, *, sign: bool = False) -> str:
    if value is None or not math.isfinite(value):
        return "-"
    return f"{value:+.3f}" if sign else f"{value:.3f}"


def judge_attack_options(given: Mapping[str, Mapping[str, Any]] | None) -> dict[str, dict[str, Any]]:
    """The judging attacks' options: per attack, the given ones over :data:`JUDGE_ATTACK_OPTIONS`.

    Merged option by option: ``{"square": {"p_init": 0.5}}`` keeps Square's 300 queries,
    and an empty dict for an attack (what ``fgav harden`` passes without
    ``--judge-option``) keeps its CPU-sized defaults instead of resetting them.
    """
    given = {k: dict(v) for k, v in (given or {}).items()}
    return {name: {**JUDGE_ATTACK_OPTIONS.get(name, {}), **given.get(name, {})}
            for name in sorted({*JUDGE_ATTACK_OPTIONS, *given})}


def judge(
    before: MultiTaskModel | str | Path,
    after: MultiTaskModel | str | Path,
    data: Any = "synth",
    *,
    split: str = "test",
    heads: Sequence[str] | str = (CLASSIFICATION,),
    gradient: Sequence[str] = GRADIENT_ATTACKS,
    gradient_free: Sequence[str] = GRADIENT_FREE_ATTACKS,
    eps: Sequence[float] = JUDGE_EPSILONS,
    attack_options: Mapping[str, Mapping[str, Any]] | None = None,
    limit: int | None = 64,
    batch_size: int = 32,
    device: str | torch.device = "auto",
    seed: int = 0,
    check: bool = False,
    reference: Judgement | None = None,
    progress: bool = True,
    console: Console | None = None,
) -> Judgement:
    """Judge a hardened model against its original with attacks it did not train against.

    Args:
        before: the original target (a model or its checkpoint directory).
        after: the hardened model.
        data: the data to attack (``synth``, a path, or a Dataset of batch dicts).
        split: the split of ``data`` when it is a path.
        heads: the parts the gradient attacks are aimed at (``all`` for every head);
            the gradient-free attacks read the decision only.
        gradient: gradient attacks (registered names; default ``apgd``).
        gradient_free: gradient-free attacks (registered names; default ``square``).
        eps: the L-inf budgets.
        attack_options: keyword options per attack name, over :data:`JUDGE_ATTACK_OPTIONS`
            (APGD with 20 steps, Square with 300 queries).
        check: also run the audit's costly failure indicators (``unbounded-failure``:
            each attack again with an unbounded budget).
        limit: attack the first ``limit`` samples.
        batch_size, device, seed: as :func:`fgav.audit`.
        reference: an earlier judgement of the same original with the same options, whose
            ``before`` figures are reused instead of attacking the original again.
        progress: show each audit's progress (a bar, or plain lines where the output is no
            terminal): the judgement is most of a default ``fgav harden``'s time.
        console: where the progress goes (default stderr).

    Raises:
        FgavError: no attack, or a bad name or option (from the audit).
    """
    if not gradient and not gradient_free:
        raise FgavError("the judgement needs at least one attack")
    options = judge_attack_options(attack_options)
    started = time.perf_counter()
    rows: list[dict[str, Any]] = []
    clean: dict[str, dict[str, float]] = {}
    n = 0
    models: list[tuple[str, Any]] = [("before", before), ("after", after)]
    if reference is not None:
        rows += [dict(r) for r in reference.rows if r["model"] == "before"]
        clean["before"] = dict(reference.clean["before"])
        models = models[1:]
    for label, spec in models:
        model = spec if isinstance(spec, MultiTaskModel) else load_model(spec)
        runs = [("gradient", list(gradient), heads), ("gradient-free", list(gradient_free), (CLASSIFICATION,))]
        for kind, names, parts in runs:
            if not names:
                continue
            with progress_display(enabled=progress, console=console) as shown:
                task = shown.add_task(f"judging {label}: {', '.join(names)}", total=None)

                def advance(done: int, total: int, task: TaskID = task, shown: ProgressLike = shown) -> None:
                    shown.update(task, completed=done, total=total)

                result = audit(
                    model, data, heads=parts, attacks=names, eps=list(eps), limit=limit, batch_size=batch_size,
                    device=device, seed=seed, split=split, check=check, progress=advance,
                    attack_options={k: v for k, v in options.items() if k in names},
                )  # fmt: skip
            for entry in result.results:
                n = int(entry["n"])
                clean.setdefault(label, dict(entry["clean_accuracy"]))
                rows.append({
                    "model": label, "part": entry["part"], "attack": entry["attack"], "kind": kind,
                    "epsilon": float(entry["epsilon"]), "robust_accuracy": robust_accuracy(entry),
                    "asr": entry["asr"], "n": int(entry["n"]), "flags": list(entry.get("flags", [])),
                })  # fmt: skip
    judgement = Judgement(rows, clean, config={
        "gradient": list(gradient), "gradient_free": list(gradient_free), "epsilons": list(eps), "n": n,
        "limit": limit, "split": split, "seed": seed, "check": check, "attack_options": {k: repr(v) for k, v in options.items()},
    })  # fmt: skip
    judgement.masking = masking_verdicts(judgement)
    judgement.config["seconds"] = round(time.perf_counter() - started, 1)
    return judgement


def masking_verdicts(judgement: Judgement, *, gap: float = MASKING_GAP) -> list[str]:
    """The signs of masked gradients, one line each.

    Per (model, budget): the gradient-free robust accuracy more than ``gap`` below the
    gradient one. Per audit result: a flag of :data:`MASKING_FLAGS` (``zero-gradients``;
    ``unbounded-failure``, which the audit raises only with ``check``).
    """
    lines = []
    for model in ("before", "after"):
        for eps in judgement.epsilons:
            grad = judgement.robust(model, eps, kind="gradient")
            free = judgement.robust(model, eps, kind="gradient-free")
            if math.isfinite(grad) and math.isfinite(free) and free < grad - gap:
                lines.append(f"{model}, {format_epsilon(eps)}: the gradient-free attack leaves {free:.3f} robust, "
                             f"the gradient attack {grad:.3f}: gradients are masked, the model is not that robust")  # fmt: skip
        for row in (r for r in judgement.rows if r["model"] == model):
            for flag in row["flags"]:
                code = flag.get("code") if isinstance(flag, Mapping) else str(flag)
                if code in MASKING_FLAGS:
                    lines.append(f"{model}: {row['attack']} on {row['part']} at {format_epsilon(row['epsilon'])} "
                                 f"raised {code}")  # fmt: skip
    return lines


__all__ = ["GRADIENT_ATTACKS", "GRADIENT_FREE_ATTACKS", "JUDGE_ATTACK_OPTIONS", "JUDGE_EPSILONS", "MASKING_FLAGS",
           "Judgement", "judge", "judge_attack_options", "masking_verdicts", "robust_accuracy"]
