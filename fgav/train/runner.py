"""The epochs of a training run: steps, checkpoints, Ctrl-C and NaN handling."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from rich.console import Console
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import Dataset

from fgav.errors import FgavError
from fgav.model import CLASSIFICATION, DEFAULT_HEADS, MultiTaskModel, build_model, load_model
from fgav.registry import get_head
from fgav.train import checkpointing as ckpt
from fgav.train.accel import autocast, maybe_compile, move_batch, prepare_model
from fgav.train.distributed import DistContext, ResumableSampler, all_reduce_sum, any_rank
from fgav.progress import progress_display
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
    if get_head(CLASSIFICATION).target_key not in provides:
        raise FgavError("the data set has no live/spoof labels ('spoof'): nothing to train the decision on")
    kept = [n for n in names if get_head(n).target_key in provides]
    dropped = [n for n in names if n not in kept]
    if dropped:
        note(f"note: the data has no ground truth for {', '.join(dropped)}: left out of the model")
    return kept


def _augment_seed(seed: int, epoch: int, step: int, rank: int) -> int:
    # One stream per (run, epoch, step, rank): a resumed run draws the flips the
    # uninterrupted one would have drawn.
    return (seed * 1_000_003 + epoch * 10_007 + step * 101 + rank) % (2**62)


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
        if state is not None:
            self.optimizer.load_state_dict(state["optimizer"])
            self.scheduler.load_state_dict(state["scheduler"])
            ckpt.set_rng_state(state["rng"])
            self.epoch, self.step = int(state["epoch"]), int(state["step"])
            if self.step and int(state.get("world_size", 1)) != ctx.world_size:
                # A step meant a batch on each of another number of processes: redo the epoch.
                say(f"note: the run was cut mid-epoch with {state.get('world_size', 1)} processes: epoch {self.epoch + 1} restarts")
                self.step = 0
            self.say(f"resuming {out} at epoch {self.epoch + 1}, step {self.step} of {self.steps_per_epoch}")

    def save(self) -> None:
        """Write the checkpoint and resume state at the current position (rank 0 only)."""
        if self.ctx.is_main:
            ckpt.save_checkpoint(
                self.out, model=self.model, optimizer=self.optimizer, scheduler=self.scheduler,
                epoch=self.epoch, step=self.step, options=self.options, world_size=self.ctx.world_size,
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
                while self.epoch < self.recipe.epochs:
                    record = self._epoch(bar, task)
                    if not all(bool(torch.isfinite(p).all()) for p in self.model.parameters()):
                        raise NonFiniteLossError(self._nan_message("non-finite weights"))
                    self.epoch, self.step = self.epoch + 1, 0
                    self.save()
                    if self.ctx.is_main:
                        ckpt.append_metrics(self.out, record)
                    records.append(record)
                    self.ctx.barrier()
            except KeyboardInterrupt:
                self.save()
                self.say(f"interrupted: checkpoint saved in {self.out} at epoch {self.epoch + 1}, "
                         f"step {self.step}; continue with --resume")  # fmt: skip
                raise
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
        # Running sums over this rank's samples: loss, each head's loss, correct, count, skipped.
        sums = torch.zeros(len(heads) + 4, dtype=torch.float64)
        start = time.perf_counter()
        for raw in loader:
            skipped = skipped_in(raw)
            sums[-1] += skipped
            if any_rank(not len(raw["image"]), ctx):  # every image unreadable: all ranks skip the step
                continue
            batch = move_batch(raw, ctx.device)
            gen = torch.Generator().manual_seed(_augment_seed(self.options["seed"], self.epoch, self.step, ctx.rank))
            batch = augment(batch, generator=gen, recipe=recipe)
            with autocast(ctx.device):
                outputs = self.net(batch["image"])
            parts = model.losses(outputs, batch)
            per_sample = sum(model.loss_weights[n] * v for n, v in parts.items())
            loss = per_sample.mean()  # type: ignore[union-attr]
            if any_rank(not bool(torch.isfinite(loss)), ctx):
                what = f"the loss became {float(loss.detach())}"
                raise NonFiniteLossError(self._nan_message(what, step=self.step + 1))
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if recipe.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), recipe.grad_clip)
            self.optimizer.step()
            self.scheduler.step()
            self.step += 1
            with torch.no_grad():
                head = model.heads[CLASSIFICATION]
                correct = head.correct(outputs[CLASSIFICATION], head.target(batch).to(ctx.device))
                assert correct is not None  # the live/spoof head always has an accuracy
                n = per_sample.shape[0]  # type: ignore[union-attr]
                row = [float(loss.detach()) * n] + [float(parts[h].sum()) if h in parts else 0.0 for h in heads]
                sums += torch.tensor(row + [float(correct.sum()), n, 0.0], dtype=torch.float64)
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
        record.update({f"loss_{h}": float(total[1 + i]) / count for i, h in enumerate(heads)})
        return record

