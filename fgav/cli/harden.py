"""``fgav harden``: adversarial fine-tuning with fine-grained examples, then its judgement."""

from __future__ import annotations

import json
import os
from pathlib import Path

import click
from rich.console import Console

from fgav.auditing.choices import parse_epsilons
from fgav.cli.options import parse_component_options
from fgav.core.errors import FgavError


def _one_epsilon(text: str | None) -> float | None:
    if text is None:
        return None
    values = parse_epsilons([text])
    if len(values) != 1:
        raise FgavError(f"--eps takes one training budget (e.g. 8/255), not {text!r}")
    return values[0]


@click.command()
@click.option("--checkpoint", type=click.Path(path_type=Path), help="Harden the model saved in this directory.")
@click.option("--backbone", help="Harden this backbone's embedded default target (trained and cached when missing).")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Output directory of the hardened model.")
@click.option("--data", default="synth", show_default=True, help="A data set folder, or 'synth' (SynthSpoof).")
@click.option("--split", default="train", show_default=True, help="The split to train on.")
@click.option("--head", "heads", multiple=True, help="A part the examples are aimed at (repeat, or all). Default: classification.")
@click.option("--augmenter", default="none", show_default=True, help="none, sfa or sfa:guide (fitted to the target once).")
@click.option("--attack", help="fgsm-rs (default: FGSM with a random start) or pgd.")
@click.option("--steps", type=int, help="PGD's steps (its step follows: 2.5 eps / steps).")
@click.option("--eps", help="The training budget, L-inf (default 4/255).")
@click.option("--epochs", type=int, help="Epochs (default 3).")
@click.option("--batch-size", type=int, help="Images per step and process (default 32).")
@click.option("--lr", type=float, help="Peak learning rate (default 5e-4).")
@click.option("--clean-fraction", type=float, help="Share of each batch kept clean (default 0).")
@click.option("--holdout", type=int, help="Training images held out for the overfitting guard (default 64; 0: off).")
@click.option("--seed", default=0, show_default=True, type=int, help="Seeds the hold-out, data order and random starts.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N.")
@click.option("--resume", is_flag=True, help="Continue the run in --out.")
@click.option("--overwrite", is_flag=True, help="Replace the run in --out.")
@click.option("--limit", type=int, help="Train on the first N images only.")
@click.option("--workers", default=0, show_default=True, type=int, help="Data-loading worker processes.")
@click.option("--judge/--no-judge", default=True, show_default=True, help="Judge before and after when done.")
@click.option("--judge-head", "judge_heads", multiple=True, help="Parts the judging gradient attacks aim at (default classification; all).")
@click.option("--judge-attack", "judge_attacks", multiple=True, help="Gradient attack(s) of the judgement (default apgd, 20 steps).")
@click.option("--judge-free-attack", "judge_free", multiple=True, help="Gradient-free attack(s) (default square, 300 queries).")
@click.option("--judge-option", multiple=True, help="key=value for every judging attack, or attack.key=value.")
@click.option("--judge-eps", multiple=True, help="Judging budgets (default 2/255,4/255,8/255).")
@click.option("--judge-split", default="test", show_default=True, help="The split the judgement attacks.")
@click.option("--judge-limit", default=64, show_default=True, type=int, help="Judge on the first N images.")
@click.option("--judge-check", is_flag=True, help="Also run each judging attack unbounded (flags unbounded-failure).")
@click.option("--json", "json_path", type=click.Path(path_type=Path), help="Write the judgement as JSON.")
@click.option("--markdown", "markdown_path", type=click.Path(path_type=Path), help="Write the judgement as Markdown.")
def harden(
    checkpoint: Path | None, backbone: str | None, out: Path, data: str, split: str, heads: tuple[str, ...],
    augmenter: str, attack: str | None, steps: int | None, eps: str | None, epochs: int | None,
    batch_size: int | None, lr: float | None, clean_fraction: float | None, holdout: int | None, seed: int,
    device: str, resume: bool, overwrite: bool, limit: int | None, workers: int, judge: bool,
    judge_heads: tuple[str, ...], judge_attacks: tuple[str, ...], judge_free: tuple[str, ...],
    judge_option: tuple[str, ...], judge_eps: tuple[str, ...], judge_split: str, judge_limit: int,
    judge_check: bool, json_path: Path | None, markdown_path: Path | None,
) -> None:  # fmt: skip
    """Fine-tune a target on adversarial examples aimed at its parts; judge it before and after.

    Example: fgav harden --backbone resnet18 --head all --out hardened
    """
    from fgav.hardening import GRADIENT_ATTACKS, GRADIENT_FREE_ATTACKS, JUDGE_EPSILONS
    from fgav.hardening import harden as run_hardening
    from fgav.hardening import judge as run_judgement

    console = Console(stderr=True)
    gradient = list(judge_attacks) or list(GRADIENT_ATTACKS)
    free = list(judge_free) or list(GRADIENT_FREE_ATTACKS)
    judge_options = parse_component_options(judge_option, gradient + free, what="judge")
    budgets = parse_epsilons(judge_eps) if judge_eps else list(JUDGE_EPSILONS)
    if judge_limit < 1:
        raise FgavError(f"--judge-limit must be at least 1, not {judge_limit}")
    parts: list[str] | str = "all" if "all" in heads else (list(heads) or ["classification"])
    result = run_hardening(
        out=out, checkpoint=checkpoint, backbone=backbone, data=data, split=split, heads=parts,
        augmenter=augmenter, attack=attack, eps=_one_epsilon(eps), steps=steps, epochs=epochs,
        batch_size=batch_size, lr=lr, clean_fraction=clean_fraction, holdout=holdout, seed=seed, device=device,
        resume=resume, overwrite=overwrite, limit=limit, workers=workers, console=console,
    )  # fmt: skip
    if int(os.environ.get("RANK", "0")) != 0:
        return
    console.print(f"hardened {result.epochs} epochs in {result.seconds:.0f} s ({result.cpu_seconds:.0f} s CPU)"
                  + (", stopped early by the overfitting guard" if result.stopped_early else "")
                  + f"; checkpoint in {out}", highlight=False)  # fmt: skip
    if not judge:
        return
    from fgav.factory import load_model

    hardened = load_model(out)
    target = hardened.config.get("hardening", {}).get("target")
    if not target:
        raise FgavError("the original target is not on disk: nothing to judge against (use --no-judge)")
    judge_parts: list[str] | str = "all" if "all" in judge_heads else (list(judge_heads) or ["classification"])
    judgement = run_judgement(
        target, out, data, split=judge_split, heads=judge_parts, gradient=gradient, gradient_free=free,
        eps=budgets, attack_options=judge_options, limit=judge_limit, device=device, seed=seed, check=judge_check,
        console=console,
    )  # fmt: skip
    for table in judgement.tables():
        Console().print(table)
    for line in judgement.masking:
        console.print(f"[bold red]masking[/]: {line}")
    if json_path is not None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        record = {"hardening": {"out": str(out), "epochs": result.epochs, "seconds": result.seconds,
                                "cpu_seconds": result.cpu_seconds, "stopped_early": result.stopped_early},
                  "judgement": judgement.to_dict()}  # fmt: skip
        json_path.write_text(json.dumps(record, indent=2) + "\n")
    if markdown_path is not None:
        markdown_path.parent.mkdir(parents=True, exist_ok=True)
        markdown_path.write_text(judgement.to_markdown())
