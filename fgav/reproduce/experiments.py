"""The experiments of the paper's Sec. 4: for each table, the jobs it reads and how it is laid out.

Every table that shows an SFA gain in push mode (Tab. 1-4) shows beside it S(x) alone
(the augmenter with no attack, on the same samples) and, where measured, SFA in guide
mode (the attack's own budget around x, SFA only steering it), and carries McNemar's
paired tests of those cells, so that the reading claims only what the numbers support.

Every experiment declares its :class:`~fgav.reproduce.jobs.Job` s (audits and the
transfer) for a :class:`~fgav.reproduce.jobs.Setting`, and builds a
:class:`~fgav.reproduce.tables.ReproducedTable`, with the paper's figures beside, from
their results. Declaring before running is what lets torchrun split the jobs over ranks.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fgav.auditing import AuditResult
from fgav.auditing.result import AuditEntry
from fgav.core.errors import FgavError
from fgav.core.io import safe_name
from fgav.registry import list_augmenters
from fgav.reproduce import paper
from fgav.reproduce.hardening import hardening_jobs, hardening_table
from fgav.reproduce.jobs import Job, Result, Setting, unique_jobs
from fgav.reproduce.tables import Comparison, Interval, ReproducedTable
from fgav.transfer import TransferResult

EPS = 8 / 255
# Our budgets for the paper's rows whose epsilons its text lost (documented in docs/reproduce.md).
FGSM_EPS = (8 / 255, 12 / 255, 16 / 255)
CW_EPS = (0.5, 1.0, 2.0)  # L2
SPARSE_EPS = 1.0  # the budget is k pixels within the sigma-map; no extra L-inf cap
# The budgets of the every-part audits (Tab. 4-6 read 8/255; the ASR-against-epsilon figure all).
SWEEP_EPS = (1 / 255, 2 / 255, 4 / 255, 8 / 255, 12 / 255, 16 / 255)
TAB1_AUDITS: tuple[tuple[str, tuple[float, ...]], ...] = (
    ("fgsm", (0.0, *FGSM_EPS)), ("cw", CW_EPS), ("stadv", (EPS,)), ("pgd", (EPS,)), ("sparse", (SPARSE_EPS,)))
TAB2_AUGMENTERS = ("none", "vflip", "hflip", "rotate30", "brightness", "hue", "ensemble", "gradcam",
                   "gradcam++", "scorecam", "ablationcam", "eigencam", "layercam", "sfa")
PART_NAMES = {"attribute": "Facial Attribute", "spoof_type": "Spoofing Type", "illumination": "Illumination",
              "depth": "Depth Map", "reflection": "Reflection Map", "classification": "Classification"}
Results = Mapping[str, Result]


@dataclass(frozen=True)
class Experiment:
    """One table: the jobs it reads, and the table built from their results."""

    jobs: Callable[[Setting], list[Job]]
    table: Callable[[Setting, Results], ReproducedTable]


def tab1_job(s: Setting, attack: str) -> Job:
    """The Tab. 1 audit of one attack (Tab. 3 reads its "with LBP" column from it too)."""
    eps = dict(TAB1_AUDITS)[attack]
    return Job(f"tab1-{attack}", "audit", s.main, {"attacks": [attack], "eps": list(eps),
                                                   "augmenters": ["none", "sfa", "sfa:guide"]})


def parts_job(s: Setting, backbone: str) -> Job:
    """FGSM on every part of one target at every budget of ``SWEEP_EPS``, without and with SFA.

    The main target's audit runs SFA in guide mode too (Tab. 4 shows it beside push mode).
    """
    augmenters = ["none", "sfa", "sfa:guide"] if backbone == s.main else ["none", "sfa"]
    return Job(f"parts-{safe_name(backbone)}", "audit", backbone,
               {"heads": "all", "attacks": ["fgsm"], "eps": list(SWEEP_EPS), "augmenters": augmenters})


def _audit(results: Results, key: str) -> AuditResult:
    result = results[key]
    assert isinstance(result, AuditResult), key
    return result


def _asr(result: AuditResult, **where: Any) -> float | None:
    found = result.find(**where)
    return found[0]["asr"] if found else None


def _first(found: Sequence[AuditEntry]) -> Mapping[str, Any]:
    """The first entry found, or an empty mapping (a job that did not run)."""
    return found[0] if found else {}


def _entry(result: AuditResult, **where: Any) -> AuditEntry | None:
    found = result.find(**where)
    return found[0] if found else None


def _flags(entry: Mapping[str, Any] | None) -> list[dict[str, str]]:
    """The attack-failure flags of the result a cell comes from (its mark in the table)."""
    return list((entry or {}).get("flags") or [])


def _rate(entry: Mapping[str, Any] | None) -> tuple[float | None, Interval]:
    if entry is None:
        return None, None
    interval = entry.get("asr_ci")
    return entry.get("asr"), list(interval) if isinstance(interval, (list, tuple)) else None


def _compare(row: str, a: tuple[str, Mapping[str, Any] | None], b: tuple[str, Mapping[str, Any] | None]
             ) -> list[Comparison]:
    """McNemar's test of two cells of a row, where both were measured with per-sample outcomes."""
    if a[1] is None or b[1] is None:
        return []
    try:
        return [Comparison.of(row, a[0], b[0], AuditResult.compare(a[1], b[1]))]
    except FgavError:  # a result of an older fgav, without outcomes
        return []


def _samples(result: AuditResult) -> int | None:
    return max((int(r.get("n_right_clean") or 0) for r in result.results), default=None) or None


SFA_COLUMNS = ["without SFA", "with SFA (push)", "S(x) alone", "SFA guide (equal budget)"]


def _sfa_row(result: AuditResult, row: str, **where: Any
             ) -> tuple[list[float | None], list[Interval], list[Comparison], list[list[dict[str, str]]]]:
    """Without SFA, SFA push, S(x) alone, SFA guide: the ASR of each, the tests the reading needs, the flags."""
    none = _entry(result, augmenter="none", **where)
    push = _entry(result, augmenter="sfa", **where)
    guide = _entry(result, augmenter="sfa:guide", **where)
    alone = push.get("alone") if push is not None and isinstance(push.get("alone"), dict) else None
    cells = [_rate(none), _rate(push), _rate(alone), _rate(guide)]
    tests = (_compare(row, (SFA_COLUMNS[1], push), (SFA_COLUMNS[0], none))
             + _compare(row, (SFA_COLUMNS[1], push), (SFA_COLUMNS[2], alone))
             + _compare(row, (SFA_COLUMNS[3], guide), (SFA_COLUMNS[0], none)))
    return [v for v, _ in cells], [i for _, i in cells], tests, [_flags(e) for e in (none, push, None, guide)]


def _sfa_table(table_id: str, title: str, rows: list[str], measured: list[tuple[AuditResult, dict[str, Any]]],
               theirs: list[list[float | None]], notes: list[str] | None = None) -> ReproducedTable:
    """A table of SFA_COLUMNS, one row per (result, where); the paper's two columns beside ours."""
    ours, intervals, tests, flags = [], [], [], []
    for row, (result, where) in zip(rows, measured):
        values, bounds, comparisons, cell_flags = _sfa_row(result, row, **where)
        ours.append(values)
        intervals.append(bounds)
        tests += comparisons
        flags.append(cell_flags)
    return ReproducedTable(table_id, title, list(SFA_COLUMNS), rows, ours,
                           [[*pair, None, None] for pair in theirs], list(notes or []), intervals,
                           max((_samples(r) or 0 for r, _ in measured), default=0) or None, tests, flags)


def tab1_jobs(s: Setting) -> list[Job]:
    """Tab. 1's audits: one per attack on the main target."""
    return [tab1_job(s, attack) for attack, _ in TAB1_AUDITS]


def tab1(s: Setting, results: Results) -> ReproducedTable:
    """Tab. 1: ASR of five attacks on the live/spoof decision, without SFA, with it, S(x) alone and guide."""
    rows: list[tuple[str, str, float]] = [("None", "fgsm", 0.0)]
    rows += [(f"FGSM (ε={round(e * 255)}/255)", "fgsm", e) for e in FGSM_EPS]
    rows += [(f"C&W (L2 ε={e})", "cw", e) for e in CW_EPS]
    rows += [("Spatial (stadv, ε=8/255)", "stadv", EPS), ("PGD (ε=8/255)", "pgd", EPS),
             (f"Sparse (k pixels, ε={SPARSE_EPS})", "sparse", SPARSE_EPS)]
    return _sfa_table("tab1", f"Tab. 1: ASR on the live/spoof decision of {s.main}, without and with SFA",
                      [r[0] for r in rows], [(_audit(results, f"tab1-{a}"), {"epsilon": e}) for _, a, e in rows],
                      [list(v) for v in paper.TAB1.values()],
                      ["S(x) alone: SFA's output with no attack (push mode starts every attack there); "
                       "SFA guide: the attack keeps its budget around x, SFA only steers it."])


def _tab2_augmenters(s: Setting) -> list[str]:
    installed = set(list_augmenters())
    return [a for a in TAB2_AUGMENTERS if a in installed and a not in set(s.skip_augmenters)]


def tab2_jobs(s: Setting) -> list[Job]:
    """Tab. 2's audit: FGSM on the main target with every installed augmenter."""
    return [Job("tab2", "audit", s.main, {"attacks": ["fgsm"], "eps": [EPS], "augmenters": _tab2_augmenters(s)})]


def tab2(s: Setting, results: Results) -> ReproducedTable:
    """Tab. 2: FGSM ASR with each data augmentation and CAM against SFA, each beside its S(x) alone."""
    skipped = set(s.skip_augmenters)
    available = _tab2_augmenters(s)
    missing = [a for a in TAB2_AUGMENTERS if a not in available and a not in skipped]
    result = _audit(results, "tab2")
    notes = [f"not installed, so not measured: {', '.join(missing)} (pip install plugins/fgav-augment "
             "plugins/fgav-cam)"] if missing else []
    if skipped:
        notes.append(f"skipped in this run: {', '.join(sorted(skipped))} (Score-CAM takes ~20 s an image on a CPU)")
    notes.append("S(x) alone: the augmenter's output with no attack, from which the attack starts (push mode).")
    names = [*available, *(["sfa:guide"] if "sfa" in available else [])]
    none = _entry(result, augmenter="none")
    ours, intervals, tests, flags = [], [], [], []
    for name in names:
        entry = _entry(result, augmenter=name)
        flags.append([_flags(entry), [], [], []])
        alone = entry.get("alone") if entry is not None and isinstance(entry.get("alone"), dict) else None
        (asr, ci), (alone_asr, alone_ci) = _rate(entry), _rate(alone)
        ours.append([asr, alone_asr, (entry.distortion if entry is not None else {}).get("l2"),
                     (alone or {}).get("distortion", {}).get("l2")])
        intervals.append([ci, alone_ci, None, None])
        if name != "none":
            tests += _compare(name, ("ASR", entry), ("none", none)) + _compare(name, ("ASR", entry),
                                                                             ("S(x) alone", alone))
    return ReproducedTable("tab2", f"Tab. 2: FGSM (ε=8/255) ASR of {s.main} with each augmenter",
                           ["ASR", "S(x) alone", "L2 distortion", "L2 of S(x) alone"], names, ours,
                           [[paper.TAB2.get(a), None, None, None] for a in names], notes, intervals,
                           _samples(result), tests, flags)


TAB3_ATTACKS = (("FGSM", "fgsm", FGSM_EPS[1]), ("C&W", "cw", CW_EPS[1]), ("Spatial", "stadv", EPS),
                ("PGD", "pgd", EPS), ("Sparse", "sparse", SPARSE_EPS))


def tab3_jobs(s: Setting) -> list[Job]:
    """Tab. 3's audits: each attack with SFA without its texture filter, and Tab. 1's (with it)."""
    jobs = [Job(f"tab3-{attack}", "audit", s.main, {"attacks": [attack], "eps": [eps], "augmenters": ["sfa"],
                                                     "sfa_options": {"texture": False}})
            for _, attack, eps in TAB3_ATTACKS]
    return jobs + [tab1_job(s, attack) for _, attack, _ in TAB3_ATTACKS]


TAB3_COLUMNS = ["without LBP", "S(x) alone, without LBP", "with LBP", "S(x) alone, with LBP", "SFA guide, with LBP"]


def tab3(s: Setting, results: Results) -> ReproducedTable:
    """Tab. 3: ASR with SFA without and with its LBP texture filter, each beside its S(x) alone."""
    ours, intervals, tests, flags = [], [], [], []
    samples = 0
    for label, attack, eps in TAB3_ATTACKS:
        without = _entry(_audit(results, f"tab3-{attack}"), augmenter="sfa")
        with_lbp = _entry(_audit(results, f"tab1-{attack}"), augmenter="sfa", epsilon=eps)
        guide = _entry(_audit(results, f"tab1-{attack}"), augmenter="sfa:guide", epsilon=eps)
        alone = [e.get("alone") if e is not None and isinstance(e.get("alone"), dict) else None
                 for e in (without, with_lbp)]
        cells = [_rate(without), _rate(alone[0]), _rate(with_lbp), _rate(alone[1]), _rate(guide)]
        ours.append([v for v, _ in cells])
        intervals.append([i for _, i in cells])
        flags.append([_flags(without), [], _flags(with_lbp), [], _flags(guide)])
        tests += (_compare(label, (TAB3_COLUMNS[2], with_lbp), (TAB3_COLUMNS[0], without))
                  + _compare(label, (TAB3_COLUMNS[0], without), (TAB3_COLUMNS[1], alone[0]))
                  + _compare(label, (TAB3_COLUMNS[2], with_lbp), (TAB3_COLUMNS[3], alone[1])))
        samples = max(samples, int((with_lbp.n_right_clean if with_lbp is not None else 0) or 0))
    return ReproducedTable("tab3", f"Tab. 3: ASR of {s.main} with SFA, without and with the LBP texture filter",
                           list(TAB3_COLUMNS), [a[0] for a in TAB3_ATTACKS], ours,
                           [[paper.TAB3[a[0]][0], None, paper.TAB3[a[0]][1], None, None] for a in TAB3_ATTACKS],
                           ["Guide mode was measured with the texture filter only (Tab. 1's audits)."], intervals,
                           samples or None, tests, flags)


def tab4_jobs(s: Setting) -> list[Job]:
    """Tab. 4's audit: FGSM on every part of the main target."""
    return [parts_job(s, s.main)]


def tab4(s: Setting, results: Results) -> ReproducedTable:
    """Tab. 4: FGSM ASR when each part is attacked, without SFA, with it, S(x) alone and guide."""
    result = _audit(results, parts_job(s, s.main).key)
    parts = [p for p in paper.PARTS if result.find(part=p)]
    return _sfa_table("tab4", f"Tab. 4: FGSM (ε=8/255) ASR of {s.main} when each part is attacked",
                      [PART_NAMES[p] for p in parts], [(result, {"part": p, "epsilon": EPS}) for p in parts],
                      [list(paper.TAB4[p]) for p in parts])


def backbone_jobs(s: Setting) -> list[Job]:
    """Tab. 5's and Tab. 6's audits: FGSM on every part of every target."""
    return [parts_job(s, name) for name in s.targets]


def _backbone_audits(s: Setting, results: Results) -> dict[str, AuditResult]:
    return {name: _audit(results, parts_job(s, name).key) for name in s.targets}


def _paper_column(name: str) -> int | None:
    return paper.BACKBONES.index(name) if name in paper.BACKBONES else None


def tab5(s: Setting, results: Results) -> ReproducedTable:
    """Tab. 5: every backbone's live/spoof accuracy when each part is attacked (FGSM, SFA)."""
    audits = _backbone_audits(s, results)
    names = list(s.targets)
    rows = ["Original accuracy", *[PART_NAMES[p] for p in paper.PARTS]]
    first = {n: audits[n].find(part="classification", augmenter="sfa", epsilon=EPS) for n in names}
    ours = [[first[n][0]["clean_accuracy"].get("classification") if first[n] else None for n in names]]
    ours += [[_first(audits[n].find(part=p, augmenter="sfa", epsilon=EPS)).get("accuracy", {})
              .get("classification")
              for n in names] for p in paper.PARTS]
    cols = [_paper_column(n) for n in names]
    theirs = [[paper.TAB5_CLEAN.get(n) for n in names]]
    theirs += [[paper.TAB5[p][c] if c is not None else None for c in cols] for p in paper.PARTS]
    return ReproducedTable("tab5", "Tab. 5: live/spoof accuracy under FGSM (ε=8/255, with SFA) on each part",
                           names, rows, ours, theirs)


def tab6(s: Setting, results: Results) -> ReproducedTable:
    """Tab. 6: change of each part when the live/spoof decision is attacked (FGSM, no SFA)."""
    audits = _backbone_audits(s, results)
    names = list(s.targets)
    parts = [p for p in paper.PARTS if p != "classification"]
    ours = [[_first(audits[n].find(part="classification", augmenter="none", epsilon=EPS)).get("change", {})
             .get(p)
             for n in names] for p in parts]
    cols = [_paper_column(n) for n in names]
    theirs = [[paper.TAB6[p][c] if c is not None else None for c in cols] for p in parts]
    return ReproducedTable("tab6", "Tab. 6: change ||f(x')-f(x)||²/||f(x)||² of each part under FGSM on the "
                           "live/spoof decision", names, [PART_NAMES[p] for p in parts], ours, theirs,
                           ["The paper normalizes the MSE by the outputs' L2 norm without saying how exactly; "
                            "compare the ordering, not the scale."])


def tab7_jobs(s: Setting) -> list[Job]:
    """Tab. 7's job: the transfer matrix among every target."""
    return [Job("tab7", "transfer", None, {"attack": "fgsm", "eps": EPS, "augmenters": ["none", "sfa"]})]


def tab7(s: Setting, results: Results) -> ReproducedTable:
    """Tab. 7: accuracy of each target on FGSM examples crafted on each source, without and with SFA."""
    result = results["tab7"]
    assert isinstance(result, TransferResult)
    names = list(s.targets)
    columns = [f"{t} ({g})" for t in names for g in ("none", "sfa")]
    rows = ["Original accuracy", *names]
    ours: list[list[float | None]] = [[result.clean_accuracy[t] for t in names for _ in range(2)]]
    ours += [[result.accuracy(src, t, g) for t in names for g in ("none", "sfa")] for src in names]
    cols = [_paper_column(n) for n in names]
    theirs = [[paper.TAB5_CLEAN.get(t) for t in names for _ in range(2)]]
    for src in names:
        row = paper.TAB7.get(src)
        theirs.append([row[c][k] if row is not None and c is not None else None for c in cols for k in range(2)])
    return ReproducedTable("tab7", "Tab. 7: live/spoof accuracy of each target (columns) on FGSM (ε=8/255) "
                           "examples crafted on each source (rows)", columns, rows, ours, theirs)


EXPERIMENTS: dict[str, Experiment] = {
    "tab1": Experiment(tab1_jobs, tab1), "tab2": Experiment(tab2_jobs, tab2), "tab3": Experiment(tab3_jobs, tab3),
    "tab4": Experiment(tab4_jobs, tab4), "tab5": Experiment(backbone_jobs, tab5),
    "tab6": Experiment(backbone_jobs, tab6), "tab7": Experiment(tab7_jobs, tab7),
}
# Experiments beyond the paper's seven (no paper figure): run only when named (--only).
EXTRAS: dict[str, Experiment] = {"harden": Experiment(hardening_jobs, hardening_table)}
EXPERIMENTS.update(EXTRAS)


def names(selected: Sequence[str] | None) -> list[str]:
    """The experiments to run (the paper's seven by default), in order."""
    if not selected:
        return [n for n in EXPERIMENTS if n not in EXTRAS]
    return [n for n in EXPERIMENTS if n in set(selected)]


def plan(s: Setting, selected: Sequence[str]) -> list[Job]:
    """Every job the selected experiments read, each once, in the order the tables need them."""
    return unique_jobs([job for name in selected for job in EXPERIMENTS[name].jobs(s)])
