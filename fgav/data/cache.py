"""The embedded default data set: SynthSpoof, generated once into the user's cache.

``--data synth`` (``open_dataset("synth")``) names SynthSpoof with n=2500, size=64,
seed=0 and the renderer's default difficulty, in ``$FGAV_CACHE`` (default
``$XDG_CACHE_HOME/fgav``, else ``~/.cache/fgav``), in a folder whose name carries its
parameters, e.g. ``synthspoof-n2500-s64-seed0-d0.5-v1``. The tree is written into a
temporary folder beside it and renamed into place when complete, under a lock file:
two processes never generate it twice at once, and an interrupted run never leaves
half a tree behind (only a temporary folder, removed by the next generation).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rich.console import Console

from fgav.core.errors import FgavError
from fgav.core.progress import progress_display
from fgav.data.synth import generate, writer
from fgav.data.synth.sample import DEFAULT_DIFFICULTY

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; the atomic rename still keeps the tree whole
    fcntl = None  # type: ignore[assignment]

SYNTH_DEFAULTS: dict[str, int] = {"n": 2500, "size": 64, "seed": 0}
# Bump when the cached tree must be regenerated for a reason of this module's; the
# renderer's own FORMAT_VERSION is added to it, so a new renderer format regenerates too.
CACHE_VERSION = 0
_STALE_TEMP_S = 3600.0  # a temporary folder older than this is an interrupted run's


def cache_dir() -> Path:
    """fgav's cache folder: ``$FGAV_CACHE``, else ``$XDG_CACHE_HOME/fgav``, else ``~/.cache/fgav``."""
    if os.environ.get("FGAV_CACHE"):
        return Path(os.environ["FGAV_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "fgav"


def default_difficulty() -> float:
    """The renderer's default difficulty (``fgav.data.synth.DEFAULT_DIFFICULTY``)."""
    return float(DEFAULT_DIFFICULTY)


def format_version() -> int:
    """The version in the cache folder's name: the renderer's format version (plus ours)."""
    return int(getattr(writer, "FORMAT_VERSION", 1)) + CACHE_VERSION


def synth_folder_name(*, n: int, size: int, seed: int, difficulty: float, version: int | None = None) -> str:
    """The cache folder's name for these parameters (all of them in it)."""
    version = format_version() if version is None else version
    return f"synthspoof-n{n}-s{size}-seed{seed}-d{difficulty:g}-v{version}"


def synth_path(
    *, n: int = 2500, size: int = 64, seed: int = 0, console: Console | None = None, progress: bool = True
) -> Path:
    """The root of a cached SynthSpoof tree, generated (once) if it is not there yet.

    Args:
        n: images.
        size: image side in pixels.
        seed: the renderer's seed.
        console: where the note and the progress bar go (default: stderr).
        progress: show the progress bar while generating.

    Raises:
        FgavError: the cache folder cannot be written.
    """
    difficulty = default_difficulty()
    folder = cache_dir() / synth_folder_name(n=n, size=size, seed=seed, difficulty=difficulty)
    if _complete(folder):
        return folder
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        with _lock(folder.parent / f".{folder.name}.lock"):
            if _complete(folder):  # another process made it while we waited
                return folder
            _remove_stale_temps(folder)
            console = console or Console(stderr=True)
            console.print(f"Generating SynthSpoof (n={n}, size={size}, seed={seed}) once into {folder} ...", highlight=False)
            temp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.tmp-", dir=folder.parent))
            try:
                with progress_bar(n, console=console, enabled=progress) as advance:
                    _generate(temp / "tree", n=n, size=size, seed=seed, difficulty=difficulty, progress=advance)
                if folder.exists():  # an incomplete leftover from an older fgav
                    shutil.rmtree(folder)
                os.replace(temp / "tree", folder)
            finally:
                shutil.rmtree(temp, ignore_errors=True)
    except OSError as exc:
        raise FgavError(f"cannot write SynthSpoof into the cache folder {folder.parent}: {exc}") from None
    return folder


def _generate(out: Path, **options: Any) -> None:
    """Call the renderer (a seam: tests replace it with a tiny stand-in)."""
    generate(out, **options)


def _complete(folder: Path) -> bool:
    # The rename is atomic, so a folder holding the renderer's summary is complete.
    return (folder / "synthspoof.json").is_file()


def _remove_stale_temps(folder: Path) -> None:
    """Remove temporary folders that interrupted runs left behind (we hold the lock)."""
    for temp in folder.parent.glob(f".{folder.name}.tmp-*"):
        try:
            if time.time() - temp.stat().st_mtime > _STALE_TEMP_S:
                shutil.rmtree(temp, ignore_errors=True)
        except OSError:
            pass


@contextmanager
def _lock(file: Path) -> Iterator[None]:
    """An exclusive advisory lock on ``file`` (a no-op where ``fcntl`` is missing)."""
    if fcntl is None:
        yield
        return
    with open(file, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextmanager
def progress_bar(
    total: int, *, console: Console | None = None, enabled: bool = True, description: str = "SynthSpoof"
) -> Iterator[Callable[[int], None]]:
    """A progress display over ``total`` images; yields ``advance(k)`` (k more images done)."""
    with progress_display(enabled=enabled, console=console) as display:
        task = display.add_task(description, total=total)
        yield lambda k: display.advance(task, k)
