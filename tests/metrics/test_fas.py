"""FAS metrics of the live/spoof decision against hand computations and CelebA-Spoof's definition."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from fgav.core.errors import FgavError
from fgav.metrics import (
    fas_counts,
    fas_intervals,
    fas_metrics,
    roc_points,
    threshold_at_fpr,
    tpr_at_fpr,
    tpr_at_fpr_roc,
)


def celeba_spoof_tpr(scores: list[float], labels: list[int], fpr: float) -> float:
    """CelebA-Spoof's client.py, written out: the threshold from the sorted live scores, then a count."""
    live = sorted((s for s, y in zip(scores, labels) if y == 0), reverse=True)
    spoof = sorted((s for s, y in zip(scores, labels) if y == 1), reverse=True)
    threshold = live[max(1, int(fpr * len(live))) - 1]
    hits = 0
    while hits < len(spoof) and spoof[hits] >= threshold:
        hits += 1
    return hits / len(spoof)


def test_rates_at_the_threshold_match_a_hand_count() -> None:
    # live scores: 0.1, 0.6 (judged spoof), 0.3; spoof scores: 0.9, 0.4 (judged live), 0.7, 0.5
    scores = [0.1, 0.6, 0.3, 0.9, 0.4, 0.7, 0.5]
    labels = [0, 0, 0, 1, 1, 1, 1]
    m = fas_metrics(scores, labels)
    assert m["APCER"] == pytest.approx(1 / 4)  # 0.4 < 0.5; 0.5 counts as spoof
    assert m["BPCER"] == pytest.approx(1 / 3)
    assert m["ACER"] == pytest.approx((1 / 4 + 1 / 3) / 2)
    assert fas_counts(scores, labels)["APCER"] == (1, 4) and fas_counts(scores, labels)["BPCER"] == (1, 3)


def test_auc_counts_pairs_and_ties_half() -> None:
    scores = [0.2, 0.5, 0.5, 0.8]
    labels = [0, 0, 1, 1]
    # pairs (spoof, live): (0.5,0.2)=1, (0.5,0.5)=0.5, (0.8,0.2)=1, (0.8,0.5)=1 -> 3.5/4
    assert fas_metrics(scores, labels)["AUC"] == pytest.approx(3.5 / 4)


def test_tpr_at_fpr_takes_celeba_spoofs_threshold() -> None:
    live = torch.linspace(0, 0.5, 200)  # 200 live scores, top one 0.5
    spoof = torch.tensor([0.99, 0.95, 0.4975, 0.49, 0.3])
    scores = torch.cat([live, spoof])
    labels = torch.cat([torch.zeros(200), torch.ones(5)]).long()
    m = fas_metrics(scores, labels)
    # 1e-2: int(0.01 * 200) = 2, the threshold is the 2nd highest live score (0.4975); a spoof
    # score equal to it counts.
    assert threshold_at_fpr(scores.double().numpy(), labels.numpy(), 1e-2) == pytest.approx(0.5 - 0.5 / 199)
    assert m["TPR@FPR=1e-2"] == pytest.approx(3 / 5)
    # 5e-3 -> 1st; 1e-3 -> int(0.2) = 0 -> max(1, 0) = 1st highest live score (0.5).
    assert m["TPR@FPR=5e-3"] == pytest.approx(2 / 5) and m["TPR@FPR=1e-3"] == pytest.approx(2 / 5)
    assert set(m) == {"APCER", "BPCER", "ACER", "AUC", "TPR@FPR=1e-2", "TPR@FPR=5e-3", "TPR@FPR=1e-3"}


@pytest.mark.parametrize("n_live", [1, 2, 7, 99, 100, 101, 999, 1000, 1234, 3000])
def test_tpr_at_fpr_equals_celeba_spoofs_code_on_random_scores(n_live: int) -> None:
    rng = np.random.default_rng(n_live)
    for decimals in (1, 2, 6):  # coarse scores make many ties, within and across the classes
        n_spoof = int(rng.integers(1, 2 * n_live + 2))
        scores = np.round(np.r_[rng.beta(2, 5, n_live), rng.beta(5, 2, n_spoof)], decimals)
        labels = np.r_[np.zeros(n_live, int), np.ones(n_spoof, int)]
        order = rng.permutation(len(scores))
        scores, labels = scores[order], labels[order]
        for fpr in (1e-2, 5e-3, 1e-3, 0.1, 0.5, 1.0):
            expected = celeba_spoof_tpr(scores.tolist(), labels.tolist(), fpr)
            assert tpr_at_fpr(scores, labels, fpr) == expected, (n_live, decimals, fpr)


def test_the_roc_reading_differs_and_is_kept_under_its_own_name() -> None:
    # Tied live scores at the top: CelebA-Spoof's threshold is their value, so every live sample
    # at it is above the threshold and the spoofs tied with it count; the ROC reading must keep
    # FPR <= 1e-2 and so can only take the thresholds above the tie.
    scores = [0.9] * 4 + [0.1] * 296 + [0.9, 0.95, 0.2]
    labels = [0] * 300 + [1] * 3
    assert tpr_at_fpr(scores, labels, 1e-2) == pytest.approx(2 / 3)
    assert tpr_at_fpr_roc(scores, labels, 1e-2) == pytest.approx(1 / 3)


def test_tpr_reaches_one_when_the_classes_separate() -> None:
    m = fas_metrics([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1])
    assert m["TPR@FPR=1e-3"] == 1.0 and m["AUC"] == 1.0 and m["ACER"] == 0.0


def test_float64_scores_are_not_rounded_to_float32() -> None:
    # 0.5 + 1e-12 and 0.5 are one float32 value; in float64 the spoof is above the live score.
    scores = torch.tensor([0.5, 0.5 + 1e-12], dtype=torch.float64)
    m = fas_metrics(scores, [0, 1])
    assert m["AUC"] == 1.0
    assert tpr_at_fpr(np.array([0.5 + 1e-12, 0.5]), np.array([0, 1]), 1e-2) == 0.0


def test_roc_starts_at_the_origin_and_ends_at_one() -> None:
    fpr, tpr = roc_points(torch.tensor([0.3, 0.3, 0.7]).numpy(), torch.tensor([0, 1, 1]).numpy())
    assert (fpr[0], tpr[0]) == (0.0, 0.0)
    assert (fpr[-1], tpr[-1]) == (1.0, 1.0)
    assert list(tpr) == sorted(tpr)


def test_a_missing_class_gives_nan_not_an_error() -> None:
    m = fas_metrics([0.7, 0.2], [1, 1])
    assert m["APCER"] == 0.5 and math.isnan(m["BPCER"]) and math.isnan(m["AUC"]) and math.isnan(m["TPR@FPR=1e-2"])
    assert math.isnan(fas_metrics([0.7, 0.2], [0, 0])["TPR@FPR=1e-2"])
    lo, hi = fas_intervals([0.7, 0.2], [1, 1])["BPCER"]
    assert math.isnan(lo) and math.isnan(hi)


def test_intervals_hold_the_rates() -> None:
    rng = np.random.default_rng(0)
    scores, labels = rng.random(300), rng.integers(0, 2, 300)
    m, ci = fas_metrics(scores, labels), fas_intervals(scores, labels)
    assert set(ci) == {"APCER", "BPCER", "TPR@FPR=1e-2", "TPR@FPR=5e-3", "TPR@FPR=1e-3"}
    for key, (lo, hi) in ci.items():
        assert 0 <= lo <= m[key] <= hi <= 1 and hi - lo > 0.01


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_scores_are_refused(bad: float) -> None:
    with pytest.raises(FgavError, match="NaN or infinite .*index 1"):
        fas_metrics([0.1, bad, 0.3], [0, 1, 1])
    with pytest.raises(FgavError, match="NaN or infinite"):
        tpr_at_fpr([0.1, bad], [0, 1], 1e-2)


def test_bad_labels_are_refused_not_truncated() -> None:
    with pytest.raises(FgavError, match="0 \\(live\\) or 1 \\(spoof\\), not 2"):
        fas_metrics([0.1, 0.2], [0, 2])
    with pytest.raises(FgavError, match="not 0.7 \\(index 1\\)"):
        fas_metrics([0.1, 0.2], [0, 0.7])
    with pytest.raises(FgavError, match="not 0.7"):
        fas_metrics(torch.tensor([0.1, 0.2]), torch.tensor([1.0, 0.7]))
    with pytest.raises(FgavError, match="2 scores but 3 labels"):
        fas_metrics([0.1, 0.2], [0, 1, 1])
    assert fas_metrics([0.1, 0.9], [False, True])["AUC"] == 1.0  # booleans are exact 0/1
