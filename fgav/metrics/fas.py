"""Face anti-spoofing metrics of the live/spoof decision, as CelebA-Spoof reports them.

Conventions (CelebA-Spoof, ISO/IEC 30107-3): spoof is the positive (attack) class and
a sample's score is its spoof probability. At the decision threshold (0.5 by default)
a sample with ``score >= threshold`` is judged spoof.

- APCER: the share of attacks (spoof) judged live.
- BPCER: the share of bona fide (live) samples judged spoof.
- ACER: the mean of APCER and BPCER.
- AUC: the area under the ROC curve of spoof against live (ties count half).
- TPR@FPR=f: as CelebA-Spoof's own evaluation (``intra_dataset_code/client.py``)
  computes it: the threshold is the ``max(1, int(f * n_live))``-th highest live score,
  and the TPR is the share of spoof scores at or above it. (:func:`tpr_at_fpr_roc` is
  the other common reading, the best ROC point whose FPR is at most ``f``; the two
  differ where live scores tie or where ``f * n_live`` is not a whole number.)

A rate with no sample to count over (no live or no spoof sample) is NaN. Scores are
compared in float64, as given; a NaN or infinite score, or a label other than exactly
0 or 1, is refused with an :class:`~fgav.core.errors.FgavError`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch

from fgav.core.errors import FgavError
from fgav.metrics.stats import wilson_interval

FPR_TARGETS: tuple[float, ...] = (1e-2, 5e-3, 1e-3)
# The FAS metrics that are proportions of counted samples, so carry a Wilson interval.
PROPORTIONS: tuple[str, ...] = ("APCER", "BPCER")

ArrayLike = Sequence[float] | np.ndarray | torch.Tensor


def _as_float64(values: ArrayLike) -> np.ndarray:
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().double().numpy()  # float64 keeps a float64 score exact
    return np.asarray(values, dtype=np.float64).reshape(-1)


def scores_and_labels(scores: ArrayLike, labels: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Checked float64 scores and int64 labels.

    Raises:
        FgavError: the lengths differ, a score is NaN or infinite, or a label is not
            exactly 0 (live) or 1 (spoof).
    """
    s, y = _as_float64(scores), _as_float64(labels)
    if s.shape != y.shape:
        raise FgavError(f"{len(s)} scores but {len(y)} labels")
    bad = ~np.isfinite(s)
    if bad.any():
        raise FgavError(f"{int(bad.sum())} of {len(s)} spoof scores are NaN or infinite (first at index "
                        f"{int(np.argmax(bad))}); a score must be a finite number")
    odd = ~np.isin(y, (0.0, 1.0))
    if odd.any():
        raise FgavError(f"live/spoof labels must be 0 (live) or 1 (spoof), not {y[odd][0]:g} "
                        f"(index {int(np.argmax(odd))})")
    return s, y.astype(np.int64)


def fpr_key(fpr: float) -> str:
    """The name of the ``TPR@FPR`` entry of an operating point (``0.005`` -> ``TPR@FPR=5e-3``)."""
    # CelebA-Spoof's spelling of the operating points.
    exponent = math.floor(math.log10(fpr) + 1e-9)
    mantissa = round(fpr / 10**exponent, 6)
    return f"TPR@FPR={mantissa:g}e{exponent}"


def roc_points(scores: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The ROC curve's points ``(fpr, tpr)``, one per distinct threshold, from (0, 0).

    Args:
        scores: spoof scores, higher means more likely spoof.
        labels: 1 spoof (positive), 0 live.
    """
    order = np.argsort(-scores, kind="stable")
    s, y = scores[order], labels[order]
    last_of_tie = np.r_[np.nonzero(np.diff(s))[0], len(s) - 1] if len(s) else np.array([], dtype=int)
    tp = np.cumsum(y == 1)[last_of_tie]
    fp = np.cumsum(y == 0)[last_of_tie]
    n_pos, n_neg = max(int((y == 1).sum()), 1), max(int((y == 0).sum()), 1)
    return np.r_[0.0, fp / n_neg], np.r_[0.0, tp / n_pos]


def auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """The ROC AUC: the chance that a random spoof scores above a random live (ties half)."""
    pos, neg = scores[labels == 1], scores[labels == 0]
    if len(pos) == 0 or len(neg) == 0:
        return float("nan")
    neg_sorted = np.sort(neg)
    below = np.searchsorted(neg_sorted, pos, side="left")
    ties = np.searchsorted(neg_sorted, pos, side="right") - below
    return float((below + 0.5 * ties).sum() / (len(pos) * len(neg)))


def threshold_at_fpr(scores: np.ndarray, labels: np.ndarray, fpr: float) -> float:
    """CelebA-Spoof's threshold for an FPR: the ``max(1, int(fpr * n_live))``-th highest live score.

    NaN without a live sample.
    """
    live = np.sort(scores[labels == 0])[::-1]
    if len(live) == 0:
        return float("nan")
    rank = max(1, int(fpr * len(live)))
    return float(live[min(rank, len(live)) - 1])


def _tpr_counts(scores: np.ndarray, labels: np.ndarray, fpr: float) -> tuple[int, int]:
    """(spoof scores at or above CelebA-Spoof's threshold, spoof samples); (0, 0) without both classes."""
    spoof = scores[labels == 1]
    threshold = threshold_at_fpr(scores, labels, fpr)
    if len(spoof) == 0 or math.isnan(threshold):
        return 0, 0
    return int((spoof >= threshold).sum()), len(spoof)


def tpr_at_fpr(scores: ArrayLike, labels: ArrayLike, fpr: float) -> float:
    """TPR@FPR as CelebA-Spoof computes it (NaN without both classes).

    The threshold is the ``max(1, int(fpr * n_live))``-th highest live score; the TPR is
    the share of spoof scores at or above it.
    """
    s, y = scores_and_labels(scores, labels)
    hits, n = _tpr_counts(s, y, fpr)
    return hits / n if n else float("nan")


def tpr_at_fpr_roc(scores: ArrayLike, labels: ArrayLike, fpr: float) -> float:
    """The best TPR over ROC points whose FPR is at most ``fpr`` (NaN without both classes).

    Not CelebA-Spoof's figure (see :func:`tpr_at_fpr`); kept for comparison with tools
    that read the ROC curve this way.
    """
    s, y = scores_and_labels(scores, labels)
    if not (y == 1).any() or not (y == 0).any():
        return float("nan")
    fprs, tprs = roc_points(s, y)
    return float(tprs[fprs <= fpr + 1e-12].max())


def fas_counts(
    scores: ArrayLike,
    labels: ArrayLike,
    *,
    threshold: float = 0.5,
    fpr_targets: Sequence[float] = FPR_TARGETS,
) -> dict[str, tuple[int, int]]:
    """The counts behind each proportion of :func:`fas_metrics`: ``{name: (hits, out of)}``.

    ``APCER``: spoof judged live, of the spoof samples; ``BPCER``: live judged spoof, of
    the live samples; ``TPR@FPR=f``: spoof at or above CelebA-Spoof's threshold, of the
    spoof samples. ``(0, 0)`` where a class is absent.
    """
    s, y = scores_and_labels(scores, labels)
    judged_spoof = s >= threshold
    spoof, live = y == 1, y == 0
    counts = {"APCER": (int((~judged_spoof[spoof]).sum()), int(spoof.sum())),
              "BPCER": (int(judged_spoof[live].sum()), int(live.sum()))}
    for fpr in fpr_targets:
        counts[fpr_key(fpr)] = _tpr_counts(s, y, fpr)
    return counts


def fas_metrics(
    scores: ArrayLike,
    labels: ArrayLike,
    *,
    threshold: float = 0.5,
    fpr_targets: Sequence[float] = FPR_TARGETS,
) -> dict[str, float]:
    """APCER, BPCER, ACER, AUC and TPR at each FPR target of the live/spoof decision.

    Args:
        scores: the spoof probability of each sample (finite; compared as float64).
        labels: 1 spoof, 0 live (exactly).
        threshold: the decision threshold on the spoof probability.
        fpr_targets: the operating points of the ``TPR@FPR=...`` entries.

    Returns:
        ``{"APCER", "BPCER", "ACER", "AUC", "TPR@FPR=1e-2", "TPR@FPR=5e-3", "TPR@FPR=1e-3"}``
        as fractions in [0, 1] (NaN where a class is absent).

    Raises:
        FgavError: scores and labels differ in length, a score is not finite, or a label
            is not exactly 0 or 1.
    """
    s, y = scores_and_labels(scores, labels)
    counts = fas_counts(s, y, threshold=threshold, fpr_targets=fpr_targets)
    rate = {k: (hits / n if n else float("nan")) for k, (hits, n) in counts.items()}
    result = {"APCER": rate["APCER"], "BPCER": rate["BPCER"], "ACER": (rate["APCER"] + rate["BPCER"]) / 2,
              "AUC": auc(s, y)}
    for fpr in fpr_targets:
        result[fpr_key(fpr)] = rate[fpr_key(fpr)]
    return result


def fas_intervals(
    scores: ArrayLike,
    labels: ArrayLike,
    *,
    threshold: float = 0.5,
    fpr_targets: Sequence[float] = FPR_TARGETS,
) -> dict[str, tuple[float, float]]:
    """The 95 % Wilson interval of each FAS metric that is a proportion (APCER, BPCER, TPR@FPR).

    The TPR's interval is conditional on the threshold, which the live scores set.
    ACER (a mean of two rates) and AUC have none. ``(nan, nan)`` where a class is absent.
    """
    counts = fas_counts(scores, labels, threshold=threshold, fpr_targets=fpr_targets)
    return {k: wilson_interval(hits, n) for k, (hits, n) in counts.items()}
