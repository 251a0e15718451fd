"""Face anti-spoofing metrics of the live/spoof decision, as CelebA-Spoof reports them.

Conventions (CelebA-Spoof, ISO/IEC 30107-3): spoof is the positive (attack) class and
a sample's score is its spoof probability. At the decision threshold (0.5 by default)
a sample with ``score >= threshold`` is judged spoof.

- APCER: the share of attacks (spoof) judged live.
- BPCER: the share of bona fide (live) samples judged spoof.
- ACER: the mean of APCER and BPCER.
- AUC: the area under the ROC curve of spoof against live (ties count half).
- TPR@FPR=f: the largest share of attacks detected at any threshold at which at most
  a share ``f`` of live samples is judged spoof (no interpolation between ROC points).

A rate with no sample to count over (no live or no spoof sample) is NaN.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch

FPR_TARGETS: tuple[float, ...] = (1e-2, 5e-3, 1e-3)


def _as_array(values: Sequence[float] | np.ndarray | torch.Tensor, dtype: type) -> np.ndarray:
    if isinstance(values, torch.Tensor):
        values = values.detach().float().cpu().numpy()
    return np.asarray(values, dtype=dtype).reshape(-1)


def _fpr_key(fpr: float) -> str:
    # 0.01 -> "1e-2", 0.005 -> "5e-3": CelebA-Spoof's spelling of the operating points.
    exponent = math.floor(math.log10(fpr) + 1e-9)
    mantissa = round(fpr / 10**exponent, 6)
    mantissa_text = f"{mantissa:g}"
    return f"TPR@FPR={mantissa_text}e{exponent}"


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


def tpr_at_fpr(scores: np.ndarray, labels: np.ndarray, fpr: float) -> float:
    """The largest TPR over thresholds whose FPR is at most ``fpr`` (NaN without both classes)."""
    if not (labels == 1).any() or not (labels == 0).any():
        return float("nan")
    fprs, tprs = roc_points(scores, labels)
    return float(tprs[fprs <= fpr + 1e-12].max())


def fas_metrics(
    scores: Sequence[float] | np.ndarray | torch.Tensor,
    labels: Sequence[int] | np.ndarray | torch.Tensor,
    *,
    threshold: float = 0.5,
    fpr_targets: Sequence[float] = FPR_TARGETS,
) -> dict[str, float]:
    """APCER, BPCER, ACER, AUC and TPR at each FPR target of the live/spoof decision.

    Args:
        scores: the spoof probability of each sample.
        labels: 1 spoof, 0 live.
        threshold: the decision threshold on the spoof probability.
        fpr_targets: the operating points of the ``TPR@FPR=...`` entries.

    Returns:
        ``{"APCER", "BPCER", "ACER", "AUC", "TPR@FPR=1e-2", "TPR@FPR=5e-3", "TPR@FPR=1e-3"}``
        as fractions in [0, 1] (NaN where a class is absent).

    Raises:
        ValueError: scores and labels differ in length, or a label is not 0 or 1.
    """
    s, y = _as_array(scores, np.float64), _as_array(labels, np.int64)
    if s.shape != y.shape:
        raise ValueError(f"{len(s)} scores but {len(y)} labels")
    if not np.isin(y, (0, 1)).all():
        raise ValueError("live/spoof labels must be 0 (live) or 1 (spoof)")
    judged_spoof = s >= threshold
    spoof, live = y == 1, y == 0
    apcer = float((~judged_spoof[spoof]).mean()) if spoof.any() else float("nan")
    bpcer = float(judged_spoof[live].mean()) if live.any() else float("nan")
    result = {"APCER": apcer, "BPCER": bpcer, "ACER": (apcer + bpcer) / 2, "AUC": auc(s, y)}
    for fpr in fpr_targets:
        result[_fpr_key(fpr)] = tpr_at_fpr(s, y, fpr)
    return result
