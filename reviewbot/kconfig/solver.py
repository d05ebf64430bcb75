"""Witnesses from a SAT solver over a tree's Kconfig formula (pure; runs in the worker).

`BaseFormula` encodes a base tree once per arch (kept warm by the worker). `view(kc)`
gives the formula of a patched parse: every group whose signature is unchanged is the
base's, only changed symbols are encoded again. A view is kept with its parse (the base's
for as long as the base, a patched one while it is among the last few), with one
incremental CaDiCaL (`sat.Sat`) and the answers it gave. A query takes the cone of
influence of the symbols it names, loads the groups of it the view's solver does not
have yet, and asks for a model with as few user-set symbols as it can find (core-guided,
then greedy drops). The answer is the .config lines that make the witness: what
`conf --olddefconfig` is then run on.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import kconfiglib
from kconfiglib import Symbol, expr_str

from reviewbot.kconfig.formula import (
    BOOL_TYPES,
    Encoder,
    Group,
    VarPool,
    choice_key,
    choice_signature,
    signature,
)
from reviewbot.kconfig.sat import Model, Sat

MAX_VIEWS = 3  # views of patched parses kept beside the base's own (as the worker keeps parses)
MAX_CONE_CLAUSES = 2_000_000
MAX_MINIMISE_CALLS = 60
MINIMISE_SECONDS = 3.0


class BaseFormula:
    """One arch's base tree as groups of clauses, built once."""

    def __init__(self, kc: kconfiglib.Kconfig) -> None:
        started = time.monotonic()
        self.kc = kc
        self.pool = VarPool()
        encoder = Encoder(kc, self.pool)
        self.groups: dict[str, Group] = {}
        for sym in kc.unique_defined_syms:
            if sym.orig_type in BOOL_TYPES:
                self.groups[sym.name] = encoder.symbol(sym)
        for choice in kc.unique_choices:
            group = encoder.choice(choice)
            self.groups[group.key] = group
        self.seconds = time.monotonic() - started
        self.own = FormulaView(self, kc)
        self._views: OrderedDict[int, FormulaView] = OrderedDict()

    @property
    def clause_count(self) -> int:
        return sum(len(g.clauses) for g in self.groups.values())

    def view(self, kc: kconfiglib.Kconfig) -> FormulaView:
        """The view of a parse: the same one (solver, answers) while the parse is kept."""
        if kc is self.kc:
            return self.own
        found = self._views.get(id(kc))
        if found is not None and found.kc is kc:
            self._views.move_to_end(id(kc))
            return found
        view = self._views[id(kc)] = FormulaView(self, kc)
        while len(self._views) > MAX_VIEWS:
            self._views.popitem(last=False)[1].close()
        return view


class FormulaView:
    """The formula of one parse (the base's own, or a patched one sharing its groups)."""

    def __init__(self, base: BaseFormula, kc: kconfiglib.Kconfig) -> None:
        self.base = base
        self.kc = kc
        self.pool = VarPool(base.pool)
        self.encoder = Encoder(kc, self.pool)
        self._groups: dict[str, Group] = {}
        self.choices = {choice_key(c): c for c in kc.unique_choices}
        self.reencoded: list[str] = []
        self.answers: dict[tuple[str, str, str], Answer | None] = {}
        self._sat: Sat | None = None

    @property
    def sat(self) -> Sat:
        if self._sat is None:
            self._sat = Sat()
        return self._sat

    def close(self) -> None:
        if self._sat is not None:
            self._sat.close()
            self._sat = None

    def group(self, key: str) -> Group | None:
        found = self._groups.get(key)
        if found is not None:
            return found
        base = self.base.groups.get(key)
        if self.kc is self.base.kc:
            return base
        group = self._encode(key, base)
        if group is not None:
            self._groups[key] = group
        return group

    def _encode(self, key: str, base: Group | None) -> Group | None:
        if key.startswith("<choice"):
            choice = self.choices.get(key)
            if choice is None:
                return None
            if base is not None and base.signature == choice_signature(choice):
                return base
            self.reencoded.append(key)
            return self.encoder.choice(choice)
        sym = self.kc.syms.get(key)
        if sym is None or not sym.nodes or sym.orig_type not in BOOL_TYPES:
            if base is None:
                return None
            y, m = self.pool.var(key + "=y"), self.pool.var(key + "=m")
            return Group(key, "", ((-y,), (-m,)), frozenset())
        if base is not None and base.signature == signature(sym):
            return base
        self.reencoded.append(key)
        return self.encoder.symbol(sym)

    def cone(self, roots: Iterable[str]) -> list[Group]:
        seen: set[str] = set()
        out: list[Group] = []
        stack = list(roots)
        while stack:
            key = stack.pop()
            if key in seen:
                continue
            seen.add(key)
            group = self.group(key)
            if group is not None:
                out.append(group)
                stack.extend(group.mentions)
        return out


@dataclass(frozen=True)
class Answer:
    """A model: the .config lines (user-set symbols) and the value of every cone symbol."""

    lines: tuple[tuple[str, str], ...]
    values: Mapping[str, str]
    solve_calls: int


def _value(model: Model, pool: VarPool, name: str) -> str:
    y, m = pool.get(name + "=y"), pool.get(name + "=m")
    if y is not None and y in model:
        return "y"
    if m is not None and m in model:
        return "m"
    return "n"


class Query:
    """One satisfiability question over a view: a goal formula and the symbols it names."""

    def __init__(self, view: FormulaView) -> None:
        self.view = view
        self.encoder = Encoder(view.kc, view.pool)

    def pair(self, expr: Any) -> tuple[int, int]:
        return self.encoder.pair(expr)

    def solve(self, goal: int) -> Answer | None:
        encoder = self.encoder
        groups = self.view.cone(encoder.mentions)
        if sum(len(g.clauses) for g in groups) + len(encoder.clauses) > MAX_CONE_CLAUSES:
            return None
        pool = self.view.pool
        users = {}
        for g in groups:
            var = pool.get(f"u:{g.key}")
            if var is not None:
                users[var] = g.key
        sat = self.view.sat
        sat.load(groups)
        sat.add(encoder.clauses)
        first = sat.solve([goal])
        if first is None:
            return None
        model, calls = self._minimise(sat, first, goal, users)
        values = {g.key: _value(model, pool, g.key) for g in groups if g.key[0] != "<"}
        lines = []
        for var, key in sorted(users.items(), key=lambda kv: kv[1]):
            if var not in model:
                continue
            if key.startswith("<choice"):
                choice = self.view.choices[key]
                lines += [(s.name, "y") for s in choice.syms if values.get(s.name) == "y"]
            else:
                lines.append((key, values.get(key, "n")))
        return Answer(tuple(sorted(set(lines))), values, calls)

    @staticmethod
    def _minimise(sat: Sat, model: Model, goal: int, users: Mapping[int, str]) -> tuple[Model, int]:
        """Relax user-set variables from unsat cores, then drop them one by one.

        `model` is a model of the goal; the result is one with as few users set as the
        calls and time allowed (never worse than the first)."""
        deadline = time.monotonic() + MINIMISE_SECONDS
        relaxed: set[int] = set()
        calls = 0
        while calls < MAX_MINIMISE_CALLS and time.monotonic() < deadline:
            calls += 1
            found = sat.solve([goal, *(-u for u in users if u not in relaxed)])
            if found is not None:
                model = found
                break
            core = {-lit for lit in sat.core() if -lit in users}
            if not core:
                break
            relaxed |= core
        chosen = {u for u in users if u in model}
        for u in sorted(chosen):
            if calls >= MAX_MINIMISE_CALLS or time.monotonic() > deadline:
                break
            if u not in chosen:
                continue
            calls += 1
            rest = chosen - {u}
            found = sat.solve([goal, *(-x for x in users if x not in rest)])
            if found is not None:
                model = found
                chosen = {x for x in users if x in model}
        return model, calls


def _select_cond(selector: Symbol, target: Symbol) -> Any:
    for tgt, cond in selector.selects:
        if tgt is target:
            return cond
    return None


def unmet_select(view: FormulaView, selector: str, target: str) -> Answer | None:
    """Selector on (its select active) while the target's direct dependencies are lower."""
    sel, tgt = view.kc.syms.get(selector), view.kc.syms.get(target)
    if sel is None or tgt is None or not sel.nodes or not tgt.nodes:
        return None
    cond = _select_cond(sel, tgt)
    if cond is None or tgt.direct_dep is view.kc.y:
        return None
    query = Query(view)
    enc = query.encoder
    s1, s2 = query.pair(sel)
    c1, c2 = query.pair(cond)
    d1, d2 = query.pair(tgt.direct_dep)
    term1, term2 = enc.conj((s1, c1)), enc.conj((s2, c2))
    goal = enc.disj((enc.conj((term1, -d1)), enc.conj((term2, -d2))))
    return query.solve(goal)


def _condition(view: FormulaView, subject: str) -> list[Symbol] | None:
    """The symbols of a consumer condition ('A' or 'A&B': every part must hold)."""
    syms = [view.kc.syms.get(name) for name in subject.split("&") if name]
    if not syms or any(s is None or not s.nodes for s in syms):
        return None
    return [s for s in syms if s is not None]


def builtin_module(view: FormulaView, consumer: str, provider: str) -> Answer | None:
    """Consumer at y (every part of its condition) while provider is at m."""
    cons, pro = _condition(view, consumer), view.kc.syms.get(provider)
    if cons is None or pro is None or pro.orig_type is not kconfiglib.TRISTATE or not pro.nodes:
        return None
    query = Query(view)
    built_in = [query.pair(con)[1] for con in cons]
    query.pair(pro)
    m = view.pool.var(provider + "=m")
    return query.solve(query.encoder.conj((*built_in, m)))


def module_with(view: FormulaView, consumer: str, provider: str) -> Answer | None:
    """Consumer's code in a module (its condition on, a tristate part of it at m) while
    provider is on (y or m): a module calling into the provider."""
    cons, pro = _condition(view, consumer), view.kc.syms.get(provider)
    if cons is None or pro is None or not pro.nodes:
        return None
    tristates = [c for c in cons if c.orig_type is kconfiglib.TRISTATE]
    if not tristates:
        return None
    query = Query(view)
    on = [query.pair(con)[0] for con in cons]
    pon, _ = query.pair(pro)
    enc = query.encoder
    modular = enc.disj(tuple(view.pool.var(c.name + "=m") for c in tristates))
    return query.solve(enc.conj((*on, modular, pon)))


def enabled_without(view: FormulaView, consumer: str, provider: str) -> Answer | None:
    """Consumer on (every part of its condition at y or m) while provider is n."""
    cons = _condition(view, consumer)
    if cons is None:
        return None
    pro = view.kc.syms.get(provider)
    query = Query(view)
    on = [query.pair(con)[0] for con in cons]
    if pro is None or not pro.nodes:
        return query.solve(query.encoder.conj(tuple(on)))
    pon, _ = query.pair(pro)
    return query.solve(query.encoder.conj((*on, -pon)))


def reachable(view: FormulaView, symbol: str) -> Answer | None:
    """Any configuration with symbol at y or m."""
    sym = view.kc.syms.get(symbol)
    if sym is None or not sym.nodes or sym.orig_type not in BOOL_TYPES:
        return None
    query = Query(view)
    on, _ = query.pair(sym)
    return query.solve(on)


def describe(view: FormulaView, kind: str, subject: str, other: str) -> str:
    """A short text of the condition a witness shows (for the finding's message)."""
    tgt = view.kc.syms.get(other)
    if kind == "unmet-select" and tgt is not None:
        return f"depends on {expr_str(tgt.direct_dep)}"
    return ""


QUERIES = {
    "unmet-select": unmet_select,
    "builtin-module": builtin_module,
    "enabled-without": enabled_without,
    "module-with": module_with,
}


def ask(
    view: FormulaView, wanted: Sequence[Sequence[str]]
) -> list[tuple[Sequence[str], Answer | None]]:
    """Each question's answer; a view answers the same question once (its parse is fixed)."""
    out: list[tuple[Sequence[str], Answer | None]] = []
    for kind, subject, other in wanted:
        if kind != "reachable" and kind not in QUERIES:
            continue
        key = (kind, subject, other)
        if key not in view.answers:
            if kind == "reachable":
                view.answers[key] = reachable(view, subject)
            else:
                view.answers[key] = QUERIES[kind](view, subject, other)
        out.append(((kind, subject, other), view.answers[key]))
    return out
