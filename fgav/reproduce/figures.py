"""The reproduction's example figure (the paper's Fig. 3): clean and adversarial images."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

import numpy as np
import torch
from PIL import Image, ImageDraw

from fgav.auditing.gradient import run_gradient_attack
from fgav.attacks.aiming import PartObjective
from fgav.interfaces import Augmenter
from fgav.model import CLASSIFICATION, MultiTaskModel
from fgav.registry import create_attack

if TYPE_CHECKING:
    from foolbox.attacks.gradient_descent_base import BaseGradientDescent


def _tile(x: torch.Tensor, cell: int) -> Image.Image:
    array = (x.detach().clamp(0, 1).permute(1, 2, 0).cpu().numpy() * 255).round().astype(np.uint8)
    return Image.fromarray(array).resize((cell, cell), Image.Resampling.NEAREST)


def examples_figure(
    model: MultiTaskModel,
    sfa: Augmenter,
    x: torch.Tensor,
    labels: torch.Tensor,
    *,
    eps: float = 8 / 255,
    cell: int = 112,
) -> Image.Image:
    """Rows of images: clean, FGSM without SFA, SFA's S(x), FGSM with SFA (push); p(spoof) under each."""
    batch = {"image": x, "spoof": labels}
    objective = PartObjective.for_batch(model, CLASSIFICATION, batch)
    fgsm = cast("BaseGradientDescent", create_attack("fgsm"))  # fgav's FGSM is Foolbox's LinfFastGradientAttack
    (plain,) = run_gradient_attack(fgsm, objective, x, [eps])
    with torch.no_grad():
        augmented = sfa(x, batch).clamp(0, 1)
    (pushed,) = run_gradient_attack(fgsm, objective, augmented, [eps])
    columns = [("clean", x), ("FGSM", plain), ("S(x)", augmented), ("FGSM + SFA", pushed)]
    with torch.no_grad():
        probs = [model(images)[CLASSIFICATION].softmax(1)[:, 1] for _, images in columns]
    pad, text = 6, 28
    width = len(columns) * (cell + pad) + pad
    height = text + len(x) * (cell + text) + pad
    figure = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(figure)
    for j, (title, _) in enumerate(columns):
        draw.text((pad + j * (cell + pad), 8), title, fill="black")
    for i in range(len(x)):
        top = text + i * (cell + text)
        for j, (_, images) in enumerate(columns):
            left = pad + j * (cell + pad)
            figure.paste(_tile(images[i], cell), (left, top))
            truth = "spoof" if int(labels[i]) else "live"
            draw.text((left, top + cell + 4), f"{truth}: p(spoof)={float(probs[j][i]):.2f}", fill="black")
    return figure
