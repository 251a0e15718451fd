"""Progress of every long phase (rendering, training, SFA, the audit), on a terminal or in a log.

On a terminal each phase gets a rich bar whose estimate covers the whole phase. Where
the output is not a terminal (a log file, CI, ``nohup``) a bar would print nothing
until the end, so the same calls print a plain line every few seconds instead
(``FGAV_PROGRESS_SECONDS``, default 10) and one when the phase ends.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

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

DEFAULT_INTERVAL_S = 10.0


class ProgressLike(Protocol):
    """The part of rich's ``Progress`` that fgav's phases use."""

    def add_task(self, description: str, *, total: float | None = ..., **fields: Any) -> TaskID: ...

    def update(self, task_id: TaskID, **changes: Any) -> None: ...

    def reset(self, task_id: TaskID, **changes: Any) -> None: ...

    def advance(self, task_id: TaskID, advance: float = 1) -> None: ...


def format_duration(seconds: float) -> str:
    """A duration as a person reads it: ``45 s``, ``3 min 20 s``, ``1 h 05 min``."""
    seconds = max(0.0, float(seconds))
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


class Silent:
    """A stand-in for a progress display that shows nothing."""

    def add_task(self, description: str, *, total: float | None = None, **fields: Any) -> TaskID:
        return TaskID(0)

    def update(self, task_id: TaskID, **changes: Any) -> None:
        return None

    def reset(self, task_id: TaskID, **changes: Any) -> None:
        return None

    def advance(self, task_id: TaskID, advance: float = 1) -> None:
        return None


@dataclass
class _Task:
    description: str
    total: float | None
    completed: float = 0.0
    fields: dict[str, Any] = field(default_factory=dict)
    started: float = field(default_factory=lambda: time.monotonic())
    last_line: float = field(default_factory=lambda: time.monotonic())
    finished: bool = False


class PlainLines:
    """Progress as plain lines, one every ``interval`` seconds and one at the end of each task.

    Each line says what is done, the elapsed time and, once anything is done, the time
    left for the whole task at the rate so far.
    """

    def __init__(self, console: Console, *, interval: float | None = None) -> None:
        self.console = console
        env = os.environ.get("FGAV_PROGRESS_SECONDS")
        self.interval = float(env) if interval is None and env else (interval or DEFAULT_INTERVAL_S)
        self.tasks: list[_Task] = []

    def add_task(self, description: str, *, total: float | None = None, **fields: Any) -> TaskID:
        self.tasks.append(_Task(description, total, fields=dict(fields)))
        return TaskID(len(self.tasks) - 1)

    def update(self, task_id: TaskID, **changes: Any) -> None:
        task = self.tasks[task_id]
        self._apply(task, changes)
        now = time.monotonic()
        done = task.total is not None and task.completed >= task.total
        if done and not task.finished:
            task.finished = True
            self._line(task, now)
        elif now - task.last_line >= self.interval:
            self._line(task, now)

    def reset(self, task_id: TaskID, **changes: Any) -> None:
        task = self.tasks[task_id]
        task.completed, task.started, task.finished = 0.0, time.monotonic(), False
        self._apply(task, changes)

    def advance(self, task_id: TaskID, advance: float = 1) -> None:
        self.update(task_id, completed=self.tasks[task_id].completed + advance)

    @staticmethod
    def _apply(task: _Task, changes: dict[str, Any]) -> None:
        for key in ("completed", "total", "description"):
            if key in changes and changes[key] is not None:
                setattr(task, key, changes.pop(key))
        changes.pop("advance", None)
        task.fields.update(changes)

    def _line(self, task: _Task, now: float) -> None:
        task.last_line = now
        elapsed = now - task.started
        total = f"/{task.total:.0f}" if task.total is not None else ""
        parts = [f"{task.description}: {task.completed:.0f}{total}"]
        if task.total:
            parts[0] += f" ({100 * task.completed / task.total:.0f}%)"
        parts.append(f"{format_duration(elapsed)} elapsed")
        if task.total and 0 < task.completed < task.total:
            left = elapsed * (task.total - task.completed) / task.completed
            parts.append(f"about {format_duration(left)} left")
        info = task.fields.get("info")
        if info:
            parts.append(str(info).strip())
        self.console.print(", ".join(parts), highlight=False, soft_wrap=True)


@contextlib.contextmanager
def progress_display(*, enabled: bool = True, console: Console | None = None) -> Iterator[ProgressLike]:
    """A progress display for one or more tasks: a rich bar, plain lines, or nothing.

    The bar shows each task's description, completed/total, its ``info`` field, the
    elapsed time and the time left for the whole task.

    Args:
        enabled: ``False`` gives a silent display (other ranks, ``progress=False``).
        console: where it goes (default stderr); plain lines where it is no terminal.
    """
    if not enabled:
        yield Silent()
        return
    console = console or Console(stderr=True)
    if not console.is_terminal:
        yield PlainLines(console)
        return
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[info]}"),
        TimeElapsedColumn(),
        TextColumn("left"),
        TimeRemainingColumn(),
    )
    with _InfoDefault(*columns, console=console, transient=False) as progress:
        yield progress


class _InfoDefault(Progress):
    """A rich Progress whose tasks always have an ``info`` field (the column reads it)."""

    def add_task(self, description: str, start: bool = True, total: float | None = 100.0,
                 completed: int = 0, visible: bool = True, **fields: Any) -> TaskID:
        fields.setdefault("info", "")
        return super().add_task(description, start=start, total=total, completed=completed, visible=visible,
                                **fields)


__all__ = ["PlainLines", "ProgressLike", "Silent", "format_duration", "progress_display"]
