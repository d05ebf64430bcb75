"""bench_build's section 4b: header patches built for real, against the quick-build budget.

The header fixtures (a change that breaks users under one configuration, and its fix)
go through the whole review as `reviewbot check --build` runs it (all rules; the build
jobs recorded and run on a local process pool of two workers, as `--executor local`
does, or one after the other with executor "inline"), on the arches given. Each run has
a fresh job store, so no job comes back from an earlier run. Each patch runs once to
prime (prepared trees of its configs made and cached), then R timed warm runs. Per
patch it prints the jobs the plan made and why (arch, config, users), whether each job's
base build was needed (it is left out when the patched build prints nothing), the warm
seconds (median and max) and the BLD001 findings; then the budget line: warm per patch
<= 60 s on two arches.
"""

from __future__ import annotations

import contextlib
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from bench.common import format_table
from reviewbot.build.executor import Executor, executor_from_spec
from reviewbot.build.model import BuildOutcome, BuildPlan
from reviewbot.build.provider import BuildEvaluator, RunMany, executor_runner, run_inline
from reviewbot.build.runner import BASE_NOT_NEEDED, JobRequest
from reviewbot.config import Config
from reviewbot.mail.mbox import read_input
from reviewbot.mail.parse import parse_mail
from reviewbot.mail.series import assemble
from reviewbot.model import Series
from reviewbot.rules.engine import review_series
from reviewbot.rules.registry import select_rules
from reviewbot.store.jobs import JobStore
from reviewbot.tree.fs import FsTree
from reviewbot.tree.index import TreeIndex

REPO = Path(__file__).resolve().parent.parent
BUDGET_SECONDS = 60.0
# (bad, good): a header change breaking users under one CONFIG, and its fix; a real
# change breaking only the users that pass pointers, and a real harmless one
HEADER_PAIRS = (
    (
        "rules/BLD001/bad/pm-wakeup-stub-member.patch",
        "rules/BLD001/good/pm-wakeup-stub-comment.patch",
    ),
    (
        "rules/BLD001/bad/up-smp-call-function-many-macro.patch",
        "rules/BLD001/good/up-smp-call-function-many-rename.patch",
    ),
    (
        "rules/BLD001/bad/minmax-is-nonneg-cast.patch",
        "rules/BLD001/good/overflow-is-negative-revert.patch",
    ),
)


def _note(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _series(path: Path) -> Series:
    messages = [parse_mail(raw) for raw in read_input(path.read_bytes(), path.name)]
    return assemble(messages)[0][0]


class _Kept:
    """run_many that keeps the outcomes (to tell skipped base builds)."""

    def __init__(self, run_many: RunMany) -> None:
        self.run_many = run_many
        self.outcomes: list[BuildOutcome] = []

    def __call__(self, requests: Sequence[JobRequest]) -> list[BuildOutcome]:
        found = self.run_many(requests)
        self.outcomes += found
        return found


def _once(
    series: Series,
    root: Path,
    index: TreeIndex,
    arches: tuple[str, ...],
    executor: Executor | None,
) -> tuple[float, BuildPlan, list[BuildOutcome], list[str]]:
    rules = select_rules(Config().policy_for(None))
    with (
        tempfile.TemporaryDirectory(prefix="bench-jobs-") as tmp,
        JobStore.open(Path(tmp) / "jobs.sqlite") as store,
    ):
        run_many = executor_runner(executor, store) if executor else run_inline
        kept = _Kept(run_many)
        evaluator = BuildEvaluator(
            root, index.key, Config().cache_dir, arches, link=False, run_many=kept
        )
        started = time.monotonic()
        result = review_series(series, FsTree(root), index, rules, arches, None, evaluator)
        seconds = time.monotonic() - started
    found = sorted({f"{f.rule} {f.path}:{f.line}" for f in result.findings if f.rule == "BLD001"})
    return seconds, evaluator.last_plan or BuildPlan(), kept.outcomes, found


def header_budget(
    root: Path, index: TreeIndex, arches: tuple[str, ...], runs: int, spec: str = "local"
) -> list[float]:
    """Prints section 4b; returns the warm seconds of every timed run."""
    print(
        f"\n== 4b. header patches built (warm, after a priming run; {runs} timed run(s) each, "
        f"{', '.join(arches)}, executor {spec}) =="
    )
    with contextlib.ExitStack() as stack:
        executor = None if spec == "inline" else stack.enter_context(executor_from_spec(spec))
        return _budget(root, index, arches, runs, executor)


def _budget(
    root: Path, index: TreeIndex, arches: tuple[str, ...], runs: int, executor: Executor | None
) -> list[float]:
    rows = []
    jobs_rows = []
    all_runs: list[float] = []
    for pair in HEADER_PAIRS:
        for label in pair:
            series = _series(REPO / label)
            primed, _, _, _ = _once(series, root, index, arches, executor)
            _note(f"primed {label} in {primed:.0f} s")
            times: list[float] = []
            plan = BuildPlan()
            outcomes: list[BuildOutcome] = []
            found: list[str] = []
            for _ in range(runs):
                seconds, plan, outcomes, found = _once(series, root, index, arches, executor)
                times.append(seconds)
            all_runs += times
            name = Path(label).parent.name + "/" + Path(label).name
            rows.append(
                (
                    name,
                    str(len(plan.jobs)),
                    f"{statistics.median(times):.0f}",
                    f"{max(times):.0f}",
                    ", ".join(found) or "none",
                )
            )
            for outcome in outcomes:
                job = outcome.job
                enable = ",".join(f"{s}={v}" for s, v in job.config.enable if s != "WERROR")
                skipped = bool(outcome.base) and all(
                    r.tail == BASE_NOT_NEEDED for r in outcome.base
                )
                reasons = [s.reason.split("; left out: ", 1) for s in job.steps]
                jobs_rows.append(
                    (
                        name,
                        job.arch.name,
                        enable[:60],
                        f"{outcome.seconds:.0f}",
                        f"{sum(r.seconds for r in outcome.patched):.0f}",
                        f"{sum(r.seconds for r in outcome.base):.0f}",
                        "skipped" if skipped else "built",
                        "; ".join(
                            f"{r[0]} x{len(s.targets)}"
                            for r, s in zip(reasons, job.steps, strict=True)
                        )[:100],
                        "; ".join(r[1] for r in reasons if len(r) > 1)[:120] or "-",
                    )
                )
    print(format_table(("patch", "jobs", "warm median s", "warm max s", "BLD001"), rows))
    print("\njobs of the last timed run (why each was made; base left out when patched is clean):")
    print(
        "(make s: the make runs of each side; the rest of job s is copying the prepared "
        "tree and the shadow source per side)"
    )
    print(
        format_table(
            (
                "patch",
                "arch",
                "config",
                "job s",
                "patched make s",
                "base make s",
                "base",
                "why",
                "left out",
            ),
            jobs_rows,
        )
    )
    return all_runs


def print_header_target(runs: Sequence[float], arches: Sequence[str]) -> None:
    if not runs:
        return
    worst = max(runs)
    verdict = "PASS" if worst <= BUDGET_SECONDS else "MISS"
    print(
        f"header patch, warm per patch <= {BUDGET_SECONDS:.0f} s ({len(arches)} arches, "
        f"{len(runs)} runs): median {statistics.median(runs):.0f} s, max {worst:.0f} s {verdict}"
    )
