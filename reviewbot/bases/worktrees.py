"""The bounded cache of worktrees, made only where Kconfig or builds need files on disk.

At most `limit` worktrees per repository live under <cache>/worktrees/<list>/. A base
that has none takes a new one while there is room; otherwise the least recently used
worktree is moved to the new commit with `git checkout --force` (git rewrites only the
files that differ, so a nearby base costs seconds, not a full checkout).
"""

from __future__ import annotations

import logging
import shutil
import threading
from collections import OrderedDict
from pathlib import Path

from reviewbot.bases.git import Git

log = logging.getLogger(__name__)
CHECKOUT_TIMEOUT = 1800.0


class Worktrees:
    """commit -> a directory holding that commit's files, least recently used evicted."""

    def __init__(self, git: Git, directory: Path, limit: int = 2) -> None:
        self.git = git
        self.directory = directory
        self.limit = max(1, limit)
        self._trees: OrderedDict[str, Path] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, commit: str) -> Path:
        with self._lock:
            if commit in self._trees:
                self._trees.move_to_end(commit)
                return self._trees[commit]
            self.directory.mkdir(parents=True, exist_ok=True)
            if len(self._trees) < self.limit:
                used = set(self._trees.values())
                path = next(
                    self.directory / f"wt{i}"
                    for i in range(self.limit)
                    if self.directory / f"wt{i}" not in used
                )
                if path.exists():  # left over from an earlier run: start it clean
                    self.git.run("worktree", "prune", check=False)
                    shutil.rmtree(path)
                self.git.run(
                    "worktree",
                    "add",
                    "--detach",
                    "--force",
                    str(path),
                    commit,
                    timeout=CHECKOUT_TIMEOUT,
                )
                log.info("worktree %s made at %s", path, commit[:12])
            else:
                old, path = self._trees.popitem(last=False)
                self._checkout(path, commit)
                log.info("worktree %s moved from %s to %s", path, old[:12], commit[:12])
            self._trees[commit] = path
            return path

    def _checkout(self, path: Path, commit: str) -> None:
        work = ["--work-tree", str(path)]
        gitdir = self._gitdir(path)
        git = Git(gitdir)
        git.run(
            *work, "checkout", "--detach", "--force", "--quiet", commit, timeout=CHECKOUT_TIMEOUT
        )
        git.run(*work, "clean", "-ffdxq", timeout=CHECKOUT_TIMEOUT)

    @staticmethod
    def _gitdir(path: Path) -> Path:
        text = (path / ".git").read_text().strip()
        return Path(text.removeprefix("gitdir:").strip())

    def paths(self) -> dict[str, Path]:
        with self._lock:
            return dict(self._trees)
