"""Metrics of fgav: the face anti-spoofing metrics of the live/spoof decision (Sec. 4.1), and the
uncertainty of rates (Wilson intervals, McNemar's paired test)."""

from __future__ import annotations

from fgav.metrics.fas import (FPR_TARGETS, auc, fas_counts, fas_intervals, fas_metrics, fpr_key, roc_points,
                              threshold_at_fpr, tpr_at_fpr, tpr_at_fpr_roc)
from fgav.metrics.stats import McNemar, format_p, mcnemar, mcnemar_p, wilson_interval

__all__ = ["FPR_TARGETS", "McNemar", "auc", "fas_counts", "fas_intervals", "fas_metrics", "format_p", "fpr_key",
           "mcnemar", "mcnemar_p", "roc_points", "threshold_at_fpr", "tpr_at_fpr", "tpr_at_fpr_roc",
           "wilson_interval"]
