"""FGSM's attack success rate with and without SFA on a target (issue 5's table; run by hand).

On a target checkpoint (default: the embedded resnet18 SynthSpoof target) and the test
split of its data, FGSM at eps 8/255 on the live/spoof decision, with:

- ``none`` (the plain attack),
- ``sfa`` push (the attack starts from S(x); the paper's Tab. 1),
- ``sfa`` guide (gradients at S(x), the step applied to x: within eps of x),
- ``sfa`` push without texture (T = 1; Tab. 3's ablation),
- ``S(x)`` alone (no attack: what SFA's maps do by themselves).

ASR is the share, among test images the target gets right, that it gets wrong after the
attack. Distortion is measured from the clean x (mean per-image L-inf and L2, in [0,1]
units). SFA is trained on the train split if none is stored with the target (sfa_for).
The load average is recorded: the machine is shared.

    python benchmarks/sfa_asr.py --limit 500
    python benchmarks/sfa_asr.py --checkpoint runs/resnet18 --data synth --json sfa.json

Prints a Markdown table for docs/sfa.md.
"""

from __future__ import annotations

import json
import os
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

import click
import foolbox as fb
import torch

import fgav
from fgav.core.devices import resolve_device
from fgav.data import make_loader, open_dataset
from fgav.sfa import sfa_for


def _load() -> str:
    return " ".join(f"{v:.1f}" for v in os.getloadavg())


def measure(model: fgav.MultiTaskModel, loader: Any, augmenter: fgav.Augmenter | None, eps: float, *, attack: bool) -> dict[str, Any]:
    """ASR and distortion from x of FGSM (or of S(x) alone where ``attack`` is false)."""
    fmodel = fgav.foolbox_model(model)
    right = fooled = n = 0
    linf = l2 = 0.0
    start = time.perf_counter()
    device = next(model.parameters()).device
    for batch in loader:
        if not len(batch["image"]):
            continue
        x, y = batch["image"].to(device).float(), batch["spoof"].to(device)
        if attack:
            wrapped = augmenter.wrap(fb.attacks.FGSM()) if augmenter is not None else fb.attacks.FGSM()
            _, x_adv, _ = wrapped(fmodel, x, y, epsilons=eps)
        else:
            with torch.no_grad():
                x_adv = augmenter(x, {"spoof": y}) if augmenter is not None else x
        with torch.no_grad():
            clean_ok = fmodel(x).argmax(1) == y
            adv_wrong = fmodel(x_adv).argmax(1) != y
        delta = (x_adv - x).flatten(1)
        right += int(clean_ok.sum())
        fooled += int((clean_ok & adv_wrong).sum())
        linf += float(delta.abs().amax(1).sum())
        l2 += float(delta.norm(dim=1).sum())
        n += len(x)
    return {
        "asr": round(fooled / max(right, 1), 4),
        "clean_right": right,
        "n": n,
        "linf_255": round(linf / max(n, 1) * 255, 2),
        "l2": round(l2 / max(n, 1), 4),
        "seconds": round(time.perf_counter() - start, 1),
    }


@click.command()
@click.option("--checkpoint", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Target checkpoint (default: the embedded resnet18 SynthSpoof target).")
@click.option("--data", default="synth", show_default=True)
@click.option("--eps", default="8/255", show_default=True)
@click.option("--alpha", default=None, help="SFA's map bound (default: SFA's, 8/255).")
@click.option("--limit", type=int, default=None, help="Test images to attack (default: all).")
@click.option("--train-limit", type=int, default=None, help="Images SFA trains on, where it must be trained.")
@click.option("--epochs", type=int, default=3, show_default=True, help="SFA epochs, where it must be trained.")
@click.option("--batch-size", type=int, default=64, show_default=True)
@click.option("--device", default="auto", show_default=True)
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), default=None)
def main(checkpoint: Path | None, data: str, eps: str, alpha: str | None, limit: int | None, train_limit: int | None,
         epochs: int, batch_size: int, device: str, json_path: Path | None) -> None:
    """Measure FGSM's ASR with none, SFA push, SFA guide and SFA without texture."""
    dev = resolve_device(device)
    if checkpoint is None:
        from fgav.targets import default

        model = default("resnet18", device=dev)
    else:
        model = fgav.load_model(checkpoint, device=dev)
    epsilon = float(Fraction(eps))
    bound = float(Fraction(alpha)) if alpha else None
    size = int(model.config.get("image_size", 64))
    test = open_dataset(data, split="test", image_size=size).limit(limit)
    loader = make_loader(test, batch_size=batch_size)
    common = {"data": data, "alpha": bound, "epochs": epochs, "limit": train_limit}
    timings: dict[str, float] = {}
    start = time.perf_counter()
    sfa_push = sfa_for(model, **common, texture=True)
    sfa_guide = sfa_for(model, **common, texture=True, mode="guide")
    timings["sfa"] = round(time.perf_counter() - start, 1)
    start = time.perf_counter()
    sfa_flat = sfa_for(model, **common, texture=False)
    timings["sfa_no_texture"] = round(time.perf_counter() - start, 1)
    rows: list[dict[str, Any]] = []
    load_before = _load()
    for name, augmenter, attack in (
        ("none", None, True),
        ("sfa push", sfa_push, True),
        ("sfa guide", sfa_guide, True),
        ("sfa push, no texture", sfa_flat, True),
        ("S(x) alone (no attack)", sfa_push, False),
        ("S(x) alone, no texture", sfa_flat, False),
    ):
        rows.append({"augmenter": name, **measure(model, loader, augmenter, epsilon, attack=attack)})
    record = {
        "checkpoint": str(model.checkpoint_dir), "data": data, "eps": eps, "alpha_255": round(sfa_push.alpha * 255, 3),
        "sfa_training": sfa_push.info.get("training"), "sfa_no_texture_training": sfa_flat.info.get("training"),
        "sfa_fit_seconds": timings, "device": str(dev), "threads": torch.get_num_threads(),
        "load_before": load_before, "load_after": _load(), "rows": rows,
    }  # fmt: skip
    print(f"\nFGSM eps {eps} on the live/spoof decision, {rows[0]['n']} test images of {data}; "
          f"target {model.checkpoint_dir}; SFA alpha {record['alpha_255']}/255\n")
    print("| Augmenter | ASR | clean right | L-inf from x (/255) | L2 from x |")
    print("|---|---:|---:|---:|---:|")
    for row in rows:
        print(f"| {row['augmenter']} | {row['asr']:.3f} | {row['clean_right']} | {row['linf_255']:.1f} | {row['l2']:.3f} |")
    print(f"\nload average {load_before} -> {record['load_after']} ({dev}, {record['threads']} threads)")
    if json_path is not None:
        json_path.write_text(json.dumps(record, indent=2))


if __name__ == "__main__":
    main()
