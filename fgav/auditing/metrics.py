"""The audit's metrics (the paper's Sec. 4.1; docs/audit.md), accumulated batch by batch.

- ASR: among samples whose live/spoof decision is right when clean, the share that is
  wrong after the attack.
- Accuracy of every head with a meaningful ``correct``, clean and under attack (Tab. 5).
- Change of every part (Tab. 6): per sample ``||f(x') - f(x)||^2 / ||f(x)||^2`` (the
  squared change of the part's output over the squared L2 norm of its clean output),
  averaged over samples.
- Distortion actually made, from the clean image: L-inf, L2 (over all values) and L0
  (pixels where any channel changed by more than 1e-6), averaged over samples.
- FAS metrics of the live/spoof decision under attack, and the ASR broken down by spoof
  type, illumination and environment.
- Every rate that is a proportion carries its 95 % Wilson interval (``<name>_ci``).
- Per-sample outcomes (``outcomes``, one character a sample in data order: ``1`` flipped,
  ``0`` resisted, ``-`` wrong when clean), so that two attacks or augmenters run on the
  same samples can be compared with McNemar's paired test.
- For an augmenter in push mode, ``alone``: what S(x) does with no attack (its own ASR,
  outcomes and distortion), so that an SFA gain is never read without the augmenter's own.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, cast

import torch
from torch import Tensor

from fgav.core.errors import FgavError
from fgav.core.interfaces import AuxHead
from fgav.core.model import CLASSIFICATION, spoof_probability
from fgav.core.types import Batch
from fgav.data.labels import ENVIRONMENT_NAMES, ILLUMINATION_NAMES, SPOOF_TYPE_NAMES
from fgav.metrics.fas import fas_intervals, fas_metrics
from fgav.metrics.stats import wilson_interval

BREAKDOWNS: dict[str, tuple[str, ...]] = {
    "spoof_type": SPOOF_TYPE_NAMES,
    "illumination": ILLUMINATION_NAMES,
    "environment": ENVIRONMENT_NAMES,
}
_L0_TOLERANCE = 1e-6
FLIPPED, RESISTED, NOT_COUNTED = "1", "0", "-"  # a sample's outcome in ``outcomes``


def distortion(x: Tensor, x_adv: Tensor) -> dict[str, Tensor]:
    """Per-sample L-inf, L2 and L0 (pixels changed) distances from the clean images."""
    delta = (x_adv.float() - x.float()).flatten(1)
    pixels = (x_adv.float() - x.float()).abs().amax(dim=1).flatten(1)
    return {
        "linf": delta.abs().amax(dim=1),
        "l2": delta.norm(dim=1),
        "l0": (pixels > _L0_TOLERANCE).sum(dim=1).float(),
    }


def relative_change(clean: Tensor, adv: Tensor) -> Tensor:
    """Per-sample squared change over the squared norm of the clean output."""
    num = (adv.float() - clean.float()).flatten(1).pow(2).sum(dim=1)
    den = clean.float().flatten(1).pow(2).sum(dim=1).clamp_min(1e-12)
    return num / den


class MetricAccumulator:
    """Sums the audit's per-sample quantities over batches; :meth:`result` gives the figures."""

    def __init__(self, heads: Mapping[str, AuxHead], provides: frozenset[str] | set[str]) -> None:
        self.heads = dict(heads)
        self.scored = [n for n, h in self.heads.items() if not h.missing_keys(provides)]
        self.n = 0
        self.right_clean = 0
        self.flipped = 0
        self.correct: dict[str, list[float]] = {}  # head -> [clean right, adv right, count]
        self.change: dict[str, float] = dict.fromkeys(self.heads, 0.0)
        self.dist: dict[str, float] = {"linf": 0.0, "l2": 0.0, "l0": 0.0}
        self.scores: list[Tensor] = []
        self.labels: list[Tensor] = []
        self.groups: dict[str, dict[int, list[int]]] = {k: {} for k in BREAKDOWNS}
        self.outcomes: list[str] = []  # one string a batch; see FLIPPED, RESISTED, NOT_COUNTED
        self.alone: dict[str, Any] | None = None  # S(x) with no attack, for push augmenters

    def update(
        self,
        batch: Batch,
        clean: Mapping[str, Tensor],
        adv: Mapping[str, Tensor],
        x: Tensor,
        x_adv: Tensor,
        *,
        alone: tuple[Tensor, Mapping[str, Tensor]] | None = None,
    ) -> None:
        """Add one batch: its ground truth, clean and adversarial outputs and images.

        Args:
            alone: for an augmenter in push mode, S(x) and the model's outputs on it (the
                augmenter with no attack), accumulated under ``alone``.
        """
        labels = batch["spoof"].to(x.device).long()
        right = clean[CLASSIFICATION].argmax(1) == labels
        wrong_after = adv[CLASSIFICATION].argmax(1) != labels
        flipped = right & wrong_after
        self.n += int(labels.numel())
        self.right_clean += int(right.sum())
        self.flipped += int(flipped.sum())
        self.outcomes.append(_outcomes(right, flipped))
        if alone is not None:
            augmented, outputs = alone
            alone_flipped = right & (outputs[CLASSIFICATION].argmax(1) != labels)
            if self.alone is None:
                self.alone = _empty_alone()
            self.alone["flipped"] += int(alone_flipped.sum())
            self.alone["outcomes"].append(_outcomes(right, alone_flipped))
            for key, values in distortion(x, augmented).items():
                self.alone["dist"][key] += float(values.sum())
        for name in self.scored:
            head = self.heads[name]
            target = head.target(batch).to(x.device)
            ok_clean, ok_adv = head.correct(clean[name], target), head.correct(adv[name], target)
            if ok_clean is None or ok_adv is None:
                continue
            tally = self.correct.setdefault(name, [0.0, 0.0, 0.0])
            tally[0] += float(ok_clean.float().sum())
            tally[1] += float(ok_adv.float().sum())
            tally[2] += float(ok_clean.numel())
        for name in self.heads:
            self.change[name] += float(relative_change(clean[name], adv[name]).sum())
        for key, values in distortion(x, x_adv).items():
            self.dist[key] += float(values.sum())
        self.scores.append(spoof_probability(adv).cpu())
        self.labels.append(labels.cpu())
        keys = cast("Mapping[str, Any]", batch)  # the breakdown keys, by name
        for key in BREAKDOWNS:
            if key not in keys:
                continue
            for group, r, f in zip(keys[key].tolist(), right.tolist(), flipped.tolist()):
                tally_g = self.groups[key].setdefault(int(group), [0, 0])
                tally_g[0] += int(r)
                tally_g[1] += int(f)

    def state(self) -> dict[str, Any]:
        """Everything accumulated so far, JSON-ready (for resuming an interrupted audit)."""
        return {
            "n": self.n, "right_clean": self.right_clean, "flipped": self.flipped,
            "correct": self.correct, "change": self.change, "dist": self.dist,
            "scores": torch.cat(self.scores).tolist() if self.scores else [],
            "labels": torch.cat(self.labels).tolist() if self.labels else [],
            "groups": {k: {str(g): v for g, v in groups.items()} for k, groups in self.groups.items()},
            "outcomes": "".join(self.outcomes),
            "alone": None if self.alone is None else {**self.alone, "outcomes": "".join(self.alone["outcomes"])},
        }

    def load_state(self, state: Mapping[str, Any]) -> None:
        """Continue from :meth:`state`'s output.

        Raises:
            FgavError: the state was saved by a version of fgav without per-sample outcomes.
        """
        if "outcomes" not in state or "alone" not in state:
            raise FgavError("the audit state was saved by an older fgav (no per-sample outcomes): "
                            "run without --resume to start again")
        self.n, self.right_clean, self.flipped = state["n"], state["right_clean"], state["flipped"]
        self.correct = {k: list(v) for k, v in state["correct"].items()}
        self.change, self.dist = dict(state["change"]), dict(state["dist"])
        self.scores = [torch.tensor(state["scores"], dtype=torch.float32)] if state["scores"] else []
        self.labels = [torch.tensor(state["labels"], dtype=torch.long)] if state["labels"] else []
        self.groups = {k: {int(g): list(v) for g, v in groups.items()} for k, groups in state["groups"].items()}
        self.outcomes = [state["outcomes"]] if state["outcomes"] else []
        alone = state["alone"]
        self.alone = None if alone is None else {"flipped": int(alone["flipped"]), "dist": dict(alone["dist"]),
                                                 "outcomes": [alone["outcomes"]] if alone["outcomes"] else []}

    def merge(self, other: MetricAccumulator) -> None:
        """Add what ``other`` accumulated over the samples that follow this one's (a later shard).

        Every count, sum, per-sample list and breakdown is the one a single accumulator
        would hold after both; sums are added in shard order.
        """
        self.n += other.n
        self.right_clean += other.right_clean
        self.flipped += other.flipped
        for name, (clean_right, adv_right, count) in other.correct.items():
            tally = self.correct.setdefault(name, [0.0, 0.0, 0.0])
            tally[0] += clean_right
            tally[1] += adv_right
            tally[2] += count
        for name, value in other.change.items():
            self.change[name] = self.change.get(name, 0.0) + value
        for key, value in other.dist.items():
            self.dist[key] += value
        self.scores += other.scores
        self.labels += other.labels
        for key, groups in other.groups.items():
            for group, (right, flipped) in groups.items():
                tally_g = self.groups.setdefault(key, {}).setdefault(group, [0, 0])
                tally_g[0] += right
                tally_g[1] += flipped
        self.outcomes += other.outcomes
        if other.alone is not None:
            if self.alone is None:
                self.alone = _empty_alone()
            self.alone["flipped"] += other.alone["flipped"]
            self.alone["outcomes"] += other.alone["outcomes"]
            for key, value in other.alone["dist"].items():
                self.alone["dist"][key] += value

    def result(self) -> dict[str, Any]:
        """The figures: ``asr``, ``accuracy``, ``clean_accuracy``, ``change``, ``distortion``, ...

        Each rate that is a proportion has its 95 % Wilson interval beside it as
        ``<name>_ci`` (``[low, high]``); ``outcomes`` holds the per-sample outcomes.
        """
        n = max(self.n, 1)
        scores = torch.cat(self.scores) if self.scores else torch.zeros(0)
        labels = torch.cat(self.labels) if self.labels else torch.zeros(0, dtype=torch.long)
        breakdown = {
            key: {
                BREAKDOWNS[key][g] if 0 <= g < len(BREAKDOWNS[key]) else str(g): {
                    "asr": _ratio(f, r), "asr_ci": list(wilson_interval(f, r)), "n_right_clean": r,
                }
                for g, (r, f) in sorted(self.groups[key].items())
            }
            for key in BREAKDOWNS
            if self.groups[key]
        }
        scored = {k: v for k, v in self.correct.items() if v[2]}
        # A model whose output is NaN on some adversarial image has no score there: the FAS
        # metrics count the others, and the result says how many were left out.
        finite = torch.isfinite(scores)
        result: dict[str, Any] = {
            "n": self.n,
            "n_right_clean": self.right_clean,
            "n_flipped": self.flipped,
            "asr": _ratio(self.flipped, self.right_clean),
            "asr_ci": list(wilson_interval(self.flipped, self.right_clean)),
            "n_scored": {k: int(v[2]) for k, v in scored.items()},
            "clean_accuracy": {k: v[0] / v[2] for k, v in scored.items()},
            "clean_accuracy_ci": {k: list(wilson_interval(round(v[0]), int(v[2]))) for k, v in scored.items()},
            "accuracy": {k: v[1] / v[2] for k, v in scored.items()},
            "accuracy_ci": {k: list(wilson_interval(round(v[1]), int(v[2]))) for k, v in scored.items()},
            "change": {k: v / n for k, v in self.change.items()},
            "distortion": {k: v / n for k, v in self.dist.items()},
            "fas": fas_metrics(scores[finite], labels[finite]) if finite.any() else {},
            "fas_ci": ({k: list(v) for k, v in fas_intervals(scores[finite], labels[finite]).items()}
                       if finite.any() else {}),
            "breakdown": breakdown,
            "outcomes": "".join(self.outcomes),
        }
        if not finite.all():
            result["fas_nonfinite_scores"] = int((~finite).sum())
        # An identity augmenter (``none``) changes nothing alone: no entry for it.
        if self.alone is not None and self.alone["dist"]["linf"] > 0:
            flipped = int(self.alone["flipped"])
            result["alone"] = {
                "asr": _ratio(flipped, self.right_clean),
                "asr_ci": list(wilson_interval(flipped, self.right_clean)),
                "n_flipped": flipped,
                "distortion": {k: v / n for k, v in self.alone["dist"].items()},
                "outcomes": "".join(self.alone["outcomes"]),
            }
        return result


def _empty_alone() -> dict[str, Any]:
    """S(x)-alone's tally before its first batch."""
    return {"flipped": 0, "outcomes": [], "dist": {"linf": 0.0, "l2": 0.0, "l0": 0.0}}


def _outcomes(right: Tensor, flipped: Tensor) -> str:
    """One character a sample: flipped, resisted, or not counted (wrong when clean)."""
    return "".join(FLIPPED if f else RESISTED if r else NOT_COUNTED
                   for r, f in zip(right.tolist(), flipped.tolist()))


def _ratio(num: float, den: float) -> float:
    return num / den if den else math.nan
