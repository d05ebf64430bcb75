"""Apply a file's hunks to its text in memory, with offsets but no fuzz, and relocate them (pure).

A hunk is searched where its header says, moved by the offset the previous hunk of the
file applied at (as GNU patch does), then at the nearest place its context matches,
forward before backward at equal distance (as git apply and patch do). Candidate places
come from an index of the file's lines, so the cost is the file's size whatever numbers
a header carries. The result holds the patched text and the change relocated: every
hunk, added and removed line numbered as in the real base and patched files.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass, replace

from reviewbot.analysis.diff import ChangeKind, FileChange, Hunk, Line
from reviewbot.errors import UserInputError


class ApplyError(UserInputError):
    """A hunk's context does not match the file it is applied to."""


@dataclass(frozen=True)
class HunkOffset:
    """A hunk that applied away from where its header put it (`Hunk #2 succeeded at 140`)."""

    path: str
    hunk: int  # 1-based number of the hunk in its file
    header: int  # the base-file line the header gave
    line: int  # the base-file line where it applied
    target: int  # the patched-file line where its post-image starts
    patch: str = ""  # Message-ID of the patch, set by the engine

    @property
    def offset(self) -> int:
        return self.line - self.header


@dataclass(frozen=True)
class Applied:
    """A file after its change: text (None when deleted) and the change relocated."""

    text: str | None
    change: FileChange
    offsets: tuple[HunkOffset, ...] = ()


def apply_change(base: str | None, change: FileChange) -> str | None:
    """Return the file's text after the change (None when the change deletes it)."""
    return apply_located(base, change).text


def apply_located(base: str | None, change: FileChange) -> Applied:
    """Apply the change; return the text and the change renumbered where it applied."""
    if change.kind is ChangeKind.DELETED:
        return Applied(None, change)
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
    finder = _Finder(lines)
    out: list[str] = []
    position = 0
    shift = 0
    hunks: list[Hunk] = []
    offsets: list[HunkOffset] = []
    for number, hunk in enumerate(change.hunks, 1):
        old = [text for op, text in hunk.lines if op != "+"]
        new = [text for op, text in hunk.lines if op != "-"]
        header = max(hunk.source_start - 1, 0) if old else hunk.source_start
        at = finder.locate(old, header + shift, position)
        if at is None:
            raise ApplyError(f"{change.path}: hunk at line {hunk.source_start} does not apply")
        shift = at - header
        out.extend(lines[position:at])
        source = at + 1 if old else at
        target = len(out) + 1 if new else len(out)
        out.extend(new)
        position = at + len(old)
        hunks.append(replace(hunk, source_start=source, target_start=target))
        if source != hunk.source_start:
            offsets.append(HunkOffset(change.path, number, hunk.source_start, source, target))
    out.extend(lines[position:])
    if not out:
        text = ""
    else:
        ending = "\n" if trailing_newline or change.kind is ChangeKind.ADDED else ""
        text = "\n".join(out) + ending
    return Applied(text, relocate(change, hunks), tuple(offsets))


def relocate(change: FileChange, hunks: Sequence[Hunk]) -> FileChange:
    """The change with these hunks (same lines, new starts) and its lines renumbered."""
    if all(
        (h.source_start, h.target_start) == (o.source_start, o.target_start)
        for h, o in zip(hunks, change.hunks, strict=True)
    ):
        return change
    added: list[Line] = []
    removed: list[Line] = []
    for hunk in hunks:
        old, new = hunk.source_start, hunk.target_start
        for op, text in hunk.lines:
            if op == "+":
                added.append(Line(new, text))
                new += 1
            elif op == "-":
                removed.append(Line(old, text))
                old += 1
            else:
                old += 1
                new += 1
    return replace(change, added=tuple(added), removed=tuple(removed), hunks=tuple(hunks))


class _Finder:
    """Where a run of lines occurs in a file, nearest a given line first."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        self._where: dict[str, list[int]] | None = None

    def _positions(self) -> dict[str, list[int]]:
        if self._where is None:
            where: dict[str, list[int]] = {}
            for number, text in enumerate(self.lines):
                where.setdefault(text.rstrip(), []).append(number)
            self._where = where
        return self._where

    def locate(self, old: list[str], expected: int, floor: int) -> int | None:
        """Where old starts, at or after floor, nearest expected; None when nowhere."""
        lines = self.lines
        if not old:
            return min(max(expected, floor), len(lines))
        limit = len(lines) - len(old)
        if limit < floor:
            return None
        if floor <= expected <= limit and self._matches(old, expected):
            return expected
        where = self._positions()
        # Anchor on the hunk's rarest line: fewest candidate places to try.
        anchor = min(range(len(old)), key=lambda i: len(where.get(old[i].rstrip(), ())))
        found = where.get(old[anchor].rstrip(), [])
        low = bisect.bisect_left(found, floor + anchor)
        high = bisect.bisect_right(found, limit + anchor)
        aim = expected + anchor
        after = bisect.bisect_left(found, aim, low, high)
        before = after - 1
        while after < high or before >= low:
            # Nearest first; at equal distance forward first (git apply, patch).
            if after < high and (before < low or found[after] - aim <= aim - found[before]):
                at, after = found[after] - anchor, after + 1
            else:
                at, before = found[before] - anchor, before - 1
            if self._matches(old, at):
                return at
        return None

    def _matches(self, old: list[str], at: int) -> bool:
        lines = self.lines
        return all(lines[at + i].rstrip() == text.rstrip() for i, text in enumerate(old))
