"""Exports a patch adds for symbols the patched tree already exports (pure).

A duplicate counts only when it is new (the file exports the name more often than
before), still there at the end of the series (a move finished by a later patch is
fine), and could be compiled together: two arch/<A>/ trees never are, nor two branches
of one #if/#else. Other pairs in different files may be kept apart by Kconfig (mutex.c
and rtmutex_api.c export the same names), so callers grade those lower.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from reviewbot.analysis.facts import PatchedIndex
from reviewbot.rules.base import PatchContext
from reviewbot.rules.exports_ctext import CFile, ExportUse, parse_c
from reviewbot.rules.exports_patch import (
    added_numbers,
    after_text,
    before_text,
    series_removals,
)
from reviewbot.tree.scan import ExportDef


@dataclass(frozen=True)
class Duplicate:
    name: str
    path: str
    line: int
    other: ExportDef


def duplicate_exports(ctx: PatchContext) -> Iterator[Duplicate]:
    for change in ctx.files("c"):
        if not any("EXPORT_" in line.text for line in change.added):
            continue
        text = after_text(ctx, change)
        if text is None:
            continue
        added = added_numbers(change)
        cfile = parse_c(text)
        exports = cfile.exports()
        old = before_text(ctx, change)
        old_exports = parse_c(old).exports() if old is not None else []
        seen: set[tuple[str, str]] = set()
        for new in reversed([e for e in exports if e.line in added]):
            key = _key(new)
            if key in seen:
                continue
            seen.add(key)
            mine = [e for e in exports if _key(e) == key]
            if len(mine) <= sum(1 for e in old_exports if _key(e) == key):
                continue
            found = _conflict(ctx, change.path, cfile, mine, new)
            if found is not None:
                yield Duplicate(new.name, change.path, new.line, found)


def _key(export: ExportUse | ExportDef) -> tuple[str, str]:
    kind = "tracepoint" if export.macro.startswith("EXPORT_TRACEPOINT") else "symbol"
    return export.name, kind


def _conflict(
    ctx: PatchContext, path: str, cfile: CFile, mine: list[ExportUse], new: ExportUse
) -> ExportDef | None:
    for other in mine:
        if other.line != new.line and not cfile.exclusive(other.line, new.line):
            return ExportDef(other.name, path, other.line, other.macro)
    if not _still_exported(ctx.index_final, path, new):
        return None
    gone, removed = series_removals(ctx)
    for elsewhere in ctx.index_after.export_defs(new.name):
        there = elsewhere.path
        if there == path or _key(elsewhere) != _key(new):
            continue
        if _arch_of(there) and _arch_of(path) and _arch_of(there) != _arch_of(path):
            continue
        if there in gone or (there, new.name) in removed:
            continue  # a move: the series deletes the old export, maybe in a later patch
        if _still_exported(ctx.index_final, there, new) and _real_export(ctx, elsewhere):
            return elsewhere
    return None


def _still_exported(index: PatchedIndex, path: str, export: ExportUse) -> bool:
    return any(d.path == path and _key(d) == _key(export) for d in index.export_defs(export.name))


def _real_export(ctx: PatchContext, export: ExportDef) -> bool:
    """Whether the index's export line is code (not a comment, #define body or paste)."""
    text = ctx.after.read(export.path)
    if text is None:
        return False
    return any(e.line == export.line and e.name == export.name for e in parse_c(text).exports())


def _arch_of(path: str) -> str | None:
    parts = path.split("/")
    return parts[1] if parts[0] == "arch" and len(parts) > 2 else None
