"""``fgav.core.progress``: a bar on a terminal, plain lines with the time left elsewhere."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

import fgav.core.progress as progress
from fgav.core.progress import PlainLines, Silent, format_duration, progress_display


def test_durations_read_as_a_person_reads_them() -> None:
    assert format_duration(4.2) == "4 s"
    assert format_duration(200) == "3 min 20 s"
    assert format_duration(3900) == "1 h 05 min"
    assert format_duration(-3) == "0 s"


def _log() -> Console:
    return Console(file=io.StringIO(), width=200, force_terminal=False)


def test_a_log_gets_plain_lines_with_the_time_left(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [100.0]
    monkeypatch.setattr(progress.time, "monotonic", lambda: clock[0])
    console = _log()
    with progress_display(console=console) as display:
        assert isinstance(display, PlainLines)
        task = display.add_task("train epoch 1/2", total=100)
        clock[0] += 5  # within the interval: nothing printed yet
        display.update(task, completed=10, info="loss 0.5")
        assert console.file.getvalue() == ""
        clock[0] += 15  # 20 s for 25 of 100: 60 s left at that rate
        display.update(task, completed=25, info="loss 0.4")
        display.update(task, completed=100, description="train epoch 2/2")
    lines = console.file.getvalue().splitlines()
    assert lines[0] == "train epoch 1/2: 25/100 (25%), 20 s elapsed, about 1 min 00 s left, loss 0.4"
    assert lines[1].startswith("train epoch 2/2: 100/100 (100%)") and "left" not in lines[1]
    assert len(lines) == 2  # the end of a task is said once


def test_the_interval_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FGAV_PROGRESS_SECONDS", "0")
    console = _log()
    with progress_display(console=console) as display:
        task = display.add_task("audit", total=4)
        for _ in range(3):
            display.advance(task, 1)
    assert len(console.file.getvalue().splitlines()) == 3


def test_an_open_ended_task_has_no_estimate(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FGAV_PROGRESS_SECONDS", "0")
    console = _log()
    with progress_display(console=console) as display:
        task = display.add_task("train SFA", total=None)
        display.update(task, completed=3, info="loss 1.0")
    assert console.file.getvalue().startswith("train SFA: 3, ") and "left" not in console.file.getvalue()


def test_disabled_is_silent_and_a_terminal_gets_a_bar() -> None:
    with progress_display(enabled=False) as display:
        assert isinstance(display, Silent)
    terminal = Console(file=io.StringIO(), width=120, force_terminal=True)
    with progress_display(console=terminal) as display:
        task = display.add_task("audit", total=2)
        display.update(task, completed=2)
    assert "audit" in terminal.file.getvalue()
