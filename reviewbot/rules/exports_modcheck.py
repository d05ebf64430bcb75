"""Modules a patch may leave without MODULE_LICENSE()/MODULE_DESCRIPTION() (pure).

Three ways a patch can make modpost miss a module tag: a new `obj-m`/`obj-$(CONFIG_X)`
line for an object whose sources lack it; a Kconfig symbol turning tristate so that the
objects it builds become modules; a removed MODULE_* line. Each way yields candidate
objects with the place to report; a candidate counts only when it lacks the tag after
the patch and did not lack it (as a module) before.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator
from dataclasses import dataclass

from reviewbot.analysis.diff import ChangeKind, FileChange
from reviewbot.analysis.facts import PatchedIndex
from reviewbot.analysis.view import TreeView
from reviewbot.rules.base import PatchContext
from reviewbot.rules.exports_modules import (
    TAGS,
    Sources,
    has_tag,
    modular,
    module_sources,
    modules_of_source,
    obj_path,
    objects_built_by,
)
from reviewbot.rules.exports_patch import removal_point
from reviewbot.tree.scan import ObjRef, logical_lines, scan_makefile

_TRISTATE_LINE = re.compile(r"^\s*(?:tristate|def_tristate)\b")


@dataclass(frozen=True)
class Candidate:
    """An object the patch may have left untagged, and where to say so."""

    obj: str
    path: str
    line: int | None
    trigger: str  # new-object, tristate, removed
    symbol: str = ""


@dataclass(frozen=True)
class Missing:
    """A candidate that is a module after the patch and lacks the tag."""

    candidate: Candidate
    reason: str  # obj-m or the tristate symbol
    sources: Sources


def missing_tags(ctx: PatchContext, tag: str) -> list[Missing]:
    """Candidates of every trigger that lack MODULE_<tag>() now and did not before."""
    out: list[Missing] = []
    seen: set[str] = set()
    for candidate in _candidates(ctx, tag):
        if candidate.obj in seen:
            continue
        seen.add(candidate.obj)
        after = _lacking(ctx.after, ctx.index_after, candidate.obj, tag)
        if after is None:
            continue
        if _lacking(ctx.before, ctx.index_before, candidate.obj, tag) is not None:
            continue
        out.append(Missing(candidate, after[0], after[1]))
    return out


def _lacking(view: TreeView, index: PatchedIndex, obj: str, tag: str) -> tuple[str, Sources] | None:
    reason = modular(index, obj)
    if reason is None:
        return None
    sources = module_sources(view, index, obj)
    if sources is None or sources.rust or sources.unresolved:
        return None
    if has_tag(view, sources.files, tag):
        return None
    return reason, sources


def _candidates(ctx: PatchContext, tag: str) -> Iterator[Candidate]:
    # A symbol turning tristate comes first: when the same patch also renames its object
    # (obj-$(CONFIG_X) += x.o becomes a composite x_mod.o), the module is code that was
    # built in before, not a new module, and is reported as such.
    yield from _tristate_changes(ctx)
    yield from _new_objects(ctx)
    yield from _removed_tags(ctx, tag)


def _new_objects(ctx: PatchContext) -> Iterator[Candidate]:
    """Objects on `obj-...` words the patch adds to a kbuild file."""
    for change in ctx.files("kbuild"):
        after = ctx.after.read(change.path)
        if after is None or change.kind is ChangeKind.DELETED:
            continue
        before = ctx.before.read(change.old_path or change.path) or ""
        old = {_key(r) for r in scan_makefile(before, change.path)}
        spans = _spans(after)
        added = {line.number: line.text for line in change.added}
        for ref in scan_makefile(after, change.path):
            if ref.prefix != "obj" or not ref.target.endswith(".o") or _key(ref) in old:
                continue
            line = _word_line(ref, spans.get(ref.line, ref.line), added)
            yield Candidate(obj_path(change.path, ref.target), change.path, line, "new-object")


def _key(ref: ObjRef) -> tuple[str, str, str | None, str]:
    return ref.prefix, ref.suffix, ref.config, ref.target


def _spans(text: str) -> dict[int, int]:
    """First line of each logical Makefile line -> its last physical line."""
    starts = [number for number, _line in logical_lines(text)]
    total = text.count("\n") + 1
    return {
        start: (starts[i + 1] - 1 if i + 1 < len(starts) else total)
        for i, start in enumerate(starts)
    }


def _word_line(ref: ObjRef, last: int, added: dict[int, str]) -> int:
    word = re.compile(rf"(?<![\w/.-]){re.escape(ref.target)}(?![\w/.-])")
    for number in range(ref.line, last + 1):
        if number in added and word.search(added[number]):
            return number
    return ref.line


def _removed_tags(ctx: PatchContext, tag: str) -> Iterator[Candidate]:
    """Modules linked from a source file whose MODULE_<tag>() line the patch removes."""
    pattern = TAGS[tag]
    for change in ctx.files("c"):
        gone = [line for line in change.removed if pattern.search(line.text)]
        if not gone:
            continue
        old_path = change.old_path or change.path
        objs = set(modules_of_source(ctx.index_before, old_path))
        if change.kind is not ChangeKind.DELETED:
            objs |= set(modules_of_source(ctx.index_after, change.path))
        line = None if change.kind is ChangeKind.DELETED else removal_point(change, gone[0].number)
        for obj in sorted(objs):
            yield Candidate(obj, change.path, line, "removed")


def _tristate_changes(ctx: PatchContext) -> Iterator[Candidate]:
    """Objects built by a symbol that this patch makes tristate."""
    for change in ctx.files("kconfig"):
        facts = ctx.index_after.touched.get(change.path)
        text = ctx.after.read(change.path)
        if facts is None or text is None:
            continue
        for symbol in facts.symbols:
            if symbol.type != "tristate" or _was_tristate(ctx, change, symbol.name):
                continue
            if not ctx.index_before.symbol_defs(symbol.name):
                continue  # a new symbol: its objects are new modules, not turned modular
            line = _type_line(text, symbol.line)
            for obj in objects_built_by(ctx.index_after, symbol.name):
                if modular(ctx.index_before, obj) is None:
                    yield Candidate(obj, change.path, line, "tristate", symbol.name)


def _was_tristate(ctx: PatchContext, change: FileChange, name: str) -> bool:
    old_path = change.old_path or change.path
    return any(
        d.type == "tristate" and d.path == old_path for d in ctx.index_before.symbol_defs(name)
    )


def _type_line(text: str, config_line: int) -> int:
    lines = text.split("\n")
    for number in range(config_line + 1, min(config_line + 40, len(lines)) + 1):
        line = lines[number - 1]
        if _TRISTATE_LINE.match(line):
            return number
        if re.match(
            r"^\s*(?:config|menuconfig|choice|endchoice|menu|endmenu|if|endif|source)\b", line
        ):
            break
    return config_line


def describe_sources(sources: Sources) -> str:
    """The sources' file names, at most four."""
    names = ", ".join(posixpath.basename(f) for f in sources.files[:4])
    more = "" if len(sources.files) <= 4 else f" and {len(sources.files) - 4} more"
    return f"{names}{more}"
