"""Backbones built from timm models: the paper's four and any timm model as ``timm:<name>``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, cast

import timm
import torch
from torch import Tensor

from fgav.core.errors import FgavError
from fgav.core.interfaces import Backbone

if TYPE_CHECKING:
    from timm.models import FeatureInfo

# ImageNet statistics: timm's networks expect normalized input, fgav's contract is [0,1].
_MEAN = (0.485, 0.456, 0.406)
_STD = (0.229, 0.224, 0.225)


class TimmBackbone(Backbone):
    """Any timm model as ``timm:<name>``: its last feature map, NCHW (no download)."""

    name: ClassVar[str] = "timm"
    model_name: ClassVar[str] = ""
    # Options timm needs to build the model for the image size asked (Swin's img_size).
    sized: ClassVar[bool] = False
    # Buffers registered in __init__ (nn.Module's __getattr__ types them loosely).
    mean: Tensor
    std: Tensor

    def __init__(
        self,
        *,
        model_name: str | None = None,
        image_size: int = 224,
        weights: str | Path | None = None,
        **timm_options: Any,
    ) -> None:
        """Build the feature extractor.

        Args:
            model_name: the timm model (defaults to the class's own).
            image_size: the input size; models with a fixed input size are built for it.
            weights: a local weights file (safetensors, or a .pth read with
                ``weights_only=True``); nothing is ever downloaded.
            **timm_options: passed to ``timm.create_model``.
        """
        super().__init__()
        self.model_name_used = model_name or self.model_name
        if not self.model_name_used:
            raise FgavError("the timm backbone needs a model name: use timm:<name>, e.g. timm:mobilenetv3_small_100")
        if self.model_name_used not in timm.list_models():
            raise FgavError(f"timm has no model {self.model_name_used!r}")
        if self.sized or _takes_img_size(self.model_name_used):
            timm_options.setdefault("img_size", image_size)
        pretrained = weights is not None
        if pretrained and not Path(weights).is_file():  # type: ignore[arg-type]
            raise FgavError(f"weights file not found: {weights}")
        overlay = {"file": str(weights)} if pretrained else None
        try:
            self.body = timm.create_model(
                self.model_name_used,
                pretrained=pretrained,
                pretrained_cfg_overlay=overlay,
                features_only=True,
                out_indices=(-1,),
                **timm_options,
            )
        except (RuntimeError, TypeError, ValueError) as exc:
            raise FgavError(f"timm could not build {self.model_name_used!r}: {exc}".splitlines()[0]) from exc
        # timm types features_only models as plain Modules; they all carry a FeatureInfo.
        self.out_channels = int(cast("FeatureInfo", self.body.feature_info).channels()[-1])
        self.reduction = int(cast("FeatureInfo", self.body.feature_info).reduction()[-1])
        self._nhwc = "swin" in self.model_name_used or getattr(self.body, "output_fmt", "NCHW") == "NHWC"
        self.register_buffer("mean", torch.tensor(_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(_STD).view(1, 3, 1, 1), persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        """Return the last feature map ``(B, out_channels, h, w)`` of images in [0,1]."""
        features = self.body((x - self.mean) / self.std)[-1]
        if self._nhwc and features.shape[-1] == self.out_channels and features.shape[1] != self.out_channels:
            features = features.permute(0, 3, 1, 2)
        return features.contiguous()


def _takes_img_size(model_name: str) -> bool:
    # Vision transformers are built for one input size; CNNs take any.
    return any(key in model_name for key in ("swin", "vit", "deit", "beit", "eva", "maxvit"))


class VGG13(TimmBackbone):
    """VGG-13 (Simonyan and Zisserman 2014) from timm, 512 channels at stride 32."""

    name: ClassVar[str] = "vgg13"
    model_name: ClassVar[str] = "vgg13"


class ResNet18(TimmBackbone):
    """ResNet-18 (He et al. 2016) from timm, 512 channels at stride 32."""

    name: ClassVar[str] = "resnet18"
    model_name: ClassVar[str] = "resnet18"


class DenseNet121(TimmBackbone):
    """DenseNet-121 (Huang et al. 2017) from timm, 1024 channels at stride 32."""

    name: ClassVar[str] = "densenet121"
    model_name: ClassVar[str] = "densenet121"


class SwinT(TimmBackbone):
    """Swin-T (Liu et al. 2021) from timm, built for the image size asked, 768 channels."""

    name: ClassVar[str] = "swin"
    model_name: ClassVar[str] = "swin_tiny_patch4_window7_224"
    sized: ClassVar[bool] = True
