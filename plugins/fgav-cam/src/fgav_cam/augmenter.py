"""Class activation maps of the live/spoof decision as fgav augmenters (the paper's Tab. 2).

S(x) = clip(x + alpha * (CAM_opposite(x) - CAM_same(x)), 0, 1): like SFA's maps, the
map of the class each sample is pushed towards minus the map of its own class
(``batch["spoof"]``), one channel added to all three. The CAMs come from the
``grad-cam`` package (``pytorch_grad_cam``), computed on the backbone's feature map
for the logits of ``model.heads["classification"]``; each is normalized to [0,1] per
image and resized to the image by the package.
"""

from __future__ import annotations

import contextlib
import types
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import torch
from fgav import Augmenter
from fgav.core.errors import FgavError
from torch import Tensor, nn

if TYPE_CHECKING:
    from fgav.core.model import MultiTaskModel

DEFAULT_ALPHA = 8 / 255  # as SFA's
CLASSIFICATION = "classification"


class LiveSpoofNet(nn.Module):
    """The live/spoof logits of a multitask model: its backbone, then its classification head.

    Holds the two modules themselves (not the model), so that AblationCAM's temporary
    swap of the target layer happens in this wrapper, never in the user's model.
    """

    def __init__(self, model: MultiTaskModel) -> None:
        super().__init__()
        self.backbone = model.backbone
        self.head = model.heads[CLASSIFICATION]

    def forward(self, x: Tensor) -> Tensor:
        """Return the two live/spoof logits ``(B, 2)``."""
        return self.head(self.backbone(x))


class CAMAugmenter(Augmenter):
    """A class activation map of the live/spoof decision, added to the image like SFA's map.

    Subclasses name the ``pytorch_grad_cam`` class in ``cam_class``. The target model is
    bound by :meth:`fit` or :meth:`for_model` (nothing is trained): until then
    ``needs_fit`` is true.

    Args:
        mode: ``"push"`` (default; the attack starts from S(x)) or ``"guide"``.
        alpha: the map's scale in image units (default 8/255, as SFA's).
        contrast: ``True``: alpha * (CAM_opposite - CAM_same); ``False``: alpha *
            CAM_opposite alone (the one-class map). Default ``True``, except for a
            class-agnostic CAM (eigencam), whose two maps are the same and would cancel.
        batch_size: masked or ablated inputs per forward pass (scorecam, ablationcam).
        layer: the backbone's submodule the CAM is taken at, by its name in
            ``model.backbone.named_modules()`` (e.g. ``model.layer3`` of a timm ResNet):
            an earlier layer gives a finer map (the backbone's output is 2x2 for a
            stride-32 backbone at 64 px). Default: the backbone's output.
    """

    name: ClassVar[str] = ""
    cam_class: ClassVar[str] = ""
    class_agnostic: ClassVar[bool] = False  # the map does not depend on the target class
    batched: ClassVar[bool] = False  # takes a batch_size (many forward passes per image)
    default_batch_size: ClassVar[int] = 64

    def __init__(
        self,
        *,
        mode: str = "push",
        alpha: float = DEFAULT_ALPHA,
        contrast: bool | None = None,
        batch_size: int | None = None,
        layer: str | None = None,
    ) -> None:
        super().__init__(mode=mode)
        try:
            alpha = float(alpha)
        except (TypeError, ValueError):
            raise FgavError(f"{self.name} alpha must be a number, not {alpha!r}") from None
        if not 0 < alpha <= 1:
            raise FgavError(f"{self.name} alpha must be in (0, 1], not {alpha}")
        self.alpha = alpha
        self.contrast = (not self.class_agnostic) if contrast is None else _boolean("contrast", contrast)
        size = self.default_batch_size if batch_size is None else batch_size
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise FgavError(f"{self.name} batch_size must be an integer >= 1, not {batch_size!r}")
        self.batch_size = size
        if layer is not None and (not isinstance(layer, str) or not layer):
            raise FgavError(f"{self.name} layer must be a submodule name of the backbone, not {layer!r}")
        self.layer = layer
        self._target: MultiTaskModel | None = None

    @property
    def needs_fit(self) -> bool:
        """True until a target model is bound (by :meth:`fit` or :meth:`for_model`)."""
        return self._target is None

    def fit(self, model: MultiTaskModel, loader: Iterable[Any] | None = None) -> None:
        """Bind the frozen target model; nothing is trained and ``loader`` is not read."""
        if CLASSIFICATION not in getattr(model, "heads", {}):
            raise FgavError(f"{self.name} needs a multitask model with a {CLASSIFICATION!r} head")
        self._layer_of(model.backbone)  # an unknown layer fails here, not at the first batch
        # A plain attribute, not a submodule: the augmenter must not own (or move, or save) the target.
        object.__setattr__(self, "_target", model)

    @classmethod
    def for_model(cls, model: MultiTaskModel, *, data: Any = None, **options: Any) -> CAMAugmenter:
        """Build the augmenter bound to ``model``; ``data`` is not needed and not read."""
        augmenter = cls(**options)
        augmenter.fit(model)
        return augmenter

    def _layer_of(self, backbone: nn.Module) -> nn.Module:
        """The module the CAM is taken at: ``layer`` inside the backbone, or the backbone."""
        if self.layer is None:
            return backbone
        modules = dict(backbone.named_modules())
        if self.layer not in modules:
            import difflib

            close = difflib.get_close_matches(self.layer, [n for n in modules if n], n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise FgavError(f"{self.name}: the backbone has no layer {self.layer!r}{hint}")
        return modules[self.layer]

    def cams(self, x: Tensor, classes: Tensor) -> Tensor:
        """The CAM of class ``classes[i]`` for image ``x[i]``: ``(B,1,H,W)`` in [0,1], no gradient."""
        if self._target is None:
            raise FgavError(f"augmenter {self.name!r} needs its target model: build it with for_model(model)")
        import pytorch_grad_cam
        from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

        net = LiveSpoofNet(self._target)
        modes = {m: m.training for m in net.modules()}
        options: dict[str, Any] = {}
        if self.cam_class == "AblationCAM":
            options = {"batch_size": self.batch_size, "ablation_layer": pytorch_grad_cam.AblationLayer()}
        cam = getattr(pytorch_grad_cam, self.cam_class)(net, [self._layer_of(net.backbone)], **options)
        if self.batched:
            cam.batch_size = self.batch_size  # ScoreCAM reads it as an attribute
        targets = [ClassifierOutputTarget(int(c)) for c in classes.tolist()]
        inputs = x.detach().clone().requires_grad_(True)  # the target is frozen: gradients start here
        try:
            with torch.enable_grad(), _quiet_progress():
                maps = cam(input_tensor=inputs, targets=targets)
        finally:
            cam.activations_and_grads.release()  # no hook may stay on the user's backbone
            for module, training in modes.items():
                module.train(training)
        maps = np.nan_to_num(np.asarray(maps, dtype=np.float32), nan=0.0, posinf=0.0, neginf=0.0)
        return torch.from_numpy(maps).to(x.device, x.dtype).clamp(0, 1).unsqueeze(1)

    def map_term(self, x: Tensor, batch: Mapping[str, Any]) -> Tensor:
        """alpha * (CAM_opposite - CAM_same), or alpha * CAM_opposite without contrast: ``(B,1,H,W)``."""
        labels = _spoof_labels(batch, x, self.name)
        opposite = self.cams(x, 1 - labels)
        if not self.contrast:
            return self.alpha * opposite
        same = opposite if self.class_agnostic else self.cams(x, labels)
        return self.alpha * (opposite - same)

    def forward(self, x: Tensor, batch: Mapping[str, Any]) -> Tensor:
        """Return S(x) = clip(x + map term, 0, 1), detached (a CAM has no useful gradient)."""
        return (x.detach() + self.map_term(x, batch)).clamp(0, 1)

    def extra_repr(self) -> str:
        size = f", batch_size={self.batch_size}" if self.batched else ""
        size += f", layer={self.layer!r}" if self.layer is not None else ""
        bound = "bound" if self._target is not None else "unbound"
        return f"mode={self.mode!r}, alpha={self.alpha:.4g}, contrast={self.contrast}{size}, {bound}"


class GradCAMAugmenter(CAMAugmenter):
    """Grad-CAM of the live/spoof decision, added to the image like SFA's map (Tab. 2)."""

    name: ClassVar[str] = "gradcam"
    cam_class: ClassVar[str] = "GradCAM"


class GradCAMPlusPlusAugmenter(CAMAugmenter):
    """Grad-CAM++ of the live/spoof decision, added to the image like SFA's map (Tab. 2)."""

    name: ClassVar[str] = "gradcam++"
    cam_class: ClassVar[str] = "GradCAMPlusPlus"


class ScoreCAMAugmenter(CAMAugmenter):
    """Score-CAM of the live/spoof decision (one forward pass per channel; slow), like SFA's map."""

    name: ClassVar[str] = "scorecam"
    cam_class: ClassVar[str] = "ScoreCAM"
    batched: ClassVar[bool] = True


class AblationCAMAugmenter(CAMAugmenter):
    """Ablation-CAM of the live/spoof decision (one head pass per channel), like SFA's map."""

    name: ClassVar[str] = "ablationcam"
    cam_class: ClassVar[str] = "AblationCAM"
    batched: ClassVar[bool] = True


class EigenCAMAugmenter(CAMAugmenter):
    """Eigen-CAM (class-agnostic: first principal component of the features), added to the image."""

    name: ClassVar[str] = "eigencam"
    cam_class: ClassVar[str] = "EigenCAM"
    class_agnostic: ClassVar[bool] = True


class LayerCAMAugmenter(CAMAugmenter):
    """Layer-CAM of the live/spoof decision, added to the image like SFA's map (Tab. 2)."""

    name: ClassVar[str] = "layercam"
    cam_class: ClassVar[str] = "LayerCAM"


@contextlib.contextmanager
def _quiet_progress() -> Iterator[None]:
    """Silence the tqdm bars ScoreCAM and AblationCAM print per image (in their modules only)."""
    from pytorch_grad_cam import ablation_cam, score_cam

    silent = types.SimpleNamespace(tqdm=lambda iterable, *args, **kwargs: iterable)
    saved = [(module, module.tqdm) for module in (score_cam, ablation_cam)]
    try:
        for module, _ in saved:
            module.tqdm = silent
        yield
    finally:
        for module, original in saved:
            module.tqdm = original


def _spoof_labels(batch: Mapping[str, Any], x: Tensor, name: str) -> Tensor:
    if "spoof" not in batch:
        raise FgavError(f"{name} needs each image's live/spoof label: the batch has no 'spoof' key")
    labels = torch.as_tensor(batch["spoof"], device=x.device).reshape(-1).long()
    if labels.numel() != x.shape[0]:
        raise FgavError(f"{name} got {labels.numel()} live/spoof labels for {x.shape[0]} images")
    if labels.numel() and not bool(((labels == 0) | (labels == 1)).all()):
        raise FgavError(f"{name} needs live/spoof labels 0 or 1")
    return labels


def _boolean(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no"):
        return value.lower() in ("true", "1", "yes")
    raise FgavError(f"{name} must be true or false, not {value!r}")


CAM_AUGMENTERS: list[type[CAMAugmenter]] = [
    GradCAMAugmenter,
    GradCAMPlusPlusAugmenter,
    ScoreCAMAugmenter,
    AblationCAMAugmenter,
    EigenCAMAugmenter,
    LayerCAMAugmenter,
]
