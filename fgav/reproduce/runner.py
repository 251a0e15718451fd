"""``fgav reproduce``: train or reuse the targets and their SFA modules, run every experiment
of Sec. 4, and write ``DIR/report.md`` with the seven tables beside the paper's.

Each finished table is written as JSON (``DIR/tables/tabN.json``) before the next starts;
``resume`` skips the tables already written, so an interrupted run continues from the
last finished experiment with the same numbers (every audit is seeded).
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict, cast

import torch
from rich.console import Console

from fgav.auditing.result import write_atomically
from fgav.devices import resolve_device
from fgav.errors import FgavError
from fgav.model import MultiTaskModel, load_model
from fgav.reproduce.experiments import EXPERIMENTS, Setting, names
from fgav.reproduce.paper import BACKBONES
from fgav.reproduce.tables import ReproducedTable

if TYPE_CHECKING:
    from fgav.sfa.augmenter import SFA


class Profile(TypedDict):
    """A reproduction's scale: training, test images, SFA's options and each attack's."""

    train_epochs: int | None
    train_limit: int | None
    test_limit: int | None
    sfa: dict[str, Any]
    attacks: dict[str, dict[str, Any]]


QUICK: Profile = {
    "train_epochs": 3, "train_limit": None, "test_limit": 64, "sfa": {"epochs": 1, "limit": 800},
    "attacks": {"cw": {"steps": 10, "binary_search_steps": 2}, "ead": {"steps": 10, "binary_search_steps": 2},
                "pgd": {"steps": 10}, "stadv": {"steps": 20}, "sparse": {"steps": 10, "restarts": 1}},
}
FULL: Profile = {
    "train_epochs": None, "train_limit": None, "test_limit": None, "sfa": {"epochs": 3},
    "attacks": {"cw": {"steps": 100, "binary_search_steps": 5}, "pgd": {"steps": 40}},
}


def _targets(backbones: Sequence[str], data: str, out: Path, profile: Profile, quick: bool,
             device: torch.device, console: Console) -> dict[str, MultiTaskModel]:
    """The target of each backbone: the cached default (full run on synth) or trained into DIR/models."""
    from fgav.train import train

    targets = {}
    for backbone in backbones:
        if data == "synth" and not quick:
            from fgav.models import default

            targets[backbone] = default(backbone, device=device, console=console)
            continue
        folder = out / "models" / backbone.replace(":", "-")
        resume = (folder / "config.json").is_file()  # an interrupted (or finished) training continues
        console.print(f"{'checking' if resume else 'training'} the {backbone} target in {folder}", highlight=False)
        train(backbone=backbone, out=folder, data=data, epochs=profile["train_epochs"], limit=profile["train_limit"],
              device=device, resume=resume, console=console)
        targets[backbone] = load_model(folder, device=device)
    return targets


def reproduce(
    *,
    out: str | Path,
    backbones: Sequence[str] = BACKBONES,
    data: str = "synth",
    quick: bool = False,
    resume: bool = False,
    only: Sequence[str] | None = None,
    limit: int | None = None,
    device: str | torch.device = "auto",
    seed: int = 0,
    console: Console | None = None,
) -> Path:
    """Run the paper's experiments and write ``out/report.md``; return its path.

    Args:
        out: the output directory (tables, audits, figures, report, quick targets).
        backbones: the backbones compared (the paper's four by default).
        data: a data set path or ``synth``.
        quick: small targets, 64 test images and short attacks: minutes on a CPU.
        resume: keep the tables an interrupted run finished.
        only: run only these experiments (``tab1`` ... ``tab7``).
        limit: test images per experiment (default: 64 quick, all otherwise).
        device: ``auto``, ``cpu`` or ``cuda``.
        seed: seeds every audit.
    """
    console = console or Console(stderr=True)
    started = time.perf_counter()
    out = Path(out)
    tables_dir = out / "tables"
    if out.exists() and any(tables_dir.glob("*.json")) and not resume:
        raise FgavError(f"{out} holds an earlier reproduction: use --resume to continue it, or another --out")
    tables_dir.mkdir(parents=True, exist_ok=True)
    profile = QUICK if quick else FULL
    dev = resolve_device(device)
    targets = _targets(backbones, data, out, profile, quick, dev, console)
    setting = Setting(targets=targets, data=data, limit=limit or profile["test_limit"],
                      skip_augmenters=("scorecam",) if quick else (),
                      attack_options=profile["attacks"], sfa_options=profile["sfa"], device=dev, seed=seed,
                      log=lambda line: console.print(line, highlight=False))
    tables: list[ReproducedTable] = []
    for name in names(only):
        path = tables_dir / f"{name}.json"
        if resume and path.is_file():
            console.print(f"{name}: kept from the earlier run")
            tables.append(ReproducedTable.from_dict(json.loads(path.read_text())))
            continue
        table = EXPERIMENTS[name](setting)
        write_atomically(path, json.dumps(table.to_dict(), indent=2) + "\n")
        tables.append(table)
    for key, result in setting.audits.items():
        result.to_json(out / "audits" / f"{key}.json")
    figures = _figures(setting, out, console)
    report = _report(tables, figures, setting, data=data, quick=quick, seconds=time.perf_counter() - started)
    write_atomically(out / "report.md", report)
    return out / "report.md"


def _figures(s: Setting, out: Path, console: Console) -> list[tuple[str, str]]:
    """Fig. 2 (SFA's maps) and Fig. 3 (examples) for the main target."""
    from fgav.data import open_dataset
    from fgav.registry import get_augmenter
    from fgav.reproduce.figures import examples_figure
    from fgav.sfa.figure import pick_examples, sfa_figure

    model = s.targets[s.main]
    size = int(model.config.get("image_size", 64))
    train = open_dataset(s.data, split="train", image_size=size)
    test = open_dataset(s.data, split="test", image_size=size)
    sfa = cast("SFA", get_augmenter("sfa").for_model(model, data=train, **dict(s.sfa_options)))
    x, labels = pick_examples(test, 3)
    device = next(model.parameters()).device
    x, labels = x.to(device), labels.to(device)
    folder = out / "figures"
    folder.mkdir(parents=True, exist_ok=True)
    sfa_figure(sfa, x, labels, model=model).save(folder / "fig2_sfa_maps.png")
    examples_figure(model, sfa, x, labels).save(folder / "fig3_examples.png")
    console.print(f"figures in {folder}")
    return [("Fig. 2: SFA's live and spoof maps", "figures/fig2_sfa_maps.png"),
            ("Fig. 3: clean and FGSM examples without and with SFA", "figures/fig3_examples.png")]


def _report(tables: list[ReproducedTable], figures: list[tuple[str, str]], s: Setting, *, data: str, quick: bool,
            seconds: float) -> str:
    lines = ["# fgav: the paper's experiments, reproduced", ""]
    lines.append(f"Data: `{data}`; targets: {', '.join(s.targets)}; test images per experiment: "
                 f"{s.limit or 'all'}; {'quick' if quick else 'full'} run; {seconds / 60:.1f} minutes.")
    lines.append("Each cell is ours, with the paper's figure (CelebA-Spoof) in parentheses. Budgets and "
                 "attack settings: docs/reproduce.md.\n")
    for table in tables:
        lines.append(table.to_markdown())
    for title, path in figures:
        lines += [f"### {title}", "", f"![{title}]({path})", ""]
    lines.append("Raw results: `audits/*.json` (fgav report turns any of them into HTML).")
    return "\n".join(lines) + "\n"
