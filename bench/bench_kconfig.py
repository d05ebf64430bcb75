"""Benchmark the Kconfig stage (kconfiglib workers) beside the kernel's own conf.

    python -m bench.bench_kconfig [--arches x86_64 arm64] [--patches N] [--runs R]

On the KC01x rule fixtures and on real Kconfig patches that apply to the tree (the
upstream fixes of kbuild-kconfig-fix-positives.mbox, and patches of the linux-kbuild
archive), with the arches pinned, it prints:
1. the Kconfig stage's time per patch: cold (fresh workers); reused (one evaluator,
   one call per patch, as `reviewbot check` runs it); warm (median/max of R runs on the
   same workers, base parses cached); and the CLI's stage (kconfiglib plus the conf
   confirmations and parse check);
2. the RSS of the python worker processes, and of one worker holding three bases;
3. conf's own base and patched runs (and witness olddefconfig runs) per patch and arch,
   timed, and whether conf and reviewbot agree on new errors / loops / unmet warnings;
4. KC01x findings per patch, and every warning-level finding on the real patches: a real
   fix must add none. A fix already in the tree is checked on the tree with the fix
   reverted in memory (a two-patch series: revert, fix).
Progress goes to stderr, the figures to stdout. See bench/README.md.
"""

from __future__ import annotations

import argparse
import datetime
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import TypeVar

from bench._kconfig_common import (
    Call,
    Case,
    Memory,
    Result,
    Sources,
    busiest,
    conf_verdict,
    cpu_ticks,
    descendants,
    is_kconfig_worker,
    latest_versions,
    render_conf,
    render_findings,
    render_legend,
    render_memory,
    render_stage,
    revert_then_fix,
    single_series,
    status_kib,
)
from bench._kconfig_solver import SolverFigures, confirmations, render_solver
from reviewbot.analysis.diff import parse_diff
from reviewbot.config import default_cache_dir
from reviewbot.errors import BadDiffError, MalformedMailError
from reviewbot.kconfig.client import KconfigClient, worker_rss_kb
from reviewbot.kconfig.conf import (
    ConfSeverity,
    conf_diff_warnings,
    conf_olddefconfig,
    conf_parse,
)
from reviewbot.kconfig.confirm import make_confirm, make_parse_check
from reviewbot.kconfig.facts import KconfigDelta, Witness
from reviewbot.kconfig.plan import KconfigPlan
from reviewbot.kconfig.provider import Confirm, KconfigEvaluator, ParseCheck
from reviewbot.mail.mbox import read_input
from reviewbot.mail.parse import parse_mail
from reviewbot.mail.series import assemble
from reviewbot.model import Finding, Message, Series
from reviewbot.rules.engine import KconfigProvider, review_series
from reviewbot.rules.fixtures import load_fixtures, resolve
from reviewbot.rules.registry import RULES
from reviewbot.sandbox import child_pids
from reviewbot.tree.fetch import ensure_default_tree
from reviewbot.tree.fs import FsTree
from reviewbot.tree.index import TreeIndex, build_index, classify

REPO = Path(__file__).resolve().parent.parent
DATA = REPO.parent / "shared" / "data"
FIXES = DATA / "fixtures" / "kbuild-kconfig-fix-positives.mbox"
if not FIXES.exists():  # the copy the tests keep
    FIXES = REPO / "tests" / "data" / "kbuild-kconfig-fix-positives.mbox"
ARCHIVE = DATA / "lore" / "linux-kbuild-2025-11_2026-07.mbox.gz"
MEMORY_ARCHES = ("x86_64", "arm64", "riscv")
WARM_TARGET_S = 5.0
MEMORY_TARGET_KIB = 1 << 20


def _note(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


# ---------------------------------------------------------------------------
# The patches


def _messages(path: Path) -> list[Message]:
    out = []
    for raw in read_input(path.read_bytes(), str(path)):
        try:
            out.append(parse_mail(raw))
        except MalformedMailError:
            continue
    return out


def _kconfig_paths(message: Message) -> list[str]:
    try:
        changes = parse_diff(message.diff or "")
    except BadDiffError:
        return []
    paths = [c.path for c in changes] + [c.old_path for c in changes if c.old_path]
    return [p for p in paths if classify(p) == "kconfig"]


def _applies(series: Series, tree: Path, index: TreeIndex) -> bool:
    """The engine's verdict: no RB002 (does not apply) finding."""
    result = review_series(series, FsTree(tree), index, (), (), None)
    return not any(f.rule == "RB002" for f in result.findings)


def fixture_cases(rules_dir: Path, tree: Path) -> list[Case]:
    out = []
    for fixture in load_fixtures(rules_dir):
        if not fixture.rule.startswith("KC01"):
            continue
        messages = [parse_mail(r) for r in read_input(fixture.path.read_bytes(), str(fixture.path))]
        for series in assemble(messages)[0]:
            out.append(
                Case(
                    f"{fixture.rule}/{fixture.path.parent.name}/{fixture.path.stem}",
                    "fixture",
                    series,
                    # Declared lines follow their hunks to where they apply on this tree.
                    expected=resolve(fixture.expected, series.patches, FsTree(tree)),
                    checked=frozenset({fixture.rule} | {e.rule for e in fixture.expected}),
                )
            )
    return out


def real_cases(tree: Path, index: TreeIndex, limit: int, archive: Path) -> Sources:
    """The fixes (forward, else reverted first), then archive patches, up to limit."""
    found = Sources()
    for fix in _messages(FIXES):
        if not fix.has_patch or not _kconfig_paths(fix):
            continue
        found.fixes_total += 1
        if _applies(single_series(fix), tree, index):
            found.fixes_forward.append(fix.message_id)
            found.cases.append(Case(fix.subject, "fix", single_series(fix)))
        elif _applies(revert_then_fix(fix), tree, index):
            found.fixes_reverted.append(fix.message_id)
            found.cases.append(Case(fix.subject, "fix", revert_then_fix(fix), reverted=True))
        else:
            found.fixes_neither.append(fix.message_id)
    _note(f"reading {archive.name}")
    applying: dict[str, tuple[Message, tuple[bool, bool]]] = {}
    for message in _messages(archive):
        if not message.has_patch or message.tags.is_reply:
            continue
        paths = _kconfig_paths(message)
        if not paths:
            continue
        found.lore_candidates += 1
        if _applies(single_series(message), tree, index):
            later_part = (message.tags.number or 1) > 1
            tests_only = all(p.startswith("scripts/kconfig/tests/") for p in paths)
            applying[message.message_id] = (message, (later_part, tests_only))
    found.lore_applying = len(applying)
    kept = latest_versions((m.subject, m.tags.version, ident) for ident, (m, _) in applying.items())
    kept.sort(key=lambda ident: applying[ident][1])
    room = max(limit - len(found.cases), 0)
    for ident in kept[:room]:
        message = applying[ident][0]
        found.cases.append(Case(message.subject, "lore", single_series(message)))
    del found.cases[limit:]
    return found


# ---------------------------------------------------------------------------
# Timed providers


class Pinned:
    """The provider the engine calls: the arches pinned, every call timed and kept."""

    def __init__(
        self,
        inner: KconfigProvider,
        arches: tuple[str, ...],
        cpu: Callable[[], dict[int, float]] | None = None,
    ) -> None:
        self.inner = inner
        self.arches = arches
        self.cpu = cpu
        self.calls: list[Call] = []

    def __call__(self, plan: KconfigPlan) -> Mapping[str, KconfigDelta]:
        pinned = replace(plan, arches=self.arches)
        cpu_before = self.cpu() if self.cpu else {}
        started = time.perf_counter()
        try:
            deltas = self.inner(pinned)
        except Exception:
            self.calls.append(Call(pinned, {}, time.perf_counter() - started, failed=True))
            raise
        seconds = time.perf_counter() - started
        cpu = busiest(cpu_before, self.cpu()) if self.cpu else None
        self.calls.append(Call(pinned, deltas, seconds, cpu=cpu))
        return deltas


class Stopwatch:
    """Seconds summed over calls from any thread."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.count = 0
        self._lock = threading.Lock()

    def add(self, seconds: float) -> None:
        with self._lock:
            self.seconds += seconds
            self.count += 1

    def reset(self) -> None:
        with self._lock:
            self.seconds, self.count = 0.0, 0


def timed_confirm(inner: Confirm, watch: Stopwatch) -> Confirm:
    def confirm(
        overlay: Mapping[str, str | None], arch: str, witness: Witness
    ) -> tuple[bool | None, str]:
        started = time.perf_counter()
        try:
            return inner(overlay, arch, witness)
        finally:
            watch.add(time.perf_counter() - started)

    return confirm


def timed_parse_check(inner: ParseCheck, watch: Stopwatch) -> ParseCheck:
    def check(
        before: Mapping[str, str | None], after: Mapping[str, str | None], arch: str
    ) -> tuple[tuple[str | None, int | None, str, str], ...] | None:
        started = time.perf_counter()
        try:
            return inner(before, after, arch)
        finally:
            watch.add(time.perf_counter() - started)

    return check


@contextmanager
def evaluator(
    tree: Path,
    index: TreeIndex,
    confirm: Confirm | None = None,
    parse_check: ParseCheck | None = None,
    compare: bool = False,
) -> Iterator[KconfigEvaluator]:
    """Two workers, wired as the CLI wires them (index included); closed on the way out."""
    ev = KconfigEvaluator(
        tree, index.kconfig_digest, confirm, parse_check=parse_check, index=index, compare=compare
    )
    try:
        yield ev
    finally:
        ev.close()


def run_case(
    case: Case, provider: Pinned, tree: Path, index: TreeIndex, rules: bool = False
) -> tuple[Call | None, list[Finding]]:
    """Review the case's series; the target patch's Kconfig call and findings."""
    provider.calls.clear()
    result = review_series(case.series, FsTree(tree), index, RULES if rules else (), (), provider)
    call = provider.calls[-1] if provider.calls else None
    return call, [f for f in result.findings if f.patch == case.target.message_id]


# ---------------------------------------------------------------------------
# /proc


def worker_pids() -> list[int]:
    """The python Kconfig workers below this process (inside prlimit -> bwrap)."""
    tree: dict[int, list[int]] = {}
    todo = [os.getpid()]
    while todo:
        pid = todo.pop()
        tree[pid] = child_pids(pid)
        todo += [c for c in tree[pid] if c not in tree]
    out = []
    for pid in descendants(tree, os.getpid()):
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
            comm = Path(f"/proc/{pid}/comm").read_text().strip()
        except OSError:
            continue
        if is_kconfig_worker(argv, comm):
            out.append(pid)
    return out


def workers_cpu() -> dict[int, float]:
    """CPU seconds each python worker (with its waited-for children) used so far."""
    out = {}
    for pid in worker_pids():
        try:
            out[pid] = cpu_ticks(Path(f"/proc/{pid}/stat").read_text()) / os.sysconf("SC_CLK_TCK")
        except OSError:
            continue
    return out


def memory_kib(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) in KiB; zeros when the process is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0, 0
    return status_kib(status, "VmRSS") or 0, status_kib(status, "VmHWM") or 0


# ---------------------------------------------------------------------------
# The passes

_T = TypeVar("_T")


@dataclass(frozen=True)
class Env:
    tree: Path
    index: TreeIndex
    cache: Path
    arches: tuple[str, ...]


def cold_pass(cases: Sequence[Case], results: list[Result], env: Env) -> None:
    """A fresh evaluator (new workers) per patch."""
    for number, case in enumerate(cases, 1):
        _note(f"cold {number}/{len(cases)}: {case.label[:60]}")
        with evaluator(env.tree, env.index) as ev:
            call, _ = run_case(case, Pinned(ev, env.arches), env.tree, env.index)
        results[number - 1].cold = call.seconds if call and not call.failed else None


def reused_pass(cases: Sequence[Case], results: list[Result], env: Env) -> int:
    """One evaluator for every patch, one call each, as `reviewbot check` runs it."""
    failed = 0
    with evaluator(env.tree, env.index) as ev:
        provider = Pinned(ev, env.arches)
        run_case(cases[0], provider, env.tree, env.index)
        for number, case in enumerate(cases, 1):
            _note(f"reused {number}/{len(cases)}: {case.label[:60]}")
            call, _ = run_case(case, provider, env.tree, env.index)
            failed += sum(c.failed for c in provider.calls)
            results[number - 1].reused = call.seconds if call and not call.failed else None
    return failed


def warm_pass(
    cases: Sequence[Case], results: list[Result], env: Env, runs: int
) -> list[tuple[int, int, int]]:
    """Warm runs; then (pid, VmRSS, VmHWM) of each python worker."""
    with evaluator(env.tree, env.index) as ev:
        provider = Pinned(ev, env.arches, workers_cpu)
        run_case(cases[0], provider, env.tree, env.index)  # warm-up: base parses
        for number, case in enumerate(cases, 1):
            _note(f"warm {number}/{len(cases)} x{runs}: {case.label[:60]}")
            for _ in range(runs):
                call, _ = run_case(case, provider, env.tree, env.index)
                if call and not call.failed:
                    results[number - 1].warm.append(call.seconds)
                    results[number - 1].warm_cpu.append(call.cpu or 0.0)
        return [(pid, *memory_kib(pid)) for pid in worker_pids()]


def solver_pass(cases: Sequence[Case], env: Env) -> SolverFigures:
    """Fresh workers asked to compare: formula builds per arch, solver beside greedy."""
    figures = SolverFigures()
    with evaluator(env.tree, env.index, compare=True) as ev:
        provider = Pinned(ev, env.arches)
        for number, case in enumerate(cases, 1):
            _note(f"solver vs greedy {number}/{len(cases)}: {case.label[:60]}")
            provider.calls.clear()
            review_series(case.series, FsTree(env.tree), env.index, (), (), provider)
            for call in provider.calls:
                if not call.failed:
                    figures.add(call.deltas)
    return figures


def full_pass(cases: Sequence[Case], results: list[Result], env: Env) -> None:
    """As the CLI wires it: kconfiglib, conf confirmations and parse check."""
    confirms, parses = Stopwatch(), Stopwatch()
    with (
        evaluator(
            env.tree,
            env.index,
            timed_confirm(make_confirm(env.tree, env.cache), confirms),
            timed_parse_check(make_parse_check(env.tree, env.cache), parses),
        ) as ev,
    ):
        provider = Pinned(ev, env.arches)
        run_case(cases[0], provider, env.tree, env.index, rules=True)  # warm-up
        for number, case in enumerate(cases, 1):
            _note(f"with conf, all rules {number}/{len(cases)}: {case.label[:60]}")
            confirms.reset()
            parses.reset()
            call, findings = run_case(case, provider, env.tree, env.index, rules=True)
            result = results[number - 1]
            result.call, result.findings = call, findings
            result.full = call.seconds if call and not call.failed else None
            result.full_confirm, result.full_parse = confirms.seconds, parses.seconds


def _timed(action: Callable[[], _T]) -> tuple[_T, float]:
    started = time.perf_counter()
    value = action()
    return value, time.perf_counter() - started


def conf_case(result: Result, env: Env) -> None:
    """conf on base and patched per arch, plus witness olddefconfig runs, timed."""
    call = result.call
    if call is None:
        return
    plan = call.plan
    for arch in plan.arches:
        base, seconds = _timed(partial(conf_parse, env.tree, plan.before, arch, env.cache))
        result.conf_base += seconds
        patched, seconds = _timed(partial(conf_parse, env.tree, plan.after, arch, env.cache))
        result.conf_patched += seconds
        diff = conf_diff_warnings(base, patched)
        errors = [d for d in diff.diagnostics if d.severity is ConfSeverity.ERROR]
        witness_unmet = False
        delta = call.deltas.get(arch)
        for witness in delta.patched.witnesses if delta else ():
            if witness.kind != "unmet-select" or not witness.found:
                continue
            wanted = dict(witness.assignments)
            run, seconds = _timed(
                partial(conf_olddefconfig, env.tree, plan.after, arch, wanted, env.cache)
            )
            result.conf_witness += seconds
            if not any(u.symbol == witness.other for u in run.unmet):
                continue
            before, seconds = _timed(
                partial(conf_olddefconfig, env.tree, plan.before, arch, wanted, env.cache)
            )
            result.conf_witness += seconds
            if not any(u.symbol == witness.other for u in before.unmet):
                witness_unmet = True
                result.conf_new.append(f"{arch}: witness {witness.text()}: unmet {witness.other}")
        result.conf = result.conf | conf_verdict(
            base.ok, patched.ok, len(errors), len(diff.recursions), len(diff.unmet), witness_unmet
        )
        result.conf_new += [f"{arch}: {d}" for d in diff.diagnostics]
        result.conf_new += [f"{arch}: unmet {u.symbol}" for u in diff.unmet]
        result.conf_new += [f"{arch}: loop {' '.join(r.symbols)}" for r in diff.recursions]


def memory_pass(env: Env, sample: Call | None) -> Memory:
    """One worker with three bases warm, then a patched parse per arch on top."""
    with KconfigClient(env.tree) as client:
        for arch in MEMORY_ARCHES:
            _note(f"memory: base {arch}")
            client.evaluate(arch, env.index.kconfig_digest, {}, ())
        pids = worker_pids()
        rss_bases = memory_kib(pids[0])[0] if pids else 0
        if sample is not None:
            for arch in MEMORY_ARCHES:
                _note(f"memory: patched {arch}")
                plan = sample.plan
                client.evaluate(
                    arch, env.index.kconfig_digest, plan.after, plan.names, plan.witnesses
                )
        rss, hwm = memory_kib(pids[0]) if pids else (0, 0)
        return Memory(MEMORY_ARCHES, rss_bases, rss, hwm, worker_rss_kb(client))


# ---------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.bench_kconfig", description=(__doc__ or "").split("\n", 1)[0]
    )
    parser.add_argument("--arches", nargs="+", default=["x86_64", "arm64"], metavar="ARCH")
    parser.add_argument(
        "--patches", type=int, default=15, metavar="N", help="real patches (default: 15)"
    )
    parser.add_argument("--runs", type=int, default=3, metavar="R", help="warm runs per patch")
    parser.add_argument("--tree", type=Path, help="kernel tree (default: linux-source-6.12)")
    parser.add_argument("--archive", type=Path, default=ARCHIVE)
    parser.add_argument("--no-fixtures", action="store_true", help="real patches only")
    parser.add_argument(
        "--no-cold", action="store_true", help="skip the cold pass (fresh workers per patch)"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    load_before = _load()
    started = time.perf_counter()
    cache = default_cache_dir()
    tree = (args.tree or ensure_default_tree(cache)).resolve()
    index = build_index(tree, cache)
    env = Env(tree, index, cache, tuple(args.arches))
    cases = [] if args.no_fixtures else fixture_cases(REPO / "rules", tree)
    found = real_cases(tree, index, args.patches, args.archive)
    cases += found.cases
    if not cases:
        print("no patches to measure", file=sys.stderr)
        return 1
    results = [Result() for _ in cases]
    if not args.no_cold:
        cold_pass(cases, results, env)
    failed = reused_pass(cases, results, env)
    workers = warm_pass(cases, results, env, max(args.runs, 1))
    full_pass(cases, results, env)
    figures = solver_pass(cases, env)
    for number, result in enumerate(results, 1):
        _note(f"conf {number}/{len(results)}")
        conf_case(result, env)
    sample = next((r.call for r in results if r.call and r.call.plan.after), None)
    memory = memory_pass(env, sample)

    cpus = len(os.sched_getaffinity(0))
    print("== reviewbot Kconfig benchmark ==")
    print(f"date:    {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC, {cpus} CPUs")
    print(f"tree:    {tree}")
    print(f"arches:  {' '.join(env.arches)} (pinned); warm runs per patch: {args.runs}")
    print(
        f"patches: {sum(c.source == 'fixture' for c in cases)} KC01x fixtures, "
        f"{sum(c.source != 'fixture' for c in cases)} real (--patches {args.patches})"
    )
    print(f"load average before: {load_before}\n")
    print(render_legend(cases))
    stage, stage_ok = render_stage(cases, results, failed, WARM_TARGET_S)
    print(f"\n{stage}")
    text, memory_ok = render_memory(workers, memory, MEMORY_TARGET_KIB)
    print(f"\n{text}")
    print(f"\n{render_conf(results)[0]}")
    warm = [sorted(r.warm)[(len(r.warm) - 1) // 2] for r in results if r.warm]
    conf = confirmations(r.call.deltas for r in results if r.call and not r.call.failed)
    text, solver_ok = render_solver(figures, warm, conf, [rss for _, rss, _ in workers])
    print(f"\n{text}")
    text, accepted = render_findings(cases, results, found, FIXES.name)
    print(f"\n{text}")
    print(f"\nload average after: {_load()}; wall time {time.perf_counter() - started:.0f} s")
    print(
        f"targets: warm stage {'PASS' if stage_ok else 'MISS'}, memory "
        f"{'PASS' if memory_ok else 'MISS'}, real fixes {'PASS' if accepted else 'MISS'}, "
        f"solver {'PASS' if solver_ok else 'MISS'}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
