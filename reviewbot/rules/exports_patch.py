"""Read a changed file as the patch leaves it, even when the patch did not apply (pure).

When a hunk does not apply, the engine keeps the base text for that file, so line
numbers of added lines point into the wrong text. Then the post-image is rebuilt from
the hunks alone (lines outside hunks left blank): enough for checks that look at the
export and the lines around it, and the engine lowers such findings to info anyway.
"""

from __future__ import annotations

from collections.abc import Iterator

from reviewbot.analysis.diff import ChangeKind, FileChange, parse_diff
from reviewbot.errors import BadDiffError
from reviewbot.model import Series
from reviewbot.rules.base import PatchContext
from reviewbot.rules.exports_ctext import EXPORT_LINE, CFile, ExportUse, parse_c


def after_text(ctx: PatchContext, change: FileChange) -> str | None:
    """The file's text after the patch; rebuilt from hunks when it did not apply."""
    if change.kind is ChangeKind.DELETED:
        return None
    text = ctx.after.read(change.path)
    if text is not None and _holds_added(text, change):
        return text
    return _from_hunks(change)


def before_text(ctx: PatchContext, change: FileChange) -> str | None:
    if change.kind is ChangeKind.ADDED:
        return None
    return ctx.before.read(change.old_path or change.path)


def added_exports(
    ctx: PatchContext, suffixes: tuple[str, ...]
) -> Iterator[tuple[FileChange, CFile, ExportUse, CFile | None]]:
    """Added EXPORT_* statements (not tracepoint exports) in files with these suffixes."""
    for change in ctx.files("c"):
        if not change.path.endswith(suffixes):
            continue
        added = {line.number for line in change.added if "EXPORT_" in line.text}
        if not added:
            continue
        text = after_text(ctx, change)
        if text is None:
            continue
        cfile = parse_c(text)
        old = before_text(ctx, change)
        old_file = parse_c(old) if old is not None else None
        for export in cfile.exports():
            if export.line in added and not export.macro.startswith("EXPORT_TRACEPOINT"):
                yield change, cfile, export, old_file


def _holds_added(text: str, change: FileChange) -> bool:
    lines = text.split("\n")
    return all(
        0 < line.number <= len(lines) and lines[line.number - 1].rstrip() == line.text.rstrip()
        for line in change.added
    )


def _from_hunks(change: FileChange) -> str:
    lines: dict[int, str] = {}
    for hunk in change.hunks:
        number = hunk.target_start
        for op, text in hunk.lines:
            if op == "-":
                continue
            lines[number] = text
            number += 1
    if not lines:
        return ""
    return "\n".join(lines.get(n, "") for n in range(1, max(lines) + 1)) + "\n"


def added_numbers(change: FileChange) -> set[int]:
    return {line.number for line in change.added}


def removal_point(change: FileChange, removed_number: int) -> int:
    """The post-image line where a removed pre-image line used to be."""
    for hunk in change.hunks:
        old, new = hunk.source_start, hunk.target_start
        for op, _text in hunk.lines:
            if op == "-":
                if old == removed_number:
                    return max(new, 1)
                old += 1
            elif op == "+":
                new += 1
            else:
                old += 1
                new += 1
    return max(removed_number, 1)


def replaced_export(change: FileChange, old_file: CFile | None, line: int) -> ExportUse | None:
    """The old export that a `-EXPORT...`/`+EXPORT...` pair rewrites at post-image `line`."""
    if old_file is None:
        return None
    for removed in change.removed:
        if "EXPORT_" in removed.text and removal_point(change, removed.number) == line:
            for export in old_file.exports():
                if export.line == removed.number:
                    return export
    return None


_REMOVALS: dict[str, tuple[Series, tuple[frozenset[str], frozenset[tuple[str, str]]]]] = {}


def series_removals(ctx: PatchContext) -> tuple[frozenset[str], frozenset[tuple[str, str]]]:
    """From this patch to the series' end: files deleted or renamed away, and the
    (path, name) of every EXPORT line removed, read from the diffs themselves (so a move
    counts even when a patch does not apply to our tree)."""
    cached = _REMOVALS.get(ctx.patch.message_id)
    if cached is not None and cached[0] is ctx.series:
        return cached[1]
    gone: set[str] = set()
    removed: set[tuple[str, str]] = set()
    ids = [patch.message_id for patch in ctx.series.patches]
    start = ids.index(ctx.patch.message_id) if ctx.patch.message_id in ids else 0
    for patch in ctx.series.patches[start:]:
        try:
            changes = parse_diff(patch.diff or "")
        except BadDiffError:
            continue
        for change in changes:
            old_path = change.old_path or change.path
            if change.kind in (ChangeKind.DELETED, ChangeKind.RENAMED):
                gone.add(old_path)
            for line in change.removed:
                match = EXPORT_LINE.match(line.text)
                if match:
                    removed.add((old_path, match.group(2)))
    if len(_REMOVALS) > 256:
        _REMOVALS.clear()
    found = (frozenset(gone), frozenset(removed))
    _REMOVALS[ctx.patch.message_id] = (ctx.series, found)
    return found
