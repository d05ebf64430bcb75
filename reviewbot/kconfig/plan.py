"""Decide what to evaluate for a patch: arches, symbols, witness queries (pure)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from reviewbot.analysis.diff import FileChange
from reviewbot.analysis.facts import PatchedIndex
from reviewbot.analysis.view import TreeView
from reviewbot.kconfig.dropped import Dropped, dropped_edges, find_dropped
from reviewbot.kconfig.links import Call, condition_parts, new_calls
from reviewbot.kconfig.modular import find_modular
from reviewbot.kconfig.narrowed import narrowed_entries
from reviewbot.tree.index import classify
from reviewbot.tree.scan import SymbolDef, scan_kconfig

DEFAULT_ARCHES = ("x86_64", "arm64")
MAX_ARCHES = 5
# arch/<dir> -> the ARCH to evaluate it with
SRCARCH_TO_ARCH = {
    "x86": "x86_64",
    "arm64": "arm64",
    "arm": "arm",
    "riscv": "riscv",
    "powerpc": "powerpc",
    "s390": "s390",
    "mips": "mips",
    "sparc": "sparc64",
    "alpha": "alpha",
    "m68k": "m68k",
    "loongarch": "loongarch",
    "parisc": "parisc",
    "sh": "sh",
    "xtensa": "xtensa",
    "arc": "arc",
    "csky": "csky",
    "hexagon": "hexagon",
    "microblaze": "microblaze",
    "nios2": "nios2",
    "openrisc": "openrisc",
    "um": "um",
}
_ARCH_PATH = re.compile(r"^arch/([^/]+)/")
_DEPENDS = re.compile(r"^\s*depends\s+on\b")
_DEPENDS_EXPR = re.compile(r"^\s*depends\s+on\s+(.*)$")
_NAME = re.compile(r"(!?)\s*\b([A-Z][A-Z0-9_]+)\b")
MAX_SELECT_CHECKS = 16
MANY_SELECTORS = 5


@dataclass(frozen=True)
class KconfigPlan:
    arches: tuple[str, ...]
    names: tuple[str, ...]
    witnesses: tuple[tuple[str, str, str], ...]
    before: Mapping[str, str | None]
    after: Mapping[str, str | None]
    type_changes: tuple[tuple[str, str, str], ...]  # (symbol, old type, new type)
    calls: tuple[Call, ...] = ()
    dropped: tuple[Dropped, ...] = ()  # dependencies removed while the code needs them
    # (symbol, X): a new 'depends on X' where X is meant to be selected (reachability)
    hidden: tuple[tuple[str, str], ...] = ()
    # (S, X, how, path, post-image line) of each removed 'select X' / 'depends on X'
    removed: tuple[tuple[str, str, str, str, int], ...] = ()
    # (P, path, line, text) of each existing entry put under a new or stricter `if`
    narrowed: tuple[tuple[str, str, int, str], ...] = ()


def _arch_of(path: str) -> str | None:
    match = _ARCH_PATH.match(path)
    return SRCARCH_TO_ARCH.get(match.group(1)) if match else None


def entry_lines(text: str) -> dict[str, list[str]]:
    """Each config entry's lines (stripped), to tell which entries a patch changed."""
    out: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in text.split("\n"):
        words = line.split()
        if words and words[0] in ("config", "menuconfig") and len(words) > 1:
            current = out.setdefault(words[1], [])
            continue
        if words and words[0] in (
            "endmenu",
            "menu",
            "endif",
            "if",
            "choice",
            "endchoice",
            "source",
            "comment",
            "rsource",
            "osource",
            "orsource",
        ):
            current = None
            continue
        if current is not None and line.strip():
            current.append(line.strip())
    return out


def _defs(texts: Mapping[str, str | None]) -> dict[str, list[SymbolDef]]:
    out: dict[str, list[SymbolDef]] = {}
    for path, text in texts.items():
        for definition in scan_kconfig(text or "", path):
            out.setdefault(definition.name, []).append(definition)
    return out


def plan(
    changes: Sequence[FileChange],
    before: Mapping[str, str | None],
    after: Mapping[str, str | None],
    index_after: PatchedIndex,
    configured: tuple[str, ...] = DEFAULT_ARCHES,
    view_before: TreeView | None = None,
    view_after: TreeView | None = None,
) -> KconfigPlan | None:
    """A plan when the patch touches Kconfig files or calls into code of another CONFIG;
    None when there is nothing to evaluate.

    before/after are the overlays (every file the series changed so far, None = deleted)
    as the tree was before this patch and after it; the views read whole trees.
    """
    touched = [c.path for c in changes] + [c.old_path for c in changes if c.old_path]
    files = sorted({p for p in touched if classify(p) == "kconfig"})
    calls = new_calls(changes, index_after)
    if not files and not calls:
        return None
    old = {p: view_before.read(p) if view_before else before.get(p) for p in files}
    new = {p: view_after.read(p) if view_after else after.get(p) for p in files}
    old_defs, new_defs = _defs(old), _defs(new)
    names = set(old_defs) | set(new_defs)
    pairs_old = {(d.name, t) for defs in old_defs.values() for d in defs for t, _ in d.selects}
    pairs_new = {(d.name, t) for defs in new_defs.values() for d in defs for t, _ in d.selects}
    witnesses = {("unmet-select", s, t) for s, t in pairs_new - pairs_old}
    old_entries = {k: v for p in files for k, v in entry_lines(old[p] or "").items()}
    new_entries = {k: v for p in files for k, v in entry_lines(new[p] or "").items()}
    for name, lines in new_entries.items():
        old_deps = [x for x in old_entries.get(name, []) if _DEPENDS.match(x)]
        new_deps = [x for x in lines if _DEPENDS.match(x)]
        if name in old_entries and new_deps != old_deps:
            for selector in index_after.selectors_of(name):
                witnesses.add(("unmet-select", selector, name))
    edges = dropped_edges(changes, old, new) if files else []
    for symbol, _, how, _, _, _ in edges:
        if how != "select":
            continue
        # a removed select can leave another select of the entry unmet
        targets = sorted(t for s, t in pairs_new if s == symbol)
        for target in targets[:MAX_SELECT_CHECKS]:
            witnesses.add(("unmet-select", symbol, target))
    dropped = (
        find_dropped(changes, old, new, index_after, view_after)
        if edges and view_after is not None
        else []
    )
    if files and view_after is not None:
        dropped += find_modular(changes, old, new, index_after, view_after)
    narrowed = narrowed_entries(changes, old, new) if files else []
    for provider, _, _, _ in narrowed:
        # the entry's selectors now force it past the stricter `if` (KC011)
        for selector in index_after.selectors_of(provider)[:MAX_SELECT_CHECKS]:
            witnesses.add(("unmet-select", selector, provider))
    for item in dropped:
        if item.how == "modular":  # the symbol at m with the provider built
            witnesses.add(("module-with", item.subject, item.provider))
            continue
        witnesses.add(("enabled-without", item.subject, item.provider))
        if "tristate" in index_after.types_of(item.provider):
            witnesses.add(("builtin-module", item.subject, item.provider))
    hidden = _hidden(old_entries, new_entries, index_after)
    for symbol, _ in hidden:
        witnesses.add(("reachable", symbol, ""))
    for call in calls:
        witnesses.add(("enabled-without", call.consumer, call.provider))
        if "tristate" in index_after.types_of(call.provider):
            witnesses.add(("builtin-module", call.consumer, call.provider))
    names |= {t for _, s, t in witnesses if t}
    names |= {p for _, s, _ in witnesses for p in condition_parts(s)}
    names |= {x for _, x in hidden} | {p for p, _, _, _ in narrowed}
    type_changes = []
    for name in sorted(set(old_defs) & set(new_defs)):
        old_types = {d.type for d in old_defs[name]}
        new_types = {d.type for d in new_defs[name]}
        if old_types != new_types and len(old_types) == 1 and len(new_types) == 1:
            type_changes.append((name, old_types.pop(), new_types.pop()))
    arches = list(configured)
    for path in files:
        arch = _arch_of(path)
        if arch and arch not in arches:
            arches.insert(0, arch)
    for name in sorted(names):
        for definition in index_after.symbol_defs(name):
            arch = _arch_of(definition.path)
            if arch and arch not in arches:
                arches.append(arch)
    return KconfigPlan(
        arches=tuple(arches[:MAX_ARCHES]),
        names=tuple(sorted(names)),
        witnesses=tuple(sorted(witnesses)),
        before={p: t for p, t in before.items() if classify(p) == "kconfig"},
        after={p: t for p, t in after.items() if classify(p) == "kconfig"},
        type_changes=tuple(type_changes),
        calls=tuple(calls),
        dropped=tuple(dropped),
        hidden=hidden,
        removed=tuple((a, b, how, path, line) for a, b, how, path, line, _ in edges),
        narrowed=tuple(narrowed),
    )


def _dep_names(lines: list[str]) -> set[str]:
    out = set()
    for line in lines:
        match = _DEPENDS_EXPR.match(line)
        if match:
            out |= {m.group(2) for m in _NAME.finditer(match.group(1)) if not m.group(1)}
    return out


def _hidden(
    old_entries: Mapping[str, list[str]],
    new_entries: Mapping[str, list[str]],
    index: PatchedIndex,
) -> tuple[tuple[str, str], ...]:
    """(S, X) for each new 'depends on X' of an existing entry S where the tree means X to be
    selected: X has no prompt anywhere, or many selectors."""
    out = []
    for name, lines in new_entries.items():
        if name not in old_entries:
            continue
        for dep in sorted(_dep_names(lines) - _dep_names(old_entries[name])):
            defs = index.symbol_defs(dep)
            if not defs or any(d.in_choice for d in defs):
                continue
            promptless = not any(d.prompt for d in defs)
            if promptless or len(index.selectors_of(dep)) >= MANY_SELECTORS:
                out.append((name, dep))
    return tuple(out[:MAX_SELECT_CHECKS])
