"""torchrun support: process-group set-up, exact shards of the work and gathering results.

Under ``torchrun`` (``RANK``/``WORLD_SIZE``/``LOCAL_RANK`` in the environment) the
process group is started with gloo on CPU and nccl on CUDA; without them everything
runs as one process of rank 0 in a world of one, so single-process code needs no branch.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

import torch
import torch.distributed as dist

from fgav.core.errors import FgavError


@dataclass(frozen=True)
class DistContext:
    """Where this process stands: its rank, the world size, and its device."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")
    started_here: bool = False

    @property
    def is_main(self) -> bool:
        """Whether this process is rank 0, the only one that writes."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        """Whether more than one process takes part."""
        return self.world_size > 1

    def barrier(self) -> None:
        """Wait for every process (a no-op in a world of one)."""
        if self.distributed:
            dist.barrier()

    def close(self) -> None:
        """Tear down the process group if this context started it."""
        if self.started_here and dist.is_initialized():
            dist.destroy_process_group()


def launched_by_torchrun() -> bool:
    """Whether the environment names a torchrun world of more than one process."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1 and "RANK" in os.environ


def init_distributed(device: torch.device, *, timeout: timedelta | None = None) -> DistContext:
    """Join the torchrun process group if there is one; else a world of one.

    Each rank of a CUDA run uses the GPU of its ``LOCAL_RANK``. ``timeout`` bounds how
    long a collective (a barrier) waits for the slowest rank (torch's default if None).

    Raises:
        FgavError: a CUDA run has more local ranks than GPUs.
    """
    if not launched_by_torchrun():
        return DistContext(device=device)
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if device.type == "cuda":
        if local_rank >= torch.cuda.device_count():
            raise FgavError(f"local rank {local_rank} but only {torch.cuda.device_count()} CUDA devices")
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    backend = "nccl" if device.type == "cuda" else "gloo"
    started = False
    if not dist.is_initialized():
        if timeout is None:
            dist.init_process_group(backend=backend)
        else:
            dist.init_process_group(backend=backend, timeout=timeout)
        started = True
    return DistContext(rank=rank, world_size=world, local_rank=local_rank, device=device, started_here=started)


@contextmanager
def single_process() -> Iterator[None]:
    """Hide torchrun's world from code inside, so that it runs as one process alone.

    For work one rank does by itself (training one of several targets), which would
    otherwise join every rank's collectives.
    """
    saved = {k: os.environ.pop(k) for k in ("RANK", "WORLD_SIZE") if k in os.environ}
    try:
        yield
    finally:
        os.environ.update(saved)


T = TypeVar("T")


def balance(items: Sequence[T], cost: Callable[[T], float], world_size: int) -> list[list[T]]:
    """Split ``items`` over ``world_size`` ranks so that their summed costs are even.

    Longest processing time first: the costliest item goes to the least loaded rank
    (ties to the lower rank), so every rank computes the same split. Each rank's items
    keep their order in ``items``.
    """
    if world_size < 1:
        raise FgavError(f"a world needs at least one rank, not {world_size}")
    costs = [cost(item) for item in items]
    loads = [0.0] * world_size
    owner: dict[int, int] = {}
    for i in sorted(range(len(items)), key=lambda i: (-costs[i], i)):
        rank = min(range(world_size), key=lambda r: (loads[r], r))
        owner[i] = rank
        loads[rank] += costs[i]
    return [[item for i, item in enumerate(items) if owner[i] == r] for r in range(world_size)]


def shard_indices(n: int, *, rank: int, world_size: int) -> list[int]:
    """The indices of ``range(n)`` that a rank evaluates: strided, disjoint, none dropped."""
    return list(range(rank, n, world_size))


def gather_objects(obj: Any, ctx: DistContext) -> list[Any]:
    """Every rank's ``obj``, in rank order (just ``[obj]`` in a world of one)."""
    if not ctx.distributed:
        return [obj]
    gathered: list[Any] = [None] * ctx.world_size
    dist.all_gather_object(gathered, obj)
    return gathered


def all_reduce_sum(values: torch.Tensor, ctx: DistContext) -> torch.Tensor:
    """The sum over ranks of a float tensor (itself in a world of one)."""
    if not ctx.distributed:
        return values
    values = values.to(ctx.device).clone()
    dist.all_reduce(values, op=dist.ReduceOp.SUM)
    return values.cpu()


def raise_together(error: str | None, ctx: DistContext) -> None:
    """Raise ``FgavError`` on every rank where any rank has an ``error`` line (the first rank's).

    Every rank must call it at the same point: the rank that failed then stops with its
    line, and the others with the same line instead of a broken collective's traceback.
    In a world of one it raises ``error`` if given.
    """
    if not ctx.distributed:
        if error is not None:
            raise FgavError(error)
        return
    if not any_rank(error is not None, ctx):
        return
    messages = [m for m in gather_objects(error, ctx) if m is not None]
    raise FgavError(messages[0])


def on_main(work: Callable[[], T], ctx: DistContext) -> T | None:
    """Run ``work`` on rank 0 only; an ``FgavError`` there is raised on every rank.

    Returns ``work``'s result on rank 0, ``None`` elsewhere; every rank waits for rank 0.
    """
    result: T | None = None
    error: str | None = None
    if ctx.is_main:
        try:
            result = work()
        except FgavError as exc:
            error = str(exc)
    if ctx.distributed:
        box = [error]
        dist.broadcast_object_list(box, src=0)
        error = box[0]
    if error is not None:
        raise FgavError(error)
    return result


def any_rank(flag: bool, ctx: DistContext) -> bool:
    """Whether ``flag`` is true on any rank (so that every rank stops together)."""
    return bool(all_reduce_sum(torch.tensor([float(flag)]), ctx).item() > 0)


__all__ = ["DistContext", "all_reduce_sum", "any_rank", "balance", "gather_objects", "init_distributed",
           "launched_by_torchrun", "on_main", "raise_together", "shard_indices", "single_process"]
