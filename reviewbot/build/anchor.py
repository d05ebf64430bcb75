"""Where a build finding points in the patch, and the output lines it quotes (pure).

A diagnostic in a file the patch changed keeps its file and line (on an added line that is
the line that caused it; with no line, the file's first changed line). A link error about
symbols points at the changed line that names one of them (`naming_line`). Anything else
(a user of a changed header, a linker or modpost error, a failed command) points at the
first changed line of the file whose change the step exercises (BuildStep.cause), or of
the patch's first changed file.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from reviewbot.analysis.diff import ChangeKind, FileChange
from reviewbot.build.model import Diagnostic

MAX_OUTPUT_LINES = 6
# Errors and warnings, and Kconfig's own located messages: a toolchain probe's
# `$(error-if,...)` prints "scripts/Kconfig.include:57: Sorry, this linker is not supported."
_RELEVANT = re.compile(r"error|warning|undefined|\*\*\*|^\S*Kconfig[\w.-]*:\d+: ", re.I)
_NOISE = re.compile(r"^\s*(CC|LD|AR|HOSTCC|HOSTLD|GEN|UPD|SYNC|DESCEND|CALL|INSTALL|MKDIR|AS)\s")


def first_changed_line(change: FileChange) -> int | None:
    """The post-image line of change's first added or removed line."""
    if change.kind is ChangeKind.DELETED:
        return None
    for hunk in change.hunks:
        line = hunk.target_start
        for op, _text in hunk.lines:
            if op in "+-":
                return max(line, 1)
            line += 1
    return None


def naming_line(changes: Iterable[FileChange], names: Sequence[str]) -> tuple[str, int] | None:
    """(path, post-image line) of the first changed line that names one of names (a removed
    line counts where it stood): for a link error, the line that dropped or hid a symbol."""
    if not names:
        return None
    pattern = re.compile(r"(?<![\w$])(" + "|".join(map(re.escape, names)) + r")(?![\w$])")
    for change in changes:
        if change.binary or change.kind is ChangeKind.DELETED:
            continue
        for hunk in change.hunks:
            line = hunk.target_start
            for op, text in hunk.lines:
                if op in "+-" and pattern.search(text):
                    return change.path, max(line, 1)
                if op != "-":
                    line += 1
    return None


def anchor(
    diag: Diagnostic, changes: Iterable[FileChange], cause: Sequence[str] = ()
) -> tuple[str, int | None]:
    """(path, line) a finding about diag points at."""
    files = [c for c in changes if not c.binary]
    by_path = {c.path: c for c in files}
    own = by_path.get(diag.path)
    if own is not None and own.kind is not ChangeKind.DELETED:
        return diag.path, diag.line if diag.line is not None else first_changed_line(own)
    for path in (*cause, *(c.path for c in files)):
        change = by_path.get(path)
        if change is not None and change.kind is not ChangeKind.DELETED:
            return path, first_changed_line(change)
    return "", None


def output_lines(text: str, limit: int = MAX_OUTPUT_LINES) -> tuple[str, ...]:
    """The first relevant lines of a command's output: errors and warnings, then the rest."""
    lines = [ln.rstrip() for ln in text.splitlines() if ln.strip() and not _NOISE.match(ln)]
    lines = list(dict.fromkeys(lines))  # a warning in a macro repeats once per expansion
    relevant = [ln for ln in lines if _RELEVANT.search(ln)]
    return tuple((relevant or lines)[:limit])
