"""SFA, the Semantic Feature Augmentation module (Sec. 3.2, Eq. 2-7), as an fgav augmenter."""

from __future__ import annotations

import contextlib
import inspect
import json
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import torch
from safetensors.torch import save_file
from torch import Tensor

from fgav.core.errors import FgavError
from fgav.core.interfaces import Augmenter, Batch
from fgav.core.io import write_atomically
from fgav.core.model import load_weights
from fgav.core.progress import progress_display
from fgav.core.version import __version__
from fgav.data import make_loader, open_dataset
from fgav.sfa.lbp import lbp
from fgav.sfa.training import train_sfa
from fgav.sfa.vae import MapVAE

if TYPE_CHECKING:
    from fgav.core.model import MultiTaskModel

WEIGHTS_FILE, CONFIG_FILE = "sfa.safetensors", "sfa.json"
DEFAULT_ALPHA = 8 / 255
DEFAULTS: dict[str, Any] = {"alpha": DEFAULT_ALPHA, "texture": True, "latent_dim": 128, "work_size": 64}


class SFA(Augmenter):
    """SFA: live/spoof activation maps from two VAEs, gated by LBP texture (Sec. 3.2).

    ``forward(x, batch)`` is S(x) = clip(x + M_opposite(x) - M_same(x), 0, 1), where
    "same" is each sample's label ``batch["spoof"]`` and M_g(x) = G_g(x) * T(x).

    Args:
        mode: ``"push"`` (the attack starts from S(x)) or ``"guide"`` (gradients at
            S(x), perturbation applied to x).
        alpha: the bound of each map (``alpha * tanh``), in image units (default 8/255).
        texture: gate the maps by the LBP texture T(x); ``False`` is T = 1 (Tab. 3).
        latent_dim: the VAEs' latent size (default 128).
        work_size: the side at which the VAEs run (default 64; a multiple of 32).
        path: a folder written by :meth:`save` to load; its options win, and an
            explicit option that contradicts them is an error.
    """

    name: ClassVar[str] = "sfa"

    def __init__(
        self,
        *,
        mode: str = "push",
        alpha: float | None = None,
        texture: bool | None = None,
        latent_dim: int | None = None,
        work_size: int | None = None,
        path: str | Path | None = None,
    ) -> None:
        super().__init__(mode=mode)
        given = {"alpha": alpha, "texture": texture, "latent_dim": latent_dim, "work_size": work_size}
        saved = read_config(Path(path)) if path is not None else {}
        config = {**DEFAULTS, **{k: saved[k] for k in DEFAULTS if k in saved}}
        for key, value in given.items():
            if value is None:
                continue
            if path is not None and not _same(value, config[key]):
                raise FgavError(f"SFA at {path} was trained with {key}={config[key]!r}, not {value!r}")
            config[key] = value
        if not 0 < float(config["alpha"]) <= 1:
            raise FgavError(f"SFA alpha must be in (0, 1], not {config['alpha']}")
        self.alpha = float(config["alpha"])
        self.texture = bool(config["texture"])
        self.latent_dim = int(config["latent_dim"])
        self.work_size = int(config["work_size"])
        self.g_live = MapVAE(alpha=self.alpha, latent_dim=self.latent_dim, work_size=self.work_size)
        self.g_spoof = MapVAE(alpha=self.alpha, latent_dim=self.latent_dim, work_size=self.work_size)
        self.fitted = False
        self.info: dict[str, Any] = {}  # the target and the training figures, saved in sfa.json
        if path is not None:
            self._load_weights(Path(path), saved)
        self.eval()  # an augmenter is used at attack time: BN statistics frozen, z = mu

    @property
    def config(self) -> dict[str, Any]:
        """The options that define the module (what ``sfa.json`` records)."""
        return {"alpha": self.alpha, "texture": self.texture, "latent_dim": self.latent_dim, "work_size": self.work_size}

    @property
    def needs_fit(self) -> bool:
        """True until the module is fitted to a target or loaded."""
        return not self.fitted

    def texture_map(self, x: Tensor) -> Tensor:
        """T(x) ``(B,1,H,W)``: LBP codes / 255, or ones with ``texture=False``; no gradient."""
        if not self.texture:
            return torch.ones_like(x[:, :1])
        return lbp(x)

    def maps(self, x: Tensor, *, sample: bool = False) -> tuple[Tensor, Tensor]:
        """M_live(x) and M_spoof(x), each ``(B,1,H,W)`` in ``[-alpha, alpha]`` (Eq. 2-3)."""
        t = self.texture_map(x)
        return self.g_live(x, sample=sample).map * t, self.g_spoof(x, sample=sample).map * t

    def forward(self, x: Tensor, batch: Batch) -> Tensor:
        """S(x) = clip(x + M_opposite(x) - M_same(x), 0, 1), deterministic (z = mu).

        Raises:
            FgavError: the batch has no ``spoof`` labels for the images.
        """
        labels = _spoof_labels(batch, x)
        m_live, m_spoof = self.maps(x)
        spoof = labels.view(-1, 1, 1, 1).bool()
        same = torch.where(spoof, m_spoof, m_live)
        opposite = torch.where(spoof, m_live, m_spoof)
        return (x + opposite - same).clamp(0, 1)

    def fit(  # type: ignore[override]
        self,
        model: MultiTaskModel,
        loader: Iterable[Batch],
        *,
        epochs: int = 3,
        lr: float = 1e-3,
        kl_weight: float = 1e-3,
        max_steps: int | None = None,
        progress: Callable[[int, int | None, float], None] | None = None,
    ) -> dict[str, Any]:
        """Train G_live and G_spoof against the frozen ``model`` (Eq. 4-5); return the figures.

        Args:
            model: the target; its live/spoof head judges ``x + M_opposite(x)``.
            loader: batches with ``image`` and ``spoof`` (``fgav.data.make_loader``).
            epochs: passes over the loader.
            lr: Adam's learning rate.
            kl_weight: the weight of the VAE's KL term next to the BCE.
            max_steps: stop after this many steps (``None``: all epochs).
            progress: called after each step with ``(step, total or None, loss)``.
        """
        figures = train_sfa(
            self, model, loader, epochs=epochs, lr=lr, kl_weight=kl_weight, max_steps=max_steps, progress=progress
        )
        checkpoint = getattr(model, "checkpoint_dir", None)
        self.info = {"target": str(checkpoint) if checkpoint else None, "training": figures}
        self.fitted = True
        return figures

    @classmethod
    def for_model(cls, model: MultiTaskModel, *, data: Any = None, **options: Any) -> SFA:
        """The SFA of a target: loaded from ``path=``, stored with the checkpoint, or trained.

        See :func:`fgav.sfa.sfa_for`; the audit calls this.
        """
        known = (set(inspect.signature(sfa_for).parameters) | {"path"}) - {"model", "data", "progress"}
        unknown = sorted(set(options) - known)
        if unknown:
            raise FgavError(f"unknown SFA option(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        if options.get("path") is not None:  # training options mean nothing for a saved module
            init = set(inspect.signature(cls.__init__).parameters)
            return cls(**{k: v for k, v in options.items() if k in init}).to(_device_of(model))
        return sfa_for(model, data=data, **options)

    def save(self, directory: str | Path) -> Path:
        """Write ``sfa.safetensors`` and ``sfa.json`` (options, target, training figures)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        tensors = {k: v.detach().cpu().contiguous() for k, v in self.state_dict().items()}
        write_atomically(directory / WEIGHTS_FILE, lambda tmp: save_file(tensors, str(tmp)))
        record = {**self.config, **self.info, "fgav_version": __version__}
        write_atomically(directory / CONFIG_FILE, json.dumps(record, indent=2, sort_keys=True))
        return directory

    @classmethod
    def load(cls, directory: str | Path, *, mode: str = "push", device: str | torch.device = "cpu") -> SFA:
        """Restore an SFA written by :meth:`save`, in eval mode, on ``device``.

        Raises:
            FgavError: the folder holds no SFA module, or a malformed one.
        """
        return cls(mode=mode, path=directory).to(device)

    def _load_weights(self, directory: Path, saved: dict[str, Any]) -> None:
        options = ", ".join(f"{k}={v!r}" for k, v in self.config.items())
        load_weights(self, directory / WEIGHTS_FILE, describe=f"an SFA module with {options}")
        self.info = {k: saved[k] for k in ("target", "training") if k in saved}
        self.fitted = True

    def __repr__(self) -> str:
        options = ", ".join(f"{k}={v!r}" for k, v in self.config.items())
        return f"SFA(mode={self.mode!r}, {options}, fitted={self.fitted})"


def _device_of(model: torch.nn.Module) -> torch.device:
    return next(iter(model.parameters()), torch.empty(0)).device


def _spoof_labels(batch: Batch, x: Tensor) -> Tensor:
    if "spoof" not in batch:
        raise FgavError("SFA needs each image's live/spoof label: the batch has no 'spoof' key")
    labels = torch.as_tensor(batch["spoof"], device=x.device).reshape(-1)
    if labels.numel() != x.shape[0]:
        raise FgavError(f"SFA got {labels.numel()} live/spoof labels for {x.shape[0]} images")
    return labels


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return abs(float(a) - float(b)) <= 1e-9 * max(1.0, abs(float(b)))
    return a == b


def read_config(directory: Path) -> dict[str, Any]:
    """The options an SFA folder's ``sfa.json`` records, checked.

    Raises:
        FgavError: the folder lacks ``sfa.json`` or ``sfa.safetensors``, or the config is
            not JSON, not an object, or holds an option of the wrong type (one line).
    """
    config_path = directory / CONFIG_FILE
    if not config_path.is_file() or not (directory / WEIGHTS_FILE).is_file():
        raise FgavError(f"{directory} holds no SFA module: {CONFIG_FILE} and {WEIGHTS_FILE} are needed")
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FgavError(f"{config_path}: malformed SFA config ({exc})") from None
    if not isinstance(config, dict):
        raise FgavError(f"{config_path}: malformed SFA config (not an object)")
    for key, kind in (("alpha", "a number"), ("texture", "true or false"), ("latent_dim", "an integer"), ("work_size", "an integer")):
        value = config.get(key, DEFAULTS[key])
        fits = {
            "a number": isinstance(value, (int, float)) and not isinstance(value, bool),
            "true or false": isinstance(value, bool),
            "an integer": isinstance(value, int) and not isinstance(value, bool) and value > 0,
        }[kind]
        if not fits:
            raise FgavError(f"{config_path}: malformed SFA config ({key!r} must be {kind}, not {value!r})")
    return config


# The store: the SFA of a target, found beside its checkpoint or trained and stored there.


def variant_dir(checkpoint: Path, config: dict[str, Any]) -> Path:
    """Where an SFA with non-default options is stored beside ``checkpoint/sfa``."""
    tag = f"alpha{config['alpha']:.5f}-z{config['latent_dim']}-w{config['work_size']}"
    return checkpoint / f"sfa-{tag}{'' if config['texture'] else '-notexture'}"


def training_loader(
    model: MultiTaskModel, data: str | Path, *, split: str = "train", batch_size: int = 32, limit: int | None = None
) -> Iterable[Batch]:
    """A shuffled loader over a data set at ``data``, at the target's image size."""
    size = int(model.config.get("image_size", 64))
    dataset = open_dataset(data, split=split, image_size=size)
    if limit is not None:
        dataset = _balanced_subset(dataset, limit)
    return make_loader(dataset, batch_size=batch_size, shuffle=True)


def _balanced_subset(dataset: Any, limit: int) -> Any:
    """At most ``limit`` samples, live and spoof alternating, so both generators learn."""
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
    data: str | Path | torch.utils.data.Dataset | Iterable[Batch] | None = None,
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
    if isinstance(data, (str, Path)):
        return training_loader(model, data, batch_size=batch_size, limit=limit)
    if isinstance(data, torch.utils.data.Dataset):
        dataset = _balanced_subset(data, limit) if limit is not None else data
        return make_loader(dataset, batch_size=batch_size, shuffle=True)
    return data


def _matches(
    folder: Path, wanted: dict[str, Any], alpha: float | None, latent_dim: int | None, work_size: int | None
) -> bool:
    """Whether the SFA stored in ``folder`` has the asked options (unasked ones match any).

    Raises:
        FgavError: the stored ``sfa.json`` (or its weights file) is missing or malformed.
    """
    saved = read_config(folder)
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
