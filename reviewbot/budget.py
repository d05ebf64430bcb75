"""Time budgets for the review's in-process stages (parse, apply, rules).

`with budget("rules", 120.0): ...` raises BudgetExceeded in the block when it runs
longer than its budget. In the main thread a SIGALRM timer interrupts the Python code of
the stage (nested budgets keep the earliest deadline); elsewhere (a service's worker
thread, where signals cannot be delivered) the check is cooperative: `check()` raises
once the deadline has passed, and the engine calls it between rules and files.

A timer interrupts Python code, not one long C call: a regex that backtracks
exponentially is not stopped by a budget, which is why every pattern run on patch text
must stay linear (tests/hostile checks the known worst cases).
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from reviewbot.errors import UserInputError


class BudgetExceeded(UserInputError):
    """A stage ran past its time budget on this input (the input's fault: a finding)."""

    def __init__(self, stage: str, seconds: float) -> None:
        super().__init__(f"{stage} took longer than its budget of {seconds:g} s")
        self.stage = stage
        self.seconds = seconds


_local = threading.local()


def _stack() -> list[tuple[str, float, float]]:
    stack: list[tuple[str, float, float]] | None = getattr(_local, "stack", None)
    if stack is None:
        stack = _local.stack = []
    return stack


def _expired() -> tuple[str, float, float] | None:
    now = time.monotonic()
    due = [entry for entry in _stack() if entry[2] <= now]
    return min(due, key=lambda entry: entry[2]) if due else None


def check() -> None:
    """Raise BudgetExceeded when a budget of this thread has run out."""
    entry = _expired()
    if entry is not None:
        raise BudgetExceeded(entry[0], entry[1])


def _on_alarm(signum: int, frame: FrameType | None) -> None:
    entry = _expired()
    if entry is not None:
        # Fire again soon: code that swallows exceptions (`except Exception`) cannot
        # keep a stage running past its budget.
        signal.setitimer(signal.ITIMER_REAL, 0.1)
        raise BudgetExceeded(entry[0], entry[1])
    _arm()  # woken early (a budget was left): wait for the next deadline


def _arm() -> None:
    stack = _stack()
    if not stack:
        signal.setitimer(signal.ITIMER_REAL, 0)
        return
    left = min(entry[2] for entry in stack) - time.monotonic()
    signal.setitimer(signal.ITIMER_REAL, max(left, 0.001))


@contextmanager
def budget(stage: str, seconds: float) -> Iterator[None]:
    """Bound the block to seconds of wall-clock time (see the module docstring)."""
    stack = _stack()
    entry = (stage, seconds, time.monotonic() + seconds)
    main = threading.current_thread() is threading.main_thread()
    previous = signal.getsignal(signal.SIGALRM) if main else None
    if main and previous not in (_on_alarm, signal.SIG_DFL, signal.SIG_IGN, None):
        main = False  # someone else owns SIGALRM: stay cooperative
    stack.append(entry)
    try:
        if main:
            signal.signal(signal.SIGALRM, _on_alarm)
            _arm()
        yield
        check()  # a stage that swallowed the interruption still ends as over budget
    finally:
        stack.remove(entry)
        if main:
            _arm()
            if not stack:
                signal.signal(signal.SIGALRM, previous or signal.SIG_DFL)
