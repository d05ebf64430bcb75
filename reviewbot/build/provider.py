"""The engine's build provider: plan a patch's builds, run the jobs, hand back outcomes (edge).

`BuildEvaluator(tree, tree_key, cache_dir)` is called by review_series once per patch
with the patch's changes, the index after it and the series overlays before and after
it. It plans (reviewbot.build.planner), skips jobs whose compiler is missing (logged with
the Debian package to install: the build rules then stay silent), and runs the others
through `run_many`: `run_inline` (reviewbot.build.runner.run_job in this process, one job
after the other) by default, or `executor_runner(executor, store)`, which records the
jobs in the job store and runs a patch's jobs side by side on a local process pool or a
Dask cluster (reviewbot.build.executor); a job already done with the same payload comes
back from the store. Baseline jobs (full vmlinux per base commit) only run when
`baseline=True`. For a changed shared header it names what the hunk changed and searches
the tree for users (reviewbot.build.usersearch) before planning. LINK jobs run only when
the warm full build of their (base, arch, config) already exists (reviewbot.build.warm);
otherwise a warning says the link check was skipped. `witness_builds` builds the Kconfig
stage's confirmed link witnesses (reviewbot.build.witness); the engine calls it after the
Kconfig evaluation of the same patch.
"""

from __future__ import annotations

import logging
import posixpath
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from reviewbot import sandbox
from reviewbot.analysis.diff import ChangeKind, FileChange
from reviewbot.analysis.facts import PatchedIndex
from reviewbot.build.codec import load_as
from reviewbot.build.executor import Executor, ExecutorError, JobFn, run_jobs
from reviewbot.build.matrix import load_matrix, probe_toolchains
from reviewbot.build.model import Arch, BuildJob, BuildOutcome, BuildPlan, StepKind
from reviewbot.build.planner import (
    DEFAULT_ARCHES,
    MAX_SHARED_USERS,
    is_local_header,
    plan_builds,
)
from reviewbot.build.prepare import CompilerMissingError, check_compiler
from reviewbot.build.runner import STEP_LIMITS, JobRequest, build_job, job_payload, run_job
from reviewbot.build.toolchains import unusable
from reviewbot.build.users import Users, header_change
from reviewbot.build.usersearch import header_users
from reviewbot.build.warm import find_warm
from reviewbot.build.witness import witness_jobs
from reviewbot.errors import InfrastructureError
from reviewbot.kconfig.facts import KconfigDelta
from reviewbot.kconfig.plan import KconfigPlan
from reviewbot.store.jobs import JobState, JobStore

log = logging.getLogger(__name__)

RunJob = Callable[[JobRequest], BuildOutcome]
MAX_SCANNED = 64  # sources read per touched header
MAX_SOURCE_BYTES = 4 << 20


def local_includers(
    changes: Sequence[FileChange], index: PatchedIndex, read: Callable[[str], str | None]
) -> dict[str, tuple[str, ...]]:
    """For each touched local header, the built sources beside it that #include it."""
    out: dict[str, tuple[str, ...]] = {}
    for change in changes:
        path = change.path
        if change.binary or change.kind is ChangeKind.DELETED or not is_local_header(path):
            continue
        directory, name = posixpath.split(path)
        include = re.compile(rf'^[ \t]*#[ \t]*include[ \t]*"{re.escape(name)}"', re.MULTILINE)
        users = []
        for obj in index.objects_in(directory)[:MAX_SCANNED]:
            for source in (obj[:-2] + ".c", obj[:-2] + ".S"):
                text = read(source)
                if text is not None and include.search(text):
                    users.append(source)
                    break
        out[path] = tuple(users)
    return out


RunMany = Callable[[Sequence[JobRequest]], list[BuildOutcome]]


def _probe_only(job: BuildJob) -> bool:
    """A job that only tries the toolchain probes (another toolchain's TOOLCHAIN step)."""
    return bool(job.steps) and all(s.kind is StepKind.TOOLCHAIN for s in job.steps)


def run_inline(requests: Sequence[JobRequest], run: RunJob = run_job) -> list[BuildOutcome]:
    """Run the jobs here, one after the other (tests, and `check --executor inline`)."""
    outcomes = []
    for request in requests:
        try:
            outcomes.append(run(request))
        except InfrastructureError as exc:
            log.warning("build %s failed to run: %s", request.job.key, exc)
            outcomes.append(BuildOutcome(request.job, error=str(exc)))
    return outcomes


def executor_runner(executor: Executor, store: JobStore, fn: JobFn = build_job) -> RunMany:
    """Run a patch's jobs through the recorded executor path (failed jobs are retried)."""

    def run_many(requests: Sequence[JobRequest]) -> list[BuildOutcome]:
        try:
            rows = run_jobs(
                executor, store, [job_payload(r) for r in requests], fn, retry_failed=True
            )
        except ExecutorError as exc:
            log.warning("build executor failed: %s", exc)
            return [BuildOutcome(r.job, error=f"executor: {exc}") for r in requests]
        outcomes = []
        for request, row in zip(requests, rows, strict=True):
            if row.state is JobState.DONE and row.result is not None:
                outcomes.append(load_as(BuildOutcome, row.result["outcome"]))
            else:
                error = ((row.error or "").strip().splitlines() or ["job failed"])[-1]
                log.warning("build %s failed to run: %s", request.job.key, error)
                outcomes.append(BuildOutcome(request.job, error=error))
        return outcomes

    return run_many


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
        run_many: RunMany | None = None,
        limits: sandbox.Limits = STEP_LIMITS,
        link: bool = True,
    ) -> None:
        self.tree = tree
        self.limits = limits  # each make step's (reviewbot.limits.sandbox_limits)
        self.tree_key = tree_key
        self.cache_dir = cache_dir
        self.matrix = matrix if matrix is not None else load_matrix()
        self.arches = tuple(a for a in arches if a in self.matrix) or DEFAULT_ARCHES
        self.run_many: RunMany = run_many or (lambda requests: run_inline(requests, run))
        self.only = tuple(only) if only is not None else None
        self.baseline = baseline
        self.link = link  # relink checks on a warm full build, when one exists
        self.last_plan: BuildPlan | None = None  # for reports and benchmarks

    def _linkable(self, job: BuildJob) -> bool:
        """A LINK job runs only on a warm full build that already exists (never made here)."""
        if not any(step.kind is StepKind.LINK for step in job.steps):
            return True
        if not self.link:
            return False
        if find_warm(self.cache_dir, self.tree_key, job.arch, job.config) is None:
            log.warning(
                "link check skipped: no warm full build of %s %s for this base in %s "
                "(`reviewbot warm --arch %s` makes one)",
                job.arch.name,
                job.config.defconfig,
                self.cache_dir,
                job.arch.name,
            )
            return False
        log.info("link check on the warm full build of %s %s", job.arch.name, job.config.defconfig)
        return True

    def _pinned(self, job: BuildJob) -> bool:
        """Whether `only` lets the job run: its arch, or another toolchain of a pinned
        arch trying a probe change (x86_64-clang when x86_64 is pinned)."""
        if self.only is None or job.arch.name in self.only:
            return True
        return _probe_only(job) and any(
            job.arch in probe_toolchains(self.matrix, name) for name in self.only
        )

    def _runnable(self, job: BuildJob) -> bool:
        if not self._pinned(job):
            return False
        try:
            check_compiler(job.arch)
        except CompilerMissingError as exc:
            log.warning("build skipped: %s", exc)
            return False
        return True

    def _untried(self, jobs: Sequence[BuildJob]) -> list[BuildOutcome]:
        """Probe-only jobs of a toolchain that cannot run here (not installed, older than
        the tree supports): an outcome that says so, for BLD005's evidence."""
        out = []
        for job in jobs:
            if _probe_only(job) and self._pinned(job):
                why = unusable(job.arch, self.tree)
                if why:
                    log.warning("probe check with %s not run: %s", job.arch.name, why)
                    out.append(BuildOutcome(job, error=f"{job.arch.name}: {why}"))
        return out

    def _header_users(
        self,
        changes: Sequence[FileChange],
        index: PatchedIndex,
        before: Mapping[str, str | None],
        read: Callable[[str], str | None],
    ) -> dict[str, Users]:
        """The changed names of each shared header, and the users chosen to build."""
        srcarches = {a.srcarch for a in self.matrix.values() if a.name in self.arches}

        def buildable(source: str) -> bool:
            match = re.match(r"^arch/([^/]+)/", source)
            if match and match.group(1) not in srcarches:
                return False
            return bool(index.builders_of(source[:-2] + ".o"))

        out: dict[str, Users] = {}
        for change in changes:
            path = change.path
            if (
                change.binary
                or change.kind is ChangeKind.DELETED
                or not path.endswith(".h")
                or is_local_header(path)
            ):
                continue
            old = before[path] if path in before else self._base_text(path)
            header = header_change(change, old, read(path))
            if not header.changed:
                continue
            found = header_users(self.tree, header, buildable, 2 * MAX_SHARED_USERS)
            chosen = [found.label(s) for s in found.sources]
            log.info("users of %s in %s: %s", header.direct()[:6], path, chosen)
            out[path] = found
        return out

    def _base_text(self, path: str) -> str | None:
        file = self.tree / path
        try:
            if file.stat().st_size > MAX_SOURCE_BYTES:
                return None
            return file.read_text(errors="replace")
        except OSError:
            return None

    def __call__(
        self,
        changes: Sequence[FileChange],
        index: PatchedIndex,
        before: Mapping[str, str | None],
        after: Mapping[str, str | None],
    ) -> tuple[BuildOutcome, ...]:
        def read(path: str) -> str | None:
            if path in after:
                return after[path]
            file = self.tree / path
            try:
                if file.stat().st_size > MAX_SOURCE_BYTES:
                    return None
                return file.read_text(errors="replace")
            except OSError:
                return None

        includers = local_includers(changes, index, read)
        users = self._header_users(changes, index, before, read)
        plan = plan_builds(changes, index, self.matrix, self.arches, includers, users)
        self.last_plan = plan
        for skip in plan.skipped:
            log.info("not built: %s: %s", skip.path, skip.reason)
        untried = self._untried(plan.jobs)
        gone = {o.job.key for o in untried}
        jobs = [
            j for j in plan.jobs if j.key not in gone and self._runnable(j) and self._linkable(j)
        ]
        if self.baseline:
            jobs += [j for j in plan.baseline if self._runnable(j)]
        return self.run_jobs(jobs, before, after) + tuple(untried)

    def witness_builds(
        self,
        plan: KconfigPlan | None,
        deltas: Mapping[str, KconfigDelta],
        before: Mapping[str, str | None],
        after: Mapping[str, str | None],
    ) -> tuple[BuildOutcome, ...]:
        """Build the Kconfig stage's new confirmed link witnesses (reviewbot.build.witness)."""
        jobs = [j for j in witness_jobs(plan, deltas, self.matrix) if self._runnable(j)]
        for job in jobs:
            log.info("witness build %s: %s", job.key, job.steps[0].reason)
        return self.run_jobs(jobs, before, after) if jobs else ()

    def run_jobs(
        self,
        jobs: Sequence[BuildJob],
        before: Mapping[str, str | None],
        after: Mapping[str, str | None],
    ) -> tuple[BuildOutcome, ...]:
        """Run jobs (planned here, or witness jobs from planner.witness_job) base vs patched."""
        requests = [
            JobRequest(
                job,
                str(self.tree),
                self.tree_key,
                str(self.cache_dir),
                overlay=tuple(sorted(after.items())),
                before=tuple(sorted(before.items())),
                limits=self.limits,
            )
            for job in jobs
        ]
        outcomes = self.run_many(requests) if requests else []
        for outcome in outcomes:
            log.info(
                "build %s: %.1f s (prepared tree %s)",
                outcome.job.key,
                outcome.seconds,
                "cached" if outcome.prepared_cached else "new",
            )
        return tuple(outcomes)
