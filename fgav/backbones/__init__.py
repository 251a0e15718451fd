"""Built-in backbones: the paper's four timm networks and any timm model."""

from __future__ import annotations

from fgav.backbones.timm_backbone import VGG13, DenseNet121, ResNet18, SwinT, TimmBackbone

BUILTIN_BACKBONES: list[type] = [VGG13, ResNet18, DenseNet121, SwinT, TimmBackbone]
