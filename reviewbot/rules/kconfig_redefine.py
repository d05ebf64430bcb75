"""KC020: a patch defines an existing symbol again, with another type or dependencies (pure).

Kconfig merges every `config X` entry into one symbol: the types must agree (conf keeps
the first and warns), and each entry's `depends on` applies only to that entry's
properties, so a second entry with other dependencies silently gives the symbol a second
set of defaults, selects or prompts under other conditions. The seed 001 loop came from
exactly such a second entry.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from reviewbot.kconfig.plan import entry_lines
from reviewbot.model import Finding, Severity
from reviewbot.rules.base import PatchContext, Rule, rule

_CONFIG = re.compile(r"^\s*(?:menu)?config\s+(\w+)\s*$")
_TYPE = re.compile(r"^(bool|tristate|string|int|hex|def_bool|def_tristate)\b")
_DEPENDS = re.compile(r"^depends\s+on\s+(.*)$")
# Kconfig files no arch's tree sources: kconfig's own test inputs, tools' build configs.
_NO_TREE = ("scripts/kconfig/tests/", "tools/", "Documentation/")


def _tree_of(path: str) -> str | None:
    """Which Kconfig trees read the file: one arch's, every arch's ('*'), or none."""
    if path.startswith(_NO_TREE):
        return None
    parts = path.split("/")
    if parts[0] == "arch" and len(parts) > 2:
        return parts[1]
    return "*"


def same_tree(a: str, b: str) -> bool:
    """Can two Kconfig files be read by one arch's tree (so their entries merge)?"""
    first, second = _tree_of(a), _tree_of(b)
    if first is None or second is None:
        return False
    return first == second or "*" in (first, second)


def _shape(lines: list[str]) -> tuple[str, frozenset[str]]:
    """An entry's type and its 'depends on' expressions."""
    kind = ""
    deps = set()
    for line in lines:
        typed = _TYPE.match(line)
        if typed and not kind:
            kind = typed.group(1).removeprefix("def_")
        depends = _DEPENDS.match(line)
        if depends:
            deps.add(" ".join(depends.group(1).split("#")[0].split()))
    return kind, frozenset(deps)


@rule(
    "KC020",
    "kconfig-symbol-redefined",
    Severity.WARNING,
    "A symbol is defined again in another file with a different type or dependencies.",
)
def symbol_redefined(rule: Rule, ctx: PatchContext) -> Iterable[Finding]:
    for change in ctx.files("kconfig"):
        text = ctx.after.read(change.path)
        if text is None:
            continue
        new_entries = entry_lines(text)
        for line in change.added:
            match = _CONFIG.match(line.text)
            if match is None:
                continue
            name = match.group(1)
            kept = {d.path for d in ctx.index_after.symbol_defs(name)}
            elsewhere = [
                d
                for d in ctx.index_before.symbol_defs(name)
                if d.path != change.path and d.path in kept and same_tree(d.path, change.path)
            ]
            if not elsewhere:
                continue
            kind, deps = _shape(new_entries.get(name, []))
            for other in elsewhere:
                old_text = ctx.before.read(other.path) or ""
                old_kind, old_deps = _shape(entry_lines(old_text).get(name, []))
                why = []
                if kind and old_kind and kind != old_kind:
                    why.append(f"it is {old_kind} there and {kind} here")
                if deps != old_deps:
                    there = " && ".join(sorted(old_deps)) or "nothing"
                    here = " && ".join(sorted(deps)) or "nothing"
                    why.append(f"it depends on {there} there and on {here} here")
                if not why:
                    continue
                yield rule.finding(
                    change.path,
                    line.number,
                    f"{name} is already defined at {other.path}:{other.line}; "
                    + "; ".join(why)
                    + ": Kconfig merges both entries into one symbol, each entry's "
                    "properties under its own dependencies",
                    hint=f"change the existing entry at {other.path} instead of adding a "
                    "second one, or give the new option its own name",
                )
                break


RULES: tuple[Rule, ...] = (symbol_redefined,)
