"""The report of an audit: the paper's Tab. 4/5 and 6 laid out per setting, and the rest of the figures."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fgav.auditing.result import ALONE, AuditResult, flag_footnotes
from fgav.core.errors import FgavError
from fgav.metrics.stats import ALPHA, format_p
from fgav.reports.document import Figure, Report, Section, Table, epsilon, number, part_label, rate, text_of
from fgav.reports.figures import Series, bar_figure, line_figure, png

_EMPTY: Mapping[str, Any] = {}  # the entry of a setting that has none

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


def _ci(entry: Mapping[str, Any], key: str, head: str) -> Any:
    return (entry.get(f"{key}_ci") or {}).get(head)


def _main_table(result: AuditResult, setting: Setting, rows: Sequence[Mapping[str, Any]]) -> Table:
    heads = _unique([h for r in rows for h in (r.get("accuracy") or {})])
    first = next((r for r in rows if r.get("clean_accuracy")), {})
    clean: dict[str, Any] = first.get("clean_accuracy") or {}
    scored = first.get("n_scored") or {}
    marks, footnotes = flag_footnotes(rows)
    flagged = any(marks)
    body = [["Clean", "-", "-", *[rate(clean.get(h), _ci(first, "clean_accuracy", h), scored.get(h, first.get("n")))
                                   for h in heads], *([""] if flagged else [])]]
    alone_shown: set[str] = set()
    for r, mark in zip(rows, marks):
        acc, n_scored = r.get("accuracy") or {}, r.get("n_scored") or {}
        body.append([part_label(r["part"]), str(r.get("augmenter")), rate(r.get("asr"), r.get("asr_ci"),
                                                                         r.get("n_right_clean")),
                     *[rate(acc.get(h), _ci(r, "accuracy", h), n_scored.get(h, r.get("n"))) for h in heads],
                     *([mark] if flagged else [])])
        alone = r.get("alone")
        if isinstance(alone, dict) and r.get("augmenter") not in alone_shown:
            # S(x) with no attack, once per augmenter: an ASR gain in push mode is read against it.
            alone_shown.add(str(r.get("augmenter")))
            body.append([ALONE, str(r.get("augmenter")), rate(alone.get("asr"), alone.get("asr_ci"),
                                                              r.get("n_right_clean")),
                         *["-" for _ in heads], *([""] if flagged else [])])
    note = ("ASR: among samples whose live/spoof decision was right when clean, the share wrong after the attack. "
            "In brackets: the 95 % Wilson interval.")
    if alone_shown:
        note += f" {ALONE}: the augmenter's output S(x) with no attack (push mode starts the attack there)."
    if footnotes:
        note += " Flags: " + "; ".join(footnotes)
    return Table(
        title=f"Attack success rate and accuracy under attack: {_setting_title(*setting)}",
        header=["Attacked part", "Augmenter", "ASR", *[part_label(h) for h in heads], *(["Flags"] if flagged else [])],
        groups=[("", 3), ("Accuracy", len(heads)), *([("", 1)] if flagged else [])] if heads else None,
        rows=body, label_columns=2, note=note,
    )


def _change_table(setting: Setting, rows: Sequence[Mapping[str, Any]]) -> Table:
    parts = _unique([p for r in rows for p in (r.get("change") or {})])
    return Table(
        title=f"Change of each part: {_setting_title(*setting)}",
        header=["Attacked part", "Augmenter", *[part_label(p) for p in parts]],
        groups=[("", 2), ("Change of", len(parts))] if parts else None,
        rows=[[part_label(r["part"]), str(r.get("augmenter")), *[number((r.get("change") or {}).get(p)) for p in parts]]
              for r in rows],
        label_columns=2, note="Change: ||f(x') - f(x)||² / ||f(x)||², averaged over samples (Tab. 6).",
    )


def _keyed_rows(results: Sequence[Mapping[str, Any]], many_attacks: bool, many_eps: bool) -> tuple[list[str], list[list[str]]]:
    """The leading label columns shared by the long tables: part, [attack], [epsilon], augmenter."""
    header = ["Attacked part"] + (["Attack"] if many_attacks else []) + (["ε"] if many_eps else []) + ["Augmenter"]
    rows = [[part_label(r["part"])] + ([str(r.get("attack"))] if many_attacks else [])
            + ([epsilon(r.get("epsilon"))] if many_eps else []) + [str(r.get("augmenter"))] for r in results]
    return header, rows


def asr_against_epsilon(result: AuditResult, attack: str) -> bytes | None:
    """The line chart of one attack's ASR against its budget: a line per part and augmenter, with error bars.

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
            found = {r.get("epsilon"): r for r in results
                     if r.get("attack") == attack and r["part"] == part and r.get("augmenter") == aug}
            if found:
                series.append(Series(f"{part_label(part)}, {aug}",
                                     [(found.get(e) or _EMPTY).get("asr") for e in eps_values],
                                     [_interval((found.get(e) or _EMPTY).get("asr_ci")) for e in eps_values],
                                     colour=i, style=j))
    return png(line_figure(
        title=f"{attack}: attack success rate against ε", x_values=eps_values,
        x_labels=[epsilon(e) for e in eps_values], series=series, x_label="ε (attack budget)",
        y_label="Attack success rate"))


def _interval(value: Any) -> tuple[float, float] | None:
    if isinstance(value, (list, tuple)) and len(value) == 2 and all(isinstance(v, (int, float)) for v in value):
        return (float(value[0]), float(value[1]))
    return None


def _figures(result: AuditResult, settings: list[Setting]) -> list[Figure]:
    results = result.results
    figures = []
    parts = _unique([r["part"] for r in results])
    augmenters = _unique([r.get("augmenter") for r in results])
    for attack in _unique([a for a, _ in settings]):
        eps_values = sorted({e for a, e in settings if a == attack and isinstance(e, (int, float))})
        line = asr_against_epsilon(result, attack)
        if line is not None:
            figures.append(Figure(f"asr-vs-eps-{_slug(attack)}", f"{attack}: ASR against ε", line,
                                  "One line per attacked part (colour) and augmenter (line style), "
                                  "error bars the 95 % Wilson intervals; coinciding lines hide each other, "
                                  "the tables hold every value."))
        budgets = [e for a, e in settings if a == attack]
        eps = max(eps_values) if eps_values else budgets[0]
        bars = []
        for aug in augmenters:
            found = {r["part"]: r for r in results
                     if r.get("attack") == attack and r.get("epsilon") == eps and r.get("augmenter") == aug}
            bars.append((str(aug), [(found.get(p) or _EMPTY).get("asr") for p in parts],
                         [_interval((found.get(p) or _EMPTY).get("asr_ci")) for p in parts]))
        chart = png(bar_figure(title=f"{_setting_title(attack, eps)}: attack success rate per attacked part",
                               groups=[part_label(p) for p in parts], bars=bars, y_label="Attack success rate"))
        largest = f"; the largest budget, ε = {epsilon(eps)}" if len(eps_values) > 1 else ""
        caption = f"One bar per augmenter{largest}; error bars: 95 % Wilson intervals."
        figures.append(Figure(f"asr-per-part-{_slug(attack)}", f"{_setting_title(attack, eps)}: ASR per part", chart,
                              caption))
    return figures


def _pairs(rows: Sequence[Mapping[str, Any]]) -> list[tuple[str, Mapping[str, Any], str, Mapping[str, Any]]]:
    """The comparisons worth testing among one setting's entries: each augmenter against none, a push
    augmenter against its S(x) alone, and an augmenter's push mode against its guide mode."""
    by_aug = {str(r.get("augmenter")): r for r in rows}
    pairs = []
    for name, entry in by_aug.items():
        if name != "none" and "none" in by_aug:
            pairs.append((name, entry, "none", by_aug["none"]))
        if isinstance(entry.get("alone"), dict):
            pairs.append((name, entry, f"{ALONE} ({name})", entry["alone"]))
        if f"{name}:guide" in by_aug:
            pairs.append((name, entry, f"{name}:guide", by_aug[f"{name}:guide"]))
    return pairs


def _comparisons(results: Sequence[Mapping[str, Any]], many_attacks: bool, many_eps: bool) -> Section | None:
    """McNemar's paired test of the augmenters' ASRs on the same samples; None where there is no pair."""
    header = ["Attacked part"] + (["Attack"] if many_attacks else []) + (["ε"] if many_eps else [])
    rows = []
    groups = _unique([(r["part"], r.get("attack"), r.get("epsilon")) for r in results])
    for part, attack, eps in groups:
        same = [r for r in results if (r["part"], r.get("attack"), r.get("epsilon")) == (part, attack, eps)]
        for name_a, a, name_b, b in _pairs(same):
            try:
                test = AuditResult.compare(a, b)
            except FgavError:
                continue  # a result without per-sample outcomes (schema 1)
            keys = [part_label(part)] + ([str(attack)] if many_attacks else []) + ([epsilon(eps)] if many_eps else [])
            verdict = ("higher" if test.only_a > test.only_b else "lower") if test.significant() else "no"
            rows.append([*keys, name_a, name_b, rate(a.get("asr"), a.get("asr_ci"), a.get("n_right_clean")),
                         rate(b.get("asr"), b.get("asr_ci"), a.get("n_right_clean")),
                         f"{test.only_a} / {test.only_b}", format_p(test.p_value), verdict])
    if not rows:
        return None
    return Section("Paired comparisons (McNemar)", text=[
        "Two augmenters (or an augmenter and its S(x) alone) compared on the same samples: only the samples "
        "that one flips and the other does not count. A difference is claimed only where p < "
        f"{ALPHA:g}."], tables=[Table(
            "Paired comparisons of the ASR", [*header, "A", "B", "ASR of A", "ASR of B", "flipped by A only / B only",
                                              "p", f"A differs (p < {ALPHA:g})"],
            rows, label_columns=len(header) + 2,
            note="p: two-sided McNemar test (exact binomial below 25 discordant samples).")])


def audit_report(result: AuditResult, *, source: str = "") -> Report:
    """The report of an audit: facts, Tab. 4/5 and 6 per (attack, epsilon), distortion, FAS, breakdown."""
    results = list(result.results)
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
        alone_rows = result.alone_rows()
        _, alone_keys = _keyed_rows(alone_rows, many_attacks, many_eps)

        def distortion_row(k: list[str], r: Mapping[str, Any]) -> list[str]:
            d = r.get("distortion") or {}
            return [*k, number(d.get("linf")), number(d.get("l2")), number(d.get("l0"), 1)]

        dist = [distortion_row(k, r) for k, r in zip(keys, results)]
        dist += [distortion_row([ALONE, *k[1:]], r) for k, r in zip(alone_keys, alone_rows)]
        sections.append(Section("Distortion from the clean image", tables=[Table(
            "Distortion", [*header, "L∞", "L2", "L0 (pixels)"], dist, label_columns=len(header),
            note="Averaged over samples; from the clean image, so an augmenter's own change counts"
                 + (f"; {ALONE}: S(x) itself, with no attack." if alone_rows else "."))]))
        fas_keys = _unique([k for r in results for k in (r.get("fas") or {})])
        if fas_keys:
            fas = [[*k, *[rate((r.get("fas") or {}).get(f), (r.get("fas_ci") or {}).get(f), r.get("n"))
                          for f in fas_keys]] for k, r in zip(keys, results)]
            sections.append(Section("Face anti-spoofing metrics under attack", tables=[Table(
                "FAS metrics", [*header, *fas_keys], fas, label_columns=len(header),
                note="Of the live/spoof decision on the adversarial examples (spoof is the positive class); "
                     "in brackets the 95 % Wilson interval of each proportion (TPR@FPR's given its threshold). "
                     "TPR@FPR as CelebA-Spoof computes it.")]))
        comparisons = _comparisons(results, many_attacks, many_eps)
        if comparisons is not None:
            sections.append(comparisons)
        breakdown = Section("Attack success rate by spoof type, illumination and environment")
        for key in _unique([k for r in results for k in (r.get("breakdown") or {})]):
            groups = _unique([g for r in results for g in ((r.get("breakdown") or {}).get(key) or {})])
            cells = [((r.get("breakdown") or {}).get(key) or {}) for r in results]
            # Who was right when clean does not depend on the attack: one count per group.
            counts = [next((c[g].get("n_right_clean") for c in cells if isinstance(c.get(g), dict)), None)
                      for g in groups]
            rows = [["n right when clean", *[""] * (len(header) - 1), *[number(n) for n in counts]]]
            rows += [[*k, *[rate((c.get(g) or {}).get("asr"), (c.get(g) or {}).get("asr_ci"),
                                 (c.get(g) or {}).get("n_right_clean")) for g in groups]]
                     for k, c in zip(keys, cells)]
            breakdown.tables.append(Table(f"ASR by {key.replace('_', ' ')}", [*header, *groups], rows,
                                          label_columns=len(header), note="In brackets: the 95 % Wilson interval."))
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
