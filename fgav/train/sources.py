"""The data a training or evaluation run reads: opening, limiting, loading, skipped images."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch.utils.data import DataLoader, Dataset, Sampler, Subset

from fgav.core.errors import FgavError
from fgav.data import make_loader, open_dataset


def open_data(data: str, *, split: str, image_size: int, limit: int | None) -> Dataset:
    """Open a data set (a path or ``synth``) at a split and size, keeping its first ``limit``."""
    dataset = open_dataset(data, split=split, image_size=image_size)
    return limit_dataset(dataset, limit)


def limit_dataset(dataset: Dataset, limit: int | None) -> Dataset:
    """The first ``limit`` samples of a data set (all where ``limit`` is ``None``)."""
    if limit is None:
        return dataset
    if limit < 1:
        raise FgavError(f"--limit must keep at least one image, not {limit}")
    if hasattr(dataset, "limit"):
        return dataset.limit(limit)
    return Subset(dataset, range(min(limit, len(dataset))))  # type: ignore[arg-type]


def provided_keys(dataset: Dataset) -> frozenset[str]:
    """The batch keys with ground truth: ``dataset.provides``, else the first item's keys."""
    provides = getattr(dataset, "provides", None)
    if provides is None and isinstance(dataset, Subset):
        provides = getattr(dataset.dataset, "provides", None)
    if provides is None:
        provides = frozenset(dataset[0].keys())
    return frozenset(provides)


def make_data_loader(
    dataset: Dataset,
    *,
    batch_size: int,
    sampler: Sampler[int] | None,
    num_workers: int,
    drop_last: bool,
    pin_memory: bool = False,
) -> DataLoader:
    """fgav's loader (a collate that skips unreadable images) over a sampler."""
    if num_workers < 0:
        raise FgavError(f"--workers must be 0 or more, not {num_workers}")
    return make_loader(
        dataset, batch_size=batch_size, sampler=sampler, num_workers=num_workers, drop_last=drop_last, pin_memory=pin_memory
    )


def skipped_in(batch: Mapping[str, Any]) -> int:
    """How many unreadable images the collate left out of this batch."""
    skipped = batch.get("skipped")
    if skipped is None:
        return 0
    if isinstance(skipped, int):
        return skipped
    return len(skipped)
