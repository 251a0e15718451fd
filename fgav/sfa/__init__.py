"""Semantic Feature Augmentation (Sec. 3.2): the LBP texture filter, the map VAEs, the augmenter.

``sfa_for(model, data=...)`` is what an audit calls: the SFA stored with a target
checkpoint, or a freshly trained (and stored) one.
"""

from __future__ import annotations

from fgav.sfa.augmenter import SFA, sfa_for, training_loader, variant_dir
from fgav.sfa.lbp import lbp, to_gray
from fgav.sfa.vae import MapVAE, kl_divergence

__all__ = ["SFA", "MapVAE", "kl_divergence", "lbp", "sfa_for", "to_gray", "training_loader", "variant_dir"]
