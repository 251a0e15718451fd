"""The embedded default target models: one per backbone, trained once on SynthSpoof.

``fgav.targets.default("resnet18")`` returns the default target of a backbone: the model
trained with the default recipe (:func:`fgav.train.default_recipe`) on the train split
of the embedded SynthSpoof, at the image size asked. Where the user cache
(``$FGAV_CACHE``, default ``~/.cache/fgav``) lacks it, it is trained there first, with
its progress bar and a line saying so; later calls load it in a second. The run is
written into a temporary folder and renamed into place when complete, so an interrupted
training never leaves a half-made default behind.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from collections.abc import Callable, Sized
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import torch
from rich.console import Console

from fgav.core.devices import resolve_device
from fgav.core.distributed import single_process
from fgav.core.errors import FgavError
from fgav.core.io import safe_name, write_atomically
from fgav.core.model import CLASSIFICATION, CONFIG_FILE, WEIGHTS_FILE, MultiTaskModel
from fgav.core.progress import format_duration
from fgav.data.cache import cache_dir, default_difficulty
from fgav.factory import load_model
from fgav.registry import get_backbone
from fgav.train import default_recipe, evaluate, sources, train

# Bump when the default recipe or SynthSpoof changes, so stale defaults are retrained.
DEFAULT_VERSION = 1


def _cache_root() -> Path:
    return cache_dir()


def default_checkpoint(backbone: str, *, image_size: int = 64) -> Path:
    """Where the default target of a backbone lives in the cache (it may not exist yet).

    E.g. ``~/.cache/fgav/models/resnet18-synth-s64-d0.3-v1``: the name carries
    SynthSpoof's difficulty, so a new default data set means a new default model.
    """
    safe = safe_name(backbone)
    name = f"{safe}-synth-s{int(image_size)}-d{default_difficulty():g}-v{DEFAULT_VERSION}"
    return _cache_root() / "models" / name


def is_cached(backbone: str, *, image_size: int = 64) -> bool:
    """Whether the default target of a backbone is already trained and cached."""
    path = default_checkpoint(backbone, image_size=image_size)
    return (path / WEIGHTS_FILE).is_file() and (path / CONFIG_FILE).is_file()


def default(
    backbone: str = "resnet18",
    *,
    device: str | torch.device = "auto",
    image_size: int = 64,
    progress: bool = True,
    console: Console | None = None,
) -> MultiTaskModel:
    """The embedded default target model of a backbone, in eval mode on ``device``.

    Trained on SynthSpoof's train split with the default recipe (all six heads) the
    first time it is asked for, then loaded from the cache. Before training, one line
    says what is trained and where, and a second one, measured from the first batches,
    how long it will take; a later call says that it reuses the cache.

    Args:
        backbone: a registered backbone name (vgg13, resnet18, densenet121, swin) or
            ``timm:<name>``.
        device: ``auto``, ``cpu``, ``cuda`` or ``cuda:N``, for training and the result.
        image_size: the input side in pixels.
        progress: show SynthSpoof's and training's progress and the notes.
        console: where the notes and progress go (default stderr).

    Raises:
        FgavError: an unknown backbone, or a failed training run.
    """
    get_backbone(backbone)  # an unknown name fails before anything is trained
    target = default_checkpoint(backbone, image_size=image_size)
    resolved = resolve_device(device)
    console = console or Console(stderr=True)
    if is_cached(backbone, image_size=image_size):
        if progress:
            record = read_record(target)
            accuracy = record.get("test_accuracy")
            known = f", live/spoof accuracy {accuracy:.3f} on SynthSpoof's test split" if accuracy is not None else ""
            console.print(f"Using the cached default {backbone} target ({target}{known})", highlight=False)
        return load_model(target, device=resolved)
    _train_default(backbone, target=target, image_size=image_size, device=resolved, progress=progress, console=console)
    model = load_model(target, device=resolved)
    _fit_default_sfa(model, progress=progress, console=console)
    return model


DEFAULT_SFA_TRAINING: dict[str, int] = {"epochs": 2, "limit": 1000}
"""How the SFA module of a default target is trained right after the target: 2 epochs over
1,000 training images (a third of ``sfa_for``'s default of 3 epochs over all 2,000), so
that the first audit's number comes within minutes. Audits find it stored and reuse it."""


def _fit_default_sfa(model: MultiTaskModel, *, progress: bool, console: Console) -> None:
    """Train and store a new default target's SFA module with :data:`DEFAULT_SFA_TRAINING`."""
    if progress:
        console.print(f"Training the default target's SFA module ({DEFAULT_SFA_TRAINING['epochs']} epochs over "
                      f"{DEFAULT_SFA_TRAINING['limit']:,} training images) for the audit's SFA rows", highlight=False)
    # Imported here: `import fgav` (which imports this module) must not load the SFA stack.
    from fgav.sfa import sfa_for

    size = int(model.config.get("image_size", 64))
    data = sources.open_data("synth", split="train", image_size=size, limit=None)
    with single_process():
        sfa_for(model, data=data, epochs=DEFAULT_SFA_TRAINING["epochs"], limit=DEFAULT_SFA_TRAINING["limit"])


RECORD_FILE = "default.json"


def read_record(checkpoint: Path) -> dict[str, Any]:
    """What was recorded when a default target was trained (empty where nothing was)."""
    try:
        record = json.loads((checkpoint / RECORD_FILE).read_text())
    except (OSError, json.JSONDecodeError):
        return {}
    return record if isinstance(record, dict) else {}


class _Estimate:
    """Says once, after the first batches, how long the whole training will take.

    The first ``warmup`` steps are not timed: they pay for allocations and kernel
    selection (on the 2-core CPU the first few steps took over three times a later one's,
    which made an estimate from them three times too long). The next ``after`` are.
    """

    def __init__(self, *, total_steps: int, say: Callable[[str], None], warmup: int = 5, after: int = 10) -> None:
        # A short run (a tiny data set) still gets its estimate: fewer steps skipped and timed.
        warmup, after = min(warmup, max(total_steps // 10, 1)), min(after, max(total_steps // 5, 1))
        self.total_steps, self.say, self.warmup, self.after = total_steps, say, warmup, after
        self.seen = 0
        self.started: float | None = None

    def __call__(self, epoch: int, step: int, loss: float) -> None:
        self.seen += 1
        if self.seen == self.warmup:
            self.started = time.perf_counter()
        elif self.seen == self.warmup + self.after and self.started is not None:
            per_step = (time.perf_counter() - self.started) / self.after
            left = per_step * max(self.total_steps - self.seen, 0)
            self.say(f"Estimated training time: about {format_duration(left)} more "
                     f"(measured over {self.after} batches after the first {self.warmup})")


def _train_default(
    backbone: str, *, target: Path, image_size: int, device: torch.device, progress: bool, console: Console
) -> None:
    """Train the default target into a temporary folder, record its accuracy, rename it into place."""
    recipe = default_recipe(backbone)
    train_images = len(cast("Sized", sources.open_data("synth", split="train", image_size=image_size, limit=None)))
    steps = recipe.epochs * max(train_images // recipe.batch_size, 1)
    if progress:
        console.print(
            f"No default {backbone} target in the cache yet: training it once on SynthSpoof "
            f"({recipe.epochs} epochs over {train_images:,} images at {image_size} px, the default recipe) "
            f"into {target}",
            highlight=False,
        )
    estimate = _Estimate(total_steps=steps, say=lambda line: console.print(line, highlight=False)) if progress else None
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        with single_process():  # not under torchrun's process group: a default is trained alone
            result = train(backbone=backbone, out=work, data="synth", image_size=image_size, device=device,
                           overwrite=True, progress=progress, console=console, on_step=estimate)  # fmt: skip
            scores = evaluate(work, data="synth", split="test", device=device, progress=False)
        record = {
            "backbone": backbone, "image_size": int(image_size), "recipe": recipe.to_dict(),
            "test_accuracy": scores["accuracy"].get(CLASSIFICATION), "test_images": scores.get("n"),
            "train_seconds": round(result.seconds, 1), "trained": time.strftime("%Y-%m-%d %H:%M:%S"),
        }
        write_atomically(work / RECORD_FILE, json.dumps(record, indent=2) + "\n")
        work.chmod(0o755)  # mkdtemp's folder is private; the cache is not
        try:
            work.rename(target)
        except OSError:  # another process finished first: keep its model
            if not is_cached(backbone, image_size=image_size):
                raise FgavError(f"could not move the trained default into {target}") from None
        if progress:
            accuracy = record["test_accuracy"]
            known = f": live/spoof accuracy {accuracy:.3f} on SynthSpoof's test split" if accuracy is not None else ""
            console.print(f"Trained the default {backbone} target in {format_duration(result.seconds)}{known}",
                          highlight=False)
    finally:
        shutil.rmtree(work, ignore_errors=True)


@dataclass(frozen=True)
class CachedTarget:
    """A default target in the cache, with its SFA modules."""

    path: Path
    record: dict[str, Any]
    sfa: list[Path]
    size_bytes: int

    @property
    def name(self) -> str:
        """The folder's name, which :func:`remove_cached` takes."""
        return self.path.name


def _size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def cached_targets() -> list[CachedTarget]:
    """Every default target in the cache (complete ones only), with their SFA modules."""
    root = _cache_root() / "models"
    found = []
    for folder in sorted(root.glob("*")) if root.is_dir() else []:
        if folder.name.startswith(".") or not (folder / WEIGHTS_FILE).is_file():
            continue
        sfa = sorted(p.parent for p in folder.glob("sfa*/config.json"))
        found.append(CachedTarget(folder, read_record(folder), sfa, _size(folder)))
    return found


def remove_cached(name: str) -> Path:
    """Delete a cached default target (and its SFA modules) by folder name.

    Raises:
        FgavError: no cached default target has that name.
    """
    known = {t.name: t.path for t in cached_targets()}
    if name not in known:
        raise FgavError(f"no cached default target {name!r}; cached: {', '.join(known) or 'none'}")
    shutil.rmtree(known[name])
    return known[name]
