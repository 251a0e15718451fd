"""Batches for long runs: a DataLoader on which an unreadable image is skipped, not fatal.

The contract of :func:`make_loader`:

- Each batch is a dict of :class:`fgav.core.types.Batch`'s keys (``image`` ``(B,3,S,S)``, the label keys,
  maps, ``valid``, ``index``, ``path``), collated from the samples that could be read.
- An image (or map) that exists but cannot be decoded is dropped from its batch; the
  batch's ``skipped`` entry lists the dropped files (paths relative to the data set's
  root) and ``skip_reasons`` why, one reason per path. Every batch has both lists,
  usually empty.
- A batch whose samples were all unreadable still arrives: a dict with ``skipped``,
  ``skip_reasons`` and an empty ``image`` ``(0,3,S,S)``, and no other key. Loops skip
  it with ``if not len(batch["image"]): continue``.
- A malformed annotation (e.g. a bounding-box file that is not ``x y w h score``) is
  not skipped: iterating raises :class:`~fgav.core.errors.FgavError` with its one-line
  message, in the main process, as if there were no worker processes.

A loop counts what was skipped with :class:`SkipCounter` and reports it at the end::

    skips = SkipCounter()
    for batch in make_loader(dataset, batch_size=64):
        skips.update(batch)
        if not len(batch["image"]):
            continue
        ...
    skips.report()          # "3 unreadable images skipped: a.jpg, b.jpg, c.jpg"
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from rich.console import Console
from rich.markup import escape
from torch.utils.data import DataLoader, Dataset, Sampler
from torch.utils.data._utils.collate import default_collate

from fgav.core.errors import FgavError
from fgav.core.types import Batch
from fgav.data.dataset import UnreadableImageError

_ERROR_KEY = "_fgav_error"  # carries a malformed-annotation message out of a worker


@dataclass(frozen=True)
class _Skipped:
    """Stands in a batch for a sample whose file could not be decoded."""

    path: str
    reason: str
    image_size: int | None


@dataclass(frozen=True)
class _Failed:
    """Stands in a batch for a sample whose annotation is malformed: fatal, in the main process."""

    message: str


class SkippingDataset(Dataset):
    """Wraps a data set: an :class:`UnreadableImageError` becomes a marker the collate drops.

    Attributes of the wrapped data set (``provides``, ``image_size``, ``paths`` ...) are
    reachable through the wrapper, so ``loader.dataset.provides`` works.
    """

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset
        size = getattr(dataset, "image_size", None) or getattr(getattr(dataset, "dataset", None), "image_size", None)
        self._image_size: int | None = size

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, index: int) -> Any:
        try:
            return self.dataset[index]
        except UnreadableImageError as exc:
            return _Skipped(exc.path, exc.reason, self._image_size)
        except FgavError as exc:
            return _Failed(str(exc))

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name in ("dataset", "_image_size"):  # unpickling, copy
            raise AttributeError(name)
        return getattr(self.dataset, name)


def collate(samples: Sequence[Any]) -> dict[str, Any]:
    """Collate the readable samples; list the skipped ones (see the module docstring)."""
    failed = [s for s in samples if isinstance(s, _Failed)]
    if failed:
        return {_ERROR_KEY: failed[0].message}
    skipped = [s for s in samples if isinstance(s, _Skipped)]
    good = [s for s in samples if not isinstance(s, _Skipped)]
    if good:
        batch: dict[str, Any] = default_collate(good)
    else:
        size = skipped[0].image_size
        batch = {"image": torch.empty((0, 3, size, size) if size else (0,))}
    batch["skipped"] = [s.path for s in skipped]
    batch["skip_reasons"] = [s.reason for s in skipped]
    return batch


class FASLoader(DataLoader):
    """A DataLoader whose batches follow :mod:`fgav.data.loading`'s contract."""

    def __iter__(self) -> Iterator[Batch]:  # type: ignore[override]
        for batch in super().__iter__():
            if _ERROR_KEY in batch:
                raise FgavError(batch[_ERROR_KEY])
            yield batch


def make_loader(
    dataset: Dataset,
    *,
    batch_size: int,
    shuffle: bool = False,
    seed: int = 0,
    num_workers: int = 0,
    sampler: Sampler | None = None,
    drop_last: bool = False,
    pin_memory: bool = False,
) -> FASLoader:
    """A DataLoader over ``dataset`` that skips and lists unreadable images.

    Args:
        dataset: a :class:`~fgav.data.dataset.FASDataset` (or a ``Subset`` of one, or
            any data set of batch dicts that raises ``UnreadableImageError``).
        batch_size: samples per batch (fewer where some were skipped).
        shuffle: draw a new order every epoch, from ``seed`` (ignored with a ``sampler``).
        seed: the seed of the shuffled order: the same seed gives the same batches.
        num_workers: worker processes reading images (0: in this process).
        sampler: a sampler (e.g. a ``DistributedSampler``); excludes ``shuffle``.
        drop_last: drop the last incomplete batch.
        pin_memory: pin batches in page-locked memory (faster copies to a GPU).

    Raises:
        FgavError: a batch size below one.
    """
    if batch_size < 1:
        raise FgavError(f"the batch size must be at least 1, not {batch_size}")
    generator = torch.Generator().manual_seed(seed) if shuffle and sampler is None else None
    return FASLoader(
        SkippingDataset(dataset),
        batch_size=batch_size,
        shuffle=shuffle and sampler is None,
        sampler=sampler,
        num_workers=num_workers,
        collate_fn=collate,
        drop_last=drop_last,
        generator=generator,
        pin_memory=pin_memory,
    )


class SkipCounter:
    """Collects the unreadable files a loop skipped, to report them once at the end."""

    def __init__(self) -> None:
        self.paths: list[str] = []
        self.reasons: list[str] = []

    def update(self, batch: Mapping[str, Any]) -> int:
        """Count a batch's skipped files; returns how many it had."""
        skipped = batch.get("skipped", [])
        self.paths.extend(skipped)
        self.reasons.extend(batch.get("skip_reasons", [""] * len(skipped)))
        return len(skipped)

    def __len__(self) -> int:
        return len(self.paths)

    def message(self, *, show: int = 5) -> str | None:
        """``"N unreadable images skipped: a, b, ..."``, or ``None`` where none was."""
        if not self.paths:
            return None
        n = len(self.paths)
        names = ", ".join(self.paths[:show]) + (f" (and {n - show} more)" if n > show else "")
        return f"{n} unreadable image{'s' if n != 1 else ''} skipped: {names}"

    def report(self, console: Console | None = None, *, show: int = 5) -> None:
        """Print :meth:`message` (to stderr by default) where anything was skipped."""
        text = self.message(show=show)
        if text is not None:
            (console or Console(stderr=True)).print(f"[yellow]Note:[/] {escape(text)}", highlight=False)
