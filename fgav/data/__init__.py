"""Face anti-spoofing data: SynthSpoof, CelebA-Spoof, plain folders, and their loaders.

``open_dataset(path, split=..., image_size=...)`` returns a :class:`FASDataset` whose
items are batch dicts (:class:`fgav.core.types.Batch`, docs/plugins.md):

- ``image`` float32 ``(3,S,S)`` in [0,1] (CelebA-Spoof: the bounding-box crop);
- ``attributes`` float32 ``(40,)``; ``spoof_type``, ``illumination``,
  ``environment``, ``spoof`` int64 scalars (CelebA-Spoof layout; a plain folder
  gives ``spoof`` only);
- ``depth``, ``reflection`` float32 ``(1,S,S)`` in [0,1] and ``valid``
  (``{"depth": bool, "reflection": bool}``: false where the ground truth is unknown);
- ``index`` (position in the data set) and ``path`` (relative to its root).

``dataset.provides`` lists the keys with ground truth for every sample.
``make_loader`` batches them, skipping and listing unreadable images (see
:mod:`fgav.data.loading`).
"""

from __future__ import annotations

from fgav.data.cache import cache_dir, synth_path
from fgav.data.celeba import CelebASpoofDataset
from fgav.data.dataset import EmptySplitError, FASDataset, UnreadableImageError
from fgav.data.folder import FolderDataset
from fgav.data.layout import SYNTH, detect_layout, open_dataset
from fgav.data.loading import SkipCounter, make_loader

__all__ = [
    "SYNTH",
    "CelebASpoofDataset",
    "EmptySplitError",
    "FASDataset",
    "FolderDataset",
    "SkipCounter",
    "UnreadableImageError",
    "cache_dir",
    "detect_layout",
    "make_loader",
    "open_dataset",
    "synth_path",
]
