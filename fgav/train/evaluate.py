"""Evaluate a target model: per-head accuracy, map MSE and the FAS metrics, torchrun-exact.

Under torchrun every rank evaluates a strided shard of the data (sample ``i`` on rank
``i % world_size``: disjoint, none dropped, no padding), and the per-sample results are
gathered, so every world size reports the numbers of one process.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rich.console import Console
from torch.utils.data import Dataset, Subset

from fgav.core.devices import resolve_device
from fgav.core.distributed import DistContext, gather_objects, init_distributed, raise_together, shard_indices
from fgav.core.errors import FgavError
from fgav.core.interfaces import AuxHead
from fgav.core.model import CLASSIFICATION, MultiTaskModel, check_images, spoof_probability
from fgav.core.progress import progress_display
from fgav.factory import load_model
from fgav.heads.maps import MapHead
from fgav.metrics.fas import fas_metrics
from fgav.train.accel import autocast, move_batch
from fgav.train.sources import limit_dataset, make_data_loader, open_data, provided_keys, skipped_in


def _valid(batch: dict[str, Any], key: str, n: int) -> torch.Tensor:
    mask = (batch.get("valid") or {}).get(key)
    return torch.ones(n, dtype=torch.bool) if mask is None else mask.bool().cpu()


@torch.no_grad()
def _shard_results(
    model: MultiTaskModel, dataset: Dataset, *, batch_size: int, ctx: DistContext, heads: list[str],
    workers: int, show: bool, console: Console | None,
) -> dict[str, Any]:  # fmt: skip
    """This rank's sums and per-sample spoof scores over its shard."""
    shard = Subset(dataset, shard_indices(len(dataset), rank=ctx.rank, world_size=ctx.world_size))  # type: ignore[arg-type]
    loader = make_data_loader(shard, batch_size=batch_size, sampler=None, num_workers=workers, drop_last=False)
    sums = {h: [0.0, 0.0] for h in heads}  # head -> [correct or squared error sum, count]
    scores: list[float] = []
    labels: list[int] = []
    skipped = 0
    with progress_display(enabled=show, console=console) as bar:
        task = bar.add_task("evaluate", total=len(shard), info="")
        for raw in loader:
            skipped += skipped_in(raw)
            n = len(raw["image"])
            if n:
                batch = move_batch(raw, ctx.device)
                # NaN or out-of-range pixels would give figures that look like any others.
                check_images(batch["image"], where=f"the batch from {raw['path'][0]}" if raw.get("path") else "a batch")
                with autocast(ctx.device):
                    outputs = model(batch["image"])
                for name in heads:
                    head = model.heads[name]
                    pred, target = outputs[name].float(), head.target(batch).to(ctx.device)
                    valid = _valid(raw, head.target_key, n)
                    correct = head.correct(pred, target)
                    if correct is not None:
                        per_sample = correct.view(n, -1).float().cpu()
                        sums[name][0] += float(per_sample[valid].sum())
                        sums[name][1] += float(valid.sum()) * per_sample.shape[1]
                    else:
                        sums[name][0] += float(head.loss(pred, target).float().cpu()[valid].sum())
                        sums[name][1] += float(valid.sum())
                valid = _valid(raw, "spoof", n)
                probs = spoof_probability(outputs).cpu()
                scores += probs[valid].tolist()
                labels += batch["spoof"].cpu()[valid].long().tolist()
            bar.update(task, advance=n + skipped_in(raw), info="")
    return {"sums": sums, "scores": scores, "labels": labels, "skipped": skipped, "n": len(shard) - skipped}


def _kind(head: AuxHead) -> str:
    """How a head is scored: ``accuracy`` (it defines ``correct``), ``mse`` (a map), else ``loss``."""
    if type(head).correct is not AuxHead.correct:
        return "accuracy"
    return "mse" if isinstance(head, MapHead) else "loss"


def _clean(value: float) -> float | None:
    return None if isinstance(value, float) and math.isnan(value) else value


def evaluate_model(
    model: MultiTaskModel,
    dataset: Dataset,
    *,
    batch_size: int = 128,
    ctx: DistContext | None = None,
    workers: int = 0,
    progress: bool = True,
    console: Console | None = None,
    note: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Evaluate ``model`` on ``dataset``; every rank returns the same result.

    Returns:
        ``{"accuracy": {head: acc}, "mse": {map head: mse}, "fas": {APCER, BPCER, ACER,
        AUC, TPR@FPR=...}, "n": images evaluated, "skipped": unreadable images}``.
        Accuracy is over samples whose ground truth is known (the attribute head's is
        the mean over its 40 labels, as CelebA's); a value with nothing to count is ``None``.
        The FAS metrics treat spoof as the positive class, the spoof probability as the
        score, and judge spoof at ``score >= 0.5`` (see :mod:`fgav.metrics.fas`).
    """
    ctx = ctx or DistContext(device=next(model.parameters()).device)
    provides = provided_keys(dataset)
    heads = [n for n in model.head_names if not model.heads[n].missing_keys(provides)]
    missing = [n for n in model.head_names if n not in heads]
    if missing and note is not None and ctx.is_main:
        note(f"note: the data has no ground truth for {', '.join(missing)}: not evaluated")
    was_training = model.training
    model.eval()
    error: str | None = None
    try:
        local = _shard_results(
            model, dataset, batch_size=batch_size, ctx=ctx, heads=heads, workers=workers,
            show=progress and ctx.is_main, console=console,
        )  # fmt: skip
    except FgavError as exc:  # e.g. a malformed box file in this rank's shard
        if not ctx.distributed:
            raise
        local, error = {}, str(exc)
    finally:
        model.train(was_training)
    raise_together(error, ctx)  # every rank stops with the line, none in a broken collective
    parts = gather_objects(local, ctx)
    accuracy: dict[str, float | None] = {}
    mse: dict[str, float | None] = {}
    loss: dict[str, float | None] = {}  # heads with neither accuracy nor a map: their mean loss
    for name in heads:
        total = sum(p["sums"][name][0] for p in parts)
        count = sum(p["sums"][name][1] for p in parts)
        value = total / count if count else None
        kind = _kind(model.heads[name])
        (accuracy if kind == "accuracy" else mse if kind == "mse" else loss)[name] = value
    scores = np.array([s for p in parts for s in p["scores"]], dtype=np.float64)
    labels = np.array([y for p in parts for y in p["labels"]], dtype=np.int64)
    fas = {k: _clean(v) for k, v in fas_metrics(scores, labels).items()} if len(scores) else {}
    result: dict[str, Any] = {"accuracy": accuracy, "mse": mse}
    if loss:
        result["loss"] = loss
    return {
        **result,
        "fas": fas,
        "n": int(sum(p["n"] for p in parts)),
        "skipped": int(sum(p["skipped"] for p in parts)),
    }


def evaluate(
    checkpoint: str | Path,
    *,
    data: str = "synth",
    dataset: Dataset | None = None,
    split: str = "test",
    limit: int | None = None,
    batch_size: int = 128,
    device: str | torch.device = "auto",
    workers: int = 0,
    progress: bool = True,
    console: Console | None = None,
) -> dict[str, Any]:
    """Evaluate a saved checkpoint on a data set (torchrun-aware): see :func:`evaluate_model`.

    Args:
        checkpoint: a directory written by ``fgav train`` (or :meth:`MultiTaskModel.save`).
        data: a data set path, or ``synth``.
        dataset: a ready data set of batch dicts (replaces ``data``/``split``).
        split: the split of ``data`` to evaluate.
        limit: evaluate the first ``limit`` images only.
        batch_size: images per batch.
        device: ``auto``, ``cpu``, ``cuda`` or ``cuda:N``.
        workers: data-loading worker processes.
        progress: show the progress bar and notes (rank 0 only).
        console: where notes and the bar go (default stderr).
    """
    if batch_size < 1:
        raise FgavError(f"the batch size must be at least 1, not {batch_size}")
    ctx = init_distributed(resolve_device(device))
    console = console or Console(stderr=True)
    try:
        model = load_model(checkpoint, device=ctx.device)
        size = int(model.config["image_size"])
        if dataset is None:
            dataset = open_data(data, split=split, image_size=size, limit=limit)
        else:
            dataset = limit_dataset(dataset, limit)
        result = evaluate_model(
            model, dataset, batch_size=batch_size, ctx=ctx, workers=workers, progress=progress,
            console=console, note=console.print if progress else None,
        )  # fmt: skip
        result.update({"checkpoint": str(checkpoint), "data": str(data), "split": split})
        return result
    finally:
        ctx.close()
