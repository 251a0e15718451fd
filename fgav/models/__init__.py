"""The embedded default target models: one per backbone, trained once on SynthSpoof.

``fgav.models.default("resnet18")`` returns the default target of a backbone: the model
trained with the default recipe (:func:`fgav.train.default_recipe`) on the train split
of the embedded SynthSpoof, at the image size asked. Where the user cache
(``$FGAV_CACHE``, default ``~/.cache/fgav``) lacks it, it is trained there first, with
its progress bar and a line saying so; later calls load it in a second. The run is
written into a temporary folder and renamed into place when complete, so an interrupted
training never leaves a half-made default behind.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import torch
from rich.console import Console

from fgav.data.cache import cache_dir, default_difficulty
from fgav.devices import resolve_device
from fgav.errors import FgavError
from fgav.io import safe_name
from fgav.model import CONFIG_FILE, WEIGHTS_FILE, MultiTaskModel, load_model
from fgav.registry import get_backbone
from fgav.train import train
from fgav.train.distributed import single_process

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
    first time it is asked for, then loaded from the cache.

    Args:
        backbone: a registered backbone name (vgg13, resnet18, densenet121, swin) or
            ``timm:<name>``.
        device: ``auto``, ``cpu``, ``cuda`` or ``cuda:N``, for training and the result.
        image_size: the input side in pixels.
        progress: show SynthSpoof's and training's progress bars and the note.
        console: where the note and bars go (default stderr).

    Raises:
        FgavError: an unknown backbone, or a failed training run.
    """
    get_backbone(backbone)  # an unknown name fails before anything is trained
    target = default_checkpoint(backbone, image_size=image_size)
    resolved = resolve_device(device)
    if not is_cached(backbone, image_size=image_size):
        _train_default(
            backbone, target=target, image_size=image_size, device=resolved, progress=progress, console=console
        )
    return load_model(target, device=resolved)


def _train_default(
    backbone: str, *, target: Path, image_size: int, device: torch.device, progress: bool, console: Console | None
) -> None:
    """Train the default target into a temporary folder, then rename it into place."""
    console = console or Console(stderr=True)
    if progress:
        console.print(
            f"No default {backbone} target in the cache yet: training it once on SynthSpoof "
            f"(the default recipe) into {target}",
            highlight=False,
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        with single_process():  # not under torchrun's process group: a default is trained alone
            train(backbone=backbone, out=work, data="synth", image_size=image_size, device=device,
                  overwrite=True, progress=progress, console=console)  # fmt: skip
        work.chmod(0o755)  # mkdtemp's folder is private; the cache is not
        try:
            work.rename(target)
        except OSError:  # another process finished first: keep its model
            if not is_cached(backbone, image_size=image_size):
                raise FgavError(f"could not move the trained default into {target}") from None
    finally:
        shutil.rmtree(work, ignore_errors=True)
