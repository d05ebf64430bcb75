"""Read-only views of a tree: the protocol rules see, and an in-memory overlay (pure)."""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from typing import Protocol


class TreeView(Protocol):
    """What rules may ask of a tree: file text, existence and directory listings."""

    def read(self, path: str) -> str | None:
        """The file's text, or None when it does not exist."""
        ...

    def exists(self, path: str) -> bool:
        """Whether a file or directory exists at path."""
        ...

    def listdir(self, path: str) -> tuple[str, ...]:
        """Names in a directory (empty when it does not exist)."""
        ...


class DictTree:
    """A tree held in a dict of path -> text: for tests and small fixtures."""

    def __init__(self, files: Mapping[str, str]) -> None:
        self._files = dict(files)

    def read(self, path: str) -> str | None:
        return self._files.get(path)

    def exists(self, path: str) -> bool:
        if path in self._files:
            return True
        prefix = path.rstrip("/") + "/"
        return any(name.startswith(prefix) for name in self._files)

    def listdir(self, path: str) -> tuple[str, ...]:
        prefix = path.rstrip("/") + "/" if path else ""
        names = {
            name[len(prefix) :].split("/", 1)[0] for name in self._files if name.startswith(prefix)
        }
        return tuple(sorted(names))


class Overlay:
    """A base tree with some files replaced (text) or deleted (None), without copying it."""

    def __init__(self, base: TreeView, changes: Mapping[str, str | None]) -> None:
        self.base = base
        self.changes = dict(changes)

    def read(self, path: str) -> str | None:
        if path in self.changes:
            return self.changes[path]
        return self.base.read(path)

    def exists(self, path: str) -> bool:
        if path in self.changes:
            return self.changes[path] is not None
        if self.base.exists(path):
            return True
        prefix = path.rstrip("/") + "/"
        return any(k.startswith(prefix) and v is not None for k, v in self.changes.items())

    def listdir(self, path: str) -> tuple[str, ...]:
        names = set(self.base.listdir(path))
        prefix = path.rstrip("/") + "/" if path else ""
        for name, text in self.changes.items():
            if not name.startswith(prefix):
                continue
            rest = name[len(prefix) :]
            if "/" in rest:
                names.add(rest.split("/", 1)[0])
            elif text is None:
                names.discard(rest)
            else:
                names.add(rest)
        return tuple(sorted(names))


def parent_dirs(path: str) -> list[str]:
    """'a/b/c.c' -> ['a/b', 'a', '']: the directories a file sits under, nearest first."""
    out: list[str] = []
    directory = posixpath.dirname(path)
    while True:
        out.append(directory)
        if not directory:
            return out
        directory = posixpath.dirname(directory)
