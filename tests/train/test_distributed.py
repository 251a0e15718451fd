"""Exact shards and the resumable sampler (the torchrun runs are in tests/cli)."""

from __future__ import annotations

import pytest

from fgav.errors import FgavError
from fgav.train.distributed import DistContext, ResumableSampler, gather_objects, shard_indices


@pytest.mark.parametrize(("n", "world"), [(10, 3), (2, 4), (7, 1), (8, 2)])
def test_shards_are_disjoint_and_cover_every_sample(n: int, world: int) -> None:
    shards = [shard_indices(n, rank=r, world_size=world) for r in range(world)]
    flat = [i for s in shards for i in s]
    assert sorted(flat) == list(range(n))


def test_the_sampler_shuffles_per_epoch_and_pads_to_equal_shards() -> None:
    ranks = [ResumableSampler(7, rank=r, world_size=2, seed=1) for r in range(2)]
    first = [list(s) for s in ranks]
    assert [len(x) for x in first] == [4, 4]
    assert set(first[0] + first[1]) == set(range(7))
    for s in ranks:
        s.set_epoch(1)
    assert [list(s) for s in ranks] != first


def test_skip_resumes_part_way_into_the_same_order() -> None:
    sampler = ResumableSampler(20, seed=5)
    sampler.set_epoch(3)
    full = list(sampler)
    sampler.set_epoch(3, skip=8)
    assert list(sampler) == full[8:] and len(sampler) == 12


def test_an_empty_set_and_a_world_of_one() -> None:
    with pytest.raises(FgavError, match="empty"):
        ResumableSampler(0)
    ctx = DistContext()
    assert ctx.is_main and not ctx.distributed and gather_objects({"a": 1}, ctx) == [{"a": 1}]
