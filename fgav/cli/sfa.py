"""``fgav sfa``: train and show the Semantic Feature Augmentation module."""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator
from fractions import Fraction
from pathlib import Path

import click
from rich.console import Console

from fgav.core.errors import FgavError
from fgav.core.io import check_writable, write_atomically, write_safely
from fgav.core.progress import progress_display
from fgav.core.types import Batch
from fgav.data.loading import SkipCounter


def _fraction(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        result = float(Fraction(value.strip()))
    except (ValueError, ZeroDivisionError) as exc:
        raise FgavError(f"--alpha takes a number or a fraction like 8/255, not {value!r}") from exc
    if not 0 < result <= 1:
        raise FgavError(f"--alpha must be in (0, 1] (image units; 8/255 is a typical bound), not {value}")
    return result


@click.group()
def sfa() -> None:
    """Train SFA against a target model and show its maps."""


@sfa.command("train")
@click.option("--checkpoint", "checkpoint", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="The target model's checkpoint folder.")
@click.option("--data", required=True, help="A data set folder, or 'synth' for the embedded SynthSpoof.")
@click.option("--split", default="train", show_default=True, help="The split to train on.")
@click.option("--epochs", type=click.IntRange(min=1), default=3, show_default=True)
@click.option("--alpha", default=None, help="Bound of each map, e.g. 8/255 (default 8/255).")
@click.option("--no-texture", is_flag=True, help="T(x) = 1: the ablation of Tab. 3.")
@click.option("--latent-dim", type=click.IntRange(min=1), default=None, help="VAE latent size (default 128).")
@click.option("--work-size", type=click.IntRange(min=32), default=None,
              help="Side at which the VAEs run, a multiple of 32 (default 64).")
@click.option("--batch-size", type=click.IntRange(min=2), default=32, show_default=True)
@click.option("--lr", type=click.FloatRange(min=0, min_open=True), default=1e-3, show_default=True)
@click.option("--kl-weight", type=click.FloatRange(min=0), default=1e-3, show_default=True)
@click.option("--limit", type=click.IntRange(min=2), default=None, help="Train on at most this many images (balanced).")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where to write the module (default: CHECKPOINT/sfa).")
def train_command(
    checkpoint: Path,
    data: str,
    split: str,
    epochs: int,
    alpha: str | None,
    no_texture: bool,
    latent_dim: int | None,
    work_size: int | None,
    batch_size: int,
    lr: float,
    kl_weight: float,
    limit: int | None,
    device: str,
    out: Path | None,
) -> None:
    """Train SFA's generators against a frozen target and store them (Eq 4-5 of the paper)."""
    import fgav
    from fgav.data import cache_dir
    from fgav.core.devices import resolve_device
    from fgav.sfa import SFA, training_loader

    console = Console(stderr=True)
    bound = _fraction(alpha)
    target = out if out is not None else checkpoint / "sfa"
    check_writable(target, what="--out", folder=True)  # before the training, not after it
    dev = resolve_device(device)
    model = fgav.load_model(checkpoint, device=dev)
    loader = training_loader(model, data, split=split, batch_size=batch_size, limit=limit)
    module = SFA(alpha=bound, texture=not no_texture, latent_dim=latent_dim, work_size=work_size).to(dev)
    skips = SkipCounter()
    counted = _CountingLoader(loader, skips)
    with progress_display(console=console) as progress:
        task = progress.add_task("train SFA", total=None)

        def advance(step: int, total: int | None, loss: float) -> None:
            progress.update(task, completed=step, total=total, info=f"loss {loss:.4f}")

        figures = module.fit(model, counted, epochs=epochs, lr=lr, kl_weight=kl_weight, progress=advance)
    skips.report(console)
    # A save failing now (a full disk) puts the trained module elsewhere rather than losing it.
    saved = write_safely(target, module.save, fallbacks=[cache_dir() / "unsaved"])
    if saved.problem is not None:
        console.print(saved.message(target), markup=False, highlight=False, soft_wrap=True)
    console.print(
        f"wrote {saved.path}: loss {figures['first_epoch_loss']:.4f} -> {figures['last_epoch_loss']:.4f}, "
        f"x + M_opposite judged the opposite class for {figures['fool_rate']:.1%} of the last epoch's images",
        highlight=False,
    )
    if saved.problem is not None:
        raise SystemExit(1)


class _CountingLoader:
    """Iterates a loader, counting the unreadable images each batch skipped."""

    def __init__(self, loader: Iterable[Batch], skips: SkipCounter) -> None:
        self.loader, self.skips = loader, skips

    def __len__(self) -> int:
        return len(self.loader)  # type: ignore[arg-type]

    def __iter__(self) -> Iterator[Batch]:
        for batch in self.loader:
            self.skips.update(batch)
            yield batch


@sfa.command("show")
@click.option("--checkpoint", "checkpoint", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="The target model's checkpoint folder.")
@click.option("--data", required=True, help="A data set folder, or 'synth'.")
@click.option("--split", default="test", show_default=True)
@click.option("--n", "n", type=click.IntRange(min=1), default=4, show_default=True, help="Images per class.")
@click.option("--sfa", "sfa_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="The SFA folder (default: CHECKPOINT/sfa).")
@click.option("--mode", type=click.Choice(["push", "guide"]), default="push", show_default=True)
@click.option("--cell", type=click.IntRange(min=16), default=96, show_default=True, help="Cell side in pixels.")
@click.option("--device", default="auto", show_default=True)
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="The PNG to write.")
def show_command(
    checkpoint: Path, data: str, split: str, n: int, sfa_dir: Path | None, mode: str, cell: int, device: str, out: Path
) -> None:
    """Write the paper's Figure 2: image, LBP, live map, spoof map and S(x) for live and spoof images."""
    import fgav
    from fgav.data import cache_dir, open_dataset
    from fgav.core.devices import resolve_device
    from fgav.sfa import SFA
    from fgav.sfa.figure import pick_examples, sfa_figure

    if out.suffix.lower() != ".png":
        raise FgavError(f"--out must name a .png file, not {out}")
    check_writable(out, what="--out")
    dev = resolve_device(device)
    model = fgav.load_model(checkpoint, device=dev)
    folder = sfa_dir if sfa_dir is not None else checkpoint / "sfa"
    if not (folder / "sfa.json").is_file():
        raise FgavError(f"no SFA in {folder}: run `fgav sfa train --checkpoint {checkpoint} --data ...` first")
    module = SFA.load(folder, mode=mode, device=dev)
    dataset = open_dataset(data, split=split, image_size=int(model.config.get("image_size", 64)))
    x, spoof = pick_examples(dataset, n)
    image = sfa_figure(module, x, spoof, model=model, cell=cell)
    png = io.BytesIO()
    image.save(png, format="PNG")
    saved = write_safely(out, lambda path: write_atomically(path, png.getvalue()), fallbacks=[cache_dir() / "unsaved"])
    Console(stderr=True).print(f"{saved.message(out)} ({len(x)} images)", highlight=False)
    if saved.problem is not None:
        raise SystemExit(1)
