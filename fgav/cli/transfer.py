"""``fgav transfer``: the transferability matrix of the paper's Tab. 7."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console

from fgav.cli.options import parse_component_options
from fgav.core.errors import FgavError
from fgav.core.io import check_outputs, write_safely


@click.command()
@click.option("--checkpoint", "checkpoints", multiple=True, type=click.Path(path_type=Path),
              help="A model (repeatable); each is a source and a target.")
@click.option("--backbone", "backbones", multiple=True, help="A backbone's embedded default model (repeatable).")
@click.option("--attack", default="fgsm", show_default=True, help="A registered attack.")
@click.option("--attack-option", multiple=True, help="key=value for the attack.")
@click.option("--eps", multiple=True, help="Budget(s): 8/255, or a list. Default: 8/255.")
@click.option("--augmenter", "augmenters", multiple=True, help="Repeatable. Default: none and sfa.")
@click.option("--augmenter-option", multiple=True, help="name.key=value, or key=value for every augmenter.")
@click.option("--data", default="synth", show_default=True, help="A data set path, or synth.")
@click.option("--split", default="test", show_default=True)
@click.option("--limit", type=int, help="Use only the first N samples.")
@click.option("--batch-size", type=int, default=32, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--device", default="auto", show_default=True, help="auto, cpu or cuda.")
@click.option("--json", "json_path", type=click.Path(path_type=Path), help="Write the matrix as JSON.")
@click.option("--markdown", "markdown_path", type=click.Path(path_type=Path), help="Write the matrix as Markdown.")
def transfer(
    checkpoints: tuple[Path, ...], backbones: tuple[str, ...], attack: str, attack_option: tuple[str, ...],
    eps: tuple[str, ...], augmenters: tuple[str, ...], augmenter_option: tuple[str, ...], data: str, split: str,
    limit: int | None, batch_size: int, seed: int, device: str, json_path: Path | None, markdown_path: Path | None,
) -> None:
    """Craft adversarial examples on each model and judge them with every model (Tab. 7)."""
    from fgav.auditing.choices import parse_epsilons
    from fgav.transfer import transfer as run
    from fgav.data import cache_dir
    from fgav.core.devices import resolve_device
    from fgav.registry import get_attack, get_augmenter

    if len(checkpoints) + len(backbones) < 2:
        raise FgavError("give at least two models: --checkpoint DIR or --backbone NAME, repeated")
    epsilons = parse_epsilons(eps) if eps else 8 / 255  # bad input fails before any loading
    check_outputs({"--json": json_path, "--markdown": markdown_path})
    get_attack(attack)
    augmenter_names = list(augmenters) or ["none", "sfa"]
    for name in augmenter_names:
        get_augmenter(name)
    dev = resolve_device(device)
    models: dict = {}
    repeated = [str(p) for p in checkpoints if checkpoints.count(p) > 1] + [b for b in backbones if backbones.count(b) > 1]
    if repeated:  # the same model twice would be a row and a column twice
        raise FgavError(f"the model {repeated[0]} is given twice; give each model once")
    for path in checkpoints:
        models[path.name if path.name not in models else str(path)] = path
    if backbones:
        from fgav.targets import default

        for name in backbones:
            models[name] = default(name, device=dev)
    result = run(
        models, data, attack=attack, eps=epsilons, augmenters=augmenter_names,
        limit=limit, batch_size=batch_size, device=dev, seed=seed,
        attack_options=parse_component_options(attack_option, [attack], what="attack")[attack],
        augmenter_options=parse_component_options(augmenter_option, augmenter_names, what="augmenter"),
        split=split,
    )
    Console().print(result.table())
    err = Console(stderr=True)
    for note in result.notes:
        err.print(f"[yellow]Note:[/] {note}")
    misplaced = False
    for output, write in ((json_path, result.to_json), (markdown_path, result.to_markdown)):
        if output is not None:  # a write failing now puts the matrix elsewhere rather than losing it
            saved = write_safely(output, write, fallbacks=[cache_dir() / "unsaved"])
            err.print(saved.message(output), markup=False, highlight=False, soft_wrap=True)
            misplaced |= saved.problem is not None
    if misplaced:
        raise SystemExit(1)
