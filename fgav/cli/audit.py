"""``fgav audit``: aim attacks at parts of a FAS model, with and without augmenters."""

from __future__ import annotations

import contextlib
from pathlib import Path

import click
from rich.console import Console
from rich.progress import TaskID

from fgav.cli.options import parse_component_options
from fgav.core.errors import FgavError
from fgav.core.io import check_outputs, write_safely
from fgav.core.progress import ProgressLike, progress_display


@click.command()
@click.option("--backbone", help="Audit this backbone's embedded default model (trained and cached when missing).")
@click.option("--checkpoint", type=click.Path(path_type=Path), help="Audit the model saved in this directory.")
@click.option("--head", "heads", multiple=True, help="The part attacked (repeatable, or all). Default: classification.")
@click.option("--attack", "attacks", multiple=True, help="A registered attack (repeatable). Default: fgsm.")
@click.option("--attack-option", multiple=True, help="key=value for every attack, or attack.key=value.")
@click.option("--eps", multiple=True, help="Budget(s): 8/255, or a list 2/255,4/255,8/255. Default: 8/255.")
@click.option("--augmenter", "augmenters", multiple=True, help="A registered augmenter, or name:mode (sfa:guide); repeatable. Default: none and sfa.")
@click.option("--augmenter-option", multiple=True, help="key=value for every augmenter, or name.key=value (sfa.mode=guide).")
@click.option("--data", default="synth", show_default=True, help="A data set path, or synth (the embedded SynthSpoof).")
@click.option("--split", default="test", show_default=True, help="The split attacked.")
@click.option("--limit", type=int, help="Attack only the first N samples.")
@click.option("--batch-size", type=int, default=32, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--device", default="auto", show_default=True, help="auto, cpu or cuda.")
@click.option("--early-stop/--no-early-stop", default=True, show_default=True,
              help="Iterative attacks stop per sample once the live/spoof decision flipped.")
@click.option("--check", is_flag=True,
              help="Also run the failure indicators that need extra passes (each attack again, unbounded).")
@click.option("--resume", is_flag=True, help="Continue an interrupted audit from its state file.")
@click.option("--restart", is_flag=True, help="Discard an interrupted audit's state file and start again.")
@click.option("--state", "state_path", type=click.Path(path_type=Path),
              help="The state file saved after every batch (default: the --json file + .state).")
@click.option("--json", "json_path", type=click.Path(path_type=Path), help="Write the full result as JSON.")
@click.option("--csv", "csv_path", type=click.Path(path_type=Path), help="Write one CSV row per result.")
@click.option("--markdown", "markdown_path", type=click.Path(path_type=Path), help="Write the table as Markdown.")
def audit(
    backbone: str | None,
    checkpoint: Path | None,
    heads: tuple[str, ...],
    attacks: tuple[str, ...],
    attack_option: tuple[str, ...],
    eps: tuple[str, ...],
    augmenters: tuple[str, ...],
    augmenter_option: tuple[str, ...],
    data: str,
    split: str,
    limit: int | None,
    batch_size: int,
    seed: int,
    device: str,
    early_stop: bool,
    check: bool,
    resume: bool,
    restart: bool,
    state_path: Path | None,
    json_path: Path | None,
    csv_path: Path | None,
    markdown_path: Path | None,
) -> None:
    """Aim attacks at parts of a face anti-spoofing model and print what they do.

    Under torchrun --nproc_per_node=N -m fgav audit, the samples are split over N
    processes (one GPU each); the result is the one-process result.

    Example: fgav audit --backbone swin --head depth
    """
    import fgav
    from fgav.auditing import audit as run
    from fgav.auditing.choices import parse_epsilons
    from fgav.auditing.state import claim_state, rank_state_path
    from fgav.core.distributed import any_rank, init_distributed, launched_by_torchrun, on_main
    from fgav.data import cache_dir
    from fgav.core.formatting import format_epsilons
    from fgav.core.devices import resolve_device
    from fgav.registry import create_attack, get_augmenter

    console = Console(stderr=True)
    if (backbone is None) == (checkpoint is None):
        raise FgavError("give one of --backbone NAME (its default model) or --checkpoint DIR")
    epsilons = parse_epsilons(eps) if eps else None  # bad input fails before any training or loading
    if state_path is None and json_path is not None:
        state_path = json_path.with_name(json_path.name + ".state")
    check_outputs({"--json": json_path, "--csv": csv_path, "--markdown": markdown_path, "--state": state_path})
    attack_names = list(attacks) or ["fgsm"]
    augmenter_names = list(augmenters) or ["none", "sfa"]
    attack_options = parse_component_options(attack_option, attack_names, what="attack")
    for name in attack_names:  # unknown names and bad options fail before any training or loading
        create_attack(name, **attack_options.get(name, {}))
    for name in augmenter_names:
        get_augmenter(name.partition(":")[0])
    augmenter_options = parse_component_options(
        augmenter_option, list(dict.fromkeys(n.partition(":")[0] for n in augmenter_names)), what="augmenter"
    )
    dev = resolve_device(device)
    # Under torchrun every rank attacks its own block of batches (on LOCAL_RANK's GPU) and
    # saves its own state; rank 0 alone prints and writes.
    world = init_distributed(dev) if launched_by_torchrun() else None
    if world is not None:
        dev = world.device
        click.get_current_context().call_on_close(world.close)  # on an error too: no broken collective at exit
    main = world is None or world.is_main
    rank_state = rank_state_path(state_path, world)
    claim_state(rank_state, resume=resume, restart=restart)  # last: --restart discards the progress only now
    if checkpoint is not None:
        model = fgav.load_model(checkpoint, device=dev)
    else:
        from fgav.targets import default

        name = str(backbone)  # given: exactly one of --backbone and --checkpoint is
        fgav.get_backbone(name)
        # Under torchrun rank 0 trains and caches a missing target; the others then load it.
        trained = on_main(lambda: default(name, device=dev), world) if world is not None else None
        model = trained if trained is not None else default(name, device=dev)
    part_list = list(heads) or ["classification"]
    tasks: list[TaskID] = []
    with contextlib.ExitStack() as stack:
        shown: list[ProgressLike] = []

        def advance(done: int, total: int) -> None:
            if not shown:  # the bar appears once the audit is built: after anything that may fail or train
                shown.append(stack.enter_context(progress_display(console=console)))
                tasks.append(shown[0].add_task("audit", total=total))
            shown[0].update(tasks[0], completed=done, total=total)

        result = run(
            model,
            data,
            heads=part_list,
            attacks=attack_names,
            eps=epsilons,
            augmenters=augmenter_names,
            limit=limit,
            batch_size=batch_size,
            device=dev,
            seed=seed,
            attack_options=attack_options,
            augmenter_options=augmenter_options,
            early_stop=early_stop,
            split=split,
            progress=advance if main else None,
            state_path=state_path,
            resume=resume,
            check=check,
            keep_state=True,  # removed below, once every output is written
            world=world,
        )
    if world is not None and not world.is_main:  # wait for rank 0's outputs: this rank's state goes once they are safe
        keep_states = any_rank(False, world)
        if rank_state is not None and not keep_states:
            rank_state.unlink(missing_ok=True)
        return
    out = Console()
    if not out.is_terminal:  # a pipe or a log: wide enough that the table keeps its numbers
        out = Console(width=160)
    out.print(result.table())
    for r in result.results:  # the table marks flagged results; here is what each flag measured
        for flag in r.get("flags") or []:
            console.print(f"[red]Flag[/] {r['part']}, {r['attack']}, {format_epsilons([r['epsilon']])}, "
                          f"{r['augmenter']}: [bold]{flag['code']}[/]: {flag['message']}", highlight=False)
    for note in result.notes:
        console.print(f"[yellow]Note:[/] {note}")
    if result.skipped:
        console.print(f"[yellow]Note:[/] {len(result.skipped)} unreadable images skipped: {', '.join(result.skipped[:5])}")
    # A write that fails now (a full disk, a folder gone) must not lose the audit: the
    # output goes to a fallback folder, and the state stays until every output is safe.
    fallbacks = ([state_path.parent] if state_path is not None else []) + [cache_dir() / "unsaved"]
    misplaced = False
    for path, write in ((json_path, result.to_json), (csv_path, result.to_csv), (markdown_path, result.to_markdown)):
        if path is None:
            continue
        try:
            saved = write_safely(path, write, fallbacks=fallbacks)
        except FgavError as exc:
            if world is not None:
                any_rank(True, world)  # the other ranks keep their states too
            kept = f"; the audit's state stays in {rank_state} (--resume rebuilds the result)" if rank_state else ""
            raise FgavError(f"{exc}{kept}") from None
        console.print(saved.message(path), markup=False, highlight=False, soft_wrap=True)
        misplaced |= saved.problem is not None
    if world is not None:
        any_rank(misplaced, world)  # tells the other ranks whether to keep their states
    if rank_state is not None and not misplaced:
        rank_state.unlink(missing_ok=True)  # finished and safely written: nothing left to resume
    if misplaced:
        if rank_state is not None:
            console.print(f"the audit's state stays in {rank_state}: --resume rebuilds the result without attacking",
                          markup=False, highlight=False, soft_wrap=True)
        raise SystemExit(1)
