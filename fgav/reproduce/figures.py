"""The reproduction's figures: SFA's maps (Fig. 2), clean and adversarial images (Fig. 3), ASR against ε."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import torch
from PIL import Image, ImageDraw

from fgav.auditing import AuditResult
from fgav.auditing.gradient import run_gradient_attack
from fgav.core.aiming import PartObjective
from fgav.core.interfaces import Augmenter
from fgav.core.model import CLASSIFICATION, MultiTaskModel, spoof_probability
from fgav.core.types import Batch
from fgav.data import open_dataset
from fgav.registry import create_attack, get_augmenter
from fgav.reports.audit import asr_against_epsilon
from fgav.reproduce.experiments import parts_job
from fgav.reproduce.jobs import Setting
from fgav.sfa.figure import pick_examples, sfa_figure

if TYPE_CHECKING:
    from foolbox.attacks.gradient_descent_base import BaseGradientDescent

    from fgav.sfa.augmenter import SFA


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
    batch: Batch = {"image": x, "spoof": labels}
    objective = PartObjective.for_batch(model, CLASSIFICATION, batch)
    fgsm = cast("BaseGradientDescent", create_attack("fgsm"))  # fgav's FGSM is Foolbox's LinfFastGradientAttack
    (plain,) = run_gradient_attack(fgsm, objective, x, [eps])
    with torch.no_grad():
        augmented = sfa(x, batch).clamp(0, 1)
    (pushed,) = run_gradient_attack(fgsm, objective, augmented, [eps])
    columns = [("clean", x), ("FGSM", plain), ("S(x)", augmented), ("FGSM + SFA", pushed)]
    with torch.no_grad():
        probs = [spoof_probability(model(images)) for _, images in columns]
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


def write_figures(s: Setting, results: Mapping[str, Any], out: Path, log: Callable[[str], None]
                  ) -> list[tuple[str, str]]:
    """Fig. 2 (SFA's maps), Fig. 3 (examples) and ASR against ε per part, for the main target.

    Returns (title, path relative to ``out``) per figure written into ``out/figures``.
    """
    model = s.targets[s.main]
    size = int(model.config.get("image_size", 64))
    train = open_dataset(s.data, split="train", image_size=size)
    test = open_dataset(s.data, split="test", image_size=size)
    sfa = cast("SFA", get_augmenter("sfa").for_model(model, data=train, **dict(s.sfa_options)))
    x, labels = pick_examples(test, 3)
    device = next(model.parameters()).device
    x, labels = x.to(device), labels.to(device)
    folder = out / "figures"
    folder.mkdir(parents=True, exist_ok=True)
    sfa_figure(sfa, x, labels, model=model).save(folder / "fig2_sfa_maps.png")
    examples_figure(model, sfa, x, labels).save(folder / "fig3_examples.png")
    figures = [("Fig. 2: SFA's live and spoof maps", "figures/fig2_sfa_maps.png"),
               ("Fig. 3: clean and FGSM examples without and with SFA", "figures/fig3_examples.png")]
    sweep = results.get(parts_job(s, s.main).key)
    png = asr_against_epsilon(sweep, "fgsm") if isinstance(sweep, AuditResult) else None
    if png is not None:
        (folder / "asr_vs_eps.png").write_bytes(png)
        figures.append((f"FGSM on each part of {s.main}: attack success rate against ε (colour: part; line "
                        "style: augmenter; error bars: 95 % Wilson intervals)", "figures/asr_vs_eps.png"))
    log(f"figures in {folder}")
    return figures
