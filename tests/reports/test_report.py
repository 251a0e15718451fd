"""fgav.reports: audit and transfer results as Markdown (with PNG figures) and one self-contained HTML page."""

from __future__ import annotations

import base64
import io
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from fgav.auditing.result import AuditResult
from fgav.core.errors import FgavError
from fgav.reports import build_report, load_result, render_html, write_report
from fgav.transfer import TransferResult

EVIL = "<script>alert(1)</script>"
PARTS = ("depth", EVIL)
AUGMENTERS = ("none", "sfa")
EPSILONS = (4 / 255, 8 / 255)


def _ci(value: float | None) -> list[float] | None:
    return None if value is None else [value - 0.1, value + 0.1]


def _rate(value: float | None) -> str:
    """A rate over 12-16 samples as the report prints it: two decimals and the interval."""
    return "-" if value is None else f"{value:.2f} [{value - 0.1:.2f}, {value + 0.1:.2f}]"


def _entry(p: int, a: int, e: int) -> dict[str, Any]:
    """One result whose every figure is distinct and depends on (part, augmenter, epsilon)."""
    code = 0.01 * (1 + p * 4 + a * 2 + e)  # 0.01 .. 0.08
    asr = None if (p, a, e) == (1, 1, 0) else 0.5 + code
    accuracy = {"classification": 0.25 + code, "spoof_type": 0.125 + code}
    entry = {
        "part": PARTS[p], "attack": "fgsm", "epsilon": EPSILONS[e], "augmenter": AUGMENTERS[a], "mode": "push",
        "n": 16, "n_right_clean": 12, "asr": asr, "asr_ci": _ci(asr),
        "n_scored": {"classification": 16, "spoof_type": 16},
        "clean_accuracy": {"classification": 0.75, "spoof_type": 0.625},
        "clean_accuracy_ci": {"classification": _ci(0.75), "spoof_type": _ci(0.625)},
        "accuracy": accuracy, "accuracy_ci": {k: _ci(v) for k, v in accuracy.items()},
        "change": {"depth": 1.0 + code, "classification": 2.0 + code},
        "distortion": {"linf": EPSILONS[e], "l2": 0.3 + code, "l0": 1000.0 + p},
        "fas": {"APCER": 0.1 + code, "BPCER": 0.2 + code, "ACER": 0.15 + code, "AUC": 0.9 - code},
        "fas_ci": {"APCER": _ci(0.1 + code), "BPCER": _ci(0.2 + code)},
        "breakdown": {"spoof_type": {"Live": {"asr": 0.3 + code, "asr_ci": _ci(0.3 + code), "n_right_clean": 7},
                                     "Photo": {"asr": 0.4 + code, "asr_ci": _ci(0.4 + code), "n_right_clean": 5}}},
        # 16 samples, 12 right when clean; without SFA 6 flipped, with SFA those 6 and 6 more (for p = 0).
        "outcomes": "----" + ("111111000000" if a == 0 else "111111111111"),
        "early_stop": True, "attack_options": {}, "flags": [],
    }
    if AUGMENTERS[a] == "sfa":
        entry["alone"] = {"asr": 0.25, "asr_ci": [0.09, 0.53], "n_flipped": 3,
                          "distortion": {"linf": 0.09, "l2": 1.5, "l0": 4000.0}, "outcomes": "----" + "111" + "0" * 9}
    if (p, a, e) == (0, 0, 1):
        entry["flags"] = [{"code": "not-monotone", "message": "ASR falls as ε grows"}]
    return entry


def audit_result(epsilons: int = 2) -> AuditResult:
    results = [_entry(p, a, e) for p in range(2) for e in range(epsilons) for a in range(2)]
    config = {"model": {"backbone": "resnet18", "heads": ["classification", "spoof_type", "depth"], "image_size": 64},
              "data": "synth", "split": "test", "attacks": ["fgsm"], "epsilons": list(EPSILONS[:epsilons]),
              "augmenters": list(AUGMENTERS), "seed": 0, "device": "cpu", "seconds": 12.5}
    return AuditResult(results, config, notes=["part 'reflection' skipped: <no ground truth>"],
                       skipped=["Data/test/1/live/<bad>.jpg"])


def transfer_result() -> TransferResult:
    entries = [{"source": s, "target": t, "augmenter": a, "epsilon": 8 / 255, "n": 32,
                "accuracy": None if (s, t, a) == ("swin", "vgg13", "sfa") else 0.1 * (i + 1) + 0.0123}
               for i, (s, t, a) in enumerate((s, t, a) for s in ("vgg13", "swin") for t in ("vgg13", "swin")
                                            for a in AUGMENTERS)]
    return TransferResult(entries, {"vgg13": 0.9375, "swin": 0.875},
                          {"models": {"vgg13": "runs/vgg13", "swin": "runs/swin"}, "attack": "fgsm",
                           "epsilons": [8 / 255], "augmenters": list(AUGMENTERS), "device": "cpu", "seconds": 3.0})


def md_table(text: str, title: str) -> list[list[str]]:
    """The cells of the Markdown table under ``### title`` (header first, separator dropped)."""
    lines = text.splitlines()
    start = lines.index(f"### {title}") + 2
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        rows.append([c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", line.strip()[1:-1])])
    return [rows[0], *rows[2:]]


def by_label(rows: list[list[str]], *labels: str) -> list[str]:
    hits = [r for r in rows if r[:len(labels)] == list(labels)]
    assert len(hits) == 1, (labels, rows)
    return hits[0]


def pngs_in(html: str) -> list[Image.Image]:
    return [Image.open(io.BytesIO(base64.b64decode(data)))
            for data in re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)]


def test_audit_markdown_holds_every_table_with_the_right_numbers(tmp_path: Path) -> None:
    result = audit_result()
    (tmp_path / "r.json").write_text(result.to_json())
    write_report(tmp_path / "r.json", markdown=tmp_path / "r.md")
    text = (tmp_path / "r.md").read_text()
    evil = "&lt;script>alert(1)&lt;/script>"
    for e, eps in enumerate(("4/255", "8/255")):
        main = md_table(text, f"Attack success rate and accuracy under attack: fgsm, ε = {eps}")
        flagged = e == 1
        assert main[0] == ["Attacked part", "Augmenter", "ASR", "Accuracy · Classification",
                           "Accuracy · Spoofing Type", *(["Flags"] if flagged else [])]
        assert by_label(main, "Clean")[3:5] == [_rate(0.75), _rate(0.625)]
        assert by_label(main, "S(x) alone", "sfa")[2] == "0.25 [0.09, 0.53]"
        change = md_table(text, f"Change of each part: fgsm, ε = {eps}")
        for p, label in enumerate(("Depth Map", evil)):
            for a, aug in enumerate(AUGMENTERS):
                code = 0.01 * (1 + p * 4 + a * 2 + e)
                asr = None if (p, a, e) == (1, 1, 0) else 0.5 + code
                row = by_label(main, label, aug)
                assert row[2:5] == [_rate(asr), _rate(0.25 + code), _rate(0.125 + code)]
                assert row[5:] == (["1" if (p, a) == (0, 0) else ""] if flagged else [])
                assert by_label(change, label, aug)[2:] == [f"{1 + code:.4f}", f"{2 + code:.4f}"]
    assert "Flags: [1] not-monotone: ASR falls as ε grows" in text
    distortion = md_table(text, "Distortion")
    assert distortion[0] == ["Attacked part", "ε", "Augmenter", "L∞", "L2", "L0 (pixels)"]
    assert by_label(distortion, evil, "8/255", "sfa")[3:] == ["0.0314", f"{0.3 + 0.08:.4f}", "1001.0"]
    assert by_label(distortion, "S(x) alone", "0", "sfa")[3:] == ["0.0900", "1.5000", "4000.0"]
    fas = md_table(text, "FAS metrics")
    assert by_label(fas, "Depth Map", "4/255", "none")[3:] == [_rate(0.11), _rate(0.21), "0.16", "0.89"]
    breakdown = md_table(text, "ASR by spoof type")
    assert breakdown[0][-2:] == ["Live", "Photo"]
    assert by_label(breakdown, "n right when clean")[-2:] == ["7", "5"]
    assert by_label(breakdown, "Depth Map", "8/255", "sfa")[-2:] == [_rate(0.34), _rate(0.44)]
    paired = md_table(text, "Paired comparisons of the ASR")
    # 6 samples flipped only with SFA: exact p = 2 * 0.5^6 = 0.031; SFA against S(x) alone: 9 vs 0.
    assert by_label(paired, "Depth Map", "4/255", "sfa", "none")[6:] == ["6 / 0", "0.031", "higher"]
    assert by_label(paired, "Depth Map", "4/255", "sfa", "S(x) alone (sfa)")[6:] == ["9 / 0", "0.0039", "higher"]
    assert "| Epsilons | 4/255, 8/255 |" in text and "| Seconds | 12.5 |" in text
    assert "- part 'reflection' skipped: &lt;no ground truth>" in text
    assert EVIL not in text


def test_audit_figures_are_written_beside_the_markdown_and_linked(tmp_path: Path) -> None:
    written = write_report(audit_result(), markdown=tmp_path / "out" / "r.md")
    folder = tmp_path / "out" / "r_figures"
    assert sorted(p.name for p in folder.iterdir()) == ["asr-per-part-fgsm.png", "asr-vs-eps-fgsm.png"]
    text = (tmp_path / "out" / "r.md").read_text()
    for png in folder.iterdir():
        assert f"](r_figures/{png.name})" in text and png in written
        image = Image.open(png)
        assert image.width > 600 and image.height > 300
        assert len(image.convert("RGB").getcolors(1 << 20) or []) > 20  # lines, bars and text, not a blank
    # One epsilon: no line against epsilon, the bar chart stays.
    write_report(audit_result(epsilons=1), markdown=tmp_path / "one.md")
    assert [p.name for p in (tmp_path / "one_figures").iterdir()] == ["asr-per-part-fgsm.png"]


def test_html_is_self_contained_holds_every_table_and_escapes_the_json(tmp_path: Path) -> None:
    result = audit_result()
    report = build_report(result)
    html = render_html(report)
    assert html.count("<table>") == len(report.tables()) == 2 + 2 + 1 + 1 + 1 + 1
    for table in report.tables():
        assert f"<caption>{table.title.replace(chr(39), '&#x27;')}</caption>" in html
    assert "<script" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;no ground truth&gt;" in html and "&lt;bad&gt;.jpg" in html
    images = pngs_in(html)
    assert len(images) == len(report.figures()) == 2 and all(i.format == "PNG" for i in images)
    assert not re.search(r'(src|href)="(?!data:|#)', html) and "<link" not in html and "url(" not in html
    write_report(result, html=tmp_path / "r.html")
    assert (tmp_path / "r.html").read_text() == html
    assert [p.name for p in tmp_path.iterdir()] == ["r.html"]  # no temporary file left behind


def test_transfer_report_lays_the_matrix_out_like_tab7(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    transfer_result().to_json(path)
    assert isinstance(load_result(path), TransferResult)
    write_report(path, html=tmp_path / "t.html", markdown=tmp_path / "t.md")
    rows = md_table((tmp_path / "t.md").read_text(),
                    "Live/spoof accuracy of each target on each source's examples, ε = 8/255")
    assert rows[0] == ["Source model", "Target: vgg13 · none", "Target: vgg13 · sfa", "Target: swin · none",
                       "Target: swin · sfa"]
    assert rows[1] == ["Original accuracy", "0.9375", "0.9375", "0.8750", "0.8750"]
    assert rows[2] == ["vgg13", "0.1123", "0.2123", "0.3123", "0.4123"]
    assert rows[3] == ["swin", "0.5123", "-", "0.7123", "0.8123"]
    html = (tmp_path / "t.html").read_text()
    assert html.count("<table>") == 1 and 'colspan="2"' in html
    (heat,) = pngs_in(html)
    assert heat.width > 400 and len(heat.convert("RGB").getcolors(1 << 20) or []) > 20
    assert (tmp_path / "t_figures" / "transfer.png").is_file()


@pytest.mark.parametrize("payload", [{"a": 1}, [1, 2], {"kind": "transfer", "results": [{"x": 1}]},
                                     {"results": [{"part": "depth"}]}])
def test_unknown_json_is_a_one_line_error_naming_the_file(tmp_path: Path, payload: Any) -> None:
    path = tmp_path / "odd.json"
    path.write_text(json.dumps(payload))
    with pytest.raises(FgavError, match="odd.json is neither an audit nor a transfer result") as info:
        write_report(path, html=tmp_path / "r.html")
    assert "\n" not in str(info.value) and not (tmp_path / "r.html").exists()


def test_missing_and_broken_files_are_one_line_errors(tmp_path: Path) -> None:
    with pytest.raises(FgavError, match="no such result file: .*gone.json"):
        load_result(tmp_path / "gone.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(FgavError, match=r"bad.json is not JSON \("):
        load_result(tmp_path / "bad.json")


def test_an_audit_json_loads_back_as_an_audit_result(tmp_path: Path) -> None:
    result = audit_result()
    result.to_json(tmp_path / "a.json")
    loaded = load_result(tmp_path / "a.json")
    assert isinstance(loaded, AuditResult)
    assert loaded.results == json.loads(result.to_json())["results"] and loaded.skipped == result.skipped
    assert loaded.config["seconds"] == 12.5 and loaded.notes == result.notes


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not on PATH (apt-get install chromium): "
                                             "the HTML is not rendered")
def test_html_renders_in_headless_chromium(tmp_path: Path) -> None:
    write_report(audit_result(), html=tmp_path / "r.html")
    shot = tmp_path / "shot.png"
    command = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={shot}", "--window-size=1200,2000",
               (tmp_path / "r.html").as_uri()]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert shot.is_file(), done.stderr[-2000:]
    image = Image.open(shot).convert("RGB")
    assert image.size == (1200, 2000)
    colours = image.getcolors(1 << 22) or []
    assert len(colours) > 50  # text, tables and the embedded plots' palette, not a blank page
    # The page is drawn top to bottom: the title's dark ink near the top, a figure's colours further down.
    top = image.crop((0, 0, 1200, 120)).convert("L")
    assert top.getextrema()[0] < 80
    blue = sum(n for n, (r, g, b) in colours if b > 150 and r < 40 and 90 < g < 140)  # Okabe-Ito blue
    assert blue > 200
