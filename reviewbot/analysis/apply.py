"""Apply a file's hunks to its text in memory, with offsets but no fuzz (pure)."""

from __future__ import annotations

from reviewbot.analysis.diff import ChangeKind, FileChange
from reviewbot.errors import UserInputError


class ApplyError(UserInputError):
    """A hunk's context does not match the file it is applied to."""


def apply_change(base: str | None, change: FileChange) -> str | None:
    """Return the file's text after the change (None when the change deletes it)."""
    if change.kind is ChangeKind.DELETED:
        return None
    if change.binary:
        raise ApplyError(f"{change.path}: binary change cannot be applied to text")
    if base is None:
        if change.kind is not ChangeKind.ADDED and change.hunks:
            raise ApplyError(f"{change.path}: file does not exist in the tree")
        base = ""
    lines = base.split("\n") if base else []
    trailing_newline = base.endswith("\n")
    if trailing_newline:
        lines.pop()
    out: list[str] = []
    position = 0
    for hunk in change.hunks:
        old = [text for op, text in hunk.lines if op != "+"]
        new = [text for op, text in hunk.lines if op != "-"]
        expected = max(hunk.source_start - 1, 0) if old else hunk.source_start
        at = _locate(lines, old, expected, position)
        if at is None:
            raise ApplyError(f"{change.path}: hunk at line {hunk.source_start} does not apply")
        out.extend(lines[position:at])
        out.extend(new)
        position = at + len(old)
    out.extend(lines[position:])
    if not out:
        return ""
    return "\n".join(out) + ("\n" if trailing_newline or change.kind is ChangeKind.ADDED else "")


def _locate(lines: list[str], old: list[str], expected: int, floor: int) -> int | None:
    """Find old at expected, else the nearest offset at or after floor."""
    if not old:
        return min(max(expected, floor), len(lines))
    limit = len(lines) - len(old)
    for delta in range(0, max(limit, 0) + 1 + abs(expected)):
        for at in (expected + delta, expected - delta) if delta else (expected,):
            if floor <= at <= limit and _matches(lines, old, at):
                return at
        if expected + delta > limit and expected - delta < floor:
            break
    return None


def _matches(lines: list[str], old: list[str], at: int) -> bool:
    return all(lines[at + i].rstrip() == text.rstrip() for i, text in enumerate(old))
