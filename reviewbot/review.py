"""The reviewer: one long-lived owner of the warm review state, reviewing a Series on a base.

`reviewbot check` creates a Reviewer for one run; `reviewbot serve` keeps one for the life
of the service, so the tree index, the Kconfig workers (and their solver formulas) and the
prepared build trees stay warm between series. Neither the CLI nor the service composes
the review themselves: they hand the Reviewer a series and, optionally, the base the
series is to be reviewed on (reviewbot.bases picks it); without one, the embedded default
tree is used.

Warm state is keyed by base: Kconfig evaluators per directory on disk (the default tree,
or a worktree slot that moves between nearby bases), build providers per base commit;
the least recently used are closed when more than `warm_bases` are live. A base that
lives in git (reviewbot.bases) has no files on disk until Kconfig or a build needs them;
then `Base.materialise()` hands a worktree from the bounded cache.

Reviews may run in several threads at once: rules are pure and run side by side; what
reads files on disk (Kconfig workers, builds) runs one at a time, so a worktree is never
moved under a running evaluation.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from reviewbot import sandbox
from reviewbot.analysis.diff import FileChange
from reviewbot.analysis.facts import PatchedIndex
from reviewbot.analysis.view import TreeView
from reviewbot.build.executor import Executor, executor_from_spec, parse_spec
from reviewbot.build.model import BuildOutcome
from reviewbot.build.provider import BuildEvaluator, executor_runner
from reviewbot.build.runner import STEP_LIMITS
from reviewbot.config import Config
from reviewbot.errors import UserInputError
from reviewbot.kconfig.confirm import make_confirm, make_parse_check
from reviewbot.kconfig.facts import KconfigDelta
from reviewbot.kconfig.plan import KconfigPlan
from reviewbot.kconfig.provider import KconfigEvaluator
from reviewbot.limits import conf_limits, sandbox_limits
from reviewbot.model import Series
from reviewbot.rules.engine import SeriesResult, review_series
from reviewbot.rules.registry import select_rules
from reviewbot.store.jobs import JobStore
from reviewbot.tree.fetch import ensure_default_tree
from reviewbot.tree.fs import FsTree
from reviewbot.tree.identity import describe_tree
from reviewbot.tree.index import TreeIndex, build_index

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]


class BaseKind(StrEnum):
    """How a series' base was chosen (the order of preference)."""

    TRAILER = "trailer"  # the series' base-commit: trailer names a known commit
    BRANCH = "branch"  # the newest configured branch head the series applies to
    DEFAULT = "default"  # the embedded default tree


@dataclass(frozen=True)
class Base:
    """The tree a series is reviewed on, as the reviewer needs it.

    `view` serves rules (file text, listings); `index` is the tree's index; `key` names
    the base for the warm caches (the commit, or the default tree's key); `root` is the
    tree on disk when it has one, else `materialise` makes one (a worktree) on demand.
    """

    kind: BaseKind
    ref: str  # the branch name, "base-commit" or the default tree's name
    commit: str | None
    key: str
    view: TreeView
    index: TreeIndex
    root: Path | None = None
    materialise: Callable[[], Path] | None = field(default=None, compare=False)
    label: str = ""  # for people: 'linux-source-6.12 6.12.118-1 (Linux 6.12.118)'

    def disk(self) -> Path:
        """The tree on disk (a worktree for a git base), for Kconfig and builds."""
        if self.root is not None:
            return self.root
        if self.materialise is None:
            raise UserInputError(f"base {self.ref} has no files on disk")
        return self.materialise()

    def describe(self) -> str:
        """One line for reports: 'branch master at 1a2b3c4d5e6f'."""
        where = f" at {self.commit[:12]}" if self.commit else ""
        if self.kind is BaseKind.DEFAULT:
            return f"default tree {self.label or self.ref}{where}"
        return f"{self.kind.value} {self.ref}{where}"


@dataclass(frozen=True)
class ReviewSettings:
    """What a review runs: the stages and where builds go."""

    tree: Path | None = None  # the default tree (None: the config's, else Debian 6.12)
    arches: tuple[str, ...] = ()  # empty: the config's
    kconfig: bool = True
    build: bool = False
    executor: str = ""  # empty: the config's build.executor
    warm_bases: int = 2  # bases whose Kconfig workers and build providers stay live


@dataclass
class _Kconfig:
    """A Kconfig evaluator on one directory, and the Kconfig files it last saw there."""

    evaluator: KconfigEvaluator
    digest: str


class Reviewer:
    """Reviews series; owns the default tree, its index, and the per-base warm state."""

    def __init__(
        self, config: Config, settings: ReviewSettings, progress: Progress | None = None
    ) -> None:
        self.config = config
        self.settings = settings
        self.arches = settings.arches or config.arches
        self.progress = progress
        self._lock = threading.Lock()
        # Kconfig and builds read files on disk, and a worktree may be moved to another
        # base: what uses the disk runs one at a time (rules run side by side).
        self._disk_lock = threading.RLock()
        self._default: Base | None = None
        self._kconfig_by_dir: OrderedDict[Path, _Kconfig] = OrderedDict()
        self._builders: OrderedDict[str, BuildEvaluator] = OrderedDict()
        self._stack = ExitStack()
        self._executor: Executor | None = None
        self._jobs: JobStore | None = None
        self._spec = settings.executor or config.build_executor
        parse_spec(self._spec)  # a bad spec fails before any work

    # -- lifecycle -------------------------------------------------------------------

    def close(self) -> None:
        """Stop every Kconfig worker and the executor."""
        with self._disk_lock, self._lock:
            for warm in self._kconfig_by_dir.values():
                warm.evaluator.close()
            self._kconfig_by_dir.clear()
            self._builders.clear()
            self._stack.close()

    def __enter__(self) -> Reviewer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- bases -----------------------------------------------------------------------

    def default_base(self) -> Base:
        """The embedded default tree (fetched and indexed the first time)."""
        with self._lock:
            if self._default is None:
                root = (
                    self.settings.tree
                    or self.config.tree
                    or ensure_default_tree(self.config.cache_dir, self.progress)
                )
                if not root.is_dir():
                    raise UserInputError(f"tree {root}: not a directory")
                index = build_index(root, self.config.cache_dir, self.progress)
                self._default = Base(
                    kind=BaseKind.DEFAULT,
                    ref=root.name,
                    commit=None,
                    key=index.key,
                    view=FsTree(root),
                    index=index,
                    root=root,
                    label=describe_tree(root, index.key).label,
                )
            return self._default

    # -- review ----------------------------------------------------------------------

    def review(
        self, series: Series, base: Base | None = None, list_id: str | None = None
    ) -> SeriesResult:
        """Review one series on base (default: the embedded tree) with the list's policy."""
        base = base or self.default_base()
        rules = select_rules(self.config.policy_for(list_id))
        kconfig = self._kconfig(base) if self.settings.kconfig else None
        build = self._build(base) if self.settings.build else None
        return review_series(
            series, base.view, base.index, rules, self.arches, kconfig, build, self.config.limits
        )

    @property
    def _conf_limits(self) -> sandbox.Limits:
        return conf_limits(self.config.limits)

    def _kconfig(self, base: Base) -> Callable[[KconfigPlan], Mapping[str, KconfigDelta]]:
        """Evaluate on the base's files on disk, with the evaluator warm in that directory.

        Evaluators are kept per directory (the default tree, or a worktree slot), so when
        a worktree moves to a nearby base the same workers go on: a base with the same
        Kconfig files (same digest) reuses their parsed trees and solver formulas, another
        one is parsed again by the warm worker. The conf parse check caches base runs, so
        it is made anew when the Kconfig files change.
        """

        def evaluate(plan: KconfigPlan) -> Mapping[str, KconfigDelta]:
            digest = base.index.kconfig_digest or base.key
            with self._disk_lock:
                root = base.disk()
                warm = self._kconfig_by_dir.get(root)
                if warm is None:
                    evaluator = KconfigEvaluator(
                        root,
                        digest,
                        make_confirm(root, self.config.cache_dir, self._conf_limits),
                        parse_check=make_parse_check(
                            root, self.config.cache_dir, self._conf_limits
                        ),
                        index=base.index,
                        timeout=self.config.limits.kconfig_seconds,
                    )
                    warm = self._kconfig_by_dir[root] = _Kconfig(evaluator, digest)
                    self._evict_kconfig()
                elif warm.digest != digest:
                    warm.evaluator.parse_check = make_parse_check(
                        root, self.config.cache_dir, self._conf_limits
                    )
                    warm.digest = digest
                self._kconfig_by_dir.move_to_end(root)
                warm.evaluator.base_key = digest
                warm.evaluator.index = base.index
                return warm.evaluator(plan)

        return evaluate

    def _evict_kconfig(self) -> None:
        while len(self._kconfig_by_dir) > max(1, self.settings.warm_bases):
            root, old = self._kconfig_by_dir.popitem(last=False)
            old.evaluator.close()
            log.info("closed the Kconfig workers of %s", root)

    def _build(self, base: Base) -> _Builds:
        return _Builds(self, base)

    def _builder_for(self, base: Base) -> BuildEvaluator:
        """The warm build provider of base, where its files are now (hold _disk_lock)."""
        root = base.disk()  # a worktree may have moved since: where it is now
        builder = self._builders.get(base.key)
        if builder is None or builder.tree != root:
            builder = self._builders[base.key] = self._builder(root, base.key)
            while len(self._builders) > max(1, self.settings.warm_bases):
                self._builders.popitem(last=False)
        self._builders.move_to_end(base.key)
        return builder

    def _builder(self, root: Path, key: str) -> BuildEvaluator:
        """The build provider on the chosen executor; jobs recorded in <cache>/jobs.sqlite."""
        cache = self.config.cache_dir
        step = sandbox_limits(self.config.limits, STEP_LIMITS, self.config.limits.build_seconds)
        if parse_spec(self._spec).kind == "inline":
            return BuildEvaluator(root, key, cache, self.arches, limits=step)
        with self._lock:
            if self._executor is None or self._jobs is None:
                self._executor = self._stack.enter_context(executor_from_spec(self._spec))
                cache.mkdir(parents=True, exist_ok=True)
                self._jobs = self._stack.enter_context(JobStore.open(cache / "jobs.sqlite"))
            run_many = executor_runner(self._executor, self._jobs)
        return BuildEvaluator(root, key, cache, self.arches, run_many=run_many, limits=step)


class _Builds:
    """The engine's build provider for one base: the patch's builds, and the builds of
    its Kconfig witnesses (engine.WitnessBuilds), one at a time on the warm provider."""

    def __init__(self, reviewer: Reviewer, base: Base) -> None:
        self.reviewer = reviewer
        self.base = base

    def __call__(
        self,
        changes: tuple[FileChange, ...],
        index: PatchedIndex,
        before: Mapping[str, str | None],
        after: Mapping[str, str | None],
    ) -> Sequence[BuildOutcome]:
        with self.reviewer._disk_lock:  # also: one job store, one build at a time
            return self.reviewer._builder_for(self.base)(changes, index, before, after)

    def witness_builds(
        self,
        plan: KconfigPlan | None,
        deltas: Mapping[str, KconfigDelta],
        before: Mapping[str, str | None],
        after: Mapping[str, str | None],
    ) -> Sequence[BuildOutcome]:
        with self.reviewer._disk_lock:
            return self.reviewer._builder_for(self.base).witness_builds(plan, deltas, before, after)
