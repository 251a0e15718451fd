"""The report of an audit: the paper's Tab. 4/5 and 6 laid out per setting, and the rest of the figures."""

from __future__ import annotations

from typing import Any

from fgav.auditing.result import AuditResult, flag_footnotes
from fgav.reports.canvas import PALETTE
from fgav.reports.document import Figure, Report, Section, Table, epsilon, number, part_label, text_of
from fgav.reports.figures import Series, bar_chart, line_chart

Setting = tuple[str, Any]  # (attack, epsilon)
_MAX_LISTED = 50


def _unique(values: list[Any]) -> list[Any]:
    return list(dict.fromkeys(values))


def _setting_title(attack: str, eps: Any) -> str:
    return f"{attack}, ε = {epsilon(eps)}" if eps is not None else attack


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text).strip("-").lower() or "x"


def _facts(result: AuditResult) -> list[tuple[str, str]]:
    config, results = result.config, result.results
    model = config.get("model")
    if isinstance(model, dict):
        facts = [("Model", text_of(model.get("backbone"))), ("Heads", text_of(model.get("heads"))),
                 ("Image size", text_of(model.get("image_size")))]
    else:
        facts = [("Model", text_of(model))]
    if config.get("checkpoint"):
        facts.append(("Checkpoint", text_of(config["checkpoint"])))
    split = f" ({config['split']} split)" if config.get("split") else ""
    facts.append(("Data", text_of(config.get("data")) + split))
    facts.append(("Attacks", text_of(config.get("attacks") or _unique([r.get("attack") for r in results]))))
    epsilons = config.get("epsilons") or _unique([r.get("epsilon") for r in results])
    facts.append(("Epsilons", ", ".join(epsilon(e) for e in epsilons) or "-"))
    facts.append(("Augmenters", text_of(config.get("augmenters") or _unique([r.get("augmenter") for r in results]))))
    facts.append(("Attacked parts", text_of([part_label(p) for p in _unique([r.get("part") for r in results])])))
    n = max([r.get("n") or 0 for r in results] + [0])
    facts.append(("Samples (n)", str(n)))
    for key, label in (("seconds", "Seconds"), ("device", "Device"), ("seed", "Seed"), ("early_stop", "Early stop")):
        if key in config:
            facts.append((label, text_of(config[key])))
    return facts


def _main_table(result: AuditResult, setting: Setting, rows: list[dict[str, Any]]) -> Table:
    heads = _unique([h for r in rows for h in (r.get("accuracy") or {})])
    clean: dict[str, Any] = next((r["clean_accuracy"] for r in rows if r.get("clean_accuracy")), {})
    marks, footnotes = flag_footnotes(rows)
    flagged = any(marks)
    body = [["Clean", "-", "-", *[number(clean.get(h)) for h in heads], *([""] if flagged else [])]]
    for r, mark in zip(rows, marks):
        acc = r.get("accuracy") or {}
        body.append([part_label(r["part"]), str(r.get("augmenter")), number(r.get("asr")),
                     *[number(acc.get(h)) for h in heads], *([mark] if flagged else [])])
    note = "ASR: among samples whose live/spoof decision was right when clean, the share wrong after the attack."
    if footnotes:
        note += " Flags: " + "; ".join(footnotes)
    return Table(
        title=f"Attack success rate and accuracy under attack: {_setting_title(*setting)}",
        header=["Attacked part", "Augmenter", "ASR", *[part_label(h) for h in heads], *(["Flags"] if flagged else [])],
        groups=[("", 3), ("Accuracy", len(heads)), *([("", 1)] if flagged else [])] if heads else None,
        rows=body, label_columns=2, note=note,
    )


def _change_table(setting: Setting, rows: list[dict[str, Any]]) -> Table:
    parts = _unique([p for r in rows for p in (r.get("change") or {})])
    return Table(
        title=f"Change of each part: {_setting_title(*setting)}",
        header=["Attacked part", "Augmenter", *[part_label(p) for p in parts]],
        groups=[("", 2), ("Change of", len(parts))] if parts else None,
        rows=[[part_label(r["part"]), str(r.get("augmenter")), *[number((r.get("change") or {}).get(p)) for p in parts]]
              for r in rows],
        label_columns=2, note="Change: ||f(x') - f(x)||² / ||f(x)||², averaged over samples (Tab. 6).",
    )


def _keyed_rows(results: list[dict[str, Any]], many_attacks: bool, many_eps: bool) -> tuple[list[str], list[list[str]]]:
    """The leading label columns shared by the long tables: part, [attack], [epsilon], augmenter."""
    header = ["Attacked part"] + (["Attack"] if many_attacks else []) + (["ε"] if many_eps else []) + ["Augmenter"]
    rows = [[part_label(r["part"])] + ([str(r.get("attack"))] if many_attacks else [])
            + ([epsilon(r.get("epsilon"))] if many_eps else []) + [str(r.get("augmenter"))] for r in results]
    return header, rows


def asr_against_epsilon(result: AuditResult, attack: str) -> bytes | None:
    """The line chart of one attack's ASR against its budget: a line per part and augmenter.

    None where the audit ran the attack at fewer than two numeric budgets.
    """
    results = result.results
    eps_values = sorted({r["epsilon"] for r in results
                         if r.get("attack") == attack and isinstance(r.get("epsilon"), (int, float))})
    if len(eps_values) < 2:
        return None
    parts = _unique([r["part"] for r in results])
    augmenters = _unique([r.get("augmenter") for r in results])
    series = []
    for i, part in enumerate(parts):
        for j, aug in enumerate(augmenters):
            asr = {r.get("epsilon"): r.get("asr") for r in results
                   if r.get("attack") == attack and r["part"] == part and r.get("augmenter") == aug}
            if asr:
                series.append(Series(PALETTE[i % len(PALETTE)], j, [(e, asr.get(e)) for e in eps_values]))
    return line_chart(
        title=f"{attack}: attack success rate against ε", x_values=eps_values,
        x_labels=[epsilon(e) for e in eps_values], series=series, x_label="ε (attack budget)",
        y_label="Attack success rate",
        legend=[("Attacked part", [(part_label(p), PALETTE[i % len(PALETTE)], -1) for i, p in enumerate(parts)]),
                ("Augmenter", [(str(a), "#222222", j) for j, a in enumerate(augmenters)])],
    )


def _figures(result: AuditResult, settings: list[Setting]) -> list[Figure]:
    results = result.results
    figures = []
    parts = _unique([r["part"] for r in results])
    augmenters = _unique([r.get("augmenter") for r in results])
    for attack in _unique([a for a, _ in settings]):
        eps_values = sorted({e for a, e in settings if a == attack and isinstance(e, (int, float))})
        png = asr_against_epsilon(result, attack)
        if png is not None:
            figures.append(Figure(f"asr-vs-eps-{_slug(attack)}", f"{attack}: ASR against ε", png,
                                  "One line per attacked part (colour) and augmenter (line style); "
                                  "coinciding lines hide each other, the tables hold every value."))
        budgets = [e for a, e in settings if a == attack]
        eps = max(eps_values) if eps_values else budgets[0]
        bars = []
        for aug in augmenters:
            asr = {r["part"]: r.get("asr") for r in results
                   if r.get("attack") == attack and r.get("epsilon") == eps and r.get("augmenter") == aug}
            bars.append((str(aug), [asr.get(p) for p in parts]))
        png = bar_chart(title=f"{_setting_title(attack, eps)}: attack success rate per attacked part",
                        groups=[part_label(p) for p in parts], bars=bars, y_label="Attack success rate")
        largest = f"; the largest budget, ε = {epsilon(eps)}." if len(eps_values) > 1 else "."
        caption = "One bar per augmenter" + largest
        figures.append(Figure(f"asr-per-part-{_slug(attack)}", f"{_setting_title(attack, eps)}: ASR per part", png,
                              caption))
    return figures


def audit_report(result: AuditResult, *, source: str = "") -> Report:
    """The report of an audit: facts, Tab. 4/5 and 6 per (attack, epsilon), distortion, FAS, breakdown."""
    results = [r for r in result.results if isinstance(r, dict) and "part" in r]
    # Rows of one part sit together (with and without each augmenter), as in the paper's tables.
    part_order = {p: i for i, p in enumerate(_unique([r["part"] for r in results]))}
    aug_order = {a: i for i, a in enumerate(_unique([r.get("augmenter") for r in results]))}
    results.sort(key=lambda r: (part_order[r["part"]], aug_order[r.get("augmenter")]))
    result = AuditResult(results, result.config, result.notes, result.skipped)
    settings = _unique([(r.get("attack"), r.get("epsilon")) for r in results])
    by_setting = {s: [r for r in results if (r.get("attack"), r.get("epsilon")) == s] for s in settings}
    many_attacks = len({a for a, _ in settings}) > 1
    many_eps = len({e for _, e in settings}) > 1
    sections = []
    main = Section("Attack success rate and accuracy under attack (Tab. 4 and 5)",
                   text=["Each row attacks one part of the model (Eq. 11) and reports the attack success rate on "
                         "the live/spoof decision and every head's accuracy on the adversarial examples; the "
                         "first row holds the clean accuracies."])
    if results:
        main.figures = _figures(result, settings)
        main.tables = [_main_table(result, s, by_setting[s]) for s in settings]
    else:
        main.text.append("The result holds no entry.")
    sections.append(main)
    if results:
        sections.append(Section("Change of each part (Tab. 6)",
                                text=["How much each part's output moves when each part is attacked."],
                                tables=[_change_table(s, by_setting[s]) for s in settings]))
        header, keys = _keyed_rows(results, many_attacks, many_eps)
        dist = [[*k, number((r.get("distortion") or {}).get("linf")), number((r.get("distortion") or {}).get("l2")),
                 number((r.get("distortion") or {}).get("l0"), 1)] for k, r in zip(keys, results)]
        sections.append(Section("Distortion from the clean image", tables=[Table(
            "Distortion", [*header, "L∞", "L2", "L0 (pixels)"], dist, label_columns=len(header),
            note="Averaged over samples; from the clean image, so an augmenter's own change counts.")]))
        fas_keys = _unique([k for r in results for k in (r.get("fas") or {})])
        if fas_keys:
            fas = [[*k, *[number((r.get("fas") or {}).get(f)) for f in fas_keys]] for k, r in zip(keys, results)]
            sections.append(Section("Face anti-spoofing metrics under attack", tables=[Table(
                "FAS metrics", [*header, *fas_keys], fas, label_columns=len(header),
                note="Of the live/spoof decision on the adversarial examples (spoof is the positive class).")]))
        breakdown = Section("Attack success rate by spoof type, illumination and environment")
        for key in _unique([k for r in results for k in (r.get("breakdown") or {})]):
            groups = _unique([g for r in results for g in ((r.get("breakdown") or {}).get(key) or {})])
            cells = [((r.get("breakdown") or {}).get(key) or {}) for r in results]
            # Who was right when clean does not depend on the attack: one count per group.
            counts = [next((c[g].get("n_right_clean") for c in cells if isinstance(c.get(g), dict)), None)
                      for g in groups]
            rows = [["n right when clean", *[""] * (len(header) - 1), *[number(n) for n in counts]]]
            rows += [[*k, *[number((c.get(g) or {}).get("asr")) for g in groups]] for k, c in zip(keys, cells)]
            breakdown.tables.append(Table(f"ASR by {key.replace('_', ' ')}", [*header, *groups], rows,
                                          label_columns=len(header)))
        if breakdown.tables:
            sections.append(breakdown)
    if result.notes:
        sections.append(Section("Notes", items=[str(n) for n in result.notes]))
    if result.skipped:
        more = len(result.skipped) - _MAX_LISTED
        sections.append(Section(f"Skipped files ({len(result.skipped)})",
                                items=[str(p) for p in result.skipped[:_MAX_LISTED]]
                                + ([f"... and {more} more"] if more > 0 else [])))
    model = result.config.get("model")
    name = model.get("backbone") if isinstance(model, dict) else model
    title = f"fgav audit: {name}" if name else "fgav audit"
    return Report(title, source, _facts(result), sections)
