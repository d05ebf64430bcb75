"""Dependencies a patch drops while the code still needs them (pure).

A removed `select X` or a changed `depends on` that no longer guarantees X, on the entry
of a symbol S whose objects call functions that X's objects provide: an EXPORT_SYMBOL
from an object built by CONFIG_X, or a non-static definition in one. The chain is read
from the tree index (S -> objects its Makefile lines build -> their sources -> the
functions they call -> who provides them). Calls under `#if ... CONFIG_X`, or next to
`IS_ENABLED(CONFIG_X)` / `IS_REACHABLE(CONFIG_X)`, are left out; header stubs are
checked by the provider (they need a grep of the tree).
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from reviewbot.analysis.diff import ChangeKind, FileChange
from reviewbot.analysis.facts import PatchedIndex
from reviewbot.analysis.view import TreeView
from reviewbot.kconfig.links import NOT_CALLS as NOT_FUNCTIONS
from reviewbot.kconfig.links import (
    condition_parts,
    consumer_of,
    controlling_config,
    resolve_call,
)

_SELECT = re.compile(r"^\s*select\s+(\w+)")
_DEPENDS = re.compile(r"^\s*depends\s+on\s+(.*)$")
_WORD = re.compile(r"!?\s*\b([A-Z][A-Z0-9_]+)\b")
_CALL = re.compile(r"\b([a-z_][a-z0-9_]*)\s*\(")
_IF = re.compile(r"^\s*#\s*(if|ifdef|ifndef|elif)\b(.*)$")
_ENDIF = re.compile(r"^\s*#\s*endif\b")
_DEFINITION = re.compile(r"(?:^|[;}]\s*)([^;{}#]*?)\b([a-z_][a-z0-9_]*)\s*\([^;{}]*\)\s*\{", re.S)
MAX_SOURCES = 12
MAX_SOURCE_BYTES = 400_000
MAX_DROPPED = 8


@dataclass(frozen=True)
class Dropped:
    """S no longer guarantees X, and S's code calls into X."""

    symbol: str
    provider: str
    how: str  # "select", "depends on", "modular" (bool -> tristate) or "if" (narrowed)
    path: str  # the Kconfig file
    line: int  # post-image line where the removed line stood (the added line for 'if')
    removed: str  # the removed (for 'if': the added) line, stripped
    functions: tuple[str, ...]  # what S's sources call from X's objects
    consumer_file: str
    provider_object: str
    condition: str = ""  # when S's code is a part of another symbol's module: 'S&O'

    @property
    def subject(self) -> str:
        """The consumer condition the link questions ask about (reviewbot.kconfig.links)."""
        return self.condition or self.symbol


_NOT_ENTRY = frozenset(
    [
        "menu",
        "endmenu",
        "if",
        "endif",
        "choice",
        "endchoice",
        "source",
        "rsource",
        "osource",
        "orsource",
        "comment",
    ]
)


def owners(text: str) -> list[str | None]:
    out: list[str | None] = []
    current: str | None = None
    for line in text.split("\n"):
        words = line.split()
        if words and words[0] in ("config", "menuconfig") and len(words) > 1:
            current = words[1]
        elif words and words[0] in _NOT_ENTRY:
            current = None
        out.append(current)
    return out


def post_line(change: FileChange, old_number: int) -> int:
    """The post-image line where a removed pre-image line stood (the line after it)."""
    for hunk in change.hunks:
        old, new = hunk.source_start, hunk.target_start
        for op, _ in hunk.lines:
            if op == "-" and old == old_number:
                return max(new, 1)
            if op in (" ", "-"):
                old += 1
            if op in (" ", "+"):
                new += 1
    return max(old_number, 1)


def positive(expr: str) -> set[str]:
    return {
        m.group(1)
        for m in _WORD.finditer(expr.split("#", maxsplit=1)[0])
        if not m.group(0).startswith("!")
    }


def entry_deps(text: str) -> dict[str, tuple[set[str], list[str]]]:
    """Each entry's selects and 'depends on' lines."""
    out: dict[str, tuple[set[str], list[str]]] = {}
    for owner, line in zip(owners(text), text.split("\n"), strict=True):
        if owner is None:
            continue
        selects, depends = out.setdefault(owner, (set(), []))
        select = _SELECT.match(line)
        if select:
            selects.add(select.group(1))
        depend = _DEPENDS.match(line)
        if depend:
            depends.append(" ".join(depend.group(1).split()))
    return out


def dropped_edges(
    changes: Iterable[FileChange], old: Mapping[str, str | None], new: Mapping[str, str | None]
) -> list[tuple[str, str, str, str, int, str]]:
    """(S, X, how, path, post-image line, removed text) for each dependency a patch drops."""
    out = []
    for change in changes:
        if change.binary or change.kind is ChangeKind.ADDED:
            continue
        before = old.get(change.old_path or change.path) or ""
        after = new.get(change.path) or ""
        who = owners(before)
        after_deps = entry_deps(after)
        before_deps = entry_deps(before)
        for line in change.removed:
            owner = who[line.number - 1] if 0 < line.number <= len(who) else None
            if owner is None or owner not in after_deps:
                continue
            selects, depends = after_deps[owner]
            where = post_line(change, line.number)
            select = _SELECT.match(line.text)
            if select and select.group(1) not in selects:
                out.append(
                    (owner, select.group(1), "select", change.path, where, line.text.strip())
                )
            depend = _DEPENDS.match(line.text)
            if depend and depends != before_deps.get(owner, (set(), []))[1]:
                for name in sorted(positive(depend.group(1))):
                    if name in ("COMPILE_TEST", "EXPERT", "m", "MODULES"):
                        continue
                    out.append((owner, name, "depends on", change.path, where, line.text.strip()))
    return out


def sources(index: PatchedIndex, view: TreeView, symbol: str) -> list[str]:
    objects = list(index.base.objects_by_config.get(symbol, []))
    found: list[str] = []
    for obj in objects:
        if not obj.endswith(".o"):
            continue
        source = obj[:-2] + ".c"
        if view.exists(source):
            found.append(source)
            continue
        stem, directory = posixpath.basename(obj)[:-2], posixpath.dirname(obj)
        for member in index.objects_in(directory):
            if any(ref.prefix == stem for ref in index.builders_of(member)):
                candidate = member[:-2] + ".c"
                if view.exists(candidate):
                    found.append(candidate)
    return sorted(set(found))[:MAX_SOURCES]


def _strip(text: str) -> str:
    text = re.sub(r"/\*.*?\*/", lambda m: "\n" * m.group(0).count("\n"), text, flags=re.S)
    text = re.sub(r"//[^\n]*", "", text)
    return re.sub(r'"(?:[^"\\\n]|\\.)*"', '""', text)


def calls_outside_guards(text: str, provider: str) -> set[str]:
    """Functions called outside #if / IS_ENABLED guards that mention CONFIG_<provider>."""
    config = f"CONFIG_{provider}"
    stack: list[str] = []
    lines = _strip(text).split("\n")
    out: set[str] = set()
    for number, line in enumerate(lines):
        opened = _IF.match(line)
        if opened and opened.group(1) == "elif" and stack:
            stack[-1] += " " + opened.group(2)
        elif opened:
            stack.append(opened.group(2))
        elif _ENDIF.match(line) and stack:
            stack.pop()
        if line.lstrip().startswith("#") or any(config in cond for cond in stack):
            continue
        if any(config in near for near in lines[max(0, number - 6) : number + 1]):
            continue
        out.update(m.group(1) for m in _CALL.finditer(line))
    return out


def definitions(text: str) -> set[str]:
    """Names of the non-static functions a C file defines."""
    out = set()
    for match in _DEFINITION.finditer(_strip(text)):
        head, name = match.group(1), match.group(2)
        if "static" in head.split() or not head.strip() or name in NOT_FUNCTIONS:
            continue
        out.add(name)
    return out


def provider_definitions(index: PatchedIndex, view: TreeView, provider: str) -> dict[str, str]:
    """Non-static functions X's sources define, each with the object that defines it."""
    defined: dict[str, str] = {}
    for source in sources(index, view, provider):
        text = (view.read(source) or "")[:MAX_SOURCE_BYTES]
        for name in definitions(text):
            defined.setdefault(name, source[:-2] + ".o")
    return defined


def first_of(found: Mapping[str, tuple[str, str]]) -> tuple[tuple[str, ...], str, str]:
    """(the functions found, sorted; the consumer file and provider object of the first)."""
    if not found:
        return (), "", ""
    first = sorted(found)[0]
    return tuple(sorted(found)), found[first][0], found[first][1]


def chain(
    index: PatchedIndex, view: TreeView, symbol: str, provider: str
) -> tuple[tuple[str, ...], str, str]:
    """(functions S's sources call from X's objects, a consumer file, a provider object)."""
    defined = provider_definitions(index, view, provider)
    functions: dict[str, tuple[str, str]] = {}
    for source in sources(index, view, symbol):
        text = (view.read(source) or "")[:MAX_SOURCE_BYTES]
        own = definitions(text)
        for name in sorted(calls_outside_guards(text, provider) - own):
            call = resolve_call(index, source, name, symbol)
            if call is not None and call.provider == provider:
                functions.setdefault(name, (source, call.provider_object))
            elif name in defined and controlling_config(index, defined[name]) == provider:
                functions.setdefault(name, (source, defined[name]))
    return first_of(functions)


def find_dropped(
    changes: Iterable[FileChange],
    old: Mapping[str, str | None],
    new: Mapping[str, str | None],
    index: PatchedIndex,
    view: TreeView,
) -> list[Dropped]:
    out: list[Dropped] = []
    seen: set[tuple[str, str]] = set()
    for symbol, provider, how, path, line, removed in dropped_edges(changes, old, new):
        if (symbol, provider) in seen or len(out) >= MAX_DROPPED:
            continue
        seen.add((symbol, provider))
        functions, consumer_file, provider_object = chain(index, view, symbol, provider)
        if functions:
            out.append(
                Dropped(
                    symbol,
                    provider,
                    how,
                    path,
                    line,
                    removed,
                    functions,
                    consumer_file,
                    provider_object,
                    condition_of(index, symbol, consumer_file),
                )
            )
    return out


def condition_of(index: PatchedIndex, symbol: str, consumer_file: str) -> str:
    """'S&O' when S's consumer file is a part of O's composite module, else ''."""
    found = consumer_of(index, consumer_file[:-2] + ".o") if consumer_file else None
    if found and condition_parts(found)[0] == symbol and "&" in found:
        return found
    return ""
