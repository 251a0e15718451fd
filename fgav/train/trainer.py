"""The epochs of a training run: steps, checkpoints, Ctrl-C and NaN handling."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from rich.console import Console
from torch.nn.modules.batchnorm import _BatchNorm
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import Dataset

from fgav.core.distributed import DistContext, all_reduce_sum, any_rank, raise_together
from fgav.core.errors import FgavError
from fgav.core.model import CLASSIFICATION, DEFAULT_HEADS, MultiTaskModel
from fgav.core.progress import progress_display
from fgav.factory import build_model, load_model
from fgav.registry import get_head
from fgav.train import checkpointing as ckpt
from fgav.train.accel import autocast, maybe_compile, move_batch, prepare_model
from fgav.train.distributed import ResumableSampler, step_seed
from fgav.train.recipe import Recipe, augment, make_optimizer, make_scheduler
from fgav.train.sources import make_data_loader, provided_keys, skipped_in

StepCallback = Callable[[int, int, float], None]


class NonFiniteLossError(FgavError):
    """The loss became NaN or infinite: training stopped, the last good checkpoint kept."""


def select_heads(heads: list[str] | None, provides: frozenset[str], *, note: Callable[[str], None]) -> list[str]:
    """The heads to train: those asked (default the paper's six) whose ground truth the data has."""
    names = list(DEFAULT_HEADS if heads is None else heads)
    if CLASSIFICATION not in names:
        names.append(CLASSIFICATION)
    if get_head(CLASSIFICATION).missing_keys(provides):
        raise FgavError("the data set has no live/spoof labels ('spoof'): nothing to train the decision on")
    kept = [n for n in names if not get_head(n).missing_keys(provides)]
    dropped = [n for n in names if n not in kept]
    if dropped:
        note(f"note: the data has no ground truth for {', '.join(dropped)}: left out of the model")
    return kept


@contextmanager
def batch_norm_frozen(model: torch.nn.Module, *, enabled: bool) -> Iterator[None]:
    """Run batch-norm layers on their running statistics (eval mode) inside, where enabled.

    A batch of one has no batch statistics (one value per channel): training on it
    with frozen statistics keeps the sample instead of crashing or dropping it.
    """
    layers = [m for m in model.modules() if isinstance(m, _BatchNorm) and m.training] if enabled else []
    for layer in layers:
        layer.eval()
    try:
        yield
    finally:
        for layer in layers:
            layer.train()


class DeferredInterrupt:
    """Inside, a first Ctrl-C only sets ``asked``: the loop stops at the next step boundary.

    A second Ctrl-C raises at once. Outside the main thread (where signals cannot be
    caught) it does nothing and Ctrl-C raises as usual.
    """

    def __init__(self) -> None:
        self.asked = False
        self._previous: Any = None

    def _handle(self, signum: int, frame: Any) -> None:
        if self.asked:
            raise KeyboardInterrupt
        self.asked = True

    def __enter__(self) -> DeferredInterrupt:
        self.asked = False
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None


class Runner:
    """One training run, from its options, data set and (on resume) saved state."""

    def __init__(
        self,
        *,
        options: dict[str, Any],
        recipe: Recipe,
        dataset: Dataset,
        ctx: DistContext,
        out: Path,
        say: Callable[[str], None],
        compile: bool,
        workers: int,
        progress: bool,
        console: Console,
        on_step: StepCallback | None,
        state: dict[str, Any] | None,
    ) -> None:
        self.options, self.recipe, self.dataset, self.ctx, self.out = options, recipe, dataset, ctx, out
        self.say, self.workers, self.show, self.console, self.on_step = say, workers, progress, console, on_step
        if state is None:
            heads = select_heads(options["heads"], provided_keys(dataset), note=say)
            weights = {k: v for k, v in options["loss_weights"].items() if k in heads}
            allowed = set(DEFAULT_HEADS if options["heads"] is None else options["heads"]) | {CLASSIFICATION}
            unknown = set(options["loss_weights"]) - allowed
            if unknown:
                raise FgavError(f"--loss-weight names heads the model lacks: {', '.join(sorted(unknown))}")
            torch.manual_seed(options["seed"])  # the same initial weights on every rank and run
            model = build_model(options["backbone"], heads, image_size=options["image_size"], loss_weights=weights)
        else:
            model = load_model(out)
        model.config["training"] = {k: options[k] for k in ("data", "split", "seed", "epochs", "batch_size", "lr")}
        self.model: MultiTaskModel = prepare_model(model, ctx.device).train()  # type: ignore[assignment]
        wrapped: torch.nn.Module = self.model
        if ctx.distributed:
            ids = [ctx.device.index] if ctx.device.type == "cuda" else None
            wrapped = DistributedDataParallel(self.model, device_ids=ids)
        self.net = maybe_compile(wrapped, enabled=compile)
        self.sampler = ResumableSampler(len(dataset), rank=ctx.rank, world_size=ctx.world_size, seed=options["seed"])  # type: ignore[arg-type]
        self.drop_last = self.sampler.per_rank >= recipe.batch_size
        self.steps_per_epoch = self.sampler.per_rank // recipe.batch_size if self.drop_last else 1
        self.optimizer = make_optimizer(self.model, recipe)
        self.scheduler = make_scheduler(self.optimizer, recipe, total_steps=recipe.epochs * self.steps_per_epoch)
        self.epoch, self.step, self.skipped = 0, 0, 0
        # The epoch's running sums (see _epoch); a mid-epoch save keeps them, so that the
        # resumed epoch's record counts every batch.
        self.sums = torch.zeros(len(self.model.head_names) + 5, dtype=torch.float64)
        self.resumed_sums: torch.Tensor | None = None
        self.epoch_sums: torch.Tensor | None = None  # the sums over ranks where every rank stopped together
        self.interrupt = DeferredInterrupt()
        self.updating = False  # inside an update: the weights, step and sums disagree
        self.singles = 0
        if state is not None:
            self.optimizer.load_state_dict(state["optimizer"])
            self.scheduler.load_state_dict(state["scheduler"])
            ckpt.set_rng_state(state["rng"])
            self.epoch, self.step = int(state["epoch"]), int(state["step"])
            if self.step and int(state.get("world_size", 1)) != ctx.world_size:
                # A step meant a batch on each of another number of processes: redo the epoch.
                say(f"note: the run was cut mid-epoch with {state.get('world_size', 1)} processes: epoch {self.epoch + 1} restarts")
                self.step = 0
            partial = state.get("partial")
            if self.step and partial is not None and partial.shape == self.sums.shape:
                # The sums of every rank: rank 0 carries them, so that their sum over ranks is right.
                self.resumed_sums = partial.clone() if ctx.is_main else torch.zeros_like(partial)
            if state.get("completed"):
                say(f"note: the checkpoint save cut short in {out} was completed")
            self.say(f"resuming {out} at epoch {self.epoch + 1}, step {self.step} of {self.steps_per_epoch}")

    def save(self, *, record: dict[str, Any] | None = None) -> None:
        """Write the checkpoint, resume state and ``record`` at the current position (rank 0 only).

        A mid-epoch save keeps the epoch's running sums over every rank (under torchrun,
        where the ranks stopped together), so that the resumed epoch's record is whole.
        """
        if self.ctx.is_main:
            sums = self.epoch_sums if self.epoch_sums is not None else None if self.ctx.distributed else self.sums
            partial = sums.tolist() if self.step and sums is not None else None
            ckpt.save_checkpoint(
                self.out, model=self.model, optimizer=self.optimizer, scheduler=self.scheduler,
                epoch=self.epoch, step=self.step, options=self.options, world_size=self.ctx.world_size,
                record=record, partial=partial,
            )  # fmt: skip

    def fit(self) -> tuple[list[dict[str, Any]], int]:
        """Train the remaining epochs; return their records and the skipped images."""
        records: list[dict[str, Any]] = []
        if self.epoch >= self.recipe.epochs:
            self.say(f"{self.out} is already trained for {self.epoch} epochs: nothing to do")
            return records, 0
        with progress_display(enabled=self.show, console=self.console) as bar:
            # One task for the whole run, so its estimate covers every epoch left, not one.
            task = bar.add_task("train", total=self.recipe.epochs * self.steps_per_epoch, info="")
            try:
                with self.interrupt:
                    while self.epoch < self.recipe.epochs:
                        record = self._epoch(bar, task)
                        if not all(bool(torch.isfinite(p).all()) for p in self.model.parameters()):
                            raise NonFiniteLossError(self._nan_message("non-finite weights"))
                        self.updating = True  # the epoch is done but its checkpoint not yet written
                        self.epoch, self.step = self.epoch + 1, 0
                        self.save(record=record)  # weights, state and the epoch's line: one unit
                        self.updating = False
                        records.append(record)
                        self.ctx.barrier()
                        self.singles += int(record.get("batches_of_one", 0))
            except KeyboardInterrupt:
                if self.updating:  # a second Ctrl-C inside an update: the last checkpoint stands
                    self.say(f"interrupted inside a step: the last checkpoint in {self.out} is kept; continue with --resume")
                else:
                    self.save()
                    self.say(f"interrupted: checkpoint saved in {self.out} at epoch {self.epoch + 1}, "
                             f"step {self.step}; continue with --resume")  # fmt: skip
                raise
        if self.singles:
            self.say(f"note: {self.singles} batch{'es' if self.singles != 1 else ''} of one image (after unreadable "
                     "ones were skipped, or a one-image set) trained with batch-norm statistics frozen")  # fmt: skip
        return records, self.skipped

    def _nan_message(self, what: str, *, step: int | None = None) -> str:
        """One line: what went wrong, where, and which checkpoint is kept."""
        where = f"epoch {self.epoch + 1}" + (f", step {step}" if step is not None else "")
        if (self.out / ckpt.STATE_FILE).is_file():
            saved = ckpt.load_state(self.out)
            at = f"after epoch {saved['epoch']}" if not saved["step"] else f"epoch {saved['epoch'] + 1}, step {saved['step']}"
            kept = f"the last good checkpoint ({at}) is kept in {self.out}"
        else:
            kept = "no checkpoint was written yet"
        return f"{what} at {where}: training stopped; {kept} (try a lower --lr)"

    def _epoch(self, bar: Any, task: Any) -> dict[str, Any]:
        """One epoch (from ``self.step`` on); its record for ``metrics.jsonl``."""
        recipe, model, ctx = self.recipe, self.model, self.ctx
        self.sampler.set_epoch(self.epoch, skip=self.step * recipe.batch_size)
        loader = make_data_loader(
            self.dataset, batch_size=recipe.batch_size, sampler=self.sampler,
            num_workers=self.workers, drop_last=self.drop_last, pin_memory=ctx.device.type == "cuda",
        )  # fmt: skip
        done_before = self.epoch * self.steps_per_epoch  # steps of the finished epochs
        description = f"train epoch {self.epoch + 1}/{recipe.epochs}"
        bar.update(task, completed=done_before + self.step, description=description)
        heads = model.head_names
        # Running sums over this rank's samples: loss, each head's loss, batches of one,
        # correct, count, skipped.
        sums = self.sums = torch.zeros(len(heads) + 5, dtype=torch.float64)
        if self.resumed_sums is not None:  # the batches done before the interruption
            sums += self.resumed_sums
            self.resumed_sums = None
        start = time.perf_counter()
        batches = iter(loader)
        while True:
            try:
                raw, error = next(batches), None
            except StopIteration:  # every rank has as many batches (the sampler pads)
                break
            except FgavError as exc:  # e.g. a malformed box file: every rank stops with its line
                raw, error = None, str(exc)
            empty = raw is not None and not len(raw["image"])
            stop = all_reduce_sum(torch.tensor([float(empty), float(self.interrupt.asked), float(error is not None)]), ctx)
            if stop[2]:
                raise_together(error, ctx)
            if stop[1]:  # a Ctrl-C on any rank: every rank stops here, between two steps
                self.epoch_sums = all_reduce_sum(sums, ctx)  # every rank's share, for the save
                raise KeyboardInterrupt
            assert raw is not None
            sums[-1] += skipped_in(raw)
            if stop[0]:  # every image of a batch unreadable (on some rank): all ranks skip the step
                self.step += 1
                continue
            batch = move_batch(raw, ctx.device)
            gen = torch.Generator().manual_seed(step_seed(self.options["seed"], self.epoch, self.step, ctx.rank))
            batch = augment(batch, generator=gen, recipe=recipe)
            single = len(batch["image"]) == 1
            with autocast(ctx.device), batch_norm_frozen(model, enabled=single):
                outputs = self.net(batch["image"])
            parts = model.losses(outputs, batch)
            per_sample = sum(model.loss_weights[n] * v for n, v in parts.items())
            loss = per_sample.mean()  # type: ignore[union-attr]
            if any_rank(not bool(torch.isfinite(loss)), ctx):
                what = f"the loss became {float(loss.detach())}"
                raise NonFiniteLossError(self._nan_message(what, step=self.step + 1))
            with torch.no_grad():
                head = model.heads[CLASSIFICATION]
                correct = head.correct(outputs[CLASSIFICATION], head.target(batch).to(ctx.device))
                assert correct is not None  # the live/spoof head always has an accuracy
                n = per_sample.shape[0]  # type: ignore[union-attr]
                values = [float(loss.detach()) * n] + [float(parts[h].sum()) if h in parts else 0.0 for h in heads]
                row = torch.tensor(values + [float(single), float(correct.sum()), n, 0.0], dtype=torch.float64)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if recipe.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), recipe.grad_clip)
            self.updating = True  # from here to the sums, a save would not match the weights
            self.optimizer.step()
            self.scheduler.step()
            self.step += 1
            sums += row
            self.updating = False
            elapsed = time.perf_counter() - start
            value = float(loss.detach())
            rate = float(sums[-2]) * ctx.world_size / max(elapsed, 1e-9)
            bar.update(task, completed=done_before + self.step, info=f"loss {value:.4f}  {rate:.0f} img/s")
            if self.on_step is not None:
                self.on_step(self.epoch, self.step, value)
        seconds = time.perf_counter() - start
        total = all_reduce_sum(sums, ctx)
        count = max(float(total[-2]), 1.0)
        self.skipped += int(total[-1])
        record: dict[str, Any] = {
            "epoch": self.epoch + 1,
            "loss": float(total[0]) / count,
            "train_accuracy": float(total[-3]) / count,
            "lr": self.optimizer.param_groups[0]["lr"],
            "images": int(total[-2]),
            "images_per_s": float(total[-2]) / max(seconds, 1e-9),
            "seconds": seconds,
            "skipped": int(total[-1]),
        }
        if total[-4]:
            record["batches_of_one"] = int(total[-4])
        record.update({f"loss_{h}": float(total[1 + i]) / count for i, h in enumerate(heads)})
        return record

