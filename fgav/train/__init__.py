"""Training and evaluation of target models (``fgav train``, ``fgav evaluate``).

- :func:`train`: the multitask loss of Eq. 10 with the default recipe, resumable,
  torchrun-aware (DDP; only rank 0 writes).
- :func:`evaluate` / :func:`evaluate_model`: per-head accuracy, map MSE and the FAS
  metrics of the live/spoof decision, exact under torchrun.
"""

from __future__ import annotations

from fgav.train.evaluate import evaluate, evaluate_model
from fgav.train.loop import NonFiniteLossError, TrainResult, train
from fgav.train.recipe import Recipe, default_recipe

__all__ = ["NonFiniteLossError", "Recipe", "TrainResult", "default_recipe", "evaluate", "evaluate_model", "train"]
