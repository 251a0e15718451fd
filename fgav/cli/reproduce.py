"""``fgav reproduce``: every experiment of the paper's Sec. 4, with a report."""

from __future__ import annotations

from pathlib import Path

import click

from fgav.core.io import check_writable


@click.command()
@click.option("--backbone", "backbones", multiple=True, help="A backbone compared (repeatable). Default: the paper's four.")
@click.option("--data", default="synth", show_default=True, help="A data set path, or synth.")
@click.option("--quick", is_flag=True, help="Small targets, few test images, short attacks: minutes on a CPU.")
@click.option("--out", type=click.Path(path_type=Path), required=True, help="The output directory.")
@click.option("--resume", is_flag=True, help="Keep what an interrupted run finished and continue it.")
@click.option("--only", multiple=True, type=click.Choice(["tab1", "tab2", "tab3", "tab4", "tab5", "tab6", "tab7", "harden"]),
              help="Run only these experiments (repeatable); harden (hardening by part, no paper figure) only when named.")
@click.option("--limit", type=int, help="Test images per experiment.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu or cuda.")
@click.option("--seed", type=int, default=0, show_default=True)
def reproduce(backbones: tuple[str, ...], data: str, quick: bool, out: Path, resume: bool, only: tuple[str, ...],
              limit: int | None, device: str, seed: int) -> None:
    """Run the paper's seven experiments on your targets and write DIR/report.md.

    Trains (or reuses) the targets and their SFA modules, then runs Tab. 1-7.
    Under torchrun --nproc_per_node=N -m fgav reproduce, the work is split over N processes.
    """
    from fgav.registry import get_backbone
    from fgav.reproduce import reproduce as run
    from fgav.reproduce.paper import BACKBONES

    check_writable(out, what="--out", folder=True)  # before any target is trained
    for name in backbones:
        get_backbone(name)
    report = run(out=out, backbones=list(backbones) or list(BACKBONES), data=data, quick=quick, resume=resume,
                 only=list(only) or None, limit=limit, device=device, seed=seed)
    if report is not None:  # rank 0 writes the report; under torchrun the other ranks return None
        click.echo(f"wrote {report}")
