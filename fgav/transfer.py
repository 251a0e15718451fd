"""Transferability (the paper's Tab. 7): examples crafted on each source, judged by every target.

The attack is aimed at each source's live/spoof decision (with each augmenter built for
that source); every target's live/spoof accuracy on those examples fills the matrix.
Iterative attacks run without early stopping here: stopping at the source's boundary
would understate what transfers.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import torch
from rich.table import Table

from fgav.auditing.choices import parse_epsilons, parse_names, unique, unique_epsilons
from fgav.auditing.engine import adversarial_examples, batch_to_device, check_images
from fgav.auditing.flags import AttackRecord, Evidence, Key, judge, uses_gradients, with_mark, zero_gradient_samples
from fgav.auditing.gradient import part_gradient
from fgav.auditing.result import flag_footnotes
from fgav.auditing.setup import build_attacks, build_augmenters, data_label, frozen_model, open_data, training_data
from fgav.core.aiming import PartObjective
from fgav.core.devices import resolve_device
from fgav.core.errors import FgavError
from fgav.core.formatting import format_epsilon, format_number, markdown_table
from fgav.core.interfaces import Augmenter
from fgav.core.io import json_ready, write_atomically
from fgav.core.model import CLASSIFICATION, MultiTaskModel
from fgav.data import SkipCounter, make_loader


@dataclass(frozen=True, eq=False)
class TransferEntry(Mapping[str, Any]):
    """One cell of the transfer matrix: a target's live/spoof accuracy on one source's adversarial examples.

    The fields are typed attributes (``entry.accuracy``); the entry is also a read-only
    mapping of its JSON form (``entry["accuracy"]``), as an audit's
    :class:`~fgav.auditing.result.AuditEntry` is.
    """

    source: str
    target: str
    augmenter: str
    epsilon: float | None
    accuracy: float | None
    n: int
    flags: list[dict[str, str]] = field(default_factory=list)
    """The source's own (white-box) result's indicators of attack failure, on every cell of its row."""

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> TransferEntry:
        """An entry from its JSON form.

        Raises:
            FgavError: not a mapping, or no ``source`` or ``target``.
        """
        if isinstance(values, TransferEntry):
            return values
        if not isinstance(values, Mapping) or "source" not in values or "target" not in values:
            raise FgavError("a transfer result entry lacks its source or target: not a result of fgav transfer")
        accuracy, epsilon = values.get("accuracy"), values.get("epsilon")
        return cls(source=str(values["source"]), target=str(values["target"]),
                   augmenter=str(values.get("augmenter") or "none"),
                   epsilon=None if epsilon is None else float(epsilon),
                   accuracy=None if accuracy is None else float(accuracy), n=int(values.get("n") or 0),
                   flags=[dict(f) if isinstance(f, Mapping) else {"code": str(f), "message": ""}
                          for f in values.get("flags") or []])  # fmt: skip

    def __getitem__(self, key: str) -> Any:
        if key in _TRANSFER_FIELDS:
            return getattr(self, key)
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return iter(_TRANSFER_FIELDS)

    def __len__(self) -> int:
        return len(_TRANSFER_FIELDS)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: a plain dict of the fields."""
        return {name: getattr(self, name) for name in _TRANSFER_FIELDS}


_TRANSFER_FIELDS = tuple(f.name for f in fields(TransferEntry))


@dataclass
class TransferResult:
    """The accuracy matrix: one entry per (source, target, augmenter, epsilon)."""

    entries: list[TransferEntry]
    clean_accuracy: dict[str, float]
    config: dict[str, Any] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        # Entries given as JSON mappings (a result read back) become typed entries.
        self.entries = [TransferEntry.from_mapping(e) for e in self.entries]

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready payload (``kind: transfer``)."""
        return json_ready({"schema": 1, "kind": "transfer", "config": self.config,
                           "clean_accuracy": self.clean_accuracy, "results": [e.to_dict() for e in self.entries],
                           "skipped": self.skipped, "notes": self.notes})

    def to_json(self, path: str | Path | None = None) -> str:
        """The result as JSON text; written atomically to ``path`` when given."""
        import json

        text = json.dumps(self.to_dict(), indent=2)
        if path is not None:
            write_atomically(path, text + "\n")
        return text

    def accuracy(self, source: str, target: str, augmenter: str, epsilon: float | None = None) -> float:
        """One cell of the matrix."""
        for e in self.entries:
            if (e["source"], e["target"], e["augmenter"]) == (source, target, augmenter) and (
                epsilon is None or e["epsilon"] == epsilon
            ):
                return float(e["accuracy"])
        raise KeyError((source, target, augmenter, epsilon))

    def _grid(self) -> tuple[list[str], list[list[str]]]:
        sources = list(dict.fromkeys(e["source"] for e in self.entries))
        targets = list(dict.fromkeys(e["target"] for e in self.entries))
        columns = list(dict.fromkeys((e["augmenter"], e["epsilon"]) for e in self.entries))
        many_eps = len({eps for _, eps in columns}) > 1
        header = ["Source \\ target"] + [
            f"{t} ({aug}{', ' + format_epsilon(eps) if many_eps else ''})" for t in targets for aug, eps in columns
        ]
        body = [["Original accuracy"] + [format_number(self.clean_accuracy.get(t)) for t in targets for _ in columns]]
        marks = dict(zip(((e["source"], e["target"], e["augmenter"], e["epsilon"]) for e in self.entries),
                         flag_footnotes(self.entries)[0]))
        for s in sources:
            body.append([s] + [with_mark(format_number(self.accuracy(s, t, aug, eps)), marks.get((s, t, aug, eps), ""))
                               for t in targets for aug, eps in columns])
        return header, body

    def table(self, *, title: str = "fgav transfer: live/spoof accuracy of each target on each source's examples") -> Table:
        """A rich table like the paper's Tab. 7."""
        header, body = self._grid()
        table = Table(title=title)
        for i, column in enumerate(header):
            table.add_column(column, justify="left" if i == 0 else "right")
        for row in body:
            table.add_row(*row)
        _, footnotes = flag_footnotes(self.entries)
        if footnotes:
            table.caption, table.caption_justify = "\n".join(footnotes), "left"
        return table

    def to_markdown(self, path: str | Path | None = None) -> str:
        """The matrix as Markdown; written atomically to ``path`` when given."""
        text = "\n".join(markdown_table(*self._grid()) + [f"\n- {line}" for line in flag_footnotes(self.entries)[1]]) + "\n"
        if path is not None:
            write_atomically(path, text)
        return text


def transfer(
    models: Mapping[str, MultiTaskModel | str | Path],
    data: Any = "synth",
    *,
    attack: str | Any = "fgsm",
    eps: float | str | Sequence[float | str] | None = 8 / 255,
    augmenters: Sequence[str | Augmenter] | str = ("none", "sfa"),
    limit: int | None = None,
    batch_size: int = 32,
    device: str | torch.device = "auto",
    seed: int = 0,
    attack_options: Mapping[str, Any] | None = None,
    augmenter_options: Mapping[str, Mapping[str, Any]] | None = None,
    split: str = "test",
) -> TransferResult:
    """Craft examples on every model and judge them with every model (Tab. 7).

    Args:
        models: name -> model (or checkpoint directory); each is a source and a target.
        data: a Dataset, a path, or ``"synth"``.
        attack: a registered attack name or a Foolbox attack instance.
        eps: the budget(s): numbers, or strings as the command line takes them ("2/255,8/255").
        augmenters: registered augmenter names (``sfa:guide`` sets the mode; a list or one
            string) or Augmenter instances, each built for each source. A budget or augmenter
            given twice is used once, with a note.
        limit: use only the first ``limit`` samples.
        batch_size: samples per batch.
        device: ``auto``, ``cpu`` or ``cuda``.
        seed: seeds the attacks' random starts.
        attack_options: keyword options of the attack.
        augmenter_options: keyword options per augmenter name.
        split: the split of ``data`` when it is a path.
    """
    started = time.perf_counter()
    dev = resolve_device(device)
    if len(models) < 1:
        raise FgavError("transfer needs at least one model")
    augmenters, notes = unique(parse_names(augmenters, what="augmenter"), what="augmenter")
    epsilons, repeated = unique_epsilons(parse_epsilons(eps))
    notes += repeated
    loaded = {name: frozen_model(m, dev) for name, m in models.items()}
    sizes = {name: int(m.config.get("image_size", 64)) for name, m in loaded.items()}
    if len(set(sizes.values())) > 1:
        raise FgavError(f"transfer needs models of one image size; got {sizes}")
    image_size = next(iter(sizes.values()))
    source = data
    data = open_data(data, split=split, image_size=image_size, limit=limit)
    attack_name, attack_obj = build_attacks([attack], {attack: attack_options or {}} if isinstance(attack, str) else {})[0]
    train_data = training_data(source, image_size=image_size)
    built = {src: build_augmenters(augmenters, model, augmenter_options or {}, train_data)
             for src, model in loaded.items()}
    labels_of_augmenters = [label for label, _ in next(iter(built.values()))]
    torch.manual_seed(seed)
    right: dict[tuple[str, str, str, float | None], int] = {}
    # The source attack's indicators of failure (zero-gradients, unstable, ...), keyed as the
    # audit keys results, with the source model in the attack's place.
    evidence: dict[Key, Evidence] = {}
    clean_right = dict.fromkeys(loaded, 0)
    n, skips = 0, SkipCounter()
    for raw in make_loader(data, batch_size=batch_size):
        skips.update(raw)
        if not len(raw["image"]):
            continue
        batch = batch_to_device(raw, dev)
        x, labels = batch["image"].float(), batch["spoof"].long()
        check_images(x)
        n += x.shape[0]
        right_now = {}
        with torch.no_grad():
            for name, model in loaded.items():
                right_now[name] = model(x)[CLASSIFICATION].argmax(1) == labels
                clean_right[name] += int(right_now[name].sum())
        everyone = torch.arange(x.shape[0], device=x.device)
        for src, model in loaded.items():
            objective = PartObjective.for_batch(model, CLASSIFICATION, batch)
            for aug, augmenter in built[src]:
                with torch.no_grad():
                    augmented = augmenter(x, batch).clamp(0, 1)
                record = AttackRecord()
                crafted = adversarial_examples(attack_obj, augmenter, objective, x, augmented, batch, epsilons, False,
                                               record)
                zero = None if not uses_gradients(attack_obj) else record.start_zero if record.start_zero is not None \
                    else zero_gradient_samples(part_gradient(objective, augmented, everyone)[0])
                for i, (epsilon, x_adv) in enumerate(crafted):
                    with torch.no_grad():
                        for tgt, target_model in loaded.items():
                            correct = target_model(x_adv)[CLASSIFICATION].argmax(1) == labels
                            key = (src, tgt, aug, epsilon)
                            right[key] = right.get(key, 0) + int(correct.sum())
                            if tgt == src:
                                trace, judged = record.at(i)
                                evidence.setdefault((CLASSIFICATION, src, epsilon, aug), Evidence()).add_batch(
                                    right_now[src], ~correct, zero=zero, trace=trace, judged=judged)
    if n == 0:
        raise FgavError("no readable sample to attack")
    flags = judge(evidence)
    entries = [
        TransferEntry(source=s, target=t, augmenter=a, epsilon=e, accuracy=hits / n, n=n,
                      flags=[f.to_dict() for f in flags.get((CLASSIFICATION, s, e, a), [])])
        for (s, t, a, e), hits in right.items()
    ]
    config = {
        "models": {name: str(m.checkpoint_dir or m.config.get("backbone")) for name, m in loaded.items()},
        "data": data_label(source),
        "attack": attack_name, "epsilons": epsilons, "augmenters": labels_of_augmenters, "limit": limit,
        "seed": seed, "device": str(dev), "seconds": round(time.perf_counter() - started, 3),
    }
    return TransferResult(entries, {k: v / n for k, v in clean_right.items()}, config, list(skips.paths), notes)


__all__ = ["TransferEntry", "TransferResult", "transfer"]
