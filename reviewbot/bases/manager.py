"""BaseManager: per-list repositories and `choose(series, list) -> Base` for the reviewer.

A list with a `[lists.NAME.repo]` gets a bare clone under the cache, fetched from its
remote at start-up and every `fetch_interval`; its series are reviewed on the base
reviewbot.bases.select picks. A list without one, and a series that fits no branch, is
reviewed on the embedded default tree. Bases are read from git objects (GitTree); a
worktree is made only when Kconfig or a build asks for the files on disk.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path

from reviewbot.bases.git import Git, GitError
from reviewbot.bases.gitindex import BlobFacts
from reviewbot.bases.select import Head, choose
from reviewbot.bases.view import GitTree
from reviewbot.bases.worktrees import Worktrees
from reviewbot.model import Series
from reviewbot.review import Base, Reviewer
from reviewbot.service_config import RepoConfig
from reviewbot.tree.index import TreeIndex

log = logging.getLogger(__name__)
KEEP_BASES = 4  # indexes and views kept per list
FIRST_FETCH_WAIT = 6 * 3600.0  # seconds a series waits for its list's first fetch


class ListRepo:
    """One list's clone: its heads, views and indexes of recent bases, and worktrees."""

    def __init__(self, config: RepoConfig, cache_dir: Path, blobs: BlobFacts, worktrees: int):
        self.config = config
        self.git = Git(config.path)
        self.blobs = blobs
        self.worktrees = Worktrees(self.git, cache_dir / "worktrees" / config.list_id, worktrees)
        self.lock = threading.Lock()
        self.tried = threading.Event()  # set after the first fetch attempt of this run
        self._bases: OrderedDict[str, tuple[GitTree, TreeIndex | None]] = OrderedDict()
        self.fetched_at = 0.0

    def fetch(self) -> None:
        try:
            self.git.ensure(self.config.remote)
            self.git.fetch(self.config.branches)
        finally:
            self.fetched_at = time.monotonic()
            self.tried.set()
        log.info("fetched %s (%s)", self.config.remote, ", ".join(self.config.branches))

    def heads(self) -> list[Head]:
        out = []
        for branch in self.config.branches:
            found = self.git.head(branch)
            if found is not None:
                out.append(Head(branch, found[0], found[1]))
        return out

    def view(self, commit: str) -> GitTree:
        with self.lock:
            if commit not in self._bases:
                self._bases[commit] = (GitTree(self.git, commit, self.git.ls_tree(commit)), None)
                while len(self._bases) > KEEP_BASES:
                    self._bases.popitem(last=False)
            self._bases.move_to_end(commit)
            return self._bases[commit][0]

    def index(self, commit: str) -> TreeIndex:
        view = self.view(commit)
        with self.lock:
            cached = self._bases.get(commit)
            if cached is not None and cached[1] is not None:
                return cached[1]
        index = self.blobs.index(self.git, commit)
        self.blobs.save()
        with self.lock:
            self._bases[commit] = (view, index)
        return index


class BaseManager:
    """Chooses and builds the Base of each series (runs in review threads)."""

    def __init__(
        self,
        repos: Mapping[str, RepoConfig],
        cache_dir: Path,
        reviewer: Reviewer,
        worktrees: int = 2,
    ) -> None:
        self.reviewer = reviewer
        self.blobs = BlobFacts(cache_dir)
        self.repos = {
            name: ListRepo(config, cache_dir, self.blobs, worktrees)
            for name, config in repos.items()
        }

    def fetch_all(self) -> None:
        """Fetch every list's remote; a failure is logged and the last fetch stays in use."""
        for repo in self.repos.values():
            try:
                repo.fetch()
            except GitError as exc:
                log.error("fetch of %s failed: %s", repo.config.remote, exc)

    async def fetch_loop(self, stop: asyncio.Event) -> None:
        """Fetch each remote at start-up and then every fetch_interval."""
        while not stop.is_set():
            for repo in self.repos.values():
                due = repo.fetched_at + repo.config.fetch_interval
                if repo.fetched_at == 0.0 or time.monotonic() >= due:
                    try:
                        await asyncio.to_thread(repo.fetch)
                    except GitError as exc:  # retried after the interval
                        log.error("fetch of %s failed: %s", repo.config.remote, exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=30.0)

    def choose(self, series: Series, list_id: str) -> Base:
        """The base of a series: trailer, else a branch head it applies to, else default."""
        repo = self.repos.get(list_id)
        if repo is None:
            return self.reviewer.default_base()
        # The first clone of a kernel takes a while: its series wait for it (in their
        # review thread; ingest goes on) rather than being reviewed on the wrong tree.
        if (
            not repo.tried.wait(timeout=FIRST_FETCH_WAIT)
            or not (repo.config.path / "HEAD").exists()
        ):
            log.warning("no clone of %s yet: <%s> on the default tree", list_id, series.message_id)
            return self.reviewer.default_base()
        try:
            choice = choose(series, repo.git.resolve, repo.heads(), repo.view)
            if choice.commit is None:
                return self.reviewer.default_base()
            commit = choice.commit
            return Base(
                kind=choice.kind,
                ref=choice.ref,
                commit=commit,
                key=commit,
                view=repo.view(commit),
                index=repo.index(commit),
                materialise=lambda: repo.worktrees.get(commit),
            )
        except GitError as exc:
            log.error(
                "base of <%s> on %s: %s; using the default tree", series.message_id, list_id, exc
            )
            return self.reviewer.default_base()

    def close(self) -> None:
        for repo in self.repos.values():
            repo.git.close()
