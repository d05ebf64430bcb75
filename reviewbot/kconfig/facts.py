"""Plain data about an evaluated Kconfig tree, and the kconfiglib queries that make it.

The dataclasses are what crosses the worker boundary (as JSON) and what rules read; the
functions taking a kconfiglib.Kconfig run inside the sandboxed worker only.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import kconfiglib
from kconfiglib import AND, OR, Symbol, expr_items, expr_str, expr_value, split_expr

TYPES = {
    kconfiglib.BOOL: "bool",
    kconfiglib.TRISTATE: "tristate",
    kconfiglib.STRING: "string",
    kconfiglib.INT: "int",
    kconfiglib.HEX: "hex",
}
_TRI = {0: "n", 1: "m", 2: "y"}

if TYPE_CHECKING:
    from reviewbot.kconfig.dropped import Dropped


@dataclass(frozen=True)
class SymbolFacts:
    name: str
    type: str
    prompt: bool
    locations: tuple[tuple[str, int], ...]
    direct_dep: str
    rev_dep: str
    selected_by: tuple[str, ...]
    selects: tuple[tuple[str, str], ...]
    defaults: tuple[tuple[str, str], ...]
    choice: bool
    own_depends: bool

    @property
    def computed(self) -> bool:
        """No prompt, no 'depends on', and a default that is an expression, not a constant."""
        return (
            not self.prompt
            and not self.own_depends
            and not self.choice
            and any(v not in ("y", "n", "m") for v, _ in self.defaults)
        )


@dataclass(frozen=True)
class Witness:
    """An assignment showing a problem: e.g. selector=y while target's deps are n."""

    kind: str
    subject: str
    other: str
    found: bool
    assignments: tuple[tuple[str, str], ...] = ()
    detail: str = ""
    confirmed: bool | None = None  # by the kernel's conf: None when not asked
    conf_output: str = ""
    # Values the assignments lead to (conf computes them; shown, never written).
    implied: tuple[tuple[str, str], ...] = ()

    def config_lines(self) -> tuple[str, ...]:
        """The witness as .config lines (what a build job writes before olddefconfig)."""
        return tuple(
            f"# CONFIG_{name} is not set" if value == "n" else f"CONFIG_{name}={value}"
            for name, value in self.assignments
        )

    def text(self) -> str:
        """The .config lines of the witness, then what they imply for the named symbols."""
        lines = " ".join(f"{name}={value}" for name, value in self.assignments)
        given = dict(self.assignments)
        rest = " ".join(f"{n}={v}" for n, v in self.implied if given.get(n) != v)
        if not rest:
            return lines or "the default configuration"
        return f"{lines} (so {rest})" if lines else f"the default configuration (so {rest})"


@dataclass(frozen=True)
class KconfigFacts:
    """One tree (base or patched) evaluated for one arch."""

    arch: str
    error: str | None = None
    loop: tuple[tuple[str, str, int], ...] = ()
    cycle: tuple[str, ...] = ()  # the loop in conf's words, one edge a line
    symbols: Mapping[str, SymbolFacts] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    files: frozenset[str] = frozenset()
    witnesses: tuple[Witness, ...] = ()

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["files"] = sorted(self.files)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> KconfigFacts:
        symbols = {
            name: SymbolFacts(
                **{
                    **value,
                    "locations": tuple(tuple(x) for x in value["locations"]),
                    "selected_by": tuple(value["selected_by"]),
                    "selects": tuple(tuple(x) for x in value["selects"]),
                    "defaults": tuple(tuple(x) for x in value["defaults"]),
                }
            )
            for name, value in data.get("symbols", {}).items()
        }
        witnesses = tuple(
            Witness(
                **{
                    **w,
                    "assignments": tuple(tuple(a) for a in w["assignments"]),
                    "implied": tuple(tuple(a) for a in w.get("implied", ())),
                }
            )
            for w in data.get("witnesses", ())
        )
        return cls(
            arch=data["arch"],
            error=data.get("error"),
            loop=tuple((str(a), str(b), int(c)) for a, b, c in data.get("loop", ())),
            cycle=tuple(data.get("cycle", ())),
            symbols=symbols,
            warnings=tuple(data.get("warnings", ())),
            files=frozenset(data.get("files", ())),
            witnesses=witnesses,
        )


@dataclass(frozen=True)
class KconfigDelta:
    """One arch's evaluation of the tree before and after a patch."""

    arch: str
    base: KconfigFacts
    patched: KconfigFacts
    seconds: float = 0.0
    # New messages of the kernel's conf on the patched tree: (path, line, severity, text);
    # conf_checked is False when conf did not run for this arch.
    conf_new: tuple[tuple[str | None, int | None, str, str], ...] = ()
    conf_checked: bool = False
    # Called functions some header also defines as static inline (a stub when the
    # provider is off): the missing-link rule stays silent for them.
    stubbed: frozenset[str] = frozenset()
    # Callers of a provider the patch put under a stricter `if` (found with grep by the
    # provider, so not in the pure plan): KC021 reads them beside the plan's own.
    dropped: tuple[Dropped, ...] = ()
    # The worker's figures for this call (formula build, solver and greedy seconds).
    stats: Mapping[str, float] = field(default_factory=dict)


_LOOP_ITEM = re.compile(
    r"^(?:\.\.\.depends (?:again )?on )?(?:the choice symbol |the choice )?"
    r"(\S+) \(defined at ([^)]*)\)",
    re.MULTILINE,
)
_SELECT = re.compile(r"^\s+(select|imply)\s+(\w+)", re.MULTILINE)


def _loop_items(message: str) -> list[tuple[str, tuple[tuple[str, int], ...], str]]:
    """(name, locations, definition text) of each item of a kconfiglib loop message."""
    matches = list(_LOOP_ITEM.finditer(message))
    items = []
    for i, match in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(message)
        locations = []
        for place in match.group(2).split(", "):
            path, _, line = place.rpartition(":")
            if path and line.isdigit():
                locations.append((path, int(line)))
        items.append((match.group(1), tuple(locations), message[match.end() : end]))
    return items


def loop_of(message: str) -> tuple[tuple[str, str, int], ...]:
    """The symbols of a kconfiglib 'Dependency loop' error, in order, with every location."""
    seen: list[tuple[str, str, int]] = []
    for name, locations, _ in _loop_items(message):
        for path, line in locations:
            if (name, path, line) not in seen:
                seen.append((name, path, line))
    return tuple(seen)


def loop_cycle(message: str) -> tuple[str, ...]:
    """The loop as conf prints it: 'symbol A depends on B', 'symbol B is selected by C'."""
    items = _loop_items(message)
    if len(items) > 1 and items[-1][0] == items[0][0]:
        items = items[:-1]  # "...depends again on" the first one
    out = []
    for i, (name, _, _) in enumerate(items):
        other, _, text = items[(i + 1) % len(items)]
        verbs = {(v, t) for v, t in _SELECT.findall(text)}
        if ("select", name) in verbs:
            out.append(f"symbol {name} is selected by {other}")
        elif ("imply", name) in verbs:
            out.append(f"symbol {name} is implied by {other}")
        else:
            selector = _selector_through(items[i][2], other)
            if selector:
                out.append(f"symbol {name} is selected by {selector}, which depends on {other}")
            else:
                out.append(f"symbol {name} depends on {other}")
    return tuple(out)


_REV_DEP = re.compile(r"^\(select-related dependencies: (.*)\)$", re.MULTILINE)


def _selector_through(text: str, other: str) -> str | None:
    """The selector whose select condition brings `other` into a symbol's dependencies."""
    match = _REV_DEP.search(text)
    if match is None:
        return None
    for term in match.group(1).split(" || "):
        words = re.findall(r"\w+", term)
        if words and other in words[1:]:
            return str(words[0])
    return None


def symbol_facts(sym: Symbol) -> SymbolFacts:
    selectors = sorted(
        {
            s.name
            for s in expr_items(sym.rev_dep)
            if isinstance(s, Symbol)
            and s.nodes
            and s.name != sym.name
            and sym in {t for t, _ in s.orig_selects}
        }
    )
    own = any(
        node.dep is not None and node.dep is not node.kconfig.y and not _inherited(node)
        for node in sym.nodes
    )
    return SymbolFacts(
        name=sym.name,
        type=TYPES.get(sym.orig_type, "unknown"),
        prompt=any(node.prompt for node in sym.nodes),
        locations=tuple((node.filename, node.linenr) for node in sym.nodes),
        direct_dep=expr_str(sym.direct_dep),
        rev_dep=expr_str(sym.rev_dep),
        selected_by=tuple(selectors),
        selects=tuple((target.name, expr_str(cond)) for target, cond in sym.orig_selects),
        defaults=tuple((expr_str(value), expr_str(cond)) for value, cond in sym.orig_defaults),
        choice=sym.choice is not None,
        own_depends=own,
    )


def _inherited(node: Any) -> bool:
    """True when a node's dependency comes only from enclosing menus/ifs/choices."""
    parent = node.parent
    return parent is not None and node.dep is parent.dep


def collect(
    kc: kconfiglib.Kconfig, arch: str, names: Iterable[str], srctree_files: bool = True
) -> KconfigFacts:
    for sym in kc.unique_defined_syms:  # compute values so select warnings are made
        _ = sym.str_value
    symbols = {
        name: symbol_facts(kc.syms[name])
        for name in names
        if name in kc.syms and kc.syms[name].nodes
    }
    return KconfigFacts(
        arch=arch,
        symbols=symbols,
        warnings=tuple(kc.warnings),
        files=frozenset(kc.kconfig_filenames) if srctree_files else frozenset(),
    )


# ---- witness search -------------------------------------------------------------------


def _enable(kc: kconfiglib.Kconfig, sym: Symbol, want: int, depth: int = 0) -> bool:
    """Greedily make sym >= want by enabling what its dependencies need."""
    if sym.tri_value >= want:
        return True
    if depth > 10 or sym.choice is not None:
        return False
    for conjunct in split_expr(sym.direct_dep, AND):
        if expr_value(conjunct):
            continue
        _satisfy(kc, conjunct, depth + 1)
    if sym.type in (kconfiglib.BOOL, kconfiglib.TRISTATE):
        for value in sorted(sym.assignable):
            if value >= want:
                sym.set_value(value)
                break
    return bool(sym.tri_value >= want)


def _satisfy(kc: kconfiglib.Kconfig, expr: Any, depth: int) -> None:
    if isinstance(expr, Symbol):
        if expr.nodes and not expr.is_constant:
            _enable(kc, expr, 2 if expr.type == kconfiglib.BOOL else 1, depth)
        return
    if isinstance(expr, tuple) and expr[0] == kconfiglib.NOT and isinstance(expr[1], Symbol):
        if 0 in expr[1].assignable:
            expr[1].set_value(0)
        return
    if isinstance(expr, tuple) and expr[0] == OR:
        for alternative in split_expr(expr, OR):
            _satisfy(kc, alternative, depth)
            if expr_value(alternative):
                return


def _assignments(kc: kconfiglib.Kconfig) -> tuple[tuple[str, str], ...]:
    out = []
    for sym in kc.unique_defined_syms:
        if sym.user_value is not None and sym.type in (kconfiglib.BOOL, kconfiglib.TRISTATE):
            out.append((sym.name, _TRI[sym.tri_value]))
    return tuple(sorted(out))


def witness_unmet_select(kc: kconfiglib.Kconfig, selector: str, target: str) -> Witness:
    """Find values where selector forces target while target's direct deps are false."""
    kc.unset_values()
    sel, tgt = kc.syms.get(selector), kc.syms.get(target)
    if sel is None or tgt is None or not sel.nodes or not tgt.nodes:
        return Witness("unmet-select", selector, target, False, detail="undefined")
    needed = set(expr_items(sel.direct_dep))
    for conjunct in split_expr(tgt.direct_dep, AND):
        for item in expr_items(conjunct):
            if (
                isinstance(item, Symbol)
                and item not in needed
                and item.nodes
                and 0 in item.assignable
            ):
                item.set_value(0)
    _enable(kc, sel, 1)
    ok = tgt.direct_dep is not kc.y and expr_value(tgt.direct_dep) < expr_value(tgt.rev_dep)
    result = Witness(
        "unmet-select",
        selector,
        target,
        ok,
        _assignments(kc) if ok else (),
        f"depends on {expr_str(tgt.direct_dep)}" if ok else "",
    )
    kc.unset_values()
    return result


MAX_SELECTOR_TRIES = 32


def witness_builtin_vs_module(kc: kconfiglib.Kconfig, consumer: str, provider: str) -> Witness:
    """Find values where consumer=y while provider=m (directly or through a selector at m)."""
    kc.unset_values()
    con, pro = kc.syms.get(consumer), kc.syms.get(provider)
    if con is None or pro is None or pro.orig_type != kconfiglib.TRISTATE:
        return Witness("builtin-module", consumer, provider, False, detail="not tristate")
    _enable(kc, kc.modules, 2)
    if 1 in pro.assignable or _enable(kc, pro, 1):
        pro.set_value(1)
    _enable(kc, con, 2)
    # Only a tristate selector at m can leave provider at m. Each try costs an
    # unset_values() over the whole tree (REGMAP_I2C has ~500 selectors): cap the tries.
    if not (con.tri_value == 2 and pro.tri_value == 1):
        tries = sorted(
            (
                s
                for s in expr_items(pro.rev_dep)
                if isinstance(s, Symbol) and s.orig_type == kconfiglib.TRISTATE and s is not con
            ),
            key=lambda s: s.name,
        )
        for selector in tries[:MAX_SELECTOR_TRIES]:
            kc.unset_values()
            _enable(kc, kc.modules, 2)
            _enable(kc, con, 2)
            _enable(kc, selector, 1)
            if 1 in selector.assignable:
                selector.set_value(1)
            if con.tri_value == 2 and pro.tri_value == 1:
                break
    ok = con.tri_value == 2 and pro.tri_value == 1
    values = dict(_assignments(kc)) | {consumer: "y", provider: "m"}
    result = Witness(
        "builtin-module", consumer, provider, ok, tuple(sorted(values.items())) if ok else ()
    )
    kc.unset_values()
    return result


def witness_enabled_without(kc: kconfiglib.Kconfig, consumer: str, provider: str) -> Witness:
    """Find values where consumer is enabled (y or m) while provider is n."""
    kc.unset_values()
    con, pro = kc.syms.get(consumer), kc.syms.get(provider)
    if con is None or pro is None or not con.nodes or not pro.nodes:
        return Witness("enabled-without", consumer, provider, False, detail="undefined")
    _enable(kc, kc.modules, 2)
    if 0 in pro.assignable:
        pro.set_value(0)
    _enable(kc, con, 1)
    ok = con.tri_value >= 1 and pro.tri_value == 0
    values = dict(_assignments(kc)) | {consumer: _TRI[con.tri_value], provider: "n"}
    result = Witness(
        "enabled-without", consumer, provider, ok, tuple(sorted(values.items())) if ok else ()
    )
    kc.unset_values()
    return result


def enable_assignments(kc: kconfiglib.Kconfig, names: Iterable[str]) -> dict[str, str]:
    """Values to add to kc's loaded .config so each of names is y or m (build stage).

    Enables unmet dependencies greedily (as the witnesses do); a symbol without a prompt
    is reached through one of its selectors. Returns every bool/tristate whose value
    changed, by bare name ('y' / 'm' / 'n'); a name that stays off is simply not on.
    """
    before = {s.name: s.tri_value for s in kc.unique_defined_syms}
    for name in names:
        sym = kc.syms.get(name)
        if sym is None or not sym.nodes or sym.tri_value >= 1:
            continue
        if _enable(kc, sym, 1):
            continue
        selectors = sorted(
            {s for s in expr_items(sym.rev_dep) if isinstance(s, Symbol) and s.nodes},
            key=lambda s: s.name,
        )
        for selector in selectors:
            if _enable(kc, selector, 1) and sym.tri_value >= 1:
                break
    changed = {}
    for sym in kc.unique_defined_syms:
        if sym.type in (kconfiglib.BOOL, kconfiglib.TRISTATE) and sym.tri_value != before.get(
            sym.name
        ):
            changed[sym.name] = _TRI[sym.tri_value]
    return changed
