"""Entries a patch makes modular while their code calls what a provider does not export (pure).

A `bool` entry turned `tristate` (`def_bool` into `def_tristate`) can now be built as a
module, and a module links only against exported symbols. When the entry's sources call a
non-static function that the objects of one of its dependencies or selects define without
an EXPORT_SYMBOL anywhere in the tree, the module build fails in modpost ('"f" [x.ko]
undefined!'). The chain is dropped.py's: the symbol's objects, their calls outside
`#if CONFIG_X` / IS_ENABLED guards, and the provider's objects. The witness (the symbol at
m with the provider on) is the solver's, confirmed by conf.

A provider made tristate under built-in callers is KC015's (rules/kconfig_link.py).
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable, Mapping

from reviewbot.analysis.diff import ChangeKind, FileChange
from reviewbot.analysis.facts import PatchedIndex
from reviewbot.analysis.view import TreeView
from reviewbot.kconfig.dropped import (
    MAX_SOURCE_BYTES,
    Dropped,
    calls_outside_guards,
    definitions,
    entry_deps,
    first_of,
    owners,
    positive,
    post_line,
    provider_definitions,
    sources,
)
from reviewbot.kconfig.links import KBUILD_LISTS

_TYPE = re.compile(r"^\s*(bool|def_bool|tristate|def_tristate)\b")
_NOT_PROVIDERS = frozenset(["COMPILE_TEST", "EXPERT", "MODULES", "m", "y", "n"])
MAX_MODULAR = 4
MAX_PROVIDERS = 12


def _types(text: str) -> dict[str, str]:
    """Each entry's type ('bool' or 'tristate'), from its first type line."""
    out: dict[str, str] = {}
    for owner, line in zip(owners(text), text.split("\n"), strict=True):
        match = _TYPE.match(line)
        if owner is not None and match and owner not in out:
            out[owner] = match.group(1).removeprefix("def_")
    return out


def modular_edges(
    changes: Iterable[FileChange], old: Mapping[str, str | None], new: Mapping[str, str | None]
) -> list[tuple[str, str, int, str]]:
    """(S, path, post-image line, removed text) for each entry turned from bool to tristate."""
    out = []
    for change in changes:
        if change.binary or change.kind in (ChangeKind.ADDED, ChangeKind.DELETED):
            continue
        before = old.get(change.old_path or change.path) or ""
        after = new.get(change.path) or ""
        who, was, now = owners(before), _types(before), _types(after)
        for line in change.removed:
            owner = who[line.number - 1] if 0 < line.number <= len(who) else None
            match = _TYPE.match(line.text)
            if owner is None or match is None or match.group(1).removeprefix("def_") != "bool":
                continue
            if was.get(owner) == "bool" and now.get(owner) == "tristate":
                out.append((owner, change.path, post_line(change, line.number), line.text.strip()))
    return out


def _composites(index: PatchedIndex, obj: str) -> set[str]:
    """The composite objects ('dir/name') obj is linked into: one module with its parts."""
    directory = posixpath.dirname(obj)
    return {
        posixpath.join(directory, ref.prefix)
        for ref in index.builders_of(obj)
        if ref.prefix not in KBUILD_LISTS
    }


def private_calls(
    index: PatchedIndex, view: TreeView, symbol: str, provider: str
) -> tuple[tuple[str, ...], str, str]:
    """(functions S's sources call that X's objects define but nobody exports, a consumer
    file, the provider object)."""
    defined = {
        name: obj
        for name, obj in provider_definitions(index, view, provider).items()
        if not index.export_defs(name)
    }
    if not defined:
        return (), "", ""
    found: dict[str, tuple[str, str]] = {}
    for source in sources(index, view, symbol):
        text = (view.read(source) or "")[:MAX_SOURCE_BYTES]
        module = _composites(index, source[:-2] + ".o")
        for name in sorted(calls_outside_guards(text, provider) - definitions(text)):
            if name in defined and not module & _composites(index, defined[name]):
                found.setdefault(name, (source, defined[name]))
    return first_of(found)


def find_modular(
    changes: Iterable[FileChange],
    old: Mapping[str, str | None],
    new: Mapping[str, str | None],
    index: PatchedIndex,
    view: TreeView,
) -> list[Dropped]:
    """A Dropped ('modular') for each provider a newly tristate entry calls unexported."""
    out: list[Dropped] = []
    for symbol, path, line, removed in modular_edges(changes, old, new)[:MAX_MODULAR]:
        after = new.get(path) or ""
        selects, depends = entry_deps(after).get(symbol, (set(), []))
        wanted = set(selects).union(*(positive(d) for d in depends)) - _NOT_PROVIDERS
        for provider in sorted(wanted - {symbol})[:MAX_PROVIDERS]:
            functions, consumer_file, provider_object = private_calls(index, view, symbol, provider)
            if functions:
                out.append(
                    Dropped(
                        symbol,
                        provider,
                        "modular",
                        path,
                        line,
                        removed,
                        functions,
                        consumer_file,
                        provider_object,
                    )
                )
    return out
