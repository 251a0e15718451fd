"""Exact shards, the resumable sampler, and errors under torchrun (more torchrun runs: tests/cli)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from fgav.core.errors import FgavError
from fgav.train import train
from fgav.core.distributed import DistContext, gather_objects, shard_indices
from fgav.train.distributed import ResumableSampler, step_seed
from tests.torchrun import torchrun
from tests.train.tiny import ToyFAS, write_tiny_tree


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


def test_balance_splits_by_cost_the_same_way_on_every_rank() -> None:
    from fgav.core.distributed import balance

    costs = {"a": 9.0, "b": 7.0, "c": 4.0, "d": 3.0, "e": 3.0, "f": 1.0}
    shares = balance(list(costs), costs.__getitem__, 2)
    assert sorted(k for s in shares for k in s) == sorted(costs)  # every item once
    loads = [sum(costs[k] for k in s) for s in shares]
    assert loads == [13.0, 14.0]  # heaviest first, each to the lighter rank: a+d+f and b+c+e
    assert shares == balance(list(costs), costs.__getitem__, 2)
    assert all(s == sorted(s, key=list(costs).index) for s in shares)  # each keeps the given order
    assert balance(["x", "y"], lambda _k: 1.0, 4) == [["x"], ["y"], [], []]
    assert balance(["x"], lambda _k: 1.0, 1) == [["x"]]
    with pytest.raises(FgavError, match="at least one rank"):
        balance(["x"], lambda _k: 1.0, 0)


def test_single_process_hides_the_torchrun_world_and_restores_it(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    from fgav.core.distributed import launched_by_torchrun, single_process

    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert launched_by_torchrun()
    with single_process():
        assert not launched_by_torchrun() and "RANK" not in os.environ
    assert launched_by_torchrun() and os.environ["RANK"] == "1"


def test_a_malformed_box_file_under_torchrun_is_one_line_on_every_rank(tmp_path: Path) -> None:
    tree = write_tiny_tree(tmp_path / "tree", n_train=8, n_test=6)
    (tree / "Data/train/0/live/000_BB.txt").write_text("not a box")
    (tree / "Data/test/0/spoof/001_BB.txt").write_text("1 2 3")
    tiny = ["--backbone", "timm:test_resnet", "--image-size", "32", "--batch-size", "2", "--device", "cpu"]
    for args in (
        ["train", *tiny, "--data", str(tree), "--epochs", "1", "--out", str(tmp_path / "run")],
        ["evaluate", "--checkpoint", str(tmp_path / "ok"), "--data", str(tree), "--device", "cpu", "--batch-size", "2",
         "--json", str(tmp_path / "e.json")],
    ):  # fmt: skip
        if args[0] == "evaluate":  # a checkpoint to evaluate, trained in this process
            train(out=tmp_path / "ok", dataset=ToyFAS(4), epochs=1, backbone="timm:test_resnet", image_size=32,
                  batch_size=2, device="cpu", progress=False)  # fmt: skip
        done = torchrun(*args)
        output = done.stdout + done.stderr
        assert done.returncode != 0
        assert output.count("Error: malformed bounding-box file Data/") == 2, output[-4000:]
        assert "gloo" not in output and "Connection closed" not in output, output[-4000:]
    assert not (tmp_path / "e.json").exists()


def test_step_seed_gives_every_step_of_every_rank_its_own_stream() -> None:
    seeds = {step_seed(0, e, s, r) for e in range(3) for s in range(50) for r in range(4)}
    assert len(seeds) == 3 * 50 * 4, "no two (epoch, step, rank) share a stream"
    assert step_seed(7, 1, 2, 3) == step_seed(7, 1, 2, 3), "a resumed run draws the same"
    assert step_seed(7, 1, 2, 3) != step_seed(8, 1, 2, 3), "the run's seed moves every stream"
    assert 0 <= step_seed(2**40, 10**6, 10**6, 64) < 2**62, "within what torch.manual_seed takes"
