"""The engine's build provider: plan a patch's builds, run the jobs, hand back outcomes (edge).

`BuildEvaluator(tree, tree_key, cache_dir)` is called by review_series once per patch
with the patch's changes, the index after it and the series overlays before and after
it. It plans (reviewbot.build.planner), skips jobs whose compiler is missing (logged with
the Debian package to install: the build rules then stay silent), and runs the others
through `run` (reviewbot.build.runner.run_job in-process by default; the executor passes
its own). Baseline jobs (full vmlinux per base commit) only run when `baseline=True`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from reviewbot.analysis.diff import FileChange
from reviewbot.analysis.facts import PatchedIndex
from reviewbot.build.matrix import load_matrix
from reviewbot.build.model import Arch, BuildJob, BuildOutcome, BuildPlan
from reviewbot.build.planner import DEFAULT_ARCHES, plan_builds
from reviewbot.build.prepare import CompilerMissingError, check_compiler
from reviewbot.build.runner import JobRequest, run_job
from reviewbot.errors import InfrastructureError

log = logging.getLogger(__name__)

RunJob = Callable[[JobRequest], BuildOutcome]


class BuildEvaluator:
    """Plans and runs the quick builds of each patch; `only` pins the arches (tests)."""

    def __init__(
        self,
        tree: Path,
        tree_key: str,
        cache_dir: Path,
        arches: Sequence[str] = DEFAULT_ARCHES,
        matrix: Mapping[str, Arch] | None = None,
        run: RunJob = run_job,
        only: Sequence[str] | None = None,
        baseline: bool = False,
    ) -> None:
        self.tree = tree
        self.tree_key = tree_key
        self.cache_dir = cache_dir
        self.matrix = matrix if matrix is not None else load_matrix()
        self.arches = tuple(a for a in arches if a in self.matrix) or DEFAULT_ARCHES
        self.run = run
        self.only = tuple(only) if only is not None else None
        self.baseline = baseline
        self.last_plan: BuildPlan | None = None  # for reports and benchmarks

    def _runnable(self, job: BuildJob) -> bool:
        if self.only is not None and job.arch.name not in self.only:
            return False
        try:
            check_compiler(job.arch)
        except CompilerMissingError as exc:
            log.warning("build skipped: %s", exc)
            return False
        return True

    def __call__(
        self,
        changes: Sequence[FileChange],
        index: PatchedIndex,
        before: Mapping[str, str | None],
        after: Mapping[str, str | None],
    ) -> tuple[BuildOutcome, ...]:
        plan = plan_builds(changes, index, self.matrix, self.arches)
        self.last_plan = plan
        for skip in plan.skipped:
            log.info("not built: %s: %s", skip.path, skip.reason)
        jobs = [j for j in plan.jobs if self._runnable(j)]
        if self.baseline:
            jobs += [j for j in plan.baseline if self._runnable(j)]
        outcomes = []
        for job in jobs:
            request = JobRequest(
                job,
                str(self.tree),
                self.tree_key,
                str(self.cache_dir),
                overlay=tuple(sorted(after.items())),
                before=tuple(sorted(before.items())),
            )
            try:
                outcome = self.run(request)
            except InfrastructureError as exc:
                log.warning("build %s failed to run: %s", job.key, exc)
                outcome = BuildOutcome(job, error=str(exc))
            log.info(
                "build %s: %.1f s (prepared tree %s)",
                job.key,
                outcome.seconds,
                "cached" if outcome.prepared_cached else "new",
            )
            outcomes.append(outcome)
        return tuple(outcomes)
