"""Resume state of a training run: optimizer, schedule, position and RNG.

The weights live in the core's checkpoint format (``model.safetensors`` and
``config.json``, written by :meth:`fgav.MultiTaskModel.save`). Next to them
``train_state.pt`` holds what resuming needs; it is written with ``torch.save`` and read
back only with ``torch.load(weights_only=True)``, so nothing is ever unpickled.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from fgav.errors import FgavError
from fgav.io import write_atomically
from fgav.model import CONFIG_FILE, WEIGHTS_FILE, MultiTaskModel

STATE_FILE = "train_state.pt"
METRICS_FILE = "metrics.jsonl"
# The files a training run writes: the only ones --overwrite removes.
RUN_FILES: tuple[str, ...] = (WEIGHTS_FILE, CONFIG_FILE, STATE_FILE, METRICS_FILE)


def rng_state() -> dict[str, Any]:
    """The torch random states (CPU, and CUDA where present) as tensors."""
    state: dict[str, Any] = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore the random states saved by :func:`rng_state`."""
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(
    directory: Path,
    *,
    model: MultiTaskModel,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    epoch: int,
    step: int,
    options: dict[str, Any],
    world_size: int = 1,
) -> None:
    """Write the weights and the resume state; ``(epoch, step)`` is where to go on.

    Args:
        directory: the run's output directory.
        model: the bare model (not its DDP or compiled wrapper).
        optimizer: the optimizer, whose state is saved.
        scheduler: the learning-rate schedule, whose state is saved.
        epoch: the epoch in progress (0-based), or the number of epochs done.
        step: the batches of that epoch already done.
        options: the run's options as JSON values (backbone, recipe, data, ...).
        world_size: the processes that shared the epoch (a step means a batch on each).
    """
    model.save(directory)
    state = {
        "epoch": int(epoch),
        "step": int(step),
        "world_size": int(world_size),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "rng": rng_state(),
        "options_json": json.dumps(options, sort_keys=True),
    }
    write_atomically(directory / STATE_FILE, lambda tmp: torch.save(state, tmp))  # a kill keeps the old state


def load_state(directory: Path) -> dict[str, Any]:
    """Read a run's resume state (``weights_only=True``), its options decoded.

    Raises:
        FgavError: the directory holds no resume state, or an unreadable one.
    """
    path = directory / STATE_FILE
    if not path.is_file():
        raise FgavError(f"nothing to resume in {directory}: {STATE_FILE} is missing")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        state["options"] = json.loads(state.pop("options_json"))
    except Exception as exc:  # a damaged file is the user's news, not a traceback
        raise FgavError(f"{path}: unreadable resume state ({type(exc).__name__}: {exc})".splitlines()[0]) from exc
    return state


def prepare_output(directory: Path, *, resume: bool, overwrite: bool) -> None:
    """Check the output directory against ``--resume``/``--overwrite``; clear it on overwrite.

    Raises:
        FgavError: the directory exists and is not empty, and neither flag is given;
            or both flags are given; or ``--resume`` finds nothing to resume.
    """
    if resume and overwrite:
        raise FgavError("--resume and --overwrite exclude each other")
    if directory.exists() and not directory.is_dir():
        raise FgavError(f"--out {directory} is a file, not a directory")
    exists = directory.is_dir() and any(directory.iterdir())
    if resume:
        if not (directory / STATE_FILE).is_file():
            raise FgavError(f"nothing to resume in {directory}: no {STATE_FILE} there")
        return
    if exists and not overwrite:
        raise FgavError(
            f"{directory} exists and is not empty: pass --resume to continue it or --overwrite to replace it"
        )
    if overwrite:
        for name in RUN_FILES:  # only fgav's own files: never a blanket delete of a user's folder
            (directory / name).unlink(missing_ok=True)
    directory.mkdir(parents=True, exist_ok=True)


def append_metrics(directory: Path, record: dict[str, Any]) -> None:
    """Append one JSON line to the run's ``metrics.jsonl``."""
    with (directory / METRICS_FILE).open("a") as handle:
        handle.write(json.dumps(record, sort_keys=True) + "\n")


def read_metrics(directory: Path) -> list[dict[str, Any]]:
    """The records of a run's ``metrics.jsonl``, in order (empty if none)."""
    path = directory / METRICS_FILE
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
