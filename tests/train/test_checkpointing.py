"""A checkpoint is one unit: a kill at any instant, then --resume, gives the uninterrupted weights bit for bit."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from fgav.core.errors import FgavError
from fgav.train import checkpointing, train
from fgav.train.checkpointing import METRICS_FILE, STAGING_DIR, STATE_FILE, load_state, read_metrics
from tests.train.kill_run import TINY
from tests.train.tiny import ToyFAS

ROOT = Path(__file__).parents[2]
TARGETS = ("staging", "model.safetensors", "config.json", "metrics.jsonl", STATE_FILE)


class Killed(BaseException):
    """Stands for a kill: nothing in fgav catches it, so the files stay as they were."""


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    # The subprocess runs on one thread; so do these runs, so that every kernel sums alike.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def straight(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The uninterrupted two-epoch run."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("straight") / "run"
    train(out=out, dataset=ToyFAS(16), epochs=2, **TINY)
    torch.set_num_threads(before)
    return out


def assert_same_run(run: Path, straight: Path) -> None:
    """The same weights bit for bit, the same optimizer state and the same metrics lines."""
    ours, theirs = load_file(str(run / "model.safetensors")), load_file(str(straight / "model.safetensors"))
    assert ours.keys() == theirs.keys()
    for name in theirs:
        assert torch.equal(ours[name], theirs[name]), name
    a, b = load_state(run), load_state(straight)
    assert (a["epoch"], a["step"]) == (b["epoch"], b["step"]) == (2, 0)
    for x, y in zip(a["optimizer"]["state"].values(), b["optimizer"]["state"].values(), strict=True):
        assert all(torch.equal(x[k], y[k]) for k in y)
    drop = ("seconds", "images_per_s")
    assert [{k: v for k, v in r.items() if k not in drop} for r in read_metrics(run)] == [
        {k: v for k, v in r.items() if k not in drop} for r in read_metrics(straight)
    ]
    assert not (run / STAGING_DIR).exists()


def kill_at(monkeypatch: pytest.MonkeyPatch, save: int, target: str) -> None:
    """Raise :class:`Killed` at an instant of the ``save``-th checkpoint save."""
    seen = {"saves": 0}
    real_replace, real_save = Path.replace, checkpointing.torch.save

    def replace(self: Path, dest: str | os.PathLike[str]) -> Path:
        result = real_replace(self, dest)
        dest = Path(dest)
        if dest.parent.name != STAGING_DIR and dest.name == target and seen["saves"] == save:
            raise Killed
        return result

    def staged(obj: object, f: object, *args: object, **kwargs: object) -> None:
        seen["saves"] += 1
        if target == "staging" and seen["saves"] == save:
            Path(str(f)).write_bytes(b"half a state")
            raise Killed
        real_save(obj, f, *args, **kwargs)

    monkeypatch.setattr(Path, "replace", replace)
    monkeypatch.setattr(checkpointing.torch, "save", staged)


@pytest.mark.parametrize(
    ("save", "target"), [(1, t) for t in TARGETS] + [(2, "metrics.jsonl"), (2, STATE_FILE)]
)
def test_a_kill_inside_any_save_then_resume_gives_the_uninterrupted_weights(
    tmp_path: Path, straight: Path, monkeypatch: pytest.MonkeyPatch, save: int, target: str
) -> None:
    out = tmp_path / "run"
    with monkeypatch.context() as patch:
        kill_at(patch, save, target)
        with pytest.raises(Killed):
            train(out=out, dataset=ToyFAS(16), epochs=2, **TINY)
    if save == 1 and target == "staging":  # killed before the first checkpoint: nothing to resume
        with pytest.raises(FgavError, match="nothing to resume"):
            train(out=out, dataset=ToyFAS(16), epochs=2, resume=True, **TINY)
        train(out=out, dataset=ToyFAS(16), epochs=2, **TINY)  # and the folder is free again
    else:
        train(out=out, dataset=ToyFAS(16), epochs=2, resume=True, **TINY)
    assert_same_run(out, straight)


def test_a_kill_mid_epoch_resumes_from_the_last_checkpoint(tmp_path: Path, straight: Path) -> None:
    def die(epoch: int, step: int, loss: float) -> None:
        if (epoch, step) == (1, 1):
            raise Killed

    out = tmp_path / "run"
    with pytest.raises(Killed):
        train(out=out, dataset=ToyFAS(16), epochs=2, on_step=die, **TINY)
    assert load_state(out)["epoch"] == 1
    train(out=out, dataset=ToyFAS(16), epochs=2, resume=True, **TINY)
    assert_same_run(out, straight)


def test_ctrl_c_mid_epoch_resumes_to_the_same_weights_and_records(tmp_path: Path, straight: Path) -> None:
    def interrupt(epoch: int, step: int, loss: float) -> None:
        if (epoch, step) == (1, 1):
            raise KeyboardInterrupt

    out = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        train(out=out, dataset=ToyFAS(16), epochs=2, on_step=interrupt, **TINY)
    assert (load_state(out)["epoch"], load_state(out)["step"]) == (1, 1)
    train(out=out, dataset=ToyFAS(16), epochs=2, resume=True, **TINY)
    assert_same_run(out, straight)  # the resumed epoch's record counts the batch before the cut


@pytest.mark.parametrize(("save", "target"), [(2, "model.safetensors")])
def test_a_real_sigkill_inside_a_save_then_resume_gives_the_uninterrupted_weights(
    tmp_path: Path, straight: Path, save: int, target: str
) -> None:
    out = tmp_path / "run"
    command = [sys.executable, "-m", "tests.train.kill_run", str(out), str(save), target]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env, cwd=ROOT)
    assert done.returncode == -9, done.stderr[-3000:]
    assert (out / STAGING_DIR / STATE_FILE).is_file()  # killed between the weights and the state
    train(out=out, dataset=ToyFAS(16), epochs=2, resume=True, **TINY)
    assert_same_run(out, straight)


def test_weights_replaced_after_training_are_refused_on_resume(tmp_path: Path) -> None:
    out = tmp_path / "run"
    train(out=out, dataset=ToyFAS(16), epochs=1, **TINY)
    other = tmp_path / "other"
    train(out=other, dataset=ToyFAS(16), epochs=1, seed=1, **TINY)
    (other / "model.safetensors").replace(out / "model.safetensors")
    with pytest.raises(FgavError, match="model.safetensors is not the file train_state.pt was saved with"):
        train(out=out, dataset=ToyFAS(16), epochs=2, resume=True, **TINY)
    (out / STATE_FILE).write_bytes(b"garbage")
    with pytest.raises(FgavError, match="unreadable resume state"):
        train(out=out, dataset=ToyFAS(16), epochs=2, resume=True, **TINY)
    (out / METRICS_FILE).write_text("{not json\n")
    with pytest.raises(FgavError, match="unreadable metrics"):
        read_metrics(out)


def test_a_real_sigint_stops_at_the_next_step_boundary_and_resumes_exactly(tmp_path: Path, straight: Path) -> None:
    import signal

    def interrupt(epoch: int, step: int, loss: float) -> None:
        if (epoch, step) == (0, 1):  # the signal arrives while the loop runs: it stops before the next batch
            os.kill(os.getpid(), signal.SIGINT)

    out = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        train(out=out, dataset=ToyFAS(16), epochs=2, on_step=interrupt, **TINY)
    assert (load_state(out)["epoch"], load_state(out)["step"]) == (0, 1)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the handler is put back
    train(out=out, dataset=ToyFAS(16), epochs=2, resume=True, **TINY)
    assert_same_run(out, straight)
