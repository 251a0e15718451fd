"""The training loop: the loss falls, Ctrl-C and --resume, refusals, NaN, missing heads."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
import torch
from rich.console import Console
from safetensors.torch import load_file

import fgav
from fgav.core.errors import FgavError
from fgav.train import NonFiniteLossError, train
from fgav.train.checkpointing import METRICS_FILE, STATE_FILE, load_state
from tests.train.tiny import ToyFAS

TINY = {"backbone": "timm:test_resnet", "image_size": 32, "batch_size": 8, "device": "cpu", "progress": False}


def test_the_loss_falls_and_the_run_is_a_checkpoint(tmp_path: Path) -> None:
    result = train(out=tmp_path / "run", dataset=ToyFAS(32), epochs=4, **TINY)
    # The live/spoof loss falls (the toy's attributes are random: the total has a floor).
    losses = [r["loss_classification"] for r in result.metrics]
    assert len(losses) == 4 and losses[-1] < 0.5 * losses[0]
    assert result.metrics[-1]["loss"] < result.metrics[0]["loss"]
    lines = (tmp_path / "run" / METRICS_FILE).read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in lines] == [1, 2, 3, 4]
    model = fgav.load_model(tmp_path / "run")
    assert model.head_names == list(fgav.core.model.DEFAULT_HEADS)
    assert model.config["training"]["epochs"] == 4
    # The resume state reads back with weights_only=True (load_state uses nothing else).
    state = load_state(tmp_path / "run")
    assert (state["epoch"], state["step"]) == (4, 0)


def _weights(directory: Path) -> dict[str, torch.Tensor]:
    return load_file(str(directory / "model.safetensors"))


def test_ctrl_c_mid_epoch_leaves_a_checkpoint_that_resume_finishes_exactly(tmp_path: Path) -> None:
    data = ToyFAS(32)
    train(out=tmp_path / "straight", dataset=data, epochs=2, **TINY)

    def interrupt(epoch: int, step: int, loss: float) -> None:
        if (epoch, step) == (1, 2):  # the second batch of the second epoch
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(out=tmp_path / "cut", dataset=data, epochs=2, on_step=interrupt, **TINY)
    state = load_state(tmp_path / "cut")
    assert (state["epoch"], state["step"]) == (1, 2)
    result = train(out=tmp_path / "cut", dataset=data, resume=True, **TINY)
    assert result.epochs == 2
    straight, resumed = _weights(tmp_path / "straight"), _weights(tmp_path / "cut")
    assert straight.keys() == resumed.keys()
    for name in straight:  # same data order, flips and optimizer state: the same weights
        torch.testing.assert_close(resumed[name], straight[name], rtol=1e-4, atol=1e-5)


def test_resume_can_extend_a_finished_run(tmp_path: Path) -> None:
    data = ToyFAS(16)
    train(out=tmp_path / "run", dataset=data, epochs=1, **TINY)
    result = train(out=tmp_path / "run", dataset=data, resume=True, epochs=2, **TINY)
    assert [r["epoch"] for r in result.metrics] == [2]


def test_an_existing_directory_is_refused_without_resume_or_overwrite(tmp_path: Path) -> None:
    out = tmp_path / "run"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(FgavError, match="pass --resume .* or --overwrite"):
        train(out=out, dataset=ToyFAS(8), epochs=1, **TINY)
    with pytest.raises(FgavError, match="nothing to resume"):
        train(out=out, dataset=ToyFAS(8), epochs=1, resume=True, **TINY)
    train(out=out, dataset=ToyFAS(8), epochs=1, overwrite=True, **TINY)
    assert (out / "notes.txt").read_text() == "mine"  # --overwrite only replaces fgav's files
    assert (out / STATE_FILE).is_file()


def test_a_nan_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path: Path) -> None:
    data = ToyFAS(16)
    out = tmp_path / "run"
    train(out=out, dataset=data, epochs=1, **TINY)
    good = _weights(out)
    poisoned = ToyFAS(16)
    for item in poisoned.items:
        item["image"] = torch.full_like(item["image"], float("nan"))
    with pytest.raises(NonFiniteLossError, match=r"loss became nan at epoch 2, step 1.*last good checkpoint \(after epoch 1\)"):
        train(out=out, dataset=poisoned, resume=True, epochs=2, **TINY)
    for name, value in _weights(out).items():
        torch.testing.assert_close(value, good[name], rtol=0, atol=0)
    assert load_state(out)["epoch"] == 1


def test_heads_without_ground_truth_are_left_out_with_a_note(tmp_path: Path) -> None:
    data = ToyFAS(16)
    data.provides = frozenset({"image", "spoof", "attributes"})
    for item in data.items:
        for key in ("depth", "reflection", "spoof_type", "illumination"):
            del item[key]
    console = Console(file=io.StringIO(), width=200)
    train(out=tmp_path / "run", dataset=data, epochs=1, console=console, **{**TINY, "progress": True})
    notes = console.file.getvalue()
    assert "no ground truth for spoof_type, illumination, depth, reflection" in notes
    assert fgav.load_model(tmp_path / "run").head_names == ["attribute", "classification"]


def test_bad_options_are_one_line_errors(tmp_path: Path) -> None:
    with pytest.raises(FgavError, match="epochs and batch size"):
        train(out=tmp_path / "a", dataset=ToyFAS(8), epochs=0, **TINY)
    with pytest.raises(FgavError, match="--loss-weight names heads the model lacks: nose"):
        train(out=tmp_path / "b", dataset=ToyFAS(8), epochs=1, loss_weights={"nose": 1.0}, **TINY)
    with pytest.raises(FgavError, match="--resume and --overwrite"):
        train(out=tmp_path / "c", dataset=ToyFAS(8), epochs=1, resume=True, overwrite=True, **TINY)


def test_data_without_live_spoof_labels_is_refused() -> None:
    from fgav.train.trainer import select_heads

    with pytest.raises(FgavError, match="no live/spoof labels"):
        select_heads(None, frozenset({"image", "depth"}), note=print)
    assert select_heads(["depth"], frozenset({"image", "spoof", "depth"}), note=print) == ["depth", "classification"]


def test_a_batch_of_one_trains_with_batch_norm_frozen(tmp_path: Path) -> None:
    from tests.train.tiny import write_tiny_tree

    # A one-image set: at 32 px the backbone's last feature map is 1 x 1, where batch norm
    # has one value per channel and cannot train on batch statistics.
    console = Console(file=io.StringIO(), width=300)
    result = train(out=tmp_path / "one", dataset=ToyFAS(1), epochs=2, console=console, **{**TINY, "progress": True})
    assert [r["images"] for r in result.metrics] == [1, 1]
    assert [r["batches_of_one"] for r in result.metrics] == [1, 1]
    assert "2 batches of one image" in console.file.getvalue()
    fgav.load_model(tmp_path / "one")
    # --limit 1 on a data set.
    tree = write_tiny_tree(tmp_path / "tree", n_train=4, n_test=2)
    result = train(out=tmp_path / "limit", data=str(tree), limit=1, epochs=1, **TINY)
    assert result.metrics[0]["images"] == 1
    # A corrupt image leaves one readable sample in a batch of two: it is trained, the other counted.
    (tree / "Data/train/0/live/000.png").write_bytes(b"not a png")
    result = train(out=tmp_path / "skip", data=str(tree), limit=2, epochs=1, **{**TINY, "batch_size": 2})
    record = result.metrics[0]
    assert (record["images"], record["skipped"], record["batches_of_one"]) == (1, 1, 1)


def test_batch_norm_is_frozen_only_inside_and_only_where_asked() -> None:
    from fgav.train.trainer import batch_norm_frozen

    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 1), torch.nn.BatchNorm2d(4), torch.nn.Dropout(0.5)).train()
    with batch_norm_frozen(model, enabled=True):
        assert not model[1].training and model[2].training
        model(torch.rand(1, 3, 1, 1))  # one value per channel: no error on running statistics
    assert model[1].training
    with batch_norm_frozen(model, enabled=False):
        assert model[1].training
