"""The training loop of target models: Eq. 10, resumable, torchrun-aware."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from rich.console import Console
from torch.utils.data import Dataset

from fgav.core.devices import resolve_device
from fgav.core.distributed import init_distributed, on_main
from fgav.core.errors import FgavError
from fgav.train import checkpointing as ckpt
from fgav.train.recipe import Recipe, default_recipe
from fgav.train.sources import limit_dataset, open_data
from fgav.train.trainer import NonFiniteLossError, Runner, StepCallback, select_heads

__all__ = ["NonFiniteLossError", "TrainResult", "select_heads", "train"]


@dataclass
class TrainResult:
    """What a training run leaves: where, the epochs done, its records and skipped images."""

    out: Path
    epochs: int
    metrics: list[dict[str, Any]] = field(default_factory=list)
    skipped: int = 0
    seconds: float = 0.0


def train(
    *,
    backbone: str = "resnet18",
    out: str | Path,
    data: str = "synth",
    dataset: Dataset | None = None,
    heads: Sequence[str] | None = None,
    split: str = "train",
    image_size: int = 64,
    epochs: int | None = None,
    batch_size: int | None = None,
    lr: float | None = None,
    seed: int = 0,
    device: str | torch.device = "auto",
    resume: bool = False,
    overwrite: bool = False,
    loss_weights: dict[str, float] | None = None,
    compile: bool = False,
    limit: int | None = None,
    workers: int = 0,
    progress: bool = True,
    console: Console | None = None,
    on_step: StepCallback | None = None,
) -> TrainResult:
    """Train a multitask target model with Eq. 10 and write it to ``out``.

    Args:
        backbone: a registered backbone name or ``timm:<name>``.
        out: the output directory: checkpoint, ``metrics.jsonl``, resume state.
        data: a data set path, or ``synth`` (the embedded SynthSpoof).
        dataset: a ready data set of batch dicts (replaces ``data``/``split``).
        heads: the heads (default the paper's six; heads without ground truth are dropped).
        split: the split of ``data`` to train on.
        image_size: the input side in pixels.
        epochs, batch_size, lr: override the backbone's default recipe.
        seed: seeds the initialization, the data order and the augmentation.
        device: ``auto``, ``cpu``, ``cuda`` or ``cuda:N``.
        resume: continue the run in ``out`` (its saved options win; ``epochs`` may extend it).
        overwrite: replace the run in ``out``.
        loss_weights: Eq. 10's weight per head name.
        compile: wrap the model in ``torch.compile``.
        limit: train on the first ``limit`` images only.
        workers: data-loading worker processes.
        progress: show the progress bar and notes (rank 0 only).
        console: where notes and the bar go (default stderr).
        on_step: called after every step with ``(epoch, step, loss)``.

    Raises:
        FgavError: bad input, an ``out`` that exists without ``--resume``/``--overwrite``,
            or a non-finite loss (:class:`NonFiniteLossError`).
        KeyboardInterrupt: after saving a checkpoint that ``resume=True`` continues.
    """
    ctx = init_distributed(resolve_device(device))
    console = console or Console(stderr=True)
    say: Callable[[str], None] = console.print if (progress and ctx.is_main) else (lambda _m: None)
    out = Path(out)
    try:
        def prepare() -> dict[str, Any] | None:  # rank 0 alone touches the folder; its refusal stops every rank
            ckpt.prepare_output(out, resume=resume, overwrite=overwrite)
            return ckpt.load_state(out) if resume else None  # finishes a save cut short, first

        state = on_main(prepare, ctx)
        if resume and state is None:  # the other ranks read what rank 0 left
            state = ckpt.load_state(out)
        if state is not None:  # the saved run's options win; only the epoch count may grow
            options = dict(state["options"])
            options["epochs"] = int(epochs or options["epochs"])
        else:
            recipe = default_recipe(backbone).updated(epochs=epochs, batch_size=batch_size, lr=lr)
            if recipe.epochs < 1 or recipe.batch_size < 1 or not recipe.lr > 0:
                raise FgavError("epochs and batch size must be at least 1, and the learning rate positive")
            options = {
                "backbone": backbone, "heads": list(heads) if heads is not None else None,
                "data": data if dataset is None else "<in-memory>", "split": split,
                "image_size": int(image_size), "seed": int(seed), "limit": limit,
                "loss_weights": dict(loss_weights or {}), **recipe.to_dict(),
            }  # fmt: skip
        if dataset is None:
            dataset = open_data(
                options["data"], split=options["split"], image_size=options["image_size"], limit=options["limit"]
            )
        else:
            dataset = limit_dataset(dataset, options["limit"])
        fields = set(Recipe.__dataclass_fields__)
        recipe = Recipe(**{k: v for k, v in options.items() if k in fields})
        start = time.perf_counter()
        runner = Runner(
            options=options, recipe=recipe, dataset=dataset, ctx=ctx, out=out, say=say, compile=compile,
            workers=workers, progress=progress and ctx.is_main, console=console, on_step=on_step, state=state,
        )  # fmt: skip
        records, skipped = runner.fit()
        seconds = time.perf_counter() - start
        if skipped:
            say(f"note: {skipped} unreadable image{'s' if skipped != 1 else ''} skipped (see metrics.jsonl per epoch)")
        return TrainResult(out=out, epochs=runner.epoch, metrics=records, skipped=skipped, seconds=seconds)
    finally:
        ctx.close()
