"""Setting up an attack run, shared by the audit and the transfer experiment.

The model(s) loaded and frozen, the data opened at the model's image size and cut to
``limit``, the attacks built by name, the augmenters built for a model (``sfa:guide``
names an augmenter and its mode), the training split opened once where an augmenter
must be fitted.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, cast

import torch

from fgav.core.errors import FgavError
from fgav.core.interfaces import Augmenter
from fgav.core.model import MultiTaskModel
from fgav.data import make_loader, open_dataset
from fgav.factory import load_model
from fgav.registry import create_attack, get_augmenter

AttackSpec = str | Any
AugmenterSpec = str | Augmenter


def frozen_model(model: MultiTaskModel | str | Path, device: torch.device) -> MultiTaskModel:
    """The model (or the checkpoint at a path) on ``device``, in eval mode, its parameters frozen."""
    if not isinstance(model, MultiTaskModel):
        model = load_model(model, device=device)
    model = model.to(device).eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def open_data(data: Any, *, split: str, image_size: int, limit: int | None) -> Any:
    """A Dataset of batch dicts: ``data`` itself, or the split of the data set at a path; cut to ``limit``."""
    if limit is not None and limit < 1:
        raise FgavError(f"limit must be at least 1, not {limit}")
    if isinstance(data, (str, Path)):
        data = open_dataset(data, split=split, image_size=image_size)
    if limit is not None:
        data = data.limit(limit) if hasattr(data, "limit") else torch.utils.data.Subset(data, range(min(limit, len(data))))
    return data


def provided_keys(data: Any) -> frozenset[str]:
    """The batch keys a data set provides (a Subset's from the data set under it)."""
    keys = getattr(data, "provides", None) or getattr(getattr(data, "dataset", None), "provides", ())
    return frozenset(cast("Iterable[str]", keys))


def data_label(source: Any) -> str:
    """How a run's data is named in its configuration: its path, or its type."""
    return str(source) if isinstance(source, (str, Path)) else type(source).__name__


def training_data(source: Any, *, image_size: int) -> Callable[[], Any]:
    """The training split an augmenter fits on: opened once, on first call, only for a path."""
    opened: dict[str, Any] = {}

    def train_data() -> Any:
        if isinstance(source, (str, Path)) and "train" not in opened:
            opened["train"] = open_dataset(source, split="train", image_size=image_size)
        return opened.get("train")

    return train_data


def build_attacks(attacks: Sequence[AttackSpec], options: Mapping[str, Mapping[str, Any]]) -> list[tuple[str, Any]]:
    """(name, attack) for registered names (with their options) and Foolbox attack instances."""
    built = []
    for spec in attacks:
        if isinstance(spec, str):
            built.append((spec, create_attack(spec, **dict(options.get(spec, {})))))
        else:
            built.append((getattr(spec, "name", "") or type(spec).__name__, spec))
    return built


def build_augmenters(
    specs: Sequence[AugmenterSpec],
    model: MultiTaskModel,
    options: Mapping[str, Mapping[str, Any]],
    train_data: Callable[[], Any],
) -> list[tuple[str, Augmenter]]:
    """(label, augmenter) built for ``model``; ``name:mode`` (``sfa:guide``) sets the mode.

    The label is the name in push mode, ``name:mode`` otherwise, so push and guide fit
    in one run.
    """
    built = []
    for spec in specs:
        if isinstance(spec, Augmenter):
            built.append((spec.name or type(spec).__name__, spec))
            continue
        name, _, mode = spec.partition(":")
        cls = get_augmenter(name)
        opts = {**options.get(name, {}), **options.get(spec, {}), **({"mode": mode} if mode else {})}
        data = train_data()
        if data is not None and cls.for_model.__func__ is Augmenter.for_model.__func__:  # type: ignore[attr-defined]
            data = make_loader(data, batch_size=32, shuffle=True)  # the base class fits on batches
        try:
            augmenter = cls.for_model(model, data=data, **opts)
        except TypeError as exc:  # an option the augmenter does not take
            raise FgavError(f"augmenter {name!r}: {exc}".splitlines()[0]) from exc
        label = name if augmenter.mode == "push" else f"{name}:{augmenter.mode}"
        built.append((label, augmenter))
    return built
