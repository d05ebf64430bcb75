"""Entries whose enclosing `if` a patch narrows, and the code that calls into them (pure).

An `if X` wrapped around a block, a stricter `if` condition, or an entry moved into an
`if` block adds a dependency to every entry inside: a provider there can now be off (or a
module) while code that calls it stays built. `narrowed_entries` finds the entries whose
`if` conditions changed and the changed line; `consumers` follows the chain back from
the provider's exported functions to the files that call them (found by the caller with
grep) and the CONFIG that builds each file. Whether the change really narrows is the
solver's answer: a witness on the patched tree that the base did not have.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

from reviewbot.analysis.diff import ChangeKind, FileChange
from reviewbot.analysis.facts import PatchedIndex
from reviewbot.analysis.view import TreeView
from reviewbot.kconfig.dropped import (
    MAX_SOURCE_BYTES,
    Dropped,
    calls_outside_guards,
    condition_of,
    sources,
)
from reviewbot.kconfig.links import controlling_config

_IF = re.compile(r"^\s*if\s+(.+?)\s*(?:#.*)?$")
_ENDIF = re.compile(r"^\s*endif\b")
_ENTRY = re.compile(r"^\s*(?:menu)?config\s+(\w+)")
MAX_NARROWED = 8
MAX_CONSUMERS = 16


def _conditions(text: str) -> dict[str, tuple[tuple[tuple[str, int], ...], int]]:
    """Each entry's enclosing `if` conditions (normalised text, line) and its config line."""
    out: dict[str, tuple[tuple[tuple[str, int], ...], int]] = {}
    stack: list[tuple[str, int]] = []
    help_at: int | None = None  # the indentation of the help keyword we are under
    for number, line in enumerate(text.split("\n"), start=1):
        indent = len(line.expandtabs()) - len(line.expandtabs().lstrip())
        if help_at is not None and (not line.strip() or indent > help_at):
            continue  # help text: an "if ..." sentence there is no statement
        help_at = indent if line.strip() in ("help", "---help---") else None
        opened = _IF.match(line)
        if opened:
            stack.append((" ".join(opened.group(1).split()), number))
        elif _ENDIF.match(line) and stack:
            stack.pop()
        entry = _ENTRY.match(line)
        if entry and entry.group(1) not in out:
            out[entry.group(1)] = (tuple(stack), number)
    return out


def narrowed_entries(
    changes: Iterable[FileChange], old: Mapping[str, str | None], new: Mapping[str, str | None]
) -> list[tuple[str, str, int, str]]:
    """(P, path, line, text) for each existing entry the patch puts under a new or changed
    `if`; the line is the added `if` (or the entry's added `config` line)."""
    out: list[tuple[str, str, int, str]] = []
    for change in changes:
        if change.binary or change.kind in (ChangeKind.ADDED, ChangeKind.DELETED):
            continue
        was = _conditions(old.get(change.old_path or change.path) or "")
        now = _conditions(new.get(change.path) or "")
        added = {line.number: line.text for line in change.added}
        for name, (stack, config_line) in sorted(now.items(), key=lambda kv: kv[1][1]):
            if name not in was:
                continue
            before = {cond for cond, _ in was[name][0]}
            fresh = [number for cond, number in stack if cond not in before]
            if not fresh:
                continue
            place = next((n for n in fresh if n in added), None)
            if place is None and config_line in added:
                place = config_line
            if place is not None:
                out.append((name, change.path, place, added[place].strip()))
    return out[:MAX_NARROWED]


def exported_by(index: PatchedIndex, view: TreeView, provider: str) -> dict[str, str]:
    """Exported function -> the object that exports it, for the provider's objects."""
    files = set(sources(index, view, provider))
    out: dict[str, str] = {}
    for name, defs in index.base.exports.items():
        for definition in defs:
            if definition.path in files:
                out.setdefault(name, definition.path[:-2] + ".o")
    return out


def consumers(
    index: PatchedIndex,
    view: TreeView,
    narrowed: tuple[str, str, int, str],
    exports: Mapping[str, str],
    callers: Sequence[str],
) -> list[Dropped]:
    """A Dropped ('if') for each CONFIG whose files call the provider's exports unguarded."""
    provider, path, line, text = narrowed
    own = {obj[:-2] + ".c" for obj in exports.values()}
    out: dict[str, Dropped] = {}
    for caller in callers:
        if caller in own or not caller.endswith(".c"):
            continue
        consumer = controlling_config(index, caller[:-2] + ".o")
        if consumer is None or consumer == provider or consumer in out:
            continue
        called = calls_outside_guards((view.read(caller) or "")[:MAX_SOURCE_BYTES], provider)
        functions = sorted(n for n in called if n in exports or "__" + n in exports)
        if not functions:
            continue
        first = exports.get(functions[0]) or exports["__" + functions[0]]
        condition = condition_of(index, consumer, caller)
        out[consumer] = Dropped(
            consumer, provider, "if", path, line, text, tuple(functions), caller, first, condition
        )
        if len(out) >= MAX_CONSUMERS:
            break
    return list(out.values())
