"""Where a build finding points in the patch, and the output lines it quotes (pure).

A diagnostic in a file the patch changed keeps its file and line (on an added line that is
the line that caused it). Anything else (a user of a changed header, a linker or modpost
error, a failed command) points at the first changed line of the file whose change the
step exercises (BuildStep.cause), or of the patch's first changed file.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from reviewbot.analysis.diff import ChangeKind, FileChange
from reviewbot.build.model import Diagnostic

MAX_OUTPUT_LINES = 6
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


def anchor(
    diag: Diagnostic, changes: Iterable[FileChange], cause: Sequence[str] = ()
) -> tuple[str, int | None]:
    """(path, line) a finding about diag points at."""
    files = [c for c in changes if not c.binary]
    by_path = {c.path: c for c in files}
    if diag.path in by_path and by_path[diag.path].kind is not ChangeKind.DELETED:
        return diag.path, diag.line
    for path in (*cause, *(c.path for c in files)):
        change = by_path.get(path)
        if change is not None and change.kind is not ChangeKind.DELETED:
            return path, first_changed_line(change)
    return "", None


def output_lines(text: str, limit: int = MAX_OUTPUT_LINES) -> tuple[str, ...]:
    """The first relevant lines of a command's output: errors and warnings, then the rest."""
    lines = [ln.rstrip() for ln in text.splitlines() if ln.strip() and not _NOISE.match(ln)]
    relevant = [ln for ln in lines if re.search(r"error|warning|undefined|\*\*\*", ln, re.I)]
    return tuple((relevant or lines)[:limit])
