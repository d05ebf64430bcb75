"""Find the Kconfig symbols a patch's added lines name, in Kconfig, kbuild and C files (pure).

Each scanner returns `Ref`s for added lines only: the symbol (no CONFIG_ prefix), the
line, and how it was written. Comments, Kconfig help text and C string literals are not
references; neither are names a line defines (`#define CONFIG_X`, `-DCONFIG_X`,
`CONFIG_X := ...`) nor partial names glued by `##` or `$(...)`.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache

from reviewbot.analysis.diff import ChangeKind, FileChange
from reviewbot.rules.base import PatchContext
from reviewbot.rules.kconfig_text import (
    Image,
    blank_segment,
    kconfig_lines,
    kconfig_symbols,
    post_image,
)
from reviewbot.tree.index import classify

_CONFIG = re.compile(r"(?<![A-Za-z0-9_])CONFIG_([A-Za-z0-9_]+)")
_C_DEFINE = re.compile(r"^\s*#\s*(?:define|undef)\s+CONFIG_([A-Za-z0-9_]+)")
_MAKE_ASSIGN_BEFORE = re.compile(r"^\s*(?:export\s+|override\s+|unexport\s+)?$")
_MAKE_ASSIGN_AFTER = re.compile(r"^\s*(?:[:?+!]?=|$)")
PLACEHOLDER_PARTS = frozenset({"FOO", "BAR", "BAZ", "XXX", "XYZ", "EXAMPLE", "MY", "YOUR"})


@dataclass(frozen=True)
class Ref:
    """One use of a symbol on an added line: `written` is the token as it appears."""

    line: int
    symbol: str
    written: str


# Separate build systems with their own CONFIG_ uses, and kconfig's own sources and tests.
SKIP_PREFIXES = ("Documentation/", "tools/", "scripts/kconfig/")


def file_kind(path: str) -> str | None:
    """'kconfig', 'kbuild' or 'c' for the files these rules read; None for the rest."""
    if path.startswith(SKIP_PREFIXES):
        return None
    found = classify(path)
    return "c" if found == "source" else found


def changed_files(ctx: PatchContext, *kinds: str) -> Iterator[tuple[FileChange, str, Image]]:
    """Changed files of the given kinds that gain lines, with their post-images."""
    for change in ctx.files():
        kind = file_kind(change.path)
        if kind is None or kind not in kinds or change.kind is ChangeKind.DELETED:
            continue
        if change.added:
            yield change, kind, post_image(ctx.text_after(change), change)


def group_refs(refs: Iterable[Ref]) -> dict[str, list[Ref]]:
    """Refs by symbol, in line order: one finding per symbol and file."""
    out: dict[str, list[Ref]] = {}
    for ref in sorted(refs, key=lambda r: r.line):
        out.setdefault(ref.symbol, []).append(ref)
    return out


def also_lines(refs: list[Ref]) -> list[str]:
    """Evidence naming the other lines of a grouped finding."""
    if len(refs) < 2:
        return []
    return ["also on line(s) " + ", ".join(str(r.line) for r in refs[1:])]


def is_placeholder(symbol: str) -> bool:
    """FOO, BAR_FOO, XXX: names of examples (scripts/checkkconfigsymbols.py skips them too)."""
    return all(part in PLACEHOLDER_PARTS for part in symbol.split("_") if part)


def kconfig_refs(image: Image) -> list[Ref]:
    """Symbols named by added Kconfig statements (help text and strings excluded)."""
    out: list[Ref] = []
    for segment in image.segments:
        for stmt in kconfig_lines(segment, image.complete):
            if image.added.isdisjoint(stmt.lines):
                continue
            out.extend(Ref(stmt.line, name, name) for name in kconfig_symbols(stmt))
    return out


def _partial(code: str, start: int, end: int, name: str) -> bool:
    """A name glued to more text by ## or $(...), or cut at a trailing underscore."""
    if name.endswith("_"):
        return True
    after = code[end:]
    return (
        after.startswith(("$", "%"))
        or after.lstrip().startswith("##")
        or code[:start].rstrip().endswith("##")
    )


def makefile_code(line: str) -> str:
    """A Makefile line without its comment (an escaped \\# is not one)."""
    escaped = False
    for i, char in enumerate(line):
        if char == "#" and not escaped:
            return line[:i]
        escaped = char == "\\"
    return line


def makefile_refs(image: Image) -> list[Ref]:
    """CONFIG_ names on added Makefile/Kbuild lines, except -D/-U flags and assignments."""
    out: list[Ref] = []
    for segment in image.segments:
        continued_comment = False
        for number, raw in segment:
            if continued_comment:
                continued_comment = raw.rstrip().endswith("\\")
                continue
            code = makefile_code(raw)
            continued_comment = code != raw and raw.rstrip().endswith("\\")
            if number not in image.added:
                continue
            out.extend(_makefile_line_refs(number, code))
    return out


def _makefile_line_refs(number: int, code: str) -> Iterable[Ref]:
    for match in _CONFIG.finditer(code):
        name, start, end = match.group(1), match.start(), match.end()
        if code[max(0, start - 2) : start] in ("-D", "-U") or _partial(code, start, end, name):
            continue
        if _MAKE_ASSIGN_BEFORE.match(code[:start]) and _MAKE_ASSIGN_AFTER.match(code[end:]):
            continue
        if name == "SHELL":  # the make variable set by the top Makefile, not a symbol
            continue
        yield Ref(number, name, match.group(0))


def c_refs(image: Image) -> list[Ref]:
    """CONFIG_ names in code on added C/assembler lines (comments and strings blanked)."""
    out: list[Ref] = []
    for segment in image.segments:
        blanked = blank_segment(segment)
        raw = dict(segment)
        for number, code in blanked.items():
            if number not in image.added:
                continue
            if not image.complete and raw[number].lstrip().startswith(("* ", "*\t")):
                continue  # a block comment's middle whose opening is outside the hunk
            out.extend(_c_line_refs(number, code))
    return out


def _c_line_refs(number: int, code: str) -> Iterable[Ref]:
    defined = _C_DEFINE.match(code)
    for match in _CONFIG.finditer(code):
        name, start, end = match.group(1), match.start(), match.end()
        if defined and start == defined.start(1) - len("CONFIG_"):
            continue
        if _partial(code, start, end, name) or len(re.findall(r"[A-Z0-9]", name)) < 2:
            continue
        yield Ref(number, name, match.group(0))


def mentions(text: str | None, written: str) -> bool:
    """Whether text contains the token as a whole word."""
    if not text:
        return False
    if _WORD.fullmatch(written):
        return written in _words(text)
    if written not in text:
        return False
    return re.search(rf"(?<![A-Za-z0-9_]){re.escape(written)}(?![A-Za-z0-9_])", text) is not None


_WORD = re.compile(r"[A-Za-z0-9_]+")


@lru_cache(maxsize=16)
def _words(text: str) -> frozenset[str]:
    """The words of a text, once per text: asking for each of many symbols stays linear."""
    return frozenset(_WORD.findall(text))


_DEFINES_IN_C = (
    r"^\s*#\s*(?:define|undef)\s+CONFIG_{0}\b|^\s*CONFIG_{0}\s*(?:=|,)"  # macro, enum member
    r"|\}}\s*CONFIG_{0}\b|\b(?:struct|union|enum)\s+CONFIG_{0}\b"  # type names
)
_DEFINES_IN_MAKE = r"-[DU]\s*CONFIG_{0}\b|^\s*(?:export\s+|override\s+)?CONFIG_{0}\s*[:?+]?="


_NAME = r"([A-Za-z0-9_]+)"
_ALL_IN_C = re.compile(_DEFINES_IN_C.replace("{0}", _NAME).replace("}}", "}"), re.MULTILINE)
_ALL_IN_MAKE = re.compile(_DEFINES_IN_MAKE.replace("{0}", _NAME), re.MULTILINE)


@lru_cache(maxsize=16)
def _defined_in(text: str, pattern: re.Pattern[str]) -> frozenset[str]:
    """Every symbol pattern finds defined in text (one pass, however many are asked)."""
    return frozenset(name for match in pattern.finditer(text) for name in match.groups() if name)


def defines_in_c(text: str | None, symbol: str) -> bool:
    """Whether C text defines CONFIG_<symbol> itself: #define, #undef, enum member, type."""
    return bool(text) and symbol in _defined_in(text or "", _ALL_IN_C)


def defines_in_make(text: str | None, symbol: str) -> bool:
    """Whether Makefile text defines CONFIG_<symbol> (-DCONFIG_X or an assignment)."""
    return bool(text) and symbol in _defined_in(text or "", _ALL_IN_MAKE)


def local_headers(path: str, text: str | None) -> list[str]:
    """Paths of the `#include "..."` files of a C file, relative to its directory."""
    if not text:
        return []
    directory = posixpath.dirname(path)
    out = []
    for name in re.findall(r'^\s*#\s*include\s+"([^"]+)"', text, re.MULTILINE):
        joined = posixpath.normpath(posixpath.join(directory, name))
        if not joined.startswith("../"):
            out.append(joined)
    return out


_SERIES_DEFS = re.compile(
    r"^\+\s*(?:menu)?config\s+([A-Za-z0-9_]+)|^\+\s*#\s*define\s+CONFIG_([A-Za-z0-9_]+)"
    r"|^\+.*-DCONFIG_([A-Za-z0-9_]+)",
    re.MULTILINE,
)


def series_definitions(diffs: Iterable[str | None]) -> set[str]:
    """Symbols a series' added lines define: Kconfig entries, #define CONFIG_X, -DCONFIG_X."""
    out: set[str] = set()
    for diff in diffs:
        if not diff:
            continue
        for match in _SERIES_DEFS.finditer(diff):
            out.add(next(group for group in match.groups() if group))
    return out


def old_text_mentions(change: FileChange, before: str | None, written: str) -> bool:
    """Whether the file already named the token: base text, or removed/context lines."""
    if mentions(before, written):
        return True
    return mentions(_old_lines(change), written)


_OLD: dict[int, tuple[FileChange, str]] = {}


def _old_lines(change: FileChange) -> str:
    """The removed and context lines of a change as one text (kept for the last few)."""
    found = _OLD.get(id(change))
    if found is None or found[0] is not change:
        if len(_OLD) > 64:
            _OLD.clear()
        text = "\n".join(value for hunk in change.hunks for op, value in hunk.lines if op != "+")
        found = _OLD[id(change)] = (change, text)
    return found[1]
