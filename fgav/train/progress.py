"""The rich progress bars of training and evaluation (rank 0 only)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


class _Silent:
    """A stand-in for a rich Progress that shows nothing."""

    def add_task(self, *args: object, **kwargs: object) -> TaskID:
        return TaskID(0)

    def update(self, *args: object, **kwargs: object) -> None:
        return None

    def reset(self, *args: object, **kwargs: object) -> None:
        return None


@contextlib.contextmanager
def progress_bar(*, enabled: bool, console: Console | None = None) -> Iterator[Progress | _Silent]:
    """A progress bar with a loss and an images/s field, or a silent stand-in."""
    if not enabled:
        yield _Silent()
        return
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[info]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console or Console(stderr=True), transient=False) as progress:
        yield progress
