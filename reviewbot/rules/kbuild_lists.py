"""Kbuild list rules MK002, MK003, MK005: missing sources, orphans, module names (pure).

Objects a Makefile lists but nothing can build, new sources no Makefile builds, and new
modules whose name another module already has.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace

from reviewbot.analysis.diff import ChangeKind, FileChange
from reviewbot.model import Finding, Severity
from reviewbot.rules.base import PatchContext, Rule, rule
from reviewbot.rules.kbuild_make import (
    added_numbers,
    consistent_text,
    make_lines,
    physical_line_of,
    touches,
)
from reviewbot.rules.kbuild_objects import (
    SOURCE_SUFFIXES,
    KbuildDir,
    ObjWord,
    Verdict,
    context_dir,
    directory_verdict,
    included_by_neighbour,
    includes,
    named_by_kbuild,
    obj_words,
    object_verdict,
)
from reviewbot.tree.index import classify

# Trees with their own build conventions, where kbuild's object lists do not apply.
_FOREIGN = re.compile(
    r"^(?:tools|scripts|samples|usr)/|^arch/[^/]+/boot/|(?:^|/)(?:Documentation|selftests)/"
)


_GIT_HEADER = re.compile(r"^diff --git a/\S+ b/(\S+)$")
_PLUS_HEADER = re.compile(r"^\+\+\+ b/(\S+)")


@dataclass(frozen=True)
class _SeriesFiles:
    """What the series' diffs create, patch by patch, and every line they add, by file."""

    position: int
    created: tuple[frozenset[str], ...]
    lines: tuple[tuple[str, str], ...]

    @classmethod
    def of(cls, ctx: PatchContext) -> _SeriesFiles:
        created: list[frozenset[str]] = []
        lines: list[tuple[str, str]] = []
        position = 0
        for number, patch in enumerate(ctx.series.patches):
            if patch.message_id == ctx.patch.message_id:
                position = number
            paths: set[str] = set()
            current = ""
            for raw in (patch.diff or "").split("\n"):
                header = _GIT_HEADER.match(raw) or _PLUS_HEADER.match(raw)
                if header:
                    current = header.group(1)
                    paths.add(current)
                elif raw.startswith("deleted file mode") or raw == "+++ /dev/null":
                    paths.discard(current)
                elif raw.startswith("+") and not raw.startswith("+++"):
                    lines.append((current, raw[1:]))
            created.append(frozenset(paths))
        return cls(position, tuple(created), tuple(lines))

    def new_here(self, path: str, diff: str) -> bool:
        """Whether this patch's diff declares path a new file (not an edit of one the author
        already had: an empty file in their tree looks added to a parser)."""
        block = re.search(
            r"^diff --git a/\S+ b/" + re.escape(path) + r"\n(?:(?!diff --git ).*\n)*?"
            r"(?:new file mode|--- /dev/null)",
            diff,
            re.MULTILINE,
        )
        plain = re.search(
            r"^--- /dev/null\n\+\+\+ b/" + re.escape(path) + r"\s*$", diff, re.MULTILINE
        )
        return bool(block or plain)

    def names(self, path: str) -> bool:
        """Whether an added line of the series names the source: `foo.o` (or `foo` in a
        kbuild file, for userprogs), or `#include "foo.c"`."""
        name = posixpath.basename(path)
        stem = re.escape(name.rsplit(".", 1)[0])
        obj = re.compile(r"(?<![\w.-])" + stem + r"\.o(?![\w.-])")
        bare = re.compile(r"(?<![\w.-])" + stem + r"(?![\w.-])")
        for where, line in self.lines:
            if obj.search(line) or (name in line and includes(line, name)):
                return True
            if classify(where) == "kbuild" and bare.search(line):
                return True
        return False

    def created_by(self, path: str) -> int | None:
        """The index of the first patch of the series whose diff writes path."""
        for number, paths in enumerate(self.created):
            if path in paths:
                return number
        return None


def _kbuild_changes(ctx: PatchContext) -> Iterator[tuple[FileChange, str]]:
    """Changed Makefile/Kbuild files outside foreign trees, with their patched text."""
    for change in ctx.files("kbuild"):
        if change.kind is ChangeKind.DELETED or change.name not in ("Makefile", "Kbuild"):
            continue
        if re.match(r"^(?:tools|Documentation)/", change.path):
            continue
        text = consistent_text(change, ctx.after.read(change.path))
        if text is not None and change.added:
            yield change, text


def _added_words(change: FileChange, text: str) -> Iterator[tuple[ObjWord, int]]:
    """Object words the change adds, with the physical line each sits on."""
    added = added_numbers(change)
    for ref in obj_words(make_lines(text)):
        if not touches(ref.line, added):
            continue
        number = physical_line_of(text, ref.line, ref.word)
        if number in added:
            yield ref, number


@rule(
    "MK002",
    "kbuild-object-without-source",
    Severity.ERROR,
    "An object or directory added to a kbuild list has nothing to build it from.",
)
def object_without_source(rule: Rule, ctx: PatchContext) -> Iterable[Finding]:
    series: _SeriesFiles | None = None
    for change, text in _kbuild_changes(ctx):
        context = context_dir(ctx.after, change.path)
        here = KbuildDir.read(ctx.after, context)
        before = ctx.before.read(change.old_path or change.path) or ""
        old_words = {ref.word for ref in obj_words(make_lines(before))}
        for ref, number in _added_words(change, text):
            if ref.word in old_words:
                continue  # only moved or re-keyed: the patch did not introduce the word
            kbuild_list = ref.prefix in ("obj", "lib") and ref.suffix != "objs"
            if not kbuild_list and here.list_used(f"{ref.prefix}-{ref.suffix}"):
                continue  # a plain variable list read elsewhere ($(libfdt-objs)), not kbuild's
            target = posixpath.normpath(posixpath.join(context, ref.word))
            if ref.word.endswith("/"):
                missing = directory_verdict(ctx.after, target) is Verdict.MISSING
                wanted = [f"{target}/Makefile", f"{target}/Kbuild"]
            else:
                missing = object_verdict(ctx.after, here, ref.word) is Verdict.MISSING
                wanted = [target[:-2] + s for s in SOURCE_SUFFIXES]
            if not missing:
                continue
            series = series or _SeriesFiles.of(ctx)
            later = [series.created_by(w) for w in wanted]
            found = [n for n in later if n is not None]
            if any(n <= series.position for n in found):
                continue  # this patch (or an earlier one) writes it; it did not apply here
            finding = (
                _missing_dir(rule, change.path, number, ref.word, target)
                if ref.word.endswith("/")
                else _missing_object(rule, change.path, number, ref.word, context)
            )
            yield _bisect(finding, min(found), ctx) if found else finding
    yield from _deleted_sources(rule, ctx)


def _bisect(finding: Finding, later: int, ctx: PatchContext) -> Finding:
    total = len(ctx.series.patches)
    return replace(
        finding,
        severity=Severity.WARNING,
        message=f"{finding.message}; patch {later + 1}/{total} of the series adds it, so "
        "the series does not build at this patch (it breaks bisection)",
        hint="add the source in the same patch as its Makefile line, or list the object "
        "in the patch that adds it",
    )


def _deleted_sources(rule: Rule, ctx: PatchContext) -> Iterator[Finding]:
    """A source the patch deletes or renames while a Makefile still lists its object."""
    for change in ctx.files():
        if change.kind not in (ChangeKind.DELETED, ChangeKind.RENAMED):
            continue
        gone = change.old_path or change.path
        if not gone.endswith(SOURCE_SUFFIXES) or _FOREIGN.search(gone):
            continue
        obj = gone.rsplit(".", 1)[0] + ".o"
        for ref in ctx.index_after.builders_of(obj):
            text = ctx.after.read(ref.makefile)
            if text is None or posixpath.basename(ref.makefile) not in ("Makefile", "Kbuild"):
                continue
            context = context_dir(ctx.after, ref.makefile)
            here = KbuildDir.read(ctx.after, context)
            if posixpath.normpath(posixpath.join(context, ref.target)) != obj:
                continue
            if object_verdict(ctx.after, here, ref.target) is Verdict.MISSING:
                number = _line_naming(text, ref.line, ref.target)
                yield _missing_object(rule, ref.makefile, number, ref.target, context, deleted=gone)


def _line_naming(text: str, first: int, word: str) -> int:
    pattern = re.compile(r"(?<![\w.$/-])" + re.escape(word) + r"(?![\w.-])")
    lines = text.split("\n")
    for number in range(first, len(lines) + 1):
        if pattern.search(lines[number - 1]):
            return number
        if not lines[number - 1].endswith("\\"):
            break
    return first


def _missing_dir(rule: Rule, path: str, number: int, word: str, target: str) -> Finding:
    return rule.finding(
        path,
        number,
        f"'{word}' names a directory with no Makefile or Kbuild ({target}/ has neither); "
        f"descending into it fails with 'scripts/Makefile.build:41: {target}/Makefile: "
        "No such file or directory'",
        hint=f"add {target}/Makefile, or fix the directory name",
    )


def _missing_object(
    rule: Rule, path: str, number: int, word: str, context: str, deleted: str = ""
) -> Finding:
    relative = word[:-2]
    target = posixpath.normpath(posixpath.join(context, word))
    stem = posixpath.basename(relative)
    sources = f"{stem}.c, {stem}.S or {stem}.rs"
    why = f"this patch removes {deleted}, but " if deleted else ""
    return rule.finding(
        path,
        number,
        f"{why}{word} has no source: no {sources} in "
        f"{posixpath.dirname(target) or '.'}/ and no {relative}-y/{relative}-objs list; "
        f"make stops with \"No rule to make target '{target}'\"",
        hint="remove the object from the Makefile in the same patch"
        if deleted
        else "add the source file in this patch, fix the object name, or declare the "
        f"composite object's parts with {relative}-y",
    )


@rule(
    "MK003",
    "kbuild-orphan-source",
    Severity.WARNING,
    "A new C or assembly file that no Makefile or Kbuild file builds.",
)
def orphan_source(rule: Rule, ctx: PatchContext) -> Iterable[Finding]:
    cache: dict[str, KbuildDir] = {}
    series: _SeriesFiles | None = None
    for change in ctx.files():
        if change.kind is not ChangeKind.ADDED or not change.path.endswith((".c", ".S")):
            continue
        if _FOREIGN.search(change.path) or _special_source(change.path):
            continue
        verdict = named_by_kbuild(ctx.after, change.path, cache)
        if verdict is Verdict.FOUND:
            continue
        series = series or _SeriesFiles.of(ctx)
        if not series.new_here(change.path, ctx.patch.diff or ""):
            continue
        if series.names(change.path) or included_by_neighbour(ctx.after, change.path):
            continue
        yield _orphan(rule, change.path, verdict)


def _special_source(path: str) -> bool:
    """Files kbuild builds by name elsewhere: asm-offsets, linker and image scripts, headers."""
    name = posixpath.basename(path)
    return name.endswith(("offsets.c", ".lds.S", ".its.S", ".dts.S")) or "/include/" in f"/{path}"


def _orphan(rule: Rule, path: str, verdict: Verdict) -> Finding:
    obj = posixpath.basename(path).rsplit(".", 1)[0] + ".o"
    directory = posixpath.dirname(path)
    if verdict is Verdict.UNSURE:
        return rule.finding(
            path,
            None,
            f"no Makefile or Kbuild names {obj}, but the kbuild files around {directory}/ "
            "build names with wildcards or pattern rules; check it is really compiled",
            severity=Severity.INFO,
        )
    return rule.finding(
        path,
        None,
        f"new file is never compiled: no Makefile or Kbuild in {directory}/ or above names "
        f"{obj}, and nothing #includes it",
        hint=f"add 'obj-$(CONFIG_...) += {obj}' (or a composite object's -y list) to "
        f"{directory}/Makefile",
    )


_ARCH = re.compile(r"^arch/([^/]+)/")


@rule(
    "MK005",
    "kbuild-module-name-conflict",
    Severity.WARNING,
    "A new module whose name is already used by another module in the tree.",
)
def module_name_conflict(rule: Rule, ctx: PatchContext) -> Iterable[Finding]:
    for change, text in _kbuild_changes(ctx):
        context = context_dir(ctx.after, change.path)
        for ref, number in _added_words(change, text):
            if ref.prefix != "obj" or not ref.word.endswith(".o") or not _modular(ctx, ref):
                continue
            path = posixpath.normpath(posixpath.join(context, ref.word))
            name = posixpath.basename(path)[:-2]
            if path in ctx.index_before.module_paths(name):
                continue  # it was a module before the patch: not a new name
            others = _clashes(ctx, path, name)
            if others:
                yield _conflict(rule, change.path, number, path, others)


def _modular(ctx: PatchContext, ref: ObjWord) -> bool:
    if ref.suffix == "m":
        return True
    match = re.fullmatch(r"\$[({]CONFIG_(\w+)[)}]", ref.suffix)
    if not match:
        return False
    types = ctx.index_after.types_of(match.group(1))
    return not types or "tristate" in types


def _clashes(ctx: PatchContext, path: str, name: str) -> list[str]:
    """Other module paths with the same name, in the patched tree and at the series' end."""
    arch = _ARCH.match(path)
    out = []
    final = set(ctx.index_final.module_paths(name))
    for other in ctx.index_after.module_paths(name):
        if other == path or other not in final:
            continue
        other_arch = _ARCH.match(other)
        if arch and other_arch and arch.group(1) != other_arch.group(1):
            continue
        if _other_modular(ctx, other):
            out.append(other)
    return out


def _other_modular(ctx: PatchContext, path: str) -> bool:
    for ref in ctx.index_after.builders_of(path):
        if ref.prefix != "obj":
            continue
        if ref.suffix == "m" or (ref.config and "tristate" in ctx.index_after.types_of(ref.config)):
            return True
    return False


def _conflict(rule: Rule, path: str, number: int, obj: str, others: list[str]) -> Finding:
    name = posixpath.basename(obj)[:-2]
    where = ", ".join(o[:-2] + ".ko" for o in others)
    return rule.finding(
        path,
        number,
        f"module name '{name}' is already used by {where}; with both as modules "
        "scripts/modules-check.sh fails: 'error: the following would cause module name "
        "conflict'",
        hint=f"rename the module (for example with a subsystem prefix: foo-{name}.o)",
        evidence=[f"{obj[:-2]}.ko and {o[:-2]}.ko" for o in others],
    )
