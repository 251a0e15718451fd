"""Building and loading multitask models from registered components: ``build_model``, ``load_model``.

The factory sits above the registry (it builds components by name); the model class
itself, in :mod:`fgav.core.model`, knows no registry.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from fgav.core.errors import FgavError, UnknownComponentError
from fgav.core.model import CLASSIFICATION, CONFIG_FILE, DEFAULT_HEADS, WEIGHTS_FILE, MultiTaskModel, load_weights
from fgav.registry import create_backbone, create_head, get_head


def build_model(
    backbone: str = "resnet18",
    heads: Sequence[str] | None = None,
    *,
    image_size: int = 64,
    backbone_options: Mapping[str, Any] | None = None,
    head_options: Mapping[str, Mapping[str, Any]] | None = None,
    loss_weights: Mapping[str, float] | None = None,
) -> MultiTaskModel:
    """Build a multitask model from registered components.

    Args:
        backbone: a registered backbone name, or ``timm:<name>``.
        heads: head names; ``None`` means the paper's six. ``classification`` is
            always added: every attack is judged on the live/spoof decision.
        image_size: the input side in pixels (32 to 224).
        backbone_options: keyword options of the backbone (e.g. ``weights``).
        head_options: keyword options per head name (e.g. ``{"depth": {"map_size": 32}}``).
        loss_weights: Eq. 10's weight per head (default: each head's own, AENet's).

    Raises:
        UnknownComponentError: a name no installed plugin registers.
    """
    names = list(DEFAULT_HEADS if heads is None else heads)
    if CLASSIFICATION not in names:
        names.append(CLASSIFICATION)
    if len(set(names)) != len(names):
        raise FgavError(f"a head is named twice: {', '.join(names)}")
    if not 16 <= int(image_size) <= 1024:
        raise FgavError(f"image size must be between 16 and 1024 pixels, not {image_size}")
    for name in names:
        get_head(name)  # unknown names fail before the backbone is built
    backbone_options = dict(backbone_options or {})
    head_options = {k: dict(v) for k, v in (head_options or {}).items()}
    body = create_backbone(backbone, image_size=int(image_size), **backbone_options)
    built = {n: create_head(n, body.out_channels, **head_options.get(n, {})) for n in names}
    config = {
        "backbone": backbone,
        "backbone_options": {k: str(v) if isinstance(v, Path) else v for k, v in backbone_options.items()},
        "heads": names,
        "head_options": head_options,
        "image_size": int(image_size),
    }
    return MultiTaskModel(body, built, config=config, loss_weights=loss_weights)


def _checked_config(config: Any, path: Path) -> dict[str, Any]:
    """A checkpoint config with the types ``load_model`` needs.

    Raises:
        FgavError: one line naming the file and the key that is wrong.
    """
    if not isinstance(config, dict):
        raise FgavError(f"{path}: malformed checkpoint config (a JSON object is needed, not a {type(config).__name__})")
    kinds: dict[str, tuple[type, ...]] = {"backbone": (str,), "heads": (list,), "image_size": (int,)}
    for key, types in kinds.items():
        if key not in config:
            raise FgavError(f"{path}: malformed checkpoint config (no {key!r})")
        value = config[key]
        if not isinstance(value, types) or isinstance(value, bool):
            raise FgavError(f"{path}: malformed checkpoint config ({key!r} must be {_kind_name(types)}, not {value!r})")
    if not all(isinstance(h, str) for h in config["heads"]):
        raise FgavError(f"{path}: malformed checkpoint config ('heads' must be a list of names, not {config['heads']!r})")
    for key in ("backbone_options", "head_options", "loss_weights"):
        if config.get(key) is not None and not isinstance(config[key], dict):
            raise FgavError(f"{path}: malformed checkpoint config ({key!r} must be an object, not {config[key]!r})")
    weights = config.get("loss_weights") or {}
    if not all(isinstance(w, (int, float)) and not isinstance(w, bool) for w in weights.values()):
        raise FgavError(f"{path}: malformed checkpoint config ('loss_weights' must map heads to numbers)")
    if not all(isinstance(v, dict) for v in (config.get("head_options") or {}).values()):
        raise FgavError(f"{path}: malformed checkpoint config ('head_options' must map heads to objects)")
    return config


def _kind_name(types: tuple[type, ...]) -> str:
    return {str: "a name", list: "a list", int: "an integer"}.get(types[0], types[0].__name__)


def load_model(directory: str | Path, *, device: str | torch.device = "cpu") -> MultiTaskModel:
    """Restore a model saved by :meth:`MultiTaskModel.save`, bit for bit, in eval mode.

    Raises:
        FgavError: the directory is no fgav checkpoint; its config is malformed; its
            weights are damaged or do not fit the model the config describes; or it
            names a component that no installed plugin provides. One line, naming the file.
    """
    directory = Path(directory)
    config_path, weights_path = directory / CONFIG_FILE, directory / WEIGHTS_FILE
    if not config_path.is_file() or not weights_path.is_file():
        raise FgavError(f"{directory} is not an fgav checkpoint: {CONFIG_FILE} and {WEIGHTS_FILE} are needed")
    try:
        config = _checked_config(json.loads(config_path.read_text(encoding="utf-8")), config_path)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FgavError(f"{config_path}: malformed checkpoint config ({exc})") from None
    backbone, heads, size = config["backbone"], config["heads"], config["image_size"]
    options = dict(config.get("backbone_options") or {})
    options.pop("weights", None)  # the checkpoint's own weights replace any initial ones
    try:
        model = build_model(
            backbone,
            heads,
            image_size=size,
            backbone_options=options,
            head_options=config.get("head_options"),
            loss_weights=config.get("loss_weights"),
        )
    except UnknownComponentError as exc:
        raise FgavError(
            f"checkpoint {directory} names the {exc.kind} {exc.name!r}, which no installed plugin provides"
        ) from exc
    except FgavError as exc:
        raise FgavError(f"{config_path}: {exc}") from None
    except (TypeError, ValueError, RuntimeError) as exc:  # options a component refuses
        raise FgavError(f"{config_path}: cannot build the model it describes ({type(exc).__name__}: {exc})".splitlines()[0]) from None
    load_weights(model, weights_path, device=device, describe=f"backbone {backbone} at {size} px, heads {', '.join(model.head_names)}")
    model.config.update({k: v for k, v in config.items() if k not in model.config})
    model.checkpoint_dir = directory
    return model.to(device).eval()
