"""Read a unified diff with unidiff into frozen per-file changes (pure)."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from enum import StrEnum

from unidiff.errors import UnidiffParseError
from unidiff.patch import PatchSet

from reviewbot.errors import BadDiffError

MAX_DIFF_BYTES = 32 * 1024 * 1024
MAX_NAME_BYTES = 255  # NAME_MAX
MAX_PATH_BYTES = 4095  # PATH_MAX - 1
# No file in any kernel tree comes near ten million lines (the largest, generated
# register headers, have a few hundred thousand); a hunk beyond is hostile or broken.


class ChangeKind(StrEnum):
    ADDED = "added"
    DELETED = "deleted"
    MODIFIED = "modified"
    RENAMED = "renamed"


@dataclass(frozen=True)
class Line:
    """A line of a file and its 1-based number (post-image for added, pre-image for removed)."""

    number: int
    text: str


@dataclass(frozen=True)
class Hunk:
    source_start: int
    source_length: int
    target_start: int
    target_length: int
    lines: tuple[tuple[str, str], ...]  # (op, text) with op in " ", "-", "+"


@dataclass(frozen=True)
class FileChange:
    """One file's change: paths, kind, added and removed lines, hunks to apply."""

    path: str
    old_path: str | None
    kind: ChangeKind
    added: tuple[Line, ...]
    removed: tuple[Line, ...]
    hunks: tuple[Hunk, ...]
    binary: bool = False

    @property
    def name(self) -> str:
        return posixpath.basename(self.path)

    @property
    def directory(self) -> str:
        return posixpath.dirname(self.path)


def safe_path(raw: str) -> str:
    """Normalise a diff path (strip a/ b/), refusing absolute, parent and odd paths."""
    path = raw.strip()
    if path.startswith('"') and path.endswith('"') and len(path) > 1:
        path = path[1:-1]
    if path.startswith(("a/", "b/")):
        path = path[2:]
    if not path or "\x00" in path or path.startswith("/") or "\\" in path:
        raise BadDiffError(f"refusing unsafe path in diff: {raw!r}")
    parts = path.split("/")
    if any(part in ("..", "") for part in parts) or path.startswith("~"):
        raise BadDiffError(f"refusing unsafe path in diff: {raw!r}")
    if len(path.encode()) > MAX_PATH_BYTES or any(
        len(part.encode()) > MAX_NAME_BYTES for part in parts
    ):
        raise BadDiffError(
            f"refusing a path longer than a file system allows ({MAX_NAME_BYTES} bytes per "
            f"name, {MAX_PATH_BYTES} in all): {raw[:80]!r}..."
        )
    normal = posixpath.normpath(path)
    if normal.startswith("../") or normal == "..":
        raise BadDiffError(f"refusing unsafe path in diff: {raw!r}")
    return normal


def parse_diff(text: str) -> tuple[FileChange, ...]:
    """Parse a unified diff; a diff unidiff cannot read, or a hostile path, is BadDiffError."""
    if len(text) > MAX_DIFF_BYTES:
        raise BadDiffError(f"diff is too large ({len(text)} bytes, limit {MAX_DIFF_BYTES})")
    try:
        patch_set = PatchSet(text)
    except UnidiffParseError as exc:
        raise BadDiffError(f"unreadable diff: {exc}") from exc
    except ValueError as exc:  # int() of a hunk header with thousands of digits
        raise BadDiffError(f"unreadable diff: {str(exc)[:200]}") from exc
    changes: list[FileChange] = []
    for patched in patch_set:
        # A hunk header's line number may be anything: the hunk is located by its
        # context (reviewbot.analysis.apply), in time linear in the file.
        changes.append(_file_change(patched))
    return tuple(changes)


def _file_change(patched: object) -> FileChange:
    source = getattr(patched, "source_file", "") or ""
    target = getattr(patched, "target_file", "") or ""
    is_added = bool(getattr(patched, "is_added_file", False))
    is_removed = bool(getattr(patched, "is_removed_file", False))
    is_rename = bool(getattr(patched, "is_rename", False))
    binary = bool(getattr(patched, "is_binary_file", False))
    if is_removed:
        path, old = safe_path(source), None
        kind = ChangeKind.DELETED
    elif is_added:
        path, old = safe_path(target), None
        kind = ChangeKind.ADDED
    else:
        path = safe_path(target)
        old_path = safe_path(source)
        kind = ChangeKind.RENAMED if is_rename or old_path != path else ChangeKind.MODIFIED
        old = old_path if kind is ChangeKind.RENAMED else None
    added: list[Line] = []
    removed: list[Line] = []
    hunks: list[Hunk] = []
    for hunk in patched:  # type: ignore[attr-defined]
        ops: list[tuple[str, str]] = []
        for line in hunk:
            op = line.line_type
            if op not in (" ", "-", "+"):
                continue
            value = line.value.rstrip("\n").rstrip("\r")
            ops.append((op, value))
            if op == "+":
                added.append(Line(line.target_line_no, value))
            elif op == "-":
                removed.append(Line(line.source_line_no, value))
        hunks.append(
            Hunk(
                hunk.source_start,
                hunk.source_length,
                hunk.target_start,
                hunk.target_length,
                tuple(ops),
            )
        )
    return FileChange(path, old, kind, tuple(added), tuple(removed), tuple(hunks), binary)
