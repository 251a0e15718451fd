"""``fgav data``: generate, check and describe face anti-spoofing data sets."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import click
import torch
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from fgav.core.errors import FgavError
from fgav.core.io import check_writable
from fgav.data.dataset import EmptySplitError

SPLITS = ("train", "test")


@click.group()
def data() -> None:
    """Generate SynthSpoof, check and describe data sets."""


@data.command("synth")
@click.argument("out", type=click.Path(file_okay=False, path_type=Path))
@click.option("--n", "n", type=click.IntRange(min=1), default=2500, show_default=True, help="Images to render.")
@click.option("--size", type=click.IntRange(min=16), default=64, show_default=True, help="Image side in pixels.")
@click.option("--seed", type=int, default=0, show_default=True, help="The same seed gives byte-identical files.")
@click.option("--live-ratio", type=click.FloatRange(0, 1), default=0.5, show_default=True, help="Share of live images.")
@click.option("--test-fraction", type=click.FloatRange(0, 1), default=0.2, show_default=True, help="Share of subjects in the test split.")
@click.option("--images-per-subject", type=click.IntRange(min=1), default=8, show_default=True)
@click.option("--difficulty", type=click.FloatRange(0, 1), default=None, help="Spoof cue strength against nuisances (default: the renderer's).")
@click.option("--workers", type=click.IntRange(min=1), default=None, help="Processes rendering (default: all cores).")
@click.option("--overwrite", is_flag=True, help="Replace an earlier SynthSpoof tree in OUT.")
def synth_command(
    out: Path,
    n: int,
    size: int,
    seed: int,
    live_ratio: float,
    test_fraction: float,
    images_per_subject: int,
    difficulty: float | None,
    workers: int | None,
    overwrite: bool,
) -> None:
    """Render SynthSpoof into OUT, in CelebA-Spoof's on-disk layout."""
    from fgav.data.cache import progress_bar

    check_writable(out, what="OUT", folder=True)  # before any worker starts rendering
    try:
        from fgav.data.synth import generate
    except ImportError as exc:
        raise FgavError(f"the SynthSpoof renderer is not available: {exc}") from None
    options: dict[str, Any] = {
        "n": n, "size": size, "seed": seed, "live_ratio": live_ratio, "test_fraction": test_fraction,
        "images_per_subject": images_per_subject, "workers": workers,
    }  # fmt: skip
    if difficulty is not None:
        options["difficulty"] = difficulty
    if overwrite:
        options["overwrite"] = True
    start = time.perf_counter()
    try:
        with progress_bar(n, console=Console(stderr=True)) as advance:
            summary = generate(out, progress=advance, **options)
    except (ValueError, FileExistsError) as exc:  # the renderer's own checks: bad input, not a crash
        raise FgavError(str(exc)) from None
    seconds = time.perf_counter() - start
    counts = ""
    if all(hasattr(summary, k) for k in ("train", "test", "live", "spoof")):
        counts = f" (train {summary.train}, test {summary.test}; live {summary.live}, spoof {summary.spoof})"
    click.echo(f"Wrote {n} SynthSpoof images{counts} to {out} in {seconds:.1f} s ({n / seconds:.0f} images/s)")


def _data_options(command: Any) -> Any:
    """The options every command reading a data set shares."""
    command = click.option("--reflection-dir", type=click.Path(file_okay=False, exists=True), default=None,
                           help="Reflection maps mirroring Data/.")(command)  # fmt: skip
    command = click.option("--depth-dir", type=click.Path(file_okay=False, exists=True), default=None,
                           help="Depth maps mirroring Data/.")(command)  # fmt: skip
    command = click.option("--protocol", default="intra_test", show_default=True,
                           help="CelebA-Spoof protocol folder under metas/.")(command)  # fmt: skip
    return click.option("--split", type=click.Choice(("all", *SPLITS)), default="all", show_default=True)(command)


def open_splits(
    path: str, split: str, *, empty: dict[str, str] | None = None, failed: dict[str, str] | None = None, **options: Any
) -> dict[str, Any]:
    """The data set of each split asked for (``all``: every split the folder has).

    With ``all``, a split that cannot be opened does not stop the others: an empty one
    (an evaluation-only download's train labels) is left out and put in ``empty``
    (split -> its one-line message); where ``failed`` is given, any other refusal is
    put there and the split left out too.

    Raises:
        FgavError: the one split asked cannot be opened, or no split of ``all`` can.
    """
    from fgav.data import open_dataset, synth_path
    from fgav.data.folder import has_classes
    from fgav.data.layout import detect_layout

    layout = detect_layout(path)
    root = synth_path() if layout == "synth" else Path(path)
    if split != "all":
        return {split: open_dataset(root, split=split, **options)}
    if layout == "folder":
        present = [s for s in SPLITS if has_classes(root / s)]
    else:
        protocol = str(options.get("protocol", "intra_test")).strip("/")
        present = [s for s in SPLITS if (root / "metas" / protocol / f"{s}_label.json").is_file()]
    if not present:  # let the loader say what is wrong (missing labels, no split folders)
        present = ["test"] if layout != "folder" else ["all"]
    datasets: dict[str, Any] = {}
    empties: dict[str, str] = {}
    refused: dict[str, str] = {}
    for name in present:
        try:
            datasets[name] = open_dataset(root, split=name, **options)
        except EmptySplitError as exc:
            empties[name] = str(exc)
        except FgavError as exc:
            if failed is None:
                raise
            refused[name] = str(exc)
    if not datasets:
        raise FgavError("; ".join([*refused.values(), *empties.values()]))
    (empty if empty is not None else {}).update(empties)
    (failed if failed is not None else {}).update(refused)
    return datasets


@data.command("check")
@click.argument("path")
@_data_options
@click.option("--workers", type=click.IntRange(min=0), default=0, show_default=True, help="Worker processes reading images.")
def check_command(path: str, split: str, protocol: str, depth_dir: str | None, reflection_dir: str | None, workers: int) -> None:
    """Read every image and map of PATH; name each unreadable file (exit code 1 if any)."""
    from torch.utils.data import DataLoader

    from fgav.data.cache import progress_bar

    empty: dict[str, str] = {}
    failed: dict[str, str] = {}
    datasets = open_splits(
        path, split, empty=empty, failed=failed, protocol=protocol, depth_dir=depth_dir, reflection_dir=reflection_dir
    )
    console = Console(stderr=True)
    problems: list[str] = []
    total = sum(len(d) for d in datasets.values())
    with progress_bar(total, console=console, description="reading") as advance:
        for dataset in datasets.values():
            loader = DataLoader(_Probe(dataset), batch_size=32, num_workers=workers, collate_fn=list)
            for results in loader:
                problems.extend(p for p in results if p)
                advance(len(results))
    out = Console(highlight=False, soft_wrap=True)
    for problem in problems:
        out.print(escape(problem))
    for name, message in failed.items():  # a split that cannot be opened: a fault, the others still read
        out.print(escape(f"{name} split not checked: {message}"))
    for name, message in empty.items():  # an evaluation-only download has no train images: news, not a fault
        out.print(escape(f"note: {name} split not checked: {message}"))
    splits = ", ".join(f"{s} ({len(d)})" for s, d in datasets.items())
    if problems or failed:
        unopened = f"; {len(failed)} split{'s' if len(failed) != 1 else ''} could not be opened" if failed else ""
        out.print(f"{len(problems)} of {total} images have unreadable or malformed files ({splits}){unopened}")
        raise SystemExit(1)
    out.print(f"all {total} images readable ({splits})")


class _Probe(torch.utils.data.Dataset):
    """Reads sample ``i`` and returns ``None`` or the one-line problem naming the file."""

    def __init__(self, dataset: Any) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> str | None:
        try:
            self.dataset[index]
        except FgavError as exc:  # UnreadableImageError too: "cannot read <file>: <why>"
            return str(exc)
        return None


def summarize(dataset: Any) -> dict[str, Any]:
    """Counts of one split: images, live/spoof, spoof types, illuminations, environments, maps."""
    from fgav.data.labels import ENVIRONMENT_NAMES, ILLUMINATION_NAMES, SPOOF_TYPE_NAMES

    labels = dataset.labels()
    spoof = labels["spoof"]
    summary: dict[str, Any] = {"images": len(dataset), "live": int((spoof == 0).sum()), "spoof": int((spoof != 0).sum())}
    for key, names in (("spoof_type", SPOOF_TYPE_NAMES), ("illumination", ILLUMINATION_NAMES), ("environment", ENVIRONMENT_NAMES)):
        if key in labels:
            counts = torch.bincount(labels[key].clamp(min=0), minlength=len(names))
            summary[key] = {name: int(counts[i]) for i, name in enumerate(names) if i > 0}
    for key, valid in dataset.map_validity().items():
        summary[f"{key}_known"] = int(valid.sum())
    summary["provides"] = sorted(dataset.provides)
    return summary


@data.command("info")
@click.argument("path")
@_data_options
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def info_command(path: str, split: str, protocol: str, depth_dir: str | None, reflection_dir: str | None, as_json: bool) -> None:
    """Count PATH's images by split, live/spoof, spoof type, illumination and environment."""
    empty: dict[str, str] = {}
    datasets = open_splits(path, split, empty=empty, protocol=protocol, depth_dir=depth_dir, reflection_dir=reflection_dir)
    for name, message in empty.items():
        Console(stderr=True, highlight=False).print(escape(f"note: {name} split left out: {message}"))
    summaries = {s: summarize(d) for s, d in datasets.items()}
    root = str(next(iter(datasets.values())).root)
    if as_json:
        click.echo(json.dumps({"root": root, "splits": summaries}, indent=2))
        return
    table = Table(title=f"{escape(root)}", title_justify="left")
    table.add_column("")
    for s in summaries:
        table.add_column(s, justify="right")
    if len(summaries) > 1:
        table.add_column("total", justify="right")
    for label, values in _rows(summaries):
        cells = [str(v) if v is not None else "-" for v in values]
        if len(summaries) > 1:
            cells.append(str(sum(v or 0 for v in values)))
        table.add_row(label, *cells)
    Console().print(table)
    provides = sorted(set.intersection(*(set(s["provides"]) for s in summaries.values())))
    click.echo(f"ground truth for every image: {', '.join(provides)}")


def _rows(summaries: dict[str, dict[str, Any]]) -> list[tuple[str, list[int | None]]]:
    """The table's rows: a label and one count per split (``None``: the split lacks it)."""
    first = next(iter(summaries.values()))
    rows: list[tuple[str, list[int | None]]] = []
    for key in ("images", "live", "spoof"):
        rows.append((key, [s[key] for s in summaries.values()]))
    for key, title in (("spoof_type", "spoof type"), ("illumination", "illumination"), ("environment", "environment")):
        for name in first.get(key, {}):
            rows.append((f"{title}: {name}", [s.get(key, {}).get(name) for s in summaries.values()]))
    for key in ("depth_known", "reflection_known"):
        if key in first:
            rows.append((key.replace("_", " "), [s.get(key) for s in summaries.values()]))
    return rows
