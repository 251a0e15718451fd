"""The paper's Fig. 2: image, LBP texture, live map, spoof map and S(x), composed with PIL.

Maps are signed: red where a map brightens the image, blue where it darkens it, white
at zero, full colour at ``alpha``. Each row is labelled with the sample's class and,
where a model is given, its probability of spoof on x and on S(x).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont
from torch import Tensor

from fgav.core.errors import FgavError
from fgav.core.model import spoof_probability

if TYPE_CHECKING:
    from fgav.sfa.augmenter import SFA

COLUMNS: tuple[str, ...] = ("image x", "LBP T(x)", "live map", "spoof map", "S(x)")
HEADER, LABEL_WIDTH, GAP = 18, 150, 4


def _rgb(x: Tensor) -> np.ndarray:
    """An image ``(C,H,W)`` in [0,1] as uint8 ``(H,W,3)``."""
    x = x.detach().float().cpu().clamp(0, 1)
    if x.shape[0] == 1:
        x = x.expand(3, -1, -1)
    return (x.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)


def signed_map(m: Tensor, bound: float) -> np.ndarray:
    """A signed map ``(1,H,W)`` as uint8 RGB: red positive, blue negative, white zero."""
    v = (m.detach().float().cpu()[0] / max(bound, 1e-12)).clamp(-1, 1).numpy()
    pos, neg = np.clip(v, 0, 1), np.clip(-v, 0, 1)
    rgb = np.stack([1 - neg, 1 - pos - neg, 1 - pos], axis=-1)
    return (rgb * 255).round().astype(np.uint8)


def _cell(array: np.ndarray, size: int) -> Image.Image:
    return Image.fromarray(array).resize((size, size), Image.Resampling.NEAREST)


def sfa_figure(
    sfa: SFA,
    x: Tensor,
    spoof: Tensor,
    *,
    model: torch.nn.Module | None = None,
    cell: int = 96,
) -> Image.Image:
    """A grid with one row per image: x, T(x), M_live(x), M_spoof(x), S(x) (Fig. 2).

    Args:
        sfa: a fitted SFA module.
        x: images ``(N,3,H,W)`` in [0,1].
        spoof: their labels ``(N,)``.
        model: the target; where given, each row shows its P(spoof) on x and S(x).
        cell: the side of each cell in pixels.

    Raises:
        FgavError: no images, or labels that do not match them.
    """
    if x.dim() != 4 or len(x) == 0:
        raise FgavError("the SFA figure needs a non-empty batch of images (N,3,H,W)")
    spoof = torch.as_tensor(spoof).reshape(-1)
    if len(spoof) != len(x):
        raise FgavError(f"the SFA figure got {len(spoof)} labels for {len(x)} images")
    device = next(iter(sfa.parameters())).device
    x, spoof = x.to(device).float(), spoof.to(device)
    with torch.no_grad():
        texture = sfa.texture_map(x)
        m_live, m_spoof = sfa.maps(x)
        s = sfa(x, {"spoof": spoof})
        p_clean = p_aug = None
        if model is not None:
            p_clean = spoof_probability(model(x)).tolist()
            p_aug = spoof_probability(model(s)).tolist()
    bound = sfa.alpha * float(texture.max()) if sfa.texture else sfa.alpha
    rows = [
        [_rgb(x[i]), _rgb(texture[i]), signed_map(m_live[i], bound), signed_map(m_spoof[i], bound), _rgb(s[i])]
        for i in range(len(x))
    ]
    labels = [_row_label(int(spoof[i]), p_clean, p_aug, i) for i in range(len(x))]
    return _compose(rows, labels, COLUMNS, cell=cell, title=_title(sfa))


def _row_label(label: int, p_clean: Sequence[float] | None, p_aug: Sequence[float] | None, i: int) -> str:
    name = "spoof" if label else "live"
    if p_clean is None or p_aug is None:
        return name
    return f"{name}\nP(spoof) x:    {p_clean[i]:.2f}\nP(spoof) S(x): {p_aug[i]:.2f}"


def _title(sfa: SFA) -> str:
    texture = "LBP" if sfa.texture else "no texture"
    return f"SFA ({sfa.mode}): alpha {sfa.alpha * 255:.3g}/255, {texture}; maps: red +, blue -"


def _compose(rows: list[list[np.ndarray]], labels: list[str], columns: Sequence[str], *, cell: int, title: str) -> Image.Image:
    font: Any = ImageFont.load_default()
    width = LABEL_WIDTH + len(columns) * (cell + GAP)
    height = 2 * HEADER + len(rows) * (cell + GAP)
    canvas = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(canvas)
    draw.text((GAP, 2), title, fill="black", font=font)
    for j, name in enumerate(columns):
        draw.text((LABEL_WIDTH + j * (cell + GAP) + 2, HEADER + 2), name, fill="black", font=font)
    for i, (row, label) in enumerate(zip(rows, labels)):
        top = 2 * HEADER + i * (cell + GAP)
        draw.multiline_text((GAP, top + 4), label, fill="black", font=font)
        for j, array in enumerate(row):
            canvas.paste(_cell(array, cell), (LABEL_WIDTH + j * (cell + GAP), top))
    return canvas


def pick_examples(dataset: Any, n: int) -> tuple[Tensor, Tensor]:
    """The first ``n`` live and first ``n`` spoof images of a data set (fewer where it lacks them).

    Raises:
        FgavError: the data set has neither class.
    """
    if n < 1:
        raise FgavError(f"show at least one image per class, not {n}")
    labels = dataset.labels()["spoof"].reshape(-1) if hasattr(dataset, "labels") else None
    chosen: list[int] = []
    for cls in (0, 1):
        if labels is not None:
            chosen += torch.nonzero(labels == cls).flatten()[:n].tolist()
        else:
            chosen += [i for i in range(len(dataset)) if int(dataset[i]["spoof"]) == cls][:n]
    if not chosen:
        raise FgavError("the data set has no live or spoof images to show")
    items = [dataset[i] for i in chosen]
    return torch.stack([it["image"] for it in items]), torch.stack([torch.as_tensor(it["spoof"]) for it in items])
