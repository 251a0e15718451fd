"""``fgav train`` and ``fgav evaluate``: train a multitask target model, then measure it."""

from __future__ import annotations

import json
import os
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from fgav.auditing.result import write_atomically
from fgav.core.errors import FgavError
from fgav.core.io import check_outputs, check_writable, write_atomically, write_safely


def _parse_weights(pairs: tuple[str, ...]) -> dict[str, float]:
    weights: dict[str, float] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        try:
            if not sep or not name:
                raise ValueError
            weights[name.strip()] = float(value)
        except ValueError:
            raise FgavError(f"--loss-weight takes head=weight (e.g. depth=0.1), not {pair!r}") from None
    return weights


def _is_main() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


@click.command()
@click.option("--backbone", default="resnet18", show_default=True, help="A registered backbone, or timm:<name>.")
@click.option("--head", "heads", multiple=True, help="A head to train (repeat; default the paper's six).")
@click.option("--data", default="synth", show_default=True, help="A data set folder, or 'synth' (SynthSpoof).")
@click.option("--split", default="train", show_default=True, help="The split to train on.")
@click.option("--image-size", default=64, show_default=True, type=int, help="Input side in pixels.")
@click.option("--epochs", type=int, help="Epochs (default: the backbone's recipe).")
@click.option("--batch-size", type=int, help="Images per step and process (default: the recipe's).")
@click.option("--lr", type=float, help="Peak learning rate (default: the backbone's recipe).")
@click.option("--seed", default=0, show_default=True, type=int, help="Seeds weights, data order and augmentation.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N.")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Output directory.")
@click.option("--resume", is_flag=True, help="Continue the run in --out.")
@click.option("--overwrite", is_flag=True, help="Replace the run in --out.")
@click.option("--loss-weight", "loss_weights", multiple=True, metavar="HEAD=W", help="Eq. 10's weight of a head.")
@click.option("--compile", "compile_", is_flag=True, help="Wrap the model in torch.compile.")
@click.option("--limit", type=int, help="Train on the first N images only.")
@click.option("--workers", default=0, show_default=True, type=int, help="Data-loading worker processes.")
def train(
    backbone: str, heads: tuple[str, ...], data: str, split: str, image_size: int, epochs: int | None,
    batch_size: int | None, lr: float | None, seed: int, device: str, out: Path, resume: bool, overwrite: bool,
    loss_weights: tuple[str, ...], compile_: bool, limit: int | None, workers: int,
) -> None:  # fmt: skip
    """Train a multitask target model with the loss of Eq 10; runs under torchrun as well."""
    from fgav.train import train as run_training

    check_writable(out, what="--out", folder=True)  # before any data is read or a step is taken
    console = Console(stderr=True)
    result = run_training(
        backbone=backbone, out=out, data=data, heads=list(heads) or None, split=split, image_size=image_size,
        epochs=epochs, batch_size=batch_size, lr=lr, seed=seed, device=device, resume=resume,
        overwrite=overwrite, loss_weights=_parse_weights(loss_weights), compile=compile_, limit=limit,
        workers=workers, console=console,
    )  # fmt: skip
    if _is_main() and result.metrics:
        last = result.metrics[-1]
        console.print(
            f"trained {result.epochs} epochs in {result.seconds:.0f} s: loss {last['loss']:.4f}, "
            f"train accuracy {last['train_accuracy']:.4f}; checkpoint in {out}",
            highlight=False,
        )


def _table(result: dict) -> Table:
    table = Table(title=f"{result['n']} images", caption=str(result.get("checkpoint", "")))
    table.add_column("metric")
    table.add_column("value", justify="right")
    for group in ("accuracy", "mse", "loss", "fas"):
        for name, value in result.get(group, {}).items():
            table.add_row(f"{group} {name}", "n/a" if value is None else f"{value:.4f}")
    return table


@click.command()
@click.option("--checkpoint", required=True, type=click.Path(path_type=Path), help="A checkpoint directory.")
@click.option("--data", default="synth", show_default=True, help="A data set folder, or 'synth' (SynthSpoof).")
@click.option("--split", default="test", show_default=True, help="The split to evaluate.")
@click.option("--limit", type=int, help="Evaluate the first N images only.")
@click.option("--batch-size", default=128, show_default=True, type=int, help="Images per batch.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N.")
@click.option("--workers", default=0, show_default=True, type=int, help="Data-loading worker processes.")
@click.option("--json", "json_file", type=click.Path(path_type=Path), help="Write the results to this JSON file.")
def evaluate(
    checkpoint: Path, data: str, split: str, limit: int | None, batch_size: int, device: str, workers: int,
    json_file: Path | None,
) -> None:  # fmt: skip
    """Per-head accuracy, map MSE and FAS metrics (APCER, BPCER, ACER, AUC, TPR@FPR)."""
    from fgav.data import cache_dir
    from fgav.train import evaluate as run_evaluation

    check_outputs({"--json": json_file})  # before the pass over the data, not after it
    console = Console(stderr=True)
    result = run_evaluation(
        checkpoint, data=data, split=split, limit=limit, batch_size=batch_size, device=device,
        workers=workers, console=console,
    )  # fmt: skip
    if not _is_main():
        return
    Console().print(_table(result))
    if result["skipped"]:
        n = result['skipped']
        console.print(f"note: {n} unreadable image{'s' if n != 1 else ''} skipped", highlight=False)
    if json_file is not None:  # atomically; a write failing now puts the figures elsewhere rather than losing them
        text = json.dumps(result, indent=2) + "\n"
        saved = write_safely(json_file, lambda path: write_atomically(path, text), fallbacks=[cache_dir() / "unsaved"])
        console.print(saved.message(json_file), markup=False, highlight=False, soft_wrap=True)
        if saved.problem is not None:
            raise SystemExit(1)
