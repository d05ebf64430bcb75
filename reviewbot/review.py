"""The reviewer: one long-lived owner of the warm review state, reviewing a Series on a base.

`reviewbot check` creates a Reviewer for one run; `reviewbot serve` keeps one for the life
of the service, so the tree index, the Kconfig workers (and their solver formulas) and the
prepared build trees stay warm between series. Neither the CLI nor the service composes
the review themselves: they hand the Reviewer a series and, optionally, the base the
series is to be reviewed on (reviewbot.bases picks it); without one, the embedded default
tree is used.

Warm state is keyed by base: one Kconfig evaluator and one build provider per base key,
the least recently used of them closed when more than `warm_bases` are live. A base that
lives in git (reviewbot.bases) has no files on disk until Kconfig or a build needs them;
then `Base.materialise()` hands a worktree from the bounded cache.

Reviews may run in several threads at once: rules are pure and run side by side; the
Kconfig workers and the build job store are used by one review at a time (a lock each).
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

from reviewbot.analysis.diff import FileChange
from reviewbot.analysis.facts import PatchedIndex
from reviewbot.analysis.view import TreeView
from reviewbot.build.executor import Executor, executor_from_spec, parse_spec
from reviewbot.build.model import BuildOutcome
from reviewbot.build.provider import BuildEvaluator, executor_runner
from reviewbot.config import Config
from reviewbot.errors import UserInputError
from reviewbot.kconfig.confirm import make_confirm, make_parse_check
from reviewbot.kconfig.facts import KconfigDelta
from reviewbot.kconfig.plan import KconfigPlan
from reviewbot.kconfig.provider import KconfigEvaluator
from reviewbot.model import Series
from reviewbot.rules.engine import SeriesResult, review_series
from reviewbot.rules.registry import select_rules
from reviewbot.store.jobs import JobStore
from reviewbot.tree.fetch import ensure_default_tree
from reviewbot.tree.fs import FsTree
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
            return f"default tree {self.ref}{where}"
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
class _Warm:
    """The per-base warm state: Kconfig evaluator and build provider, each with a lock."""

    evaluator: KconfigEvaluator | None = None
    builder: BuildEvaluator | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


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
        self._build_lock = threading.Lock()
        self._default: Base | None = None
        self._warm: OrderedDict[str, _Warm] = OrderedDict()
        self._stack = ExitStack()
        self._executor: Executor | None = None
        self._jobs: JobStore | None = None
        self._spec = settings.executor or config.build_executor
        parse_spec(self._spec)  # a bad spec fails before any work

    # -- lifecycle -------------------------------------------------------------------

    def close(self) -> None:
        """Stop every Kconfig worker and the executor."""
        with self._lock:
            for warm in self._warm.values():
                if warm.evaluator is not None:
                    warm.evaluator.close()
            self._warm.clear()
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
                )
            return self._default

    # -- review ----------------------------------------------------------------------

    def review(
        self, series: Series, base: Base | None = None, list_id: str | None = None
    ) -> SeriesResult:
        """Review one series on base (default: the embedded tree) with the list's policy."""
        base = base or self.default_base()
        rules = select_rules(self.config.policy_for(list_id))
        warm = self._warm_for(base)
        kconfig = self._kconfig(base, warm) if self.settings.kconfig else None
        build = self._build(base, warm) if self.settings.build else None
        return review_series(series, base.view, base.index, rules, self.arches, kconfig, build)

    def _warm_for(self, base: Base) -> _Warm:
        with self._lock:
            warm = self._warm.get(base.key)
            if warm is None:
                warm = self._warm[base.key] = _Warm()
            self._warm.move_to_end(base.key)
            while len(self._warm) > max(1, self.settings.warm_bases):
                key, old = next(iter(self._warm.items()))
                if old.lock.acquire(blocking=False):  # never close what a review is using
                    del self._warm[key]
                    if old.evaluator is not None:
                        old.evaluator.close()
                    old.lock.release()
                    log.info("closed the warm state of base %s", key)
                else:
                    break
            return warm

    def _kconfig(
        self, base: Base, warm: _Warm
    ) -> Callable[[KconfigPlan], Mapping[str, KconfigDelta]]:
        def evaluate(plan: KconfigPlan) -> Mapping[str, KconfigDelta]:
            with warm.lock:
                if warm.evaluator is None:
                    root = base.disk()
                    warm.evaluator = KconfigEvaluator(
                        root,
                        base.index.kconfig_digest or base.key,
                        make_confirm(root, self.config.cache_dir),
                        parse_check=make_parse_check(root, self.config.cache_dir),
                        index=base.index,
                    )
                return warm.evaluator(plan)

        return evaluate

    def _build(
        self, base: Base, warm: _Warm
    ) -> Callable[
        [
            tuple[FileChange, ...],
            PatchedIndex,
            Mapping[str, str | None],
            Mapping[str, str | None],
        ],
        Sequence[BuildOutcome],
    ]:
        def build(
            changes: tuple[FileChange, ...],
            index: PatchedIndex,
            before: Mapping[str, str | None],
            after: Mapping[str, str | None],
        ) -> Sequence[BuildOutcome]:
            with warm.lock, self._build_lock:  # one job store: one build at a time
                if warm.builder is None:
                    warm.builder = self._builder(base.disk(), base.key)
                return warm.builder(changes, index, before, after)

        return build

    def _builder(self, root: Path, key: str) -> BuildEvaluator:
        """The build provider on the chosen executor; jobs recorded in <cache>/jobs.sqlite."""
        cache = self.config.cache_dir
        if parse_spec(self._spec).kind == "inline":
            return BuildEvaluator(root, key, cache, self.arches)
        with self._lock:
            if self._executor is None or self._jobs is None:
                self._executor = self._stack.enter_context(executor_from_spec(self._spec))
                cache.mkdir(parents=True, exist_ok=True)
                self._jobs = self._stack.enter_context(JobStore.open(cache / "jobs.sqlite"))
            run_many = executor_runner(self._executor, self._jobs)
        return BuildEvaluator(root, key, cache, self.arches, run_many=run_many)
