"""Resume state of a training run: optimizer, schedule, position and RNG, saved as one unit.

The weights live in the core's checkpoint format (``model.safetensors`` and
``config.json``, written by :meth:`fgav.MultiTaskModel.save`). Next to them
``train_state.pt`` holds what resuming needs; it is written with ``torch.save`` and read
back only with ``torch.load(weights_only=True)``, so nothing is ever unpickled.

A checkpoint (weights, config, ``metrics.jsonl``, resume state) is one unit: it is
written whole into ``.next/`` and renamed into place with the resume state last, and
the state records the digests of the weights and config it belongs to. A kill at any
instant, then ``--resume``, continues from the old unit or finishes the new one, so
the resumed run ends with the weights an uninterrupted run gives, bit for bit.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

import torch

from fgav.core.errors import FgavError
from fgav.core.model import CONFIG_FILE, WEIGHTS_FILE, MultiTaskModel

STATE_FILE = "train_state.pt"
METRICS_FILE = "metrics.jsonl"
STAGING_DIR = ".next"  # where a checkpoint is written whole before it is renamed into place
# The files a training run writes: the only ones --overwrite removes.
RUN_FILES: tuple[str, ...] = (WEIGHTS_FILE, CONFIG_FILE, STATE_FILE, METRICS_FILE)
# The files whose digests the resume state records: the pair it must be resumed with.
CHECKED_FILES: tuple[str, ...] = (WEIGHTS_FILE, CONFIG_FILE)


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


def file_digest(path: Path) -> str | None:
    """The SHA-256 of a file's bytes (``None`` where there is no file)."""
    if not path.is_file():
        return None
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _sync(path: Path) -> None:
    """Flush a file (or a folder's entries) to disk: a rename after it never exposes a hole."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # a platform that cannot open folders: renames are still ordered
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


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
    record: dict[str, Any] | None = None,
    partial: list[float] | None = None,
) -> None:
    """Write the weights, config, metrics and resume state as one unit; ``(epoch, step)`` is where to go on.

    Every file is first written whole into ``.next/``; ``train_state.pt`` records the
    digests of the weights and config it belongs to. The files are then renamed into
    place, the state last: it is the commit. A kill at any instant leaves either the old
    unit or a complete ``.next/`` that :func:`load_state` finishes moving.

    Args:
        directory: the run's output directory.
        model: the bare model (not its DDP or compiled wrapper).
        optimizer: the optimizer, whose state is saved.
        scheduler: the learning-rate schedule, whose state is saved.
        epoch: the epoch in progress (0-based), or the number of epochs done.
        step: the batches of that epoch already done.
        options: the run's options as JSON values (backbone, recipe, data, ...).
        world_size: the processes that shared the epoch (a step means a batch on each).
        record: the epoch's ``metrics.jsonl`` line, appended in the same unit.
        partial: the running sums of the epoch in progress (a mid-epoch save).
    """
    staging = directory / STAGING_DIR
    if staging.exists():
        shutil.rmtree(staging)
    model.save(staging)
    lines = [json.dumps(r, sort_keys=True) for r in read_metrics(directory)]
    if record is not None:
        lines.append(json.dumps(record, sort_keys=True))
    if lines:
        (staging / METRICS_FILE).write_text("\n".join(lines) + "\n")
    state = {
        "epoch": int(epoch),
        "step": int(step),
        "world_size": int(world_size),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "rng": rng_state(),
        "options_json": json.dumps(options, sort_keys=True),
        "files_json": json.dumps({name: file_digest(staging / name) for name in CHECKED_FILES}),
    }
    if partial is not None:
        state["partial"] = torch.tensor(partial, dtype=torch.float64)
    torch.save(state, staging / STATE_FILE)
    for name in (*CHECKED_FILES, METRICS_FILE, STATE_FILE):
        if (staging / name).is_file():
            _sync(staging / name)
    _sync(staging)
    _commit(directory)


def _commit(directory: Path) -> None:
    """Rename ``.next/``'s files into place, the resume state last; remove ``.next/``."""
    staging = directory / STAGING_DIR
    for name in (*CHECKED_FILES, METRICS_FILE, STATE_FILE):
        if (staging / name).is_file():
            (staging / name).replace(directory / name)
    _sync(directory)
    shutil.rmtree(staging, ignore_errors=True)


def _read_state(path: Path) -> dict[str, Any]:
    """The raw resume state at ``path`` (``weights_only=True``), its options decoded.

    Raises:
        FgavError: the file is damaged or not a resume state.
    """
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        state["options"] = json.loads(state.pop("options_json"))
        state["files"] = json.loads(state.pop("files_json", "null"))
    except Exception as exc:  # a damaged file is the user's news, not a traceback
        raise FgavError(f"{path}: unreadable resume state ({type(exc).__name__}: {exc})".splitlines()[0]) from exc
    return state


def _mismatch(directory: Path, files: dict[str, str | None] | None) -> str | None:
    """The first file of ``directory`` whose digest is not the recorded one (``None``: all match)."""
    for name, digest in (files or {}).items():
        if file_digest(directory / name) != digest:
            return name
    return None


def _pending_state(directory: Path) -> dict[str, Any] | None:
    """The resume state of a complete unit in ``.next/`` (``None``: none, or a partial one)."""
    staging = directory / STAGING_DIR
    if not (staging / STATE_FILE).is_file():
        return None
    try:
        pending = _read_state(staging / STATE_FILE)
    except FgavError:  # cut while the state itself was written: no rename happened yet
        return None
    files = pending["files"] or {}
    if all(file_digest(staging / n) == d or file_digest(directory / n) == d for n, d in files.items()):
        return pending
    return None


def load_state(directory: Path) -> dict[str, Any]:
    """Read a run's resume state (``weights_only=True``), its options decoded.

    The weights and config beside it must be the ones it was saved with. Where a save
    was cut between its renames, the complete unit in ``.next/`` is moved into place
    first (``state["completed"]`` is then true); a stale, partial ``.next/`` is removed.

    Raises:
        FgavError: the directory holds no resume state, an unreadable one, or one whose
            weights or config were replaced by something else.
    """
    path = directory / STATE_FILE
    staging = directory / STAGING_DIR
    state = _read_state(path) if path.is_file() else None
    if state is not None and _mismatch(directory, state["files"]) is None:
        if staging.exists():  # a save cut before its first rename: the old unit stands
            shutil.rmtree(staging, ignore_errors=True)
        state["completed"] = False
        return state
    pending = _pending_state(directory)
    if pending is not None:
        _commit(directory)  # a save cut between its renames: finish it
        pending["completed"] = True
        return pending
    if state is None:
        raise FgavError(f"nothing to resume in {directory}: {STATE_FILE} is missing")
    name = _mismatch(directory, state["files"]) or STATE_FILE
    raise FgavError(
        f"{directory / name} is not the file {STATE_FILE} was saved with: the checkpoint was changed "
        "after training; resume from an intact copy or start again with --overwrite"
    )


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
    if resume:
        if not (directory / STATE_FILE).is_file() and _pending_state(directory) is None:
            raise FgavError(f"nothing to resume in {directory}: no {STATE_FILE} there")
        return
    if not (directory / STATE_FILE).is_file() and _pending_state(directory) is None:
        shutil.rmtree(directory / STAGING_DIR, ignore_errors=True)  # a first save cut short
    exists = directory.is_dir() and any(directory.iterdir())
    if exists and not overwrite:
        raise FgavError(
            f"{directory} exists and is not empty: pass --resume to continue it or --overwrite to replace it"
        )
    if overwrite:
        for name in RUN_FILES:  # only fgav's own files: never a blanket delete of a user's folder
            (directory / name).unlink(missing_ok=True)
        shutil.rmtree(directory / STAGING_DIR, ignore_errors=True)
    directory.mkdir(parents=True, exist_ok=True)


def read_metrics(directory: Path) -> list[dict[str, Any]]:
    """The records of a run's ``metrics.jsonl``, in order (empty if none)."""
    path = directory / METRICS_FILE
    if not path.is_file():
        return []
    try:
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FgavError(f"{path}: unreadable metrics ({exc})") from None
