"""Reports a person wants to read: any audit or transfer JSON as one HTML page and as Markdown.

```python
from fgav.reports import write_report
write_report("r.json", html="r.html", markdown="r.md")   # r.md links r_figures/*.png
```
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fgav.auditing.result import AuditResult
from fgav.core.errors import FgavError
from fgav.core.io import write_atomically
from fgav.reports.audit import audit_report
from fgav.reports.document import Figure, Report, Section, Table
from fgav.reports.html import render_html
from fgav.reports.markdown import render_markdown
from fgav.reports.transfer import transfer_report
from fgav.transfer import TransferResult

__all__ = ["Figure", "Report", "Section", "Table", "build_report", "figures_dir_for", "load_result",
           "render_html", "render_markdown", "write_report"]


def _is_audit(payload: dict[str, Any]) -> bool:
    results = payload.get("results")
    return (payload.get("kind", "audit") == "audit" and isinstance(results, list)
            and isinstance(payload.get("config", {}), dict)
            and all(isinstance(r, dict) and "part" in r and "asr" in r for r in results)
            and ("schema" in payload or bool(results)))


def _is_transfer(payload: dict[str, Any]) -> bool:
    return (payload.get("kind") == "transfer" and isinstance(payload.get("results"), list)
            and isinstance(payload.get("clean_accuracy", {}), dict)
            and all(isinstance(e, dict) and {"source", "target"} <= set(e) for e in payload["results"]))


def load_result(path: str | Path) -> AuditResult | TransferResult:
    """Read an audit or transfer JSON; anything else is a one-line :class:`FgavError` naming the file."""
    path = Path(path)
    if not path.is_file():
        raise FgavError(f"no such result file: {path}")
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FgavError(f"{path} is not JSON ({str(exc).splitlines()[0]})") from None
    except OSError as exc:
        raise FgavError(f"cannot read {path}: {exc.strerror or exc}") from None
    if isinstance(payload, dict) and _is_transfer(payload):
        return TransferResult(payload["results"], dict(payload.get("clean_accuracy") or {}),
                              dict(payload.get("config") or {}), list(payload.get("skipped") or []))
    if isinstance(payload, dict) and _is_audit(payload):
        return AuditResult.from_dict(payload)
    raise FgavError(f"{path} is neither an audit nor a transfer result (fgav audit --json or fgav transfer --json)")


def build_report(result: AuditResult | TransferResult, *, source: str = "") -> Report:
    """The report of a result (figures drawn here); ``source`` names where it came from."""
    if isinstance(result, TransferResult):
        return transfer_report(result, source=source)
    if isinstance(result, AuditResult):
        return audit_report(result, source=source)
    raise FgavError(f"cannot report a {type(result).__name__}: give an AuditResult or a TransferResult")


def figures_dir_for(markdown: str | Path) -> Path:
    """The folder beside a Markdown file that holds its figures: ``r.md`` -> ``r_figures``."""
    markdown = Path(markdown)
    return markdown.with_name(f"{markdown.stem}_figures")


def write_report(
    result: AuditResult | TransferResult | str | Path,
    *,
    html: str | Path | None = None,
    markdown: str | Path | None = None,
) -> list[Path]:
    """Write the report of ``result`` (or of the JSON file it names); returns the files written.

    Args:
        result: an :class:`AuditResult`, a :class:`TransferResult`, or the path of either's JSON.
        html: write one self-contained HTML page here (figures embedded as data URIs).
        markdown: write Markdown here, its figures as PNG files in ``<stem>_figures/`` beside it.
    """
    source = ""
    if isinstance(result, (str, Path)):
        source = str(result)
        result = load_result(result)
    report = build_report(result, source=source)
    written: list[Path] = []
    try:
        if html is not None:
            written.append(write_atomically(html, render_html(report)))
        if markdown is not None:
            folder = figures_dir_for(markdown)
            if report.figures():
                folder.mkdir(parents=True, exist_ok=True)
                for figure in report.figures():
                    target = folder / f"{figure.name}.png"
                    write_atomically(target, figure.png)
                    written.append(target)
            written.append(write_atomically(markdown, render_markdown(report, figures_dir=folder.name)))
    except OSError as exc:
        raise FgavError(f"cannot write the report: {exc.strerror or exc} ({exc.filename or ''})") from None
    return written
