"""Adversarial fine-tuning of a target with fine-grained examples (``fgav harden``).

Each batch's examples are crafted against the current model, aimed at the chosen parts
(the bridge of :mod:`fgav.core.aiming`; with several parts the samples of a batch are
dealt out to them in turn, so every part costs what the decision alone costs), with or
without an augmenter (SFA in push or guide mode, fitted once to the original target).
The model is then stepped on the multitask loss of Eq. 10 at those examples: every
head's loss is kept. A share of each batch can stay clean.

The default attack is FGSM with a random start (Wong et al., "Fast is better than free",
ICLR 2020): a uniform start in the epsilon ball, one signed step of 1.25 epsilon,
projected back. Its known failure is catastrophic overfitting (robustness to PGD
collapses within an epoch while FGSM accuracy soars). The guard is the one that paper
prescribes: PGD robust accuracy of a small held-out batch, measured after every epoch;
an epoch whose figure falls far below the best so far is discarded, the previous
epoch's weights kept, and training stops. GradAlign (Andriushchenko and Flammarion 2020)
also prevents it but doubles each step's cost with a second-order term: too costly for
a CPU-sized default.

The habits are ``fgav train``'s, from its own pieces: the resumable sampler, atomic
checkpoints with the resume state, ``metrics.jsonl``, the progress bar, torchrun (DDP;
rank 0 writes) and bf16 autocast on CUDA.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, cast

import foolbox.attacks as fa
import torch
import torch.distributed as dist
from foolbox.attacks.gradient_descent_base import BaseGradientDescent
from rich.console import Console
from torch import Tensor
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import Dataset, Subset

from fgav.auditing.gradient import run_gradient_attack, runs_natively
from fgav.core.aiming import PartObjective
from fgav.core.devices import resolve_device
from fgav.core.distributed import DistContext, all_reduce_sum, any_rank, init_distributed
from fgav.core.errors import FgavError
from fgav.core.interfaces import Augmenter
from fgav.core.model import CLASSIFICATION, MultiTaskModel
from fgav.core.progress import progress_display
from fgav.core.types import Batch
from fgav.factory import load_model
from fgav.registry import get_augmenter
from fgav.targets import default as default_target
from fgav.train import checkpointing as ckpt
from fgav.train.accel import autocast, move_batch, prepare_model
from fgav.train.distributed import ResumableSampler, step_seed
from fgav.train.recipe import Recipe, augment, make_optimizer, make_scheduler
from fgav.train.sources import limit_dataset, make_data_loader, open_data, provided_keys, skipped_in

DEFAULT_EPSILON = 4 / 255
"""The training budget: on the default ResNet-18, 8/255 cost clean accuracy (1.000 to 0.859
on 64 test images) that 4/255 keeps (0.906), for robustness at 4/255 of 0.672 instead of
0.719 (docs/harden.md)."""
DEFAULT_PARTS: tuple[str, ...] = (CLASSIFICATION,)
# The attacks that craft the training examples: FGSM with a random start, or PGD.
TRAINING_ATTACKS: tuple[str, ...] = ("fgsm-rs", "pgd")
StepCallback = Callable[[int, int, float], None]


@dataclass(frozen=True)
class HardenRecipe:
    """How to harden a target; every field is a ``fgav harden`` option.

    Attributes:
        epochs: passes over the training set.
        batch_size: images per step and process.
        lr: the peak learning rate (AdamW, warm-up then cosine decay, as ``fgav train``).
        eps: the L-inf budget of the training examples.
        attack: ``fgsm-rs`` (one step of 1.25 eps from a uniform start) or ``pgd``.
        steps: PGD's steps (its step is 2.5 eps / steps); 1 for FGSM-RS.
        clean_fraction: the share of each batch kept clean (0: all adversarial).
        holdout: training images held out for the catastrophic-overfitting guard (0: off).
        holdout_steps: the steps of the guard's PGD.
        overfit_drop: the fall of held-out PGD accuracy below its best that stops training.
    """

    epochs: int = 3
    batch_size: int = 32
    lr: float = 5e-4
    eps: float = DEFAULT_EPSILON
    attack: str = "fgsm-rs"
    steps: int = 1
    clean_fraction: float = 0.0
    holdout: int = 64
    holdout_steps: int = 10
    overfit_drop: float = 0.2
    weight_decay: float = 0.05
    warmup_fraction: float = 0.1
    grad_clip: float = 5.0
    flip: bool = True

    def check(self) -> None:
        """Refuse a recipe that cannot run, in one line.

        Raises:
            FgavError: a count below one, a budget or fraction out of range, an unknown attack.
        """
        if self.epochs < 1 or self.batch_size < 1 or self.steps < 1 or self.holdout_steps < 1:
            raise FgavError("epochs, batch size and steps must be at least 1")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise FgavError(f"the learning rate must be a positive number, not {self.lr}")
        if not (0 < self.eps <= 1 and math.isfinite(self.eps)):
            raise FgavError(f"--eps must be in (0, 1] (e.g. 8/255 = 0.0314), not {self.eps}")
        if not 0 <= self.clean_fraction < 1:
            raise FgavError(f"--clean-fraction must be in [0, 1), not {self.clean_fraction}")
        if self.holdout < 0:
            raise FgavError(f"--holdout must be 0 or more, not {self.holdout}")
        if self.attack not in TRAINING_ATTACKS:
            raise FgavError(f"--attack must be one of {', '.join(TRAINING_ATTACKS)}, not {self.attack!r}")
        if self.attack == "fgsm-rs" and self.steps != 1:
            raise FgavError("fgsm-rs takes one step: use --attack pgd for more")

    def training_recipe(self) -> Recipe:
        """``fgav train``'s recipe with the same optimizer, schedule and flips."""
        return Recipe(epochs=self.epochs, batch_size=self.batch_size, lr=self.lr, weight_decay=self.weight_decay,
                      warmup_fraction=self.warmup_fraction, grad_clip=self.grad_clip, flip=self.flip)  # fmt: skip

    def crafting_attack(self) -> BaseGradientDescent:
        """The Foolbox attack that crafts the training examples."""
        if self.attack == "fgsm-rs":
            return fa.LinfPGD(rel_stepsize=1.25, steps=1, random_start=True)
        return fa.LinfPGD(rel_stepsize=2.5 / self.steps, steps=self.steps, random_start=True)

    def guard_attack(self) -> BaseGradientDescent:
        """The PGD of the catastrophic-overfitting guard (Madry's step, a random start)."""
        return fa.LinfPGD(rel_stepsize=2.5 / self.holdout_steps, steps=self.holdout_steps, random_start=True)


@dataclass
class HardenResult:
    """What a hardening run leaves: where, the epochs kept, its records, its times."""

    out: Path
    epochs: int
    metrics: list[dict[str, Any]] = field(default_factory=list)
    stopped_early: bool = False
    seconds: float = 0.0
    cpu_seconds: float = 0.0


def parse_parts(model: MultiTaskModel, parts: Sequence[str] | str, provides: frozenset[str]) -> list[str]:
    """The parts to aim at: the names asked (``all`` is every head), each with ground truth.

    Raises:
        FgavError: an unknown part, or one whose ground truth the data lacks.
    """
    names = model.head_names if parts in ("all", ["all"], ("all",)) else list(parts)
    if not names:
        raise FgavError("--head names no part to aim at")
    for name in names:
        if name not in model.heads:
            raise FgavError(f"the model has no part {name!r}; its parts: {', '.join(model.head_names)}, or all")
        key = model.heads[name].target_key
        if key not in provides:
            raise FgavError(f"the data has no ground truth {key!r} for the part {name!r}")
    return list(dict.fromkeys(names))


def build_augmenter(
    spec: str, model: MultiTaskModel, *, data: Dataset, options: Mapping[str, Any] | None = None
) -> tuple[str, Augmenter]:
    """The augmenter named ``name`` or ``name:mode`` (e.g. ``sfa:guide``), fitted to ``model``."""
    name, _, mode = spec.partition(":")
    cls = get_augmenter(name)
    try:
        augmenter = cls.for_model(model, data=data, **dict(options or {}), **({"mode": mode} if mode else {}))
    except TypeError as exc:  # an option the augmenter does not take
        raise FgavError(f"augmenter {name!r}: {exc}".splitlines()[0]) from exc
    for p in augmenter.parameters():
        p.requires_grad_(False)
    return (name if augmenter.mode == "push" else f"{name}:{augmenter.mode}"), augmenter.eval()


def craft(
    model: MultiTaskModel,
    batch: Mapping[str, Any],
    *,
    parts: Sequence[str],
    attack: BaseGradientDescent,
    eps: float,
    augmenter: Augmenter | None,
    offset: int = 0,
) -> Tensor:
    """Adversarial images of a batch against ``model``, sample ``i`` aimed at part ``(i + offset) % k``.

    With an augmenter in push mode the budget is centred on S(x); in guide mode the
    gradients are taken at S(x) and the perturbation applied to x (the audit's modes).
    """
    x = batch["image"].float()
    n, k = x.shape[0], len(parts)
    adv = x.clone()
    augmented = None
    if augmenter is not None:
        with torch.no_grad():
            augmented = augmenter(x, batch).clamp(0, 1)
    for j, part in enumerate(parts):
        index = torch.arange(n, device=x.device)[(torch.arange(n, device=x.device) + offset) % k == j]
        if index.numel() == 0:
            continue
        sub = _select(batch, index)
        objective = PartObjective.for_batch(model, part, cast("Batch", sub))
        push = augmenter is not None and augmenter.mode == "push"
        start = augmented[index] if (push and augmented is not None) else x[index]
        shift = None if (augmented is None or push) else augmented[index] - x[index]
        (adv_part,) = run_gradient_attack(attack, objective, start, [eps], shift=shift, early_stop=False)
        adv[index] = adv_part.to(adv.dtype)
    return adv.detach()


def _select(batch: Mapping[str, Any], index: Tensor, n: int | None = None) -> dict[str, Any]:
    """The samples ``index`` of a batch dict of ``n`` samples (its nested dicts, e.g. ``valid``, too)."""
    n = batch["image"].shape[0] if n is None else n
    out: dict[str, Any] = {}
    for key, value in batch.items():
        if isinstance(value, Tensor) and value.dim() > 0 and value.shape[0] == n:
            out[key] = value[index.to(value.device)]
        elif isinstance(value, Mapping):
            out[key] = _select(value, index, n)
        else:
            out[key] = value
    return out


class Hardener:
    """One hardening run, from its options, data and (on resume) saved state."""

    def __init__(
        self,
        *,
        model: MultiTaskModel,
        options: dict[str, Any],
        recipe: HardenRecipe,
        dataset: Dataset,
        holdout: Dataset | None,
        augmenter: Augmenter | None,
        ctx: DistContext,
        out: Path,
        say: Callable[[str], None],
        workers: int,
        progress: bool,
        console: Console,
        on_step: StepCallback | None,
        state: dict[str, Any] | None,
    ) -> None:
        self.options, self.recipe, self.dataset, self.ctx, self.out = options, recipe, dataset, ctx, out
        self.say, self.workers, self.show, self.console, self.on_step = say, workers, progress, console, on_step
        self.parts: list[str] = list(options["parts"])
        self.augmenter = augmenter.to(ctx.device) if augmenter is not None else None
        self.model: MultiTaskModel = prepare_model(model, ctx.device).train()  # type: ignore[assignment]
        self.model.requires_grad_(True)  # every weight is fine-tuned, whatever froze it before (an audit does)
        self.net: torch.nn.Module = self.model
        if ctx.distributed:
            ids = [ctx.device.index] if ctx.device.type == "cuda" else None
            self.net = DistributedDataParallel(self.model, device_ids=ids)
        self.train_recipe = recipe.training_recipe()
        self.attack = recipe.crafting_attack()
        self.sampler = ResumableSampler(len(dataset), rank=ctx.rank, world_size=ctx.world_size, seed=options["seed"])  # type: ignore[arg-type]
        self.drop_last = self.sampler.per_rank >= recipe.batch_size
        self.steps_per_epoch = self.sampler.per_rank // recipe.batch_size if self.drop_last else 1
        self.optimizer = make_optimizer(self.model, self.train_recipe)
        self.scheduler = make_scheduler(self.optimizer, self.train_recipe, total_steps=recipe.epochs * self.steps_per_epoch)
        self.holdout = self._holdout_batch(holdout)
        self.epoch, self.step, self.skipped = 0, 0, 0
        self.best_guard: float | None = None
        self.stopped_early = False
        if state is not None:
            self.optimizer.load_state_dict(state["optimizer"])
            self.scheduler.load_state_dict(state["scheduler"])
            ckpt.set_rng_state(state["rng"])
            self.epoch, self.step = int(state["epoch"]), int(state["step"])
            guard = state["options"].get("best_guard")
            self.best_guard = None if guard is None else float(guard)
            self.stopped_early = bool(state["options"].get("stopped_early", False))
            if self.step and int(state.get("world_size", 1)) != ctx.world_size:
                say(f"note: the run was cut mid-epoch with {state.get('world_size', 1)} processes: epoch {self.epoch + 1} restarts")
                self.step = 0
            say(f"resuming {out} at epoch {self.epoch + 1}, step {self.step} of {self.steps_per_epoch}")

    def _holdout_batch(self, holdout: Dataset | None) -> Batch | None:
        """The guard's held-out images as one batch on the device (every rank the same)."""
        if holdout is None or len(holdout) == 0:  # type: ignore[arg-type]
            return None
        loader = make_data_loader(holdout, batch_size=len(holdout), sampler=None, num_workers=0, drop_last=False)  # type: ignore[arg-type]
        return move_batch(next(iter(loader)), self.ctx.device)

    def save(self, record: dict[str, Any] | None = None) -> None:
        """Write the checkpoint and resume state at the current position (rank 0 only).

        ``record``, an epoch's ``metrics.jsonl`` line, is written in the same unit.
        """
        if self.ctx.is_main:
            options = {**self.options, "best_guard": self.best_guard, "stopped_early": self.stopped_early}
            ckpt.save_checkpoint(
                self.out, model=self.model, optimizer=self.optimizer, scheduler=self.scheduler,
                epoch=self.epoch, step=self.step, options=options, world_size=self.ctx.world_size, record=record,
            )  # fmt: skip

    def fit(self) -> list[dict[str, Any]]:
        """Harden for the remaining epochs; return their records."""
        records: list[dict[str, Any]] = []
        if self.epoch >= self.recipe.epochs or self.stopped_early:
            self.say(f"{self.out} is already hardened ({self.epoch} epochs): nothing to do")
            return records
        with progress_display(enabled=self.show, console=self.console) as bar:
            task = bar.add_task("harden", total=self.steps_per_epoch, info="")
            try:
                while self.epoch < self.recipe.epochs and not self.stopped_early:
                    record = self._epoch(bar, task)
                    if not all(bool(torch.isfinite(p).all()) for p in self.model.parameters()):
                        raise FgavError(f"non-finite weights after epoch {self.epoch + 1}: try a lower --lr")
                    self._sync_buffers()
                    record.update(self._guard())
                    if record.get("catastrophic_overfitting"):
                        self._restore_last_epoch()
                        self.stopped_early = True
                        self.say(f"epoch {self.epoch + 1}: held-out PGD accuracy fell from {self.best_guard:.3f} to "
                                 f"{record['holdout_robust_accuracy']:.3f} (catastrophic overfitting): "
                                 f"its weights are discarded and training stops")  # fmt: skip
                        self.epoch, self.step = self.recipe.epochs, 0
                    else:
                        self.epoch, self.step = self.epoch + 1, 0
                    self.save(record)
                    records.append(record)
                    self.ctx.barrier()
            except KeyboardInterrupt:
                self.save()
                self.say(f"interrupted: checkpoint saved in {self.out} at epoch {self.epoch + 1}, "
                         f"step {self.step}; continue with --resume")  # fmt: skip
                raise
        return records

    def _sync_buffers(self) -> None:
        """Give every rank rank 0's batch-norm statistics (what is saved), so the guard agrees."""
        if self.ctx.distributed:
            for buffer in self.model.buffers():
                dist.broadcast(buffer.data, src=0)

    def _restore_last_epoch(self) -> None:
        """Put back the weights written after the previous epoch (or the original target's)."""
        self.ctx.barrier()
        kept = load_model(self.out, device=self.ctx.device)
        self.model.load_state_dict(kept.state_dict())

    def _guard(self) -> dict[str, Any]:
        """The held-out batch's clean and PGD accuracy, and whether it collapsed."""
        if self.holdout is None:
            return {}
        batch, model = self.holdout, self.model
        model.eval()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(step_seed(self.options["seed"], self.epoch, 10**6, 0))
            with autocast(self.ctx.device):
                adv = craft(model, batch, parts=[CLASSIFICATION], attack=self.recipe.guard_attack(),
                            eps=self.recipe.eps, augmenter=None)  # fmt: skip
                with torch.no_grad():
                    clean = model(batch["image"].float())[CLASSIFICATION].argmax(1)
                    attacked = model(adv)[CLASSIFICATION].argmax(1)
        model.train()
        labels = batch["spoof"].long()
        robust = float(((clean == labels) & (attacked == labels)).float().mean())
        record: dict[str, Any] = {"holdout_clean_accuracy": float((clean == labels).float().mean()),
                                  "holdout_robust_accuracy": robust}  # fmt: skip
        collapsed = self.best_guard is not None and robust < self.best_guard - self.recipe.overfit_drop
        record["catastrophic_overfitting"] = bool(collapsed)
        if not collapsed:
            self.best_guard = robust if self.best_guard is None else max(self.best_guard, robust)
        return record

    def _epoch(self, bar: Any, task: Any) -> dict[str, Any]:
        """One epoch (from ``self.step`` on); its record for ``metrics.jsonl``."""
        recipe, model, ctx = self.recipe, self.model, self.ctx
        self.sampler.set_epoch(self.epoch, skip=self.step * recipe.batch_size)
        loader = make_data_loader(
            self.dataset, batch_size=recipe.batch_size, sampler=self.sampler,
            num_workers=self.workers, drop_last=self.drop_last, pin_memory=ctx.device.type == "cuda",
        )  # fmt: skip
        bar.reset(task, total=self.steps_per_epoch, completed=self.step, description=f"epoch {self.epoch + 1}/{recipe.epochs}")
        heads = model.head_names
        # Running sums over this rank's samples: loss, each head's loss, right on the examples, count, skipped.
        sums = torch.zeros(len(heads) + 4, dtype=torch.float64)
        start, cpu_start = time.perf_counter(), time.process_time()
        for raw in loader:
            sums[-1] += skipped_in(raw)
            if any_rank(not len(raw["image"]), ctx):  # every image unreadable: all ranks skip the step
                continue
            batch = move_batch(raw, ctx.device)
            with torch.random.fork_rng(devices=[ctx.device] if ctx.device.type == "cuda" else []):
                seed = step_seed(self.options["seed"], self.epoch, self.step, ctx.rank)
                torch.manual_seed(seed)
                batch = augment(batch, generator=torch.Generator().manual_seed(seed), recipe=self.train_recipe)
                batch["image"] = self._examples(batch)
            with autocast(ctx.device):
                outputs = self.net(batch["image"])
            parts = model.losses(outputs, batch)
            per_sample = sum(model.loss_weights[n] * v for n, v in parts.items())  # Eq. 10, every head
            loss = per_sample.mean()  # type: ignore[union-attr]
            if any_rank(not bool(torch.isfinite(loss)), ctx):
                raise FgavError(f"the loss became {float(loss.detach())} at epoch {self.epoch + 1}, step "
                                f"{self.step + 1}: hardening stopped, the last checkpoint kept (try a lower --lr)")  # fmt: skip
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
            value = float(loss.detach())
            rate = float(sums[-2]) * ctx.world_size / max(time.perf_counter() - start, 1e-9)
            bar.update(task, completed=self.step, info=f"loss {value:.4f}  {rate:.0f} img/s")
            if self.on_step is not None:
                self.on_step(self.epoch, self.step, value)
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu_start
        total = all_reduce_sum(sums, ctx)
        count = max(float(total[-2]), 1.0)
        self.skipped += int(total[-1])
        record: dict[str, Any] = {
            "epoch": self.epoch + 1,
            "loss": float(total[0]) / count,
            "train_accuracy": float(total[-3]) / count,  # on the (mostly adversarial) training examples
            "lr": self.optimizer.param_groups[0]["lr"],
            "images": int(total[-2]),
            "images_per_s": float(total[-2]) / max(seconds, 1e-9),
            "seconds": seconds,
            "cpu_seconds": cpu,
            "skipped": int(total[-1]),
        }
        record.update({f"loss_{h}": float(total[1 + i]) / count for i, h in enumerate(heads)})
        return record

    def _examples(self, batch: Mapping[str, Any]) -> Tensor:
        """The batch's training images: adversarial ones, the first ``clean_fraction`` kept clean."""
        x = batch["image"].float()
        n = x.shape[0]
        n_clean = int(round(self.recipe.clean_fraction * n))
        if n_clean >= n:
            return x
        model = self.model
        model.eval()  # craft against the deployed model: batch norm's running statistics, no update
        try:
            with autocast(self.ctx.device):
                index = torch.arange(n_clean, n, device=x.device)
                adv = craft(model, _select(batch, index), parts=self.parts, attack=self.attack, eps=self.recipe.eps,
                            augmenter=self.augmenter, offset=self.step)  # fmt: skip
        finally:
            model.train()
        out = x.clone()
        out[n_clean:] = adv.to(out.dtype)
        return out


def _open_target(checkpoint: str | Path | None, backbone: str | None, device: torch.device) -> MultiTaskModel:
    """The target to harden: a checkpoint, or a backbone's default target."""
    if (checkpoint is None) == (backbone is None):
        raise FgavError("give the target to harden: --checkpoint DIR or --backbone NAME (one of them)")
    if checkpoint is not None:
        return load_model(checkpoint, device=device)
    return default_target(backbone or "resnet18", device=device)


def split_holdout(dataset: Dataset, holdout: int, *, seed: int) -> tuple[Dataset, Dataset | None]:
    """The training set less ``holdout`` images drawn with ``seed``, and those images.

    Raises:
        FgavError: the set is too small to hold that many out and keep one batch.
    """
    if holdout == 0:
        return dataset, None
    n = len(dataset)  # type: ignore[arg-type]
    if holdout >= n:
        raise FgavError(f"--holdout {holdout} leaves nothing to train on: the training set has {n} images")
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).tolist()
    held = sorted(order[:holdout])
    kept = sorted(order[holdout:])
    return Subset(dataset, kept), Subset(dataset, held)


def harden(
    *,
    out: str | Path,
    checkpoint: str | Path | None = None,
    backbone: str | None = None,
    data: str = "synth",
    dataset: Dataset | None = None,
    split: str = "train",
    heads: Sequence[str] | str = DEFAULT_PARTS,
    augmenter: str = "none",
    augmenter_options: Mapping[str, Any] | None = None,
    attack: str | None = None,
    eps: float | None = None,
    steps: int | None = None,
    epochs: int | None = None,
    batch_size: int | None = None,
    lr: float | None = None,
    clean_fraction: float | None = None,
    holdout: int | None = None,
    seed: int = 0,
    device: str | torch.device = "auto",
    resume: bool = False,
    overwrite: bool = False,
    limit: int | None = None,
    workers: int = 0,
    progress: bool = True,
    console: Console | None = None,
    on_step: StepCallback | None = None,
) -> HardenResult:
    """Fine-tune a target on adversarial examples aimed at its parts, and write it to ``out``.

    Args:
        out: the output directory: checkpoint, ``metrics.jsonl``, resume state.
        checkpoint: the target's checkpoint directory (or give ``backbone``).
        backbone: harden this backbone's default target (:func:`fgav.targets.default`).
        data: a data set path, or ``synth`` (the embedded SynthSpoof).
        dataset: a ready data set of batch dicts (replaces ``data``/``split``).
        split: the split of ``data`` to train on.
        heads: the parts the examples are aimed at, or ``all``.
        augmenter: ``none``, or an augmenter (``sfa``, ``sfa:guide``) fitted to the target once.
        augmenter_options: its keyword options (e.g. SFA's ``epochs`` and ``limit``).
        attack, eps, steps, epochs, batch_size, lr, clean_fraction, holdout: the
            :class:`HardenRecipe` fields (its defaults where ``None``).
        seed: seeds the held-out draw, the data order, the flips and the random starts.
        device: ``auto``, ``cpu``, ``cuda`` or ``cuda:N``.
        resume: continue the run in ``out`` (its saved options win; ``epochs`` may extend it).
        overwrite: replace the run in ``out``.
        limit: train on the first ``limit`` images only.
        workers: data-loading worker processes.
        progress: show the progress bar and notes (rank 0 only).
        console: where notes and the bar go (default stderr).
        on_step: called after every step with ``(epoch, step, loss)``.

    Raises:
        FgavError: bad input, an ``out`` that exists without ``resume``/``overwrite``,
            or a non-finite loss.
        KeyboardInterrupt: after saving a checkpoint that ``resume=True`` continues.
    """
    ctx = init_distributed(resolve_device(device))
    console = console or Console(stderr=True)
    say: Callable[[str], None] = console.print if (progress and ctx.is_main) else (lambda _m: None)
    out = Path(out)
    wall, cpu = time.perf_counter(), time.process_time()
    try:
        if ctx.is_main:
            ckpt.prepare_output(out, resume=resume, overwrite=overwrite)
        ctx.barrier()
        state = ckpt.load_state(out) if resume else None
        if state is not None:  # the saved run's options win; only the epoch count may grow
            options = dict(state["options"])
            options["epochs"] = int(epochs or options["epochs"])
            model = load_model(out, device=ctx.device)
        else:
            recipe = HardenRecipe()
            changes = {"attack": attack, "eps": eps, "steps": steps, "epochs": epochs, "batch_size": batch_size,
                       "lr": lr, "clean_fraction": clean_fraction, "holdout": holdout}  # fmt: skip
            recipe = HardenRecipe(**{**asdict(recipe), **{k: v for k, v in changes.items() if v is not None}})
            recipe.check()
            model = _open_target(checkpoint, backbone, ctx.device)
            options = {
                "target": str(model.checkpoint_dir) if model.checkpoint_dir else None, "data": data if dataset is None else "<in-memory>", "split": split,
                "image_size": int(model.config.get("image_size", 64)), "seed": int(seed), "limit": limit,
                "parts": heads if isinstance(heads, str) else list(heads), "augmenter": augmenter,
                "augmenter_options": dict(augmenter_options or {}), **asdict(recipe),
            }  # fmt: skip
        fields = set(HardenRecipe.__dataclass_fields__)
        recipe = HardenRecipe(**{k: v for k, v in options.items() if k in fields})
        recipe.check()
        if dataset is None:
            dataset = open_data(options["data"], split=options["split"], image_size=options["image_size"], limit=options["limit"])
        else:
            dataset = limit_dataset(dataset, options["limit"])
        provides = provided_keys(dataset)
        if "spoof" not in provides:
            raise FgavError("the data set has no live/spoof labels ('spoof'): nothing to harden the decision on")
        options["parts"] = parse_parts(model, options["parts"], provides)
        train_set, guard_set = split_holdout(dataset, recipe.holdout, seed=options["seed"])
        fitted = None
        if options["augmenter"] != "none":
            # Fitted to the original target (stored with it), then held fixed while the model changes.
            target = load_model(options["target"], device=ctx.device) if state is not None and options["target"] else model
            if state is not None and not options["target"]:
                raise FgavError("the original target of this run is not on disk: its augmenter cannot be rebuilt")
            _, fitted = build_augmenter(options["augmenter"], target, data=train_set,
                                        options=options.get("augmenter_options"))
        model.config["hardening"] = {k: options[k] for k in ("target", "data", "split", "parts", "augmenter", "attack",
                                                            "eps", "steps", "epochs", "clean_fraction", "seed")}  # fmt: skip
        hardener = Hardener(
            model=model, options=options, recipe=recipe, dataset=train_set, holdout=guard_set, augmenter=fitted,
            ctx=ctx, out=out, say=say, workers=workers, progress=progress and ctx.is_main, console=console,
            on_step=on_step, state=state,
        )  # fmt: skip
        if state is None:
            hardener.save()  # epoch 0: the target itself, so a guard can always go back one epoch
        records = hardener.fit()
        return HardenResult(out=out, epochs=hardener.epoch, metrics=records, stopped_early=hardener.stopped_early,
                            seconds=time.perf_counter() - wall, cpu_seconds=time.process_time() - cpu)  # fmt: skip
    finally:
        ctx.close()


__all__ = ["DEFAULT_EPSILON", "DEFAULT_PARTS", "HardenRecipe", "HardenResult", "craft", "harden", "parse_parts",
           "split_holdout"]  # fmt: skip
