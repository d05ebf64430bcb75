"""The solver's figures for bench_kconfig: formula per arch, witness search, conf (pure).

Beside them, in the same run, the greedy witness walk the solver replaced ("today's"
search): the worker times it on the same questions when asked to compare.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from reviewbot.kconfig.facts import KconfigDelta

SOLVER_P95_TARGET_S = 5.0
SOLVER_MEAN_TARGET_S = 1.0
FORMULA_TARGET_KIB = 1 << 20


@dataclass
class SolverFigures:
    """What the compare pass saw: per arch formula builds, per patch witness searches."""

    formula: dict[str, tuple[float, int, int]] = field(default_factory=dict)  # s, clauses, KiB
    solver_seconds: list[float] = field(default_factory=list)  # per patch, summed over arches
    greedy_seconds: list[float] = field(default_factory=list)
    solver_found: int = 0
    greedy_found: int = 0
    asked: int = 0

    def add(self, deltas: Mapping[str, KconfigDelta]) -> None:
        solver = greedy = 0.0
        for arch, delta in deltas.items():
            stats = delta.stats
            if "formula_seconds" in stats and arch not in self.formula:
                self.formula[arch] = (
                    stats["formula_seconds"],
                    int(stats.get("formula_clauses", 0)),
                    int(stats.get("formula_rss_kib", 0)),
                )
            solver += stats.get("solver_seconds", 0.0)
            greedy += stats.get("greedy_seconds", 0.0)
            self.solver_found += int(stats.get("solver_found", 0))
            self.greedy_found += int(stats.get("greedy_found", 0))
            self.asked += 2 * len([w for w in delta.patched.witnesses if w.kind != "reachable"])
        self.solver_seconds.append(solver)
        self.greedy_seconds.append(greedy)


def p95(values: Sequence[float]) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)]


def mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def confirmations(deltas: Iterable[Mapping[str, KconfigDelta]]) -> tuple[int, int, int]:
    """Witnesses found on patched trees: (conf confirmed, conf rejected, not asked)."""
    ok = rejected = unasked = 0
    for by_arch in deltas:
        for delta in by_arch.values():
            for witness in delta.patched.witnesses:
                if not witness.found:
                    continue
                if witness.confirmed is True:
                    ok += 1
                elif witness.confirmed is False:
                    rejected += 1
                else:
                    unasked += 1
    return ok, rejected, unasked


def render_solver(
    figures: SolverFigures,
    warm: Sequence[float],
    conf: tuple[int, int, int],
    workers_kib: Sequence[int],
) -> tuple[str, bool]:
    """The section: warm per patch with the solver, formula per arch, witness search beside
    the greedy walk, conf's verdicts. `warm` is each patch's warm median (two arches)."""
    lines = ["== the Kconfig solver (witnesses by SAT; beside it the greedy walk it replaced) =="]
    warm_ok = p95(warm) <= SOLVER_P95_TARGET_S and mean(warm) < SOLVER_MEAN_TARGET_S
    lines.append(
        f"warm s/patch with the solver (two arches, {len(warm)} patches): mean {mean(warm):.2f}, "
        f"p95 {p95(warm):.2f}, max {max(warm, default=0.0):.2f} "
        f"[target p95 <= {SOLVER_P95_TARGET_S:.0f} s, mean < {SOLVER_MEAN_TARGET_S:.0f} s: "
        f"{'met' if warm_ok else 'missed'}]"
    )
    memory_ok = True
    for arch, (seconds, clauses, kib) in sorted(figures.formula.items()):
        memory_ok &= kib <= FORMULA_TARGET_KIB
        lines.append(
            f"formula {arch:<8} built once per base in {seconds:.1f} s: {clauses} clauses, "
            f"+{kib / 1024:.0f} MiB in the worker"
        )
    peak = max(workers_kib, default=0)
    memory_ok &= peak <= FORMULA_TARGET_KIB
    lines.append(
        f"worker RSS with base parses and formulas: {peak / 1024:.0f} MiB at most "
        f"[target <= 1 GiB per worker: {'met' if memory_ok else 'missed'}]"
    )
    lines.append(
        f"witness search per patch (same questions, same parses): solver mean "
        f"{mean(figures.solver_seconds):.3f} s, p95 {p95(figures.solver_seconds):.3f} s; "
        f"greedy mean {mean(figures.greedy_seconds):.3f} s, p95 "
        f"{p95(figures.greedy_seconds):.3f} s"
    )
    lines.append(
        f"witnesses found (base and patched trees): solver {figures.solver_found}, greedy "
        f"{figures.greedy_found}"
    )
    ok, rejected, unasked = conf
    lines.append(
        f"conf on the solver's witnesses (patched trees): {ok} confirmed, {rejected} rejected "
        f"(never reported), {unasked} not asked"
    )
    return "\n".join(lines), warm_ok and memory_ok
