"""FAS metrics of the live/spoof decision against hand computations."""

from __future__ import annotations

import math

import pytest
import torch

from fgav.metrics import fas_metrics, roc_points


def test_rates_at_the_threshold_match_a_hand_count() -> None:
    # live scores: 0.1, 0.6 (judged spoof), 0.3; spoof scores: 0.9, 0.4 (judged live), 0.7, 0.5
    scores = [0.1, 0.6, 0.3, 0.9, 0.4, 0.7, 0.5]
    labels = [0, 0, 0, 1, 1, 1, 1]
    m = fas_metrics(scores, labels)
    assert m["APCER"] == pytest.approx(1 / 4)  # 0.4 < 0.5; 0.5 counts as spoof
    assert m["BPCER"] == pytest.approx(1 / 3)
    assert m["ACER"] == pytest.approx((1 / 4 + 1 / 3) / 2)


def test_auc_counts_pairs_and_ties_half() -> None:
    scores = [0.2, 0.5, 0.5, 0.8]
    labels = [0, 0, 1, 1]
    # pairs (spoof, live): (0.5,0.2)=1, (0.5,0.5)=0.5, (0.8,0.2)=1, (0.8,0.5)=1 -> 3.5/4
    assert fas_metrics(scores, labels)["AUC"] == pytest.approx(3.5 / 4)


def test_tpr_at_fpr_is_the_best_tpr_within_the_fpr_budget() -> None:
    live = torch.linspace(0, 0.5, 200)  # 200 live scores, top one 0.5
    spoof = torch.tensor([0.99, 0.95, 0.49, 0.3])
    scores = torch.cat([live, spoof])
    labels = torch.cat([torch.zeros(200), torch.ones(4)]).long()
    m = fas_metrics(scores, labels)
    # FPR <= 1e-2 allows 2 live above the threshold: the threshold can go down to the
    # second-highest live score (0.4975), which catches 0.99 and 0.95 only.
    assert m["TPR@FPR=1e-2"] == pytest.approx(0.5)
    # 1e-3 and 5e-3 allow no live sample (1/200 = 5e-3 exactly is allowed for 5e-3).
    assert m["TPR@FPR=1e-3"] == pytest.approx(0.5)
    assert set(m) == {"APCER", "BPCER", "ACER", "AUC", "TPR@FPR=1e-2", "TPR@FPR=5e-3", "TPR@FPR=1e-3"}


def test_tpr_reaches_one_when_the_classes_separate() -> None:
    m = fas_metrics([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1])
    assert m["TPR@FPR=1e-3"] == 1.0 and m["AUC"] == 1.0 and m["ACER"] == 0.0


def test_roc_starts_at_the_origin_and_ends_at_one() -> None:
    fpr, tpr = roc_points(torch.tensor([0.3, 0.3, 0.7]).numpy(), torch.tensor([0, 1, 1]).numpy())
    assert (fpr[0], tpr[0]) == (0.0, 0.0)
    assert (fpr[-1], tpr[-1]) == (1.0, 1.0)
    assert list(tpr) == sorted(tpr)


def test_a_missing_class_gives_nan_not_an_error() -> None:
    m = fas_metrics([0.7, 0.2], [1, 1])
    assert m["APCER"] == 0.5 and math.isnan(m["BPCER"]) and math.isnan(m["AUC"])


def test_bad_labels_are_refused() -> None:
    with pytest.raises(ValueError, match="0 \\(live\\) or 1"):
        fas_metrics([0.1, 0.2], [0, 2])
    with pytest.raises(ValueError, match="2 scores but 3 labels"):
        fas_metrics([0.1, 0.2], [0, 1, 1])
