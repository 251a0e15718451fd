"""The types every layer shares: the batch dict (public API, see docs/plugins.md)."""

from __future__ import annotations

from typing import TypedDict

from torch import Tensor


class Batch(TypedDict, total=False):
    """A batch of samples, as fgav's data sets and loaders give it (docs/plugins.md, "The batch").

    Every key but ``image`` is optional: a data set's ``provides`` lists the ground-truth
    keys it has for every sample. Shapes are batch first; ``S`` is the image side. A
    third-party data set may add keys of its own (a head's ``target_key``).
    """

    image: Tensor  # float32 (B,3,S,S) in [0,1]
    spoof: Tensor  # int64 (B,): 0 live, 1 spoof
    attributes: Tensor  # float32 (B,40): CelebA's facial attributes, 0 or 1
    spoof_type: Tensor  # int64 (B,): 0 live, 1-10 CelebA-Spoof's spoof types
    illumination: Tensor  # int64 (B,): 0 live, 1-4 CelebA-Spoof's illumination conditions
    environment: Tensor  # int64 (B,): 0 live, 1-2 indoor/outdoor
    depth: Tensor  # float32 (B,1,S,S) in [0,1]: the face's depth, zero for spoof
    reflection: Tensor  # float32 (B,1,S,S) in [0,1]: the reflection map, zero for live
    valid: dict[str, Tensor]  # key -> bool (B,): false where that ground truth is unknown
    index: Tensor  # int64 (B,): each sample's position in its data set
    path: list[str]  # each image's path, relative to the data set's root
    skipped: list[str]  # images of this batch that could not be read (skipped, counted)
    skip_reasons: list[str]  # why each of them was skipped


__all__ = ["Batch"]
