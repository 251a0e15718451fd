"""Reports a person wants to read: any audit or transfer JSON as one HTML page and as Markdown.

```python
from fgav.reports import write_report
write_report("r.json", html="r.html", markdown="r.md")   # r.md links r_figures/*.png
```
"""

from __future__ import annotations

from fgav.reports.writing import (
    Figure,
    Report,
    Section,
    Table,
    build_report,
    figures_dir_for,
    load_result,
    render_html,
    render_markdown,
    write_report,
)

__all__ = [
    "Figure",
    "Report",
    "Section",
    "Table",
    "build_report",
    "figures_dir_for",
    "load_result",
    "render_html",
    "render_markdown",
    "write_report",
]
