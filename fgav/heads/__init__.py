"""Built-in heads: the six outputs of the paper's multitask model (Sec. 3.3)."""

from __future__ import annotations

from fgav.heads.maps import DepthHead, MapHead, ReflectionHead
from fgav.heads.vector import (
    AttributeHead,
    ClassificationHead,
    IlluminationHead,
    LinearHead,
    SoftmaxHead,
    SpoofTypeHead,
)

BUILTIN_HEADS: list[type] = [
    AttributeHead,
    SpoofTypeHead,
    IlluminationHead,
    DepthHead,
    ReflectionHead,
    ClassificationHead,
]

__all__ = ["BUILTIN_HEADS", "LinearHead", "MapHead", "SoftmaxHead"]
