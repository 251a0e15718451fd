"""The data-augmentation baselines of the paper's Tab. 2 as fgav augmenters.

Each ``forward(x, batch)`` returns S(x) = T(x) in [0,1]: batched, differentiable, with
nothing to fit. The default mode is ``push`` (as SFA's): the attack starts from T(x)
and the audit reports the real distortion from x. ``guide`` mode applies the additive
shift S(x) - x to the attacked point, which means nothing for a geometric transform
(a flip is not a shift): the geometric augmenters refuse it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import torch
from fgav import Augmenter
from fgav.core.errors import FgavError
from torch import Tensor

from fgav_augment import transforms as T

COMBINATIONS = ("a", "b", "c")


class GeometricAugmenter(Augmenter):
    """An augmenter that moves pixels: ``push`` mode only (``guide`` adds S(x) - x)."""

    modes: ClassVar[tuple[str, ...]] = ("push",)

    def __init__(self, *, mode: str = "push") -> None:
        if mode == "guide":
            raise FgavError(
                f"augmenter {self.name!r} moves pixels: guide mode (the additive shift S(x) - x) "
                "means nothing for it; use mode='push'"
            )
        super().__init__(mode=mode)


class VerticalFlip(GeometricAugmenter):
    """Vertical flip (top and bottom swapped), a Tab. 2 data-augmentation baseline."""

    name: ClassVar[str] = "vflip"

    def forward(self, x: Tensor, batch: Mapping[str, Any]) -> Tensor:
        """Return ``x.flip(-2)``."""
        return T.vflip(x)


class HorizontalFlip(GeometricAugmenter):
    """Horizontal flip (left and right swapped), a Tab. 2 data-augmentation baseline."""

    name: ClassVar[str] = "hflip"

    def forward(self, x: Tensor, batch: Mapping[str, Any]) -> Tensor:
        """Return ``x.flip(-1)``."""
        return T.hflip(x)


class Rotate30(GeometricAugmenter):
    """Rotation by 30 degrees about the centre, border filled by reflection (Tab. 2)."""

    name: ClassVar[str] = "rotate30"

    def forward(self, x: Tensor, batch: Mapping[str, Any]) -> Tensor:
        """Return ``x`` rotated by 30 degrees counter-clockwise (as displayed)."""
        return T.rotate(x, T.DEFAULT_DEGREES)


class Brightness(Augmenter):
    """Brightness scaled by a fixed factor (default x1.2), clipped to [0,1] (Tab. 2).

    Args:
        mode: ``"push"`` (default) or ``"guide"``.
        factor: the multiplier of every pixel (default 1.2; must be > 0).
    """

    name: ClassVar[str] = "brightness"

    def __init__(self, *, mode: str = "push", factor: float = T.DEFAULT_BRIGHTNESS) -> None:
        super().__init__(mode=mode)
        self.factor = _positive("factor", factor)

    def forward(self, x: Tensor, batch: Mapping[str, Any]) -> Tensor:
        """Return ``clip(x * factor, 0, 1)``."""
        return T.brightness(x, self.factor)

    def extra_repr(self) -> str:
        return f"mode={self.mode!r}, factor={self.factor}"


class Hue(Augmenter):
    """Hue turned by a fixed shift (default 0.1 of the colour circle, 36 degrees) in HSV (Tab. 2).

    Args:
        mode: ``"push"`` (default) or ``"guide"``.
        shift: the hue shift as a fraction of the circle (default 0.1; any real).
    """

    name: ClassVar[str] = "hue"

    def __init__(self, *, mode: str = "push", shift: float = T.DEFAULT_HUE_SHIFT) -> None:
        super().__init__(mode=mode)
        self.shift = _finite("shift", shift)

    def forward(self, x: Tensor, batch: Mapping[str, Any]) -> Tensor:
        """Return ``x`` with its hue turned by ``shift``."""
        return T.hue(x, self.shift)

    def extra_repr(self) -> str:
        return f"mode={self.mode!r}, shift={self.shift}"


class Ensemble(GeometricAugmenter):
    """The average of Tab. 2's three combinations: each sample gets one, by its index mod 3.

    (a) vflip + hflip + brightness; (b) vflip + hflip + rotate30 + hue;
    (c) vflip + hflip + rotate30 + brightness + hue (applied in that order). Sample i
    gets combination ``batch["index"][i] % 3`` (its position in the batch where the
    batch has no ``index``), so over a data set the ASR is the average of the three.

    Args:
        mode: ``"push"`` only.
        combination: ``"a"``, ``"b"`` or ``"c"`` gives every sample that one
            combination instead (``None``, the default: by index).
        factor: the brightness factor (default 1.2).
        shift: the hue shift (default 0.1 of the circle).
    """

    name: ClassVar[str] = "ensemble"

    def __init__(
        self,
        *,
        mode: str = "push",
        combination: str | None = None,
        factor: float = T.DEFAULT_BRIGHTNESS,
        shift: float = T.DEFAULT_HUE_SHIFT,
    ) -> None:
        super().__init__(mode=mode)
        if combination is not None and combination not in COMBINATIONS:
            raise FgavError(f"ensemble combination must be one of a, b, c (or None), not {combination!r}")
        self.combination = combination
        self.factor = _positive("factor", factor)
        self.shift = _finite("shift", shift)

    def transforms(self) -> tuple[Callable[[Tensor], Tensor], ...]:
        """The three combinations (a), (b), (c) as functions of a batch."""

        def flips(x: Tensor) -> Tensor:
            return T.hflip(T.vflip(x))

        def a(x: Tensor) -> Tensor:
            return T.brightness(flips(x), self.factor)

        def b(x: Tensor) -> Tensor:
            return T.hue(T.rotate(flips(x), T.DEFAULT_DEGREES), self.shift)

        def c(x: Tensor) -> Tensor:
            return T.hue(T.brightness(T.rotate(flips(x), T.DEFAULT_DEGREES), self.factor), self.shift)

        return a, b, c

    def assignment(self, x: Tensor, batch: Mapping[str, Any]) -> Tensor:
        """Which combination (0, 1, 2 for a, b, c) each sample gets, shape ``(B,)``."""
        n = x.shape[0]
        if self.combination is not None:
            return torch.full((n,), COMBINATIONS.index(self.combination), dtype=torch.long, device=x.device)
        index = batch.get("index") if isinstance(batch, Mapping) else None
        if index is None:
            return torch.arange(n, device=x.device) % 3
        index = torch.as_tensor(index, device=x.device).reshape(-1).long()
        if index.numel() != n:
            raise FgavError(f"ensemble got {index.numel()} sample indices for {n} images")
        return index % 3

    def forward(self, x: Tensor, batch: Mapping[str, Any]) -> Tensor:
        """Return each sample's combination of transforms (see the class docstring)."""
        which = self.assignment(x, batch)
        out = torch.empty_like(x)
        for k, transform in enumerate(self.transforms()):
            rows = (which == k).nonzero(as_tuple=True)[0]
            if len(rows):
                out = out.index_copy(0, rows, transform(x.index_select(0, rows)))
        return out

    def extra_repr(self) -> str:
        return f"mode={self.mode!r}, combination={self.combination!r}, factor={self.factor}, shift={self.shift}"


def _finite(name: str, value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise FgavError(f"{name} must be a number, not {value!r}") from None
    if number != number or number in (float("inf"), float("-inf")):
        raise FgavError(f"{name} must be finite, not {value!r}")
    return number


def _positive(name: str, value: Any) -> float:
    number = _finite(name, value)
    if number <= 0:
        raise FgavError(f"{name} must be > 0, not {value!r}")
    return number


AUGMENTERS: list[type[Augmenter]] = [VerticalFlip, HorizontalFlip, Rotate30, Brightness, Hue, Ensemble]
