"""The embedded default target models: one per backbone, trained once on SynthSpoof.

``fgav.targets.default("resnet18")`` returns the default target of a backbone: the model
trained with the default recipe (:func:`fgav.train.default_recipe`) on the train split
of the embedded SynthSpoof, at the image size asked. Where the user cache
(``$FGAV_CACHE``, default ``~/.cache/fgav``) lacks it, it is trained there first, with
its progress bar and a line saying so; later calls load it in a second. The run is
written into a temporary folder and renamed into place when complete, so an interrupted
training never leaves a half-made default behind.
"""

from __future__ import annotations

from fgav.targets.defaults import (
    DEFAULT_VERSION,
    RECORD_FILE,
    CachedTarget,
    cached_targets,
    default,
    default_checkpoint,
    is_cached,
    read_record,
    remove_cached,
)

__all__ = [
    "DEFAULT_VERSION",
    "RECORD_FILE",
    "CachedTarget",
    "cached_targets",
    "default",
    "default_checkpoint",
    "is_cached",
    "read_record",
    "remove_cached",
]
