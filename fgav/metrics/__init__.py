"""Metrics of fgav: the face anti-spoofing metrics of the live/spoof decision (Sec. 4.1)."""

from __future__ import annotations

from fgav.metrics.fas import FPR_TARGETS, auc, fas_metrics, roc_points, tpr_at_fpr

__all__ = ["FPR_TARGETS", "auc", "fas_metrics", "roc_points", "tpr_at_fpr"]
