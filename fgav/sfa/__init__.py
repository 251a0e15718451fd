"""Semantic Feature Augmentation (Sec. 3.2): the LBP texture filter, the map VAEs, the augmenter.

``sfa_for(model, data=...)`` is what an audit calls: the SFA stored with a target
checkpoint, or a freshly trained (and stored) one.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fgav.errors import FgavError
from fgav.progress import progress_display
from fgav.sfa.augmenter import CONFIG_FILE, DEFAULTS, SFA
from fgav.sfa.lbp import lbp, to_gray
from fgav.sfa.vae import MapVAE, kl_divergence

if TYPE_CHECKING:
    from fgav.interfaces import Batch
    from fgav.model import MultiTaskModel

__all__ = ["SFA", "MapVAE", "kl_divergence", "lbp", "sfa_for", "to_gray", "training_loader", "variant_dir"]


def variant_dir(checkpoint: Path, config: dict[str, Any]) -> Path:
    """Where an SFA with non-default options is stored beside ``checkpoint/sfa``."""
    tag = f"alpha{config['alpha']:.5f}-z{config['latent_dim']}-w{config['work_size']}"
    return checkpoint / f"sfa-{tag}{'' if config['texture'] else '-notexture'}"


def training_loader(
    model: MultiTaskModel, data: str | Path, *, split: str = "train", batch_size: int = 32, limit: int | None = None
) -> Iterable[Batch]:
    """A shuffled loader over a data set at ``data``, at the target's image size."""
    from fgav.data import make_loader, open_dataset

    size = int(model.config.get("image_size", 64))
    dataset = open_dataset(data, split=split, image_size=size)
    if limit is not None:
        dataset = _balanced_subset(dataset, limit)
    return make_loader(dataset, batch_size=batch_size, shuffle=True)


def _balanced_subset(dataset: Any, limit: int) -> Any:
    """At most ``limit`` samples, live and spoof alternating, so both generators learn."""
    import torch

    if limit < 2:
        raise FgavError(f"SFA training needs at least 2 images, not a limit of {limit}")
    if limit >= len(dataset):
        return dataset
    if not hasattr(dataset, "labels"):
        return torch.utils.data.Subset(dataset, range(limit))
    spoof = dataset.labels()["spoof"].reshape(-1)
    live_idx, spoof_idx = torch.nonzero(spoof == 0).flatten(), torch.nonzero(spoof == 1).flatten()
    half = min(limit // 2, len(live_idx), len(spoof_idx))
    rest = limit - 2 * half
    chosen = [live_idx[:half], spoof_idx[:half], live_idx[half : half + rest], spoof_idx[half : half + rest]]
    indices = torch.cat(chosen)[:limit].tolist()
    return torch.utils.data.Subset(dataset, sorted(indices))


def sfa_for(
    model: MultiTaskModel,
    *,
    data: str | Path | Iterable[Batch] | None = None,
    alpha: float | None = None,
    texture: bool | None = None,
    latent_dim: int | None = None,
    work_size: int | None = None,
    mode: str = "push",
    epochs: int = 3,
    batch_size: int = 32,
    limit: int | None = None,
    seed: int = 0,
    progress: Callable[[int, int | None, float], None] | None = None,
) -> SFA:
    """The SFA of a target: the one stored with its checkpoint, or a newly trained one.

    Looks in ``model.checkpoint_dir / "sfa"`` (then the variant folder of the asked
    options); loads the module whose options match. Otherwise trains one on
    ``data`` (a data set path, a Dataset of samples, or an iterable of batch dicts),
    saying so on stderr, and
    stores it with the checkpoint (in ``sfa/`` if free, else a variant folder).
    ``seed`` seeds the training (the generators' first weights, the shuffling, the VAE's
    noise), so a target and options always give the same SFA, whatever ran before.

    Raises:
        FgavError: no matching SFA is stored and no data was given to train one.
    """
    wanted: dict[str, Any] = {
        "alpha": DEFAULTS["alpha"] if alpha is None else float(alpha),
        "texture": True if texture is None else bool(texture),
        "latent_dim": DEFAULTS["latent_dim"] if latent_dim is None else int(latent_dim),
        "work_size": DEFAULTS["work_size"] if work_size is None else int(work_size),
    }
    checkpoint = getattr(model, "checkpoint_dir", None)
    device = next(iter(model.parameters())).device
    candidates = [checkpoint / "sfa", variant_dir(checkpoint, wanted)] if checkpoint else []
    for folder in candidates:
        if (folder / CONFIG_FILE).is_file() and _matches(folder, wanted, alpha, latent_dim, work_size):
            return SFA.load(folder, mode=mode, device=device)
    if data is None:
        where = f" with {checkpoint}" if checkpoint else ""
        raise FgavError(f"no SFA matching {_describe(wanted)} is stored{where}; give data to train one")
    import torch

    target = str(checkpoint) if checkpoint else "the target model"
    print(f"Training SFA ({_describe(wanted)}) against {target}: none is stored yet.", file=sys.stderr)
    with contextlib.ExitStack() as stack, torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        if progress is None:  # a phase of its own: its progress and estimate are shown
            display = stack.enter_context(progress_display())
            task = display.add_task("train SFA", total=None)

            def progress(step: int, total: int | None, loss: float) -> None:
                display.update(task, completed=step, total=total, info=f"loss {loss:.4f}")

        torch.manual_seed(seed)
        loader = _loader_of(model, data, batch_size=batch_size, limit=limit)
        sfa = SFA(mode=mode, **wanted).to(device)
        sfa.fit(model, loader, epochs=epochs, progress=progress)
    if checkpoint:
        default = checkpoint / "sfa"
        sfa.save(default if not (default / CONFIG_FILE).is_file() else variant_dir(checkpoint, wanted))
    return sfa


def _loader_of(model: MultiTaskModel, data: Any, *, batch_size: int, limit: int | None) -> Iterable[Batch]:
    """Batches from a path, a Dataset of samples, or an iterable of batch dicts (as given)."""
    import torch

    if isinstance(data, (str, Path)):
        return training_loader(model, data, batch_size=batch_size, limit=limit)
    if isinstance(data, torch.utils.data.Dataset):
        from fgav.data import make_loader

        dataset = _balanced_subset(data, limit) if limit is not None else data
        return make_loader(dataset, batch_size=batch_size, shuffle=True)
    return data


def _matches(
    folder: Path, wanted: dict[str, Any], alpha: float | None, latent_dim: int | None, work_size: int | None
) -> bool:
    """Whether the SFA stored in ``folder`` has the asked options (unasked ones match any)."""
    import json

    try:
        saved = json.loads((folder / CONFIG_FILE).read_text())
    except (OSError, json.JSONDecodeError):
        return False
    if bool(saved.get("texture", True)) != wanted["texture"]:
        return False
    if alpha is not None and abs(float(saved.get("alpha", -1)) - wanted["alpha"]) > 1e-9:
        return False
    if work_size is not None and int(saved.get("work_size", -1)) != wanted["work_size"]:
        return False
    return latent_dim is None or int(saved.get("latent_dim", -1)) == wanted["latent_dim"]


def _describe(config: dict[str, Any]) -> str:
    texture = "LBP texture" if config["texture"] else "no texture"
    return f"alpha {config['alpha'] * 255:.3g}/255, {texture}"
