"""The audit under torchrun: each rank a block of batches, one result equal to one process's."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from fgav.auditing.engine import shard_of
from fgav.auditing.state import rank_state_path
from fgav.core.distributed import DistContext
from fgav.train import train
from tests.torchrun import fgav, torchrun
from tests.train.tiny import ToyFAS, write_tiny_tree


@pytest.mark.parametrize(("n", "batch", "world"), [(22, 4, 2), (22, 4, 3), (5, 4, 2), (3, 4, 4), (64, 32, 2)])
def test_the_shards_are_contiguous_blocks_of_whole_batches_covering_every_sample(n: int, batch: int, world: int) -> None:
    shards = [shard_of(n, batch, DistContext(rank=r, world_size=world)) for r in range(world)]
    assert [i for samples, _ in shards for i in samples] == list(range(n)), "in order, none dropped or twice"
    for samples, first in shards:
        assert samples.start == first * batch, "a shard starts at a batch boundary: its batches are the audit's"
        assert len(samples) % batch == 0 or samples.stop == n, "only the last shard's last batch may be short"
    sizes = [len(-(-len(samples) // batch) * [0]) for samples, _ in shards]
    assert max(sizes) - min(sizes) <= 1, "batches dealt as evenly as whole batches allow"


def test_each_rank_keeps_its_own_state_file(tmp_path: Path) -> None:
    path = tmp_path / "a.json.state"
    assert rank_state_path(path, None) == path == rank_state_path(path, DistContext())
    assert rank_state_path(path, DistContext(rank=1, world_size=2)) == tmp_path / "a.json.state.rank-1-of-2"
    assert rank_state_path(None, DistContext(rank=1, world_size=2)) is None


def _same(a: Any, b: Any, where: str = "") -> None:
    """Equal, floats to rounding (sums are added in another order), everything else exactly."""
    if isinstance(a, dict) and isinstance(b, dict):
        assert a.keys() == b.keys(), where
        for key in a:
            _same(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, list) and isinstance(b, list):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            _same(x, y, f"{where}[{i}]")
    elif isinstance(a, float) and isinstance(b, float) and not (math.isnan(a) and math.isnan(b)):
        assert a == pytest.approx(b, rel=1e-6, abs=1e-9), where
    elif not (isinstance(a, float) and isinstance(b, float)):
        assert a == b, where


def test_a_two_rank_audit_equals_the_one_process_audit(tmp_path: Path) -> None:
    tree = write_tiny_tree(tmp_path / "tree", n_train=8, n_test=22)
    target = tmp_path / "target"
    train(out=target, dataset=ToyFAS(32), epochs=2, backbone="timm:test_resnet", image_size=32, batch_size=8,
          device="cpu", progress=False)  # fmt: skip
    args = ["audit", "--checkpoint", str(target), "--data", str(tree), "--head", "all", "--attack", "fgsm",
            "--attack", "pgd", "--attack-option", "pgd.steps=5", "--eps", "2/255,8/255", "--augmenter", "none",
            "--batch-size", "4", "--device", "cpu", "--check"]  # fmt: skip
    one = fgav(*args, "--json", str(tmp_path / "one.json"))
    assert one.returncode == 0, one.stderr[-3000:]
    two = torchrun(*args, "--json", str(tmp_path / "two.json"))
    assert two.returncode == 0, two.stdout[-2000:] + two.stderr[-4000:]
    a, b = (json.loads((tmp_path / f"{name}.json").read_text()) for name in ("one", "two"))
    assert b["config"]["processes"] == 2 and a["config"]["processes"] == 1
    assert len(a["results"]) == 6 * 2 * 2 and a["results"][0]["n"] == 22
    _same(a["results"], b["results"], "results")  # ASR, outcomes per sample, flags, distortions, metrics
    title = "fgav audit: attack success rate"
    assert one.stdout.count(title) == two.stdout.count(title) == 1, "rank 0 alone prints the table"
    assert b["notes"] == a["notes"] and b["skipped"] == a["skipped"]
    assert not list(tmp_path.glob("*.state*")), "every rank's state is removed once the outputs are safe"


def test_one_ranks_bad_batch_stops_every_rank_with_its_line(tmp_path: Path) -> None:
    tree = write_tiny_tree(tmp_path / "tree", n_train=8, n_test=8)
    (tree / "Data/test/1/spoof/005_BB.txt").write_text("1 2 3")  # in rank 1's block of batches
    target = tmp_path / "target"
    train(out=target, dataset=ToyFAS(8), epochs=1, backbone="timm:test_resnet", image_size=32, batch_size=8,
          device="cpu", progress=False)  # fmt: skip
    done = torchrun("audit", "--checkpoint", str(target), "--data", str(tree), "--augmenter", "none",
                    "--batch-size", "4", "--device", "cpu", "--json", str(tmp_path / "a.json"))
    output = done.stdout + done.stderr
    assert done.returncode != 0
    assert output.count("Error: malformed bounding-box file Data/") == 2, output[-4000:]
    assert "/fgav/" not in output and "gloo" not in output, output[-4000:]  # torchrun's own report aside, no traceback
    assert not (tmp_path / "a.json").exists()
