"""Training's share of torchrun support: the resumable data shard and each step's seed.

The process group, shards and gathering are :mod:`fgav.core.distributed`'s (the audit
uses them too).
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch.utils.data import Sampler

from fgav.core.errors import FgavError


def step_seed(seed: int, epoch: int, step: int, rank: int) -> int:
    """The seed of one training step's random draws (flips, crops, random starts).

    One stream per (run, epoch, step, rank), so that a resumed run draws what the
    uninterrupted one would have drawn; ``fgav train`` and ``fgav harden`` share it.
    """
    return (seed * 1_000_003 + epoch * 10_007 + step * 101 + rank) % (2**62)


class ResumableSampler(Sampler[int]):
    """A per-epoch shuffled shard of the data that can start part-way into an epoch.

    The order of epoch ``e`` is a permutation seeded by ``seed + e`` (the same on every
    rank, as ``DistributedSampler``'s), padded by wrapping round to a multiple of the
    world size, then strided over the ranks. ``set_epoch`` picks the epoch; ``skip``
    drops the first samples of this rank's shard (what a resumed run has already seen).
    """

    def __init__(self, n: int, *, rank: int = 0, world_size: int = 1, seed: int = 0, shuffle: bool = True) -> None:
        if n <= 0:
            raise FgavError("the training set is empty")
        self.n, self.rank, self.world_size = n, rank, world_size
        self.seed, self.shuffle = seed, shuffle
        self.epoch, self.skip = 0, 0
        self.per_rank = -(-n // world_size)

    def set_epoch(self, epoch: int, *, skip: int = 0) -> None:
        """Pick the epoch whose order to yield, dropping this rank's first ``skip`` samples."""
        self.epoch, self.skip = epoch, skip

    def _order(self) -> list[int]:
        if self.shuffle:
            g = torch.Generator().manual_seed(self.seed + self.epoch)
            order = torch.randperm(self.n, generator=g).tolist()
        else:
            order = list(range(self.n))
        total = self.per_rank * self.world_size
        order = (order * (total // len(order) + 1))[:total]
        return order[self.rank :: self.world_size]

    def __iter__(self) -> Iterator[int]:
        return iter(self._order()[self.skip :])

    def __len__(self) -> int:
        return max(self.per_rank - self.skip, 0)


__all__ = ["ResumableSampler", "step_seed"]
