"""One incremental SAT solver per formula view: groups loaded once, asked many times (pure).

A view's questions share most of their cones (the patched symbols and what they touch),
so the view keeps one CaDiCaL: a question loads only the groups no earlier question
loaded, adds its goal's definitions (fresh variables, so they constrain nothing else) and
solves under assumptions. Extra groups are harmless: a cone is closed under what its
symbols' values are made from, and every group has a value for its symbol whatever its
inputs are (the unset, default-taking one), so a model of the cone extends to them.

Pool variables are renumbered densely for the solver, so a model is as long as what was
loaded, not as the whole formula's numbering.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from pysat.solvers import Solver

from reviewbot.kconfig.formula import TRUE, Group

SOLVER = "cadical195"


class Model:
    """The positive pool variables of one satisfying assignment (`var in model`)."""

    def __init__(self, values: Sequence[int], local: dict[int, int]) -> None:
        self._values = values
        self._local = local

    def __contains__(self, var: object) -> bool:
        loc = self._local.get(var) if isinstance(var, int) else None
        return loc is not None and loc <= len(self._values) and self._values[loc - 1] > 0


class Sat:
    """A solver over pool variables; groups are loaded at most once each."""

    def __init__(self) -> None:
        self._solver = Solver(name=SOLVER)
        self._local: dict[int, int] = {}
        self._pool_of: list[int] = [0]
        self._loaded: set[str] = set()
        self._solver.add_clause([self._lit(TRUE)])

    def _lit(self, lit: int) -> int:
        var = abs(lit)
        loc = self._local.get(var)
        if loc is None:
            loc = self._local[var] = len(self._pool_of)
            self._pool_of.append(var)
        return loc if lit > 0 else -loc

    def load(self, groups: Iterable[Group]) -> None:
        for group in groups:
            if group.key in self._loaded:
                continue
            self._loaded.add(group.key)
            self.add(group.clauses)

    def add(self, clauses: Iterable[Sequence[int]]) -> None:
        lit, add = self._lit, self._solver.add_clause
        for clause in clauses:
            add([lit(x) for x in clause])

    def solve(self, assumptions: Iterable[int]) -> Model | None:
        if not self._solver.solve(assumptions=[self._lit(a) for a in assumptions]):
            return None
        return Model(self._solver.get_model() or [], self._local)

    def core(self) -> set[int]:
        """The assumptions (pool literals) of the last unsatisfiable call's core."""
        out = set()
        for loc in self._solver.get_core() or ():
            var = self._pool_of[abs(loc)]
            out.add(var if loc > 0 else -var)
        return out

    def close(self) -> None:
        self._solver.delete()
