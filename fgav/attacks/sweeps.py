"""Epsilon sweeps whose result at one budget never depends on the other budgets asked.

Foolbox runs a minimization attack once per sweep, with ``early_stop=min(epsilons)``,
and clips that one result to each epsilon; a fixed-epsilon attack runs once per
epsilon, one after the other on the global random stream. Neither lets an attack whose
optimisation is bounded by epsilon (stadv, sparse) or that starts at random (PGD)
give the same result at epsilon e whether e is asked alone or beside others.
:class:`PerEpsilon` runs the attack once per distinct epsilon, each run from the same
random stream, so the result at e is what ``epsilons=e`` alone gives.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import eagerpy as ep
import torch

__all__ = ["PerEpsilon", "draw_seed", "same_random_stream"]


def draw_seed() -> int:
    """A seed drawn from torch's global CPU generator (which it advances by one draw)."""
    return int(torch.randint(0, 2**62, (1,)).item())


@contextmanager
def same_random_stream(seed: int, device: torch.device | str | None = None) -> Iterator[None]:
    """Run a block on torch's global generators seeded with ``seed``, restored afterwards.

    The CPU generator and, for a CUDA ``device``, that device's generator are seeded;
    both are put back as they were on leaving, so the caller's stream is untouched.
    """
    device = torch.device(device) if device is not None else torch.device("cpu")
    cuda = device.type == "cuda"
    index = device.index if device.index is not None else (torch.cuda.current_device() if cuda else None)
    with torch.random.fork_rng(devices=[index] if cuda else []):
        torch.default_generator.manual_seed(seed)
        if cuda:
            torch.cuda.default_generators[index].manual_seed(seed)
        yield


def _device_of(inputs: Any) -> torch.device | None:
    raw = ep.astensor(inputs).raw
    return raw.device if isinstance(raw, torch.Tensor) else None


class PerEpsilon:
    """Mixin for a Foolbox attack: every epsilon of a sweep is its own run, on one stream.

    Put it before the Foolbox base class (``class A(PerEpsilon, fa.LinfPGD)``). A sweep
    ``epsilons=[e1, e2, ...]`` runs ``epsilons=e_i`` for each distinct value, each from
    the same seed (drawn once from the global generator), so the result at ``e_i`` equals
    the result of ``epsilons=e_i`` alone with the same global seed. A single epsilon runs
    the same way. The result has Foolbox's form: lists (and stacked success) for a
    sequence, tensors for a single value.
    """

    def __call__(self, model: Any, inputs: Any, criterion: Any, *, epsilons: Any, **kwargs: Any) -> Any:
        seed = draw_seed()
        device = _device_of(inputs)
        single = not isinstance(epsilons, Sequence) or isinstance(epsilons, (str, bytes))
        values = [epsilons] if single else list(epsilons)
        runs: dict[Any, Any] = {}
        for eps in values:
            key = None if eps is None else float(eps)
            if key not in runs:
                with same_random_stream(seed, device):
                    runs[key] = super().__call__(model, inputs, criterion, epsilons=eps, **kwargs)  # type: ignore[misc]
        results = [runs[None if eps is None else float(eps)] for eps in values]
        if single:
            return results[0]
        _, restore_type = ep.astensor_(inputs)
        success = ep.stack([ep.astensor(r[2]) for r in results])
        return [r[0] for r in results], [r[1] for r in results], restore_type(success)
