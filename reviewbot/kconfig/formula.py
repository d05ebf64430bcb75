"""Encode a kconfiglib-parsed tree as CNF, one clause group per symbol and choice (pure).

The model is kconfiglib's own value computation, read as constraints over every possible
.config that `conf --olddefconfig` can start from:

- a tristate is two booleans (S=y, S=m; never both); a bool is one;
- every symbol with a prompt has a "user set" variable u(S): when u(S) is false the
  symbol takes its default (the first `default` whose condition holds, raised by `imply`
  when its direct dependencies hold), when true it takes any value up to its prompt's
  visibility; either way `select` (the reverse dependency) raises it, and m is promoted
  to y for bool symbols, without `modules` and under an `imply` at y;
- a choice is visible or not; a visible choice has exactly one visible member at y, its
  default member unless u(choice);
- comparisons with int/string/hex symbols take the value kconfiglib computed for the
  tree's default configuration (they are not searched).

A witness is then a satisfying assignment; the symbols whose u() is true are what a
.config must say, everything else is conf's default, so the witness is checked by
writing exactly those lines and running conf. Groups are keyed by symbol name (choices
by their first location) and carry the names they mention, so a query takes only the
cone of influence of its symbols and a patch re-encodes only the groups that changed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import kconfiglib
from kconfiglib import AND, EQUAL, NOT, OR, UNEQUAL, Choice, Symbol

BOOL_TYPES = (kconfiglib.BOOL, kconfiglib.TRISTATE)
TRUE = 1  # variable 1 is always true (a unit clause in every query)
Pair = tuple[int, int]  # (value >= m, value == y) as literals
_CONST = {0: (-TRUE, -TRUE), 1: (TRUE, -TRUE), 2: (TRUE, TRUE)}


def choice_key(choice: Choice) -> str:
    node = choice.nodes[0]
    return f"<choice {choice.name or ''}@{node.filename}:{node.linenr}>"


@dataclass(frozen=True)
class Group:
    """The clauses of one symbol or choice, and the names (or choice keys) it mentions."""

    key: str
    signature: str
    clauses: tuple[tuple[int, ...], ...]
    mentions: frozenset[str]


class VarPool:
    """Variable numbers by name, and fresh aux variables.

    A view's pool sits on the base's (which no longer changes once built): it numbers
    its own new names and aux variables above the base's, so views never share a number
    the other defined differently, and each view's solver can keep what it was told.
    """

    def __init__(self, base: VarPool | None = None) -> None:
        self.base = base
        self.top: int = base.top if base is not None else TRUE
        self.named: dict[str, int] = {}

    def get(self, name: str) -> int | None:
        found = self.named.get(name)
        if found is None and self.base is not None:
            found = self.base.get(name)
        return found

    def var(self, name: str) -> int:
        found = self.get(name)
        if found is None:
            self.top += 1
            found = self.named[name] = self.top
        return found

    def fresh(self) -> int:
        self.top += 1
        return self.top


class Encoder:
    """Makes groups for one kconfiglib tree; variables come from a shared pool."""

    def __init__(self, kc: kconfiglib.Kconfig, pool: VarPool) -> None:
        self.kc = kc
        self.pool = pool
        self._clauses: list[tuple[int, ...]] = []
        self._mentions: set[str] = set()
        self._memo: dict[int, tuple[Any, Pair]] = {}

    # ---- literals -----------------------------------------------------------------
    def sym_y(self, name: str) -> int:
        return self.pool.var(name + "=y")

    def sym_m(self, name: str) -> int:
        return self.pool.var(name + "=m")

    def user(self, key: str) -> int:
        return self.pool.var("u:" + key)

    def conj(self, lits: Iterable[int]) -> int:
        items = []
        for lit in lits:
            if lit == -TRUE:
                return -TRUE
            if lit != TRUE and lit not in items:
                items.append(lit)
        if not items:
            return TRUE
        if len(items) == 1:
            return items[0]
        out = self.pool.fresh()
        for lit in items:
            self._clauses.append((-out, lit))
        self._clauses.append((out, *(-lit for lit in items)))
        return out

    def disj(self, lits: Iterable[int]) -> int:
        return -self.conj(-lit for lit in lits)

    def _iff(self, a: int, b: int) -> int:
        return self.disj((self.conj((a, b)), self.conj((-a, -b))))

    def _ite(self, c: int, a: int, b: int) -> int:
        return self.disj((self.conj((c, a)), self.conj((-c, b))))

    def _pair_sym(self, sym: Symbol) -> Pair:
        if sym.is_constant:
            return (
                _CONST.get(sym.tri_value, _CONST[0]) if sym.name in ("y", "m", "n") else _CONST[0]
            )
        if not sym.nodes or sym.orig_type not in BOOL_TYPES:
            return _CONST[0]
        self._mentions.add(sym.name)
        y = self.sym_y(sym.name)
        if sym.orig_type is kconfiglib.BOOL:
            return (y, y)
        return (self.disj((y, self.sym_m(sym.name))), y)

    def pair(self, expr: Any) -> Pair:
        """An expression's value as (>= m, == y) literals."""
        memo = self._memo.get(id(expr))
        if memo is not None and memo[0] is expr:
            return memo[1]
        out = self._pair(expr)
        self._memo[id(expr)] = (expr, out)
        return out

    def _pair(self, expr: Any) -> Pair:
        if isinstance(expr, Symbol):
            return self._pair_sym(expr)
        if isinstance(expr, Choice):
            self._mentions.add(choice_key(expr))
            return (self._choice_vis(expr), self._choice_vis(expr))
        op = expr[0]
        if op is NOT:
            a1, a2 = self.pair(expr[1])
            return (-a2, -a1)
        if op is AND or op is OR:
            (a1, a2), (b1, b2) = self.pair(expr[1]), self.pair(expr[2])
            combine = self.conj if op is AND else self.disj
            return (combine((a1, b1)), combine((a2, b2)))
        return self._compare(expr)

    def _compare(self, expr: Any) -> Pair:
        op, left, right = expr
        tri = all(
            isinstance(s, Symbol)
            and (s.orig_type in BOOL_TYPES or (s.is_constant and s.name in ("y", "m", "n")))
            for s in (left, right)
        )
        if tri and op in (EQUAL, UNEQUAL):
            (a1, a2), (b1, b2) = self._pair_sym(left), self._pair_sym(right)
            same = self.conj((self._iff(a1, b1), self._iff(a2, b2)))
            lit = same if op is EQUAL else -same
            return (lit, lit)
        for side in (left, right):
            if isinstance(side, Symbol) and not side.is_constant and side.nodes:
                self._mentions.add(side.name)
        return _CONST[kconfiglib.expr_value(expr)]

    def _choice_vis(self, choice: Choice) -> int:
        return self.disj(self.pair(node.prompt[1])[0] for node in choice.nodes if node.prompt)

    def _vis(self, sym: Symbol) -> Pair:
        conds = [self.pair(node.prompt[1]) for node in sym.nodes if node.prompt]
        return (self.disj(c[0] for c in conds), self.disj(c[1] for c in conds))

    def _max(self, a: Pair, b: Pair) -> Pair:
        return (self.disj((a[0], b[0])), self.disj((a[1], b[1])))

    @property
    def clauses(self) -> list[tuple[int, ...]]:
        """The clauses made since the last group started (a query's goal, for one)."""
        return self._clauses

    @property
    def mentions(self) -> set[str]:
        return self._mentions

    # ---- groups -------------------------------------------------------------------
    def _start(self) -> None:
        self._clauses, self._mentions, self._memo = [], set(), {}

    def _finish(self, key: str, signature: str) -> Group:
        self._mentions.discard(key)
        return Group(key, signature, tuple(self._clauses), frozenset(self._mentions))

    def symbol(self, sym: Symbol) -> Group:
        """The clauses that fix sym's value from the rest of the configuration."""
        self._start()
        name = sym.name
        if sym.choice is not None:  # value set by its choice's group
            self._mentions.add(choice_key(sym.choice))
            return self._finish(name, signature(sym))
        y, c = self.sym_y(name), self._clauses
        tristate = sym.orig_type is kconfiglib.TRISTATE
        m = self.sym_m(name) if tristate else -TRUE
        on = self.disj((y, m))
        vis, dd = self._vis(sym), self.pair(sym.direct_dep)
        rev, weak = self.pair(sym.rev_dep), self.pair(sym.weak_rev_dep)
        default: Pair = _CONST[0]
        for value, cond in reversed(sym.defaults):
            v, k = self.pair(value), self.pair(cond)
            default = (self._ite(k[0], self.conj((v[0], k[0])), default[0]),
                       self._ite(k[0], self.conj((v[1], k[1])), default[1]))  # fmt: skip
        weak_on = (self.conj((weak[0], dd[0])), self.conj((weak[1], dd[0])))
        top = self._max(self._max(default, weak_on), rev)
        modules = self._modules()
        promo = self.disj((weak[1], -modules)) if tristate else TRUE
        c.append((-rev[0], on))
        c.append((-rev[1], y))
        if tristate:
            c += [(-y, -m), (-m, modules), (-m, -weak[1])]
        unset = -self.user(name) if any(n.prompt for n in sym.nodes) else TRUE
        if unset != TRUE:
            c.append((unset, vis[0]))  # set by the user only when visible
            c.append((unset, -y, vis[1], rev[1], promo))
        # not set: exactly the default (promoted), raised by selects
        want_y = self.disj((top[1], self.conj((top[0], promo))))
        for a, b in ((on, top[0]), (y, want_y)):
            c += [(-unset, -a, b), (-unset, a, -b)] if unset != TRUE else [(-a, b), (a, -b)]
        return self._finish(name, signature(sym))

    def _modules(self) -> int:
        modules = self.kc.modules
        if not modules.nodes:
            return -TRUE
        self._mentions.add(modules.name)
        return self.sym_y(modules.name)

    def choice(self, choice: Choice) -> Group:
        """Exactly one visible member at y when the choice is visible; its default if unset."""
        self._start()
        key = choice_key(choice)
        members = [s for s in choice.syms if s.orig_type in BOOL_TYPES]
        self._mentions.update(s.name for s in members)
        visible = self._choice_vis(choice)
        c = self._clauses
        ys = [self.sym_y(s.name) for s in members]
        mvis = {s.name: self._vis(s)[0] for s in members}
        for s, y in zip(members, ys, strict=True):
            c.append((-y, visible))
            c.append((-y, mvis[s.name]))
            if s.orig_type is kconfiglib.TRISTATE:
                c.append((-self.sym_m(s.name),))
        for i, a in enumerate(ys):
            for b in ys[i + 1 :]:
                c.append((-a, -b))
        if not choice.is_optional:
            c.append((-visible, -self.disj(mvis.values()), *ys))
        candidates = [(s, self.pair(cond)[0]) for s, cond in choice.defaults if s in members]
        candidates += [(s, TRUE) for s in members]
        none_yet, picks = TRUE, dict.fromkeys((s.name for s in members), -TRUE)
        for s, cond in candidates:
            here = self.conj((mvis[s.name], cond))
            picks[s.name] = self.disj((picks[s.name], self.conj((here, none_yet))))
            none_yet = self.conj((none_yet, -here))
        unset = -self.user(key)
        c.append((unset, visible))
        for s, y in zip(members, ys, strict=True):
            want = self.conj((picks[s.name], visible))
            c += [(-unset, -y, want), (-unset, y, -want)]
        return self._finish(key, choice_signature(choice))


def _expr_key(expr: Any) -> str:
    if isinstance(expr, Symbol):
        return (
            expr.name if not expr.is_constant or expr.name in ("y", "m", "n") else repr(expr.name)
        )
    if isinstance(expr, Choice):
        return choice_key(expr)
    return "(" + " ".join([str(expr[0]), *(_expr_key(e) for e in expr[1:])]) + ")"


def signature(sym: Symbol) -> str:
    """A digest of everything a symbol's group is made from (equal digest, same group)."""
    parts = [
        str(sym.orig_type),
        choice_key(sym.choice) if sym.choice is not None else "",
        _expr_key(sym.direct_dep),
        _expr_key(sym.rev_dep),
        _expr_key(sym.weak_rev_dep),
        *(_expr_key(n.prompt[1]) for n in sym.nodes if n.prompt),
        *(f"{_expr_key(v)}|{_expr_key(c)}" for v, c in sym.defaults),
        *(str(kconfiglib.expr_value(e)) for e in _comparisons(sym)),
    ]
    return hashlib.blake2b("\n".join(parts).encode(), digest_size=12).hexdigest()


def choice_signature(choice: Choice) -> str:
    parts = [
        choice_key(choice),
        str(choice.is_optional),
        *(_expr_key(n.prompt[1]) for n in choice.nodes if n.prompt),
        *(f"{s.name}|{_expr_key(c)}" for s, c in choice.defaults),
        *(f"{s.name}|{_expr_key(n.prompt[1])}" for s in choice.syms for n in s.nodes if n.prompt),
    ]
    return hashlib.blake2b("\n".join(parts).encode(), digest_size=12).hexdigest()


def _comparisons(sym: Symbol) -> Iterator[Any]:
    """Non-tristate comparisons in a symbol's expressions (their values are constants)."""
    stack: list[Any] = [sym.direct_dep, sym.rev_dep, sym.weak_rev_dep]
    stack += [n.prompt[1] for n in sym.nodes if n.prompt]
    stack += [x for pair in sym.defaults for x in pair]
    while stack:
        expr = stack.pop()
        if isinstance(expr, tuple):
            if expr[0] in (AND, OR, NOT):
                stack.extend(expr[1:])
            else:
                yield expr
