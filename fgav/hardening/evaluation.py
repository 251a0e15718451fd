"""The before/after judgement of a hardened model, by attacks it did not train against.

Per part, before and after: the clean accuracy of every head, and the robust accuracy of
the live/spoof decision (right when clean and not flipped, over all samples) at several
budgets under a gradient attack and a gradient-free one. A model whose gradient-free
robust accuracy falls far below its gradient one is masking gradients (Carlini et al.,
"On Evaluating Adversarial Robustness", 2019): it is reported so, and its robust
accuracy is the lower figure, never the higher.

The attacks are parameters (registered names, or ``random-search``, the small
gradient-free attack below); the defaults are a 20-step PGD and ``random-search``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import eagerpy as ep
import torch
from foolbox.attacks.base import FixedEpsilonAttack, get_criterion, raise_if_kwargs
from foolbox.criteria import Misclassification
from foolbox.distances import linf
from foolbox.models import Model
from rich.table import Table

from fgav.auditing import audit
from fgav.formatting import markdown_table
from fgav.errors import FgavError
from fgav.model import CLASSIFICATION, MultiTaskModel, load_model

JUDGE_EPSILONS: tuple[float, ...] = (2 / 255, 4 / 255, 8 / 255)
GRADIENT_ATTACKS: tuple[str, ...] = ("pgd",)
GRADIENT_FREE_ATTACKS: tuple[str, ...] = ("random-search",)
# PGD with 20 steps and Madry's step for that count (2.5 eps / steps).
JUDGE_ATTACK_OPTIONS: dict[str, dict[str, Any]] = {"pgd": {"steps": 20, "rel_stepsize": 2.5 / 20}}
# A gradient-free robust accuracy this far below the gradient one reads as masked gradients.
MASKING_GAP = 0.10


class RandomSearchLinf(FixedEpsilonAttack):
    """A gradient-free L-inf attack: random search over the vertices of the epsilon ball.

    After Square (Andriushchenko et al. 2020): a start of vertical stripes of +-eps, then
    per query one square window of every image gets new random signs per channel, kept
    where the margin of the true class falls. The window shrinks with Square's schedule.
    It reads the model's outputs only, so masked gradients cannot hide from it.
    """

    name: ClassVar[str] = "random-search"
    distance = linf

    def __init__(self, *, queries: int = 100, p_init: float = 0.8) -> None:
        if queries < 1:
            raise FgavError(f"random-search needs at least one query, not {queries}")
        if not 0 < p_init <= 1:
            raise FgavError(f"random-search's p_init must be in (0, 1], not {p_init}")
        self.queries, self.p_init = int(queries), float(p_init)

    def _share(self, i: int) -> float:
        """The window's share of the image at query ``i`` (Square's halving schedule)."""
        scaled = int(i / self.queries * 10_000)
        halvings = sum(scaled > t for t in (10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000))
        return self.p_init / 2**halvings

    def run(self, model: Model, inputs: Any, criterion: Any, *, epsilon: float, **kwargs: Any) -> Any:
        """Returns the perturbed inputs, within ``epsilon`` of ``inputs`` and in the model's bounds."""
        raise_if_kwargs(kwargs)
        x, restore = ep.astensor_(inputs)
        criterion_ = get_criterion(criterion)
        if not isinstance(criterion_, Misclassification):
            raise FgavError("random-search is untargeted: it takes labels or a Misclassification criterion")
        labels = criterion_.labels.raw
        x0 = x.raw
        low, high = model.bounds
        b, c, h, w = x0.shape

        def margin(images: torch.Tensor) -> torch.Tensor:
            logits = model(ep.astensor(images)).raw.float()
            true = logits.gather(1, labels.view(-1, 1)).squeeze(1)
            others = logits.scatter(1, labels.view(-1, 1), float("-inf")).amax(dim=1)
            return true - others  # below zero: the decision is wrong

        sign = lambda *shape: torch.randint(0, 2, shape, device=x0.device).to(x0.dtype) * 2 - 1  # noqa: E731
        delta = epsilon * sign(b, c, 1, w).expand(b, c, h, w).clone()
        best = margin((x0 + delta).clamp(low, high))
        for i in range(self.queries):
            active = best > 0
            if not bool(active.any()):
                break
            side = max(1, min(h - 1, int(round(math.sqrt(self._share(i) * h * w)))))
            top = int(torch.randint(0, h - side + 1, (1,)))
            left = int(torch.randint(0, w - side + 1, (1,)))
            candidate = delta.clone()
            candidate[:, :, top : top + side, left : left + side] = epsilon * sign(b, c, 1, 1)
            value = margin((x0 + candidate).clamp(low, high))
            better = active & (value < best)
            delta[better] = candidate[better]
            best = torch.where(better, value, best)
        return restore(ep.astensor((x0 + delta).clamp(low, high)))


def _attack_spec(name: str, options: Mapping[str, Mapping[str, Any]]) -> Any:
    """A registered attack's name, or the instance of ``random-search`` with its options."""
    if name == RandomSearchLinf.name:
        try:
            return RandomSearchLinf(**dict(options.get(name, {})))
        except TypeError as exc:
            raise FgavError(f"random-search: {exc}".splitlines()[0]) from exc
    return name


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
                cells = [part, budget(eps)]
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


def budget(eps: float) -> str:
    """A budget as the user gave it: ``8/255``, or the number where it is no whole 255th."""
    scaled = eps * 255
    return f"{round(scaled)}/255" if abs(scaled - round(scaled)) < 1e-6 else f"{eps:.4g}"


def _fmt(value: float | None, *, sign: bool = False) -> str:
    if value is None or not math.isfinite(value):
        return "-"
    return f"{value:+.3f}" if sign else f"{value:.3f}"


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
    reference: Judgement | None = None,
) -> Judgement:
    """Judge a hardened model against its original with attacks it did not train against.

    Args:
        before: the original target (a model or its checkpoint directory).
        after: the hardened model.
        data: the data to attack (``synth``, a path, or a Dataset of batch dicts).
        split: the split of ``data`` when it is a path.
        heads: the parts the gradient attacks are aimed at (``all`` for every head);
            the gradient-free attacks read the decision only.
        gradient: gradient attacks (registered names).
        gradient_free: gradient-free attacks (registered names or ``random-search``).
        eps: the L-inf budgets.
        attack_options: keyword options per attack name (default: PGD with 20 steps).
        limit: attack the first ``limit`` samples.
        batch_size, device, seed: as :func:`fgav.audit`.
        reference: an earlier judgement of the same original with the same options, whose
            ``before`` figures are reused instead of attacking the original again.

    Raises:
        FgavError: no attack, or a bad name or option (from the audit).
    """
    if not gradient and not gradient_free:
        raise FgavError("the judgement needs at least one attack")
    options = {**JUDGE_ATTACK_OPTIONS, **{k: dict(v) for k, v in (attack_options or {}).items()}}
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
            result = audit(
                model, data, heads=parts, attacks=[_attack_spec(a, options) for a in names], eps=list(eps),
                limit=limit, batch_size=batch_size, device=device, seed=seed, split=split,
                attack_options={k: v for k, v in options.items() if k in names and k != RandomSearchLinf.name},
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
        "limit": limit, "split": split, "seed": seed, "attack_options": {k: repr(v) for k, v in options.items()},
    })  # fmt: skip
    judgement.masking = masking_verdicts(judgement)
    judgement.config["seconds"] = round(time.perf_counter() - started, 1)
    return judgement


def masking_verdicts(judgement: Judgement, *, gap: float = MASKING_GAP) -> list[str]:
    """One line per (model, budget) where gradient-free robust accuracy is ``gap`` below gradient's."""
    lines = []
    for model in ("before", "after"):
        for eps in judgement.epsilons:
            grad = judgement.robust(model, eps, kind="gradient")
            free = judgement.robust(model, eps, kind="gradient-free")
            if math.isfinite(grad) and math.isfinite(free) and free < grad - gap:
                lines.append(f"{model}, {budget(eps)}: the gradient-free attack leaves {free:.3f} robust, "
                             f"the gradient attack {grad:.3f}: gradients are masked, the model is not that robust")  # fmt: skip
        for row in (r for r in judgement.rows if r["model"] == model):
            for flag in row["flags"]:
                code = flag.get("code") if isinstance(flag, Mapping) else str(flag)
                if code in ("zero-gradients",):
                    lines.append(f"{model}: {row['attack']} on {row['part']} at {budget(row['epsilon'])} "
                                 f"raised {code}")  # fmt: skip
    return lines


__all__ = ["GRADIENT_ATTACKS", "GRADIENT_FREE_ATTACKS", "JUDGE_EPSILONS", "Judgement", "RandomSearchLinf", "judge",
           "masking_verdicts", "robust_accuracy"]  # fmt: skip
