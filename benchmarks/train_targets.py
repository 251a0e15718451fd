"""Train the default targets on SynthSpoof and measure them (issue 4's target; run by hand).

For each backbone: ``fgav train`` with the default recipe on SynthSpoof's train split
(64 px, 2,500 images: 2,000 train, 500 test, subject-disjoint), wall-clock time, then
``fgav evaluate`` on the test split. The load average before and after each run is
recorded: the machine is shared, so timings are only as good as the load allows.

    python benchmarks/train_targets.py                       # the four paper backbones
    python benchmarks/train_targets.py --backbone resnet18 --json out.json

Prints a Markdown table for docs/training.md.
"""

from __future__ import annotations

import json
import os
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

import click
import torch

from fgav.train import default_recipe, evaluate, train

BACKBONES = ("resnet18", "vgg13", "densenet121", "swin")


def _load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def measure(backbone: str, *, out: Path, image_size: int, device: str, epochs: int | None) -> dict[str, Any]:
    """Train and evaluate one backbone; its row of figures."""
    load_before = _load()
    cpu_start = resource.getrusage(resource.RUSAGE_SELF)
    start = time.perf_counter()
    result = train(backbone=backbone, out=out, data="synth", image_size=image_size, device=device,
                   epochs=epochs, overwrite=True)  # fmt: skip
    seconds = time.perf_counter() - start
    cpu_end = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (cpu_end.ru_utime - cpu_start.ru_utime) + (cpu_end.ru_stime - cpu_start.ru_stime)
    load_after = _load()
    report = evaluate(out, data="synth", split="test", device=device, progress=False)
    recipe = default_recipe(backbone).updated(epochs=epochs)
    return {
        "backbone": backbone,
        "recipe": recipe.to_dict(),
        "train_seconds": round(seconds, 1),
        # CPU time over the cores used: what the run would take on an idle machine, roughly.
        "cpu_seconds": round(cpu, 1),
        "idle_estimate_seconds": round(cpu / torch.get_num_threads(), 1),
        "images_per_s": round(sum(r["images"] for r in result.metrics) / max(sum(r["seconds"] for r in result.metrics), 1e-9), 1),
        "load_before": load_before,
        "load_after": load_after,
        "threads": torch.get_num_threads(),
        "accuracy": report["accuracy"],
        "mse": report["mse"],
        "fas": report["fas"],
        "n_test": report["n"],
    }


def markdown(rows: list[dict[str, Any]]) -> str:
    """The rows as a Markdown table."""
    head = ("| backbone | epochs | train s | CPU s / threads | img/s | load (1/5/15 min, before -> after) | live/spoof acc | spoof type acc "
            "| illumination acc | attribute acc | depth MSE | reflection MSE | ACER | AUC | TPR@FPR=1e-2 |")  # fmt: skip
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        a, m, f = r["accuracy"], r["mse"], r["fas"]
        lines.append(
            f"| {r['backbone']} | {r['recipe']['epochs']} | {r['train_seconds']:.0f} | {r['idle_estimate_seconds']:.0f} "
            f"| {r['images_per_s']:.0f} "
            f"| {r['load_before']} -> {r['load_after']} | {a['classification']:.3f} | {a['spoof_type']:.3f} "
            f"| {a['illumination']:.3f} | {a['attribute']:.3f} | {m['depth']:.4f} | {m['reflection']:.4f} "
            f"| {f['ACER']:.3f} | {f['AUC']:.4f} | {f['TPR@FPR=1e-2']:.3f} |"
        )
    return "\n".join(lines)


@click.command()
@click.option("--backbone", "backbones", multiple=True, help="Backbones (default: the paper's four).")
@click.option("--image-size", default=64, show_default=True)
@click.option("--device", default="cpu", show_default=True)
@click.option("--epochs", type=int, help="Override the recipe's epochs.")
@click.option("--json", "json_file", type=click.Path(path_type=Path), help="Append the rows to this JSON-lines file.")
def main(backbones: tuple[str, ...], image_size: int, device: str, epochs: int | None, json_file: Path | None) -> None:
    """Train and evaluate each backbone's default target on SynthSpoof."""
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for backbone in backbones or BACKBONES:
            row = measure(backbone, out=Path(tmp) / backbone, image_size=image_size, device=device, epochs=epochs)
            rows.append(row)
            click.echo(json.dumps(row))
            if json_file is not None:
                with json_file.open("a") as handle:
                    handle.write(json.dumps(row) + "\n")
    click.echo(markdown(rows))


if __name__ == "__main__":
    main()
