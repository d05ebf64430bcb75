"""GitTree: the TreeView rules read, over one commit's tree objects (no checkout)."""

from __future__ import annotations

import posixpath
import threading
from collections import OrderedDict
from collections.abc import Mapping

from reviewbot.bases.git import Git

CACHE_FILES = 2048


class GitTree:
    """Files of one commit, read from the repository's objects on demand."""

    def __init__(self, git: Git, commit: str, entries: Mapping[str, tuple[str, str]]) -> None:
        self.git = git
        self.commit = commit
        self.entries = entries
        self._dirs: dict[str, set[str]] | None = None
        self._cache: OrderedDict[str, str | None] = OrderedDict()
        self._lock = threading.Lock()

    def _children(self) -> dict[str, set[str]]:
        with self._lock:
            if self._dirs is None:
                dirs: dict[str, set[str]] = {"": set()}
                for path in self.entries:
                    parent, name = posixpath.split(path)
                    while True:
                        known = parent in dirs
                        dirs.setdefault(parent, set()).add(name)
                        if known or not parent:
                            break
                        parent, name = posixpath.split(parent)
                self._dirs = dirs
            return self._dirs

    def read(self, path: str) -> str | None:
        with self._lock:
            if path in self._cache:
                self._cache.move_to_end(path)
                return self._cache[path]
        entry = self.entries.get(path)
        text = None
        if entry is not None and entry[0] != "160000":
            data = self.git.read_blob(entry[1])
            text = None if data is None else data.decode("utf-8", errors="replace")
        with self._lock:
            self._cache[path] = text
            while len(self._cache) > CACHE_FILES:
                self._cache.popitem(last=False)
        return text

    def exists(self, path: str) -> bool:
        path = path.strip("/")
        return path in self.entries or path in self._children()

    def listdir(self, path: str) -> tuple[str, ...]:
        return tuple(sorted(self._children().get(path.strip("/"), ())))
