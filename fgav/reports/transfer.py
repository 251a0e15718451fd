"""The report of a transfer run: the accuracy matrix in the paper's Tab. 7 layout, and its heat map."""

from __future__ import annotations

from typing import Any

from fgav.auditing.flags import with_mark
from fgav.auditing.result import flag_footnotes
from fgav.reports.document import Figure, Report, Section, Table, epsilon, number, text_of
from fgav.reports.figures import heat_figure, png
from fgav.transfer import TransferResult

_MAX_LISTED = 50


def _unique(values: list[Any]) -> list[Any]:
    return list(dict.fromkeys(values))


def _facts(result: TransferResult) -> list[tuple[str, str]]:
    config, entries = result.config, result.entries
    models = config.get("models")
    facts = [("Models", text_of(models) if models else text_of(_unique([e.get("source") for e in entries])))]
    facts.append(("Data", text_of(config.get("data"))))
    facts.append(("Attack", text_of(config.get("attack"))))
    epsilons = config.get("epsilons") or _unique([e.get("epsilon") for e in entries])
    facts.append(("Epsilons", ", ".join(epsilon(e) for e in epsilons) or "-"))
    facts.append(("Augmenters", text_of(config.get("augmenters") or _unique([e.get("augmenter") for e in entries]))))
    facts.append(("Samples (n)", str(max([e.get("n") or 0 for e in entries] + [0]))))
    for key, label in (("limit", "Limit"), ("seconds", "Seconds"), ("device", "Device"), ("seed", "Seed")):
        if key in config:
            facts.append((label, text_of(config[key])))
    return facts


def transfer_report(result: TransferResult, *, source: str = "") -> Report:
    """The report of a transfer run: one matrix (table and heat map) per epsilon."""
    entries = result.entries  # typed on reading: each has its source and target
    sources = _unique([e["source"] for e in entries])
    targets = _unique([e["target"] for e in entries])
    augmenters = _unique([e.get("augmenter") for e in entries])
    budgets = _unique([e.get("epsilon") for e in entries])
    cell = {(e["source"], e["target"], e.get("augmenter"), e.get("epsilon")): e.get("accuracy") for e in entries}
    marks, footnotes = flag_footnotes(entries)
    mark = dict(zip(cell, marks))
    section = Section(
        "Transferability (Tab. 7)",
        text=["Adversarial examples crafted on each source model (rows), aimed at its live/spoof decision, "
              "judged by every target model (columns): each cell is the target's live/spoof accuracy on them, "
              "so lower means the attack transfers better. The diagonal is the white-box attack; the first row is "
              "each target's accuracy on the clean images."],
    )
    for eps in budgets:
        suffix = f", ε = {epsilon(eps)}" if eps is not None else ""
        clean = [result.clean_accuracy.get(t) for t in targets for _ in augmenters]
        matrix = [[cell.get((s, t, a, eps)) for t in targets for a in augmenters] for s in sources]
        rows = [["Original accuracy", *[number(v) for v in clean]]]
        rows += [[s, *[with_mark(number(cell.get((s, t, a, eps))), mark.get((s, t, a, eps), ""))
                       for t in targets for a in augmenters]] for s in sources]
        section.tables.append(Table(
            title=f"Live/spoof accuracy of each target on each source's examples{suffix}",
            header=["Source model", *[str(a) for _ in targets for a in augmenters]],
            groups=[("", 1), *[(f"Target: {t}", len(augmenters)) for t in targets]],
            rows=rows, note=" ".join(["Flags:", *footnotes]) if footnotes else "",
        ))
        name = "transfer" if len(budgets) == 1 else f"transfer-{len(section.figures) + 1}"
        chart = png(heat_figure(
            title=f"Accuracy of each target on each source's examples{suffix}",
            rows=["Original accuracy", *[str(s) for s in sources]],
            columns=[(f"target: {t}", str(a)) for t in targets for a in augmenters],
            values=[[v if isinstance(v, (int, float)) else None for v in row] for row in [clean, *matrix]],
            value_label="accuracy", separate_first_row=True,
        ))
        section.figures.append(Figure(
            name, f"Transfer matrix{suffix}", chart,
            "Rows: source model (and the clean accuracy); columns: target model and augmenter."))
    if not entries:
        section.text.append("The result holds no entry.")
    sections = [section]
    if result.skipped:
        more = len(result.skipped) - _MAX_LISTED
        sections.append(Section(f"Skipped files ({len(result.skipped)})",
                                items=[str(p) for p in result.skipped[:_MAX_LISTED]]
                                + ([f"... and {more} more"] if more > 0 else [])))
    return Report("fgav transfer: transferability of adversarial examples", source, _facts(result), sections)
