"""A TreeView over a directory on disk, refusing paths that leave it."""

from __future__ import annotations

import os
from pathlib import Path


class FsTree:
    """Read files of a kernel tree on disk; text is decoded as UTF-8 with replacement."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self._cache: dict[str, str | None] = {}

    def _resolve(self, path: str) -> Path | None:
        if path.startswith("/") or ".." in path.split("/"):
            return None
        return self.root / path if path else self.root

    def read(self, path: str) -> str | None:
        if path in self._cache:
            return self._cache[path]
        full = self._resolve(path)
        text: str | None = None
        try:
            if full is not None and full.is_file():
                text = full.read_bytes().decode("utf-8", errors="replace")
        except OSError:  # a name too long, a file under a file: not in the tree
            text = None
        if len(self._cache) > 4096:
            self._cache.clear()
        self._cache[path] = text
        return text

    def exists(self, path: str) -> bool:
        full = self._resolve(path)
        try:
            return full is not None and full.exists()
        except OSError:
            return False

    def listdir(self, path: str) -> tuple[str, ...]:
        full = self._resolve(path)
        try:
            if full is None or not full.is_dir():
                return ()
            return tuple(sorted(os.listdir(full)))
        except OSError:
            return ()
