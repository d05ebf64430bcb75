"""Teach kconfiglib 14.1 newer Kconfig syntax and read patched files from memory.

kconfiglib 14.1 predates two keywords:
- `modules` (Linux >= 5.13; kconfiglib only knows `option modules`): rewritten to
  `option modules` on the same line.
- `transitional` (Linux >= 6.18): a property marking a symbol kept only to migrate old
  configs; kconfiglib has no such notion, so the line is blanked (line numbers kept).

Files named in an overlay are served from memory (None = deleted), and `source` globs
see added and deleted files, so a patched tree is evaluated without copying it.
"""

from __future__ import annotations

import fnmatch
import io
import os
import re
from collections.abc import Iterator, Mapping
from typing import IO, Any

import kconfiglib

_MODULES = re.compile(r"^(\s+)modules[ \t]*(#.*)?$", re.MULTILINE)
_TRANSITIONAL = re.compile(r"^\s+transitional[ \t]*(#.*)?$", re.MULTILINE)

_real_iglob = kconfiglib.iglob
_active: dict[str, str | None] = {}


def rewrite(text: str) -> str:
    """Rewrite what kconfiglib cannot parse into what it can, keeping line numbers."""
    text = _MODULES.sub(r"\1option modules", text)
    return _TRANSITIONAL.sub("", text)


def _overlay_iglob(pattern: str, **kwargs: Any) -> Iterator[str]:
    seen = set()
    for path in _real_iglob(pattern, **kwargs):
        if _active.get(path, "") is None:
            continue
        seen.add(path)
        yield path
    for path, text in _active.items():
        if text is not None and path not in seen and fnmatch.fnmatchcase(path, pattern):
            yield path


kconfiglib.iglob = _overlay_iglob


class OverlayKconfig(kconfiglib.Kconfig):  # type: ignore[misc]
    """A kconfiglib.Kconfig whose files may come from an in-memory overlay."""

    def __init__(
        self, srctree: str, overlay: Mapping[str, str | None] | None = None, **kwargs: Any
    ) -> None:
        self._overlay = {
            os.path.join(os.path.realpath(srctree), path): text
            for path, text in (overlay or {}).items()
        }
        _active.clear()
        _active.update(self._overlay)
        try:
            super().__init__("Kconfig", **kwargs)
        finally:
            _active.clear()

    def _open(self, filename: str, mode: str) -> IO[str]:
        if "r" in mode:
            full = os.path.realpath(filename) if not os.path.isabs(filename) else filename
            if full in self._overlay:
                text = self._overlay[full]
                if text is None:
                    raise FileNotFoundError(2, "deleted by the patch", filename)
                return io.StringIO(rewrite(text))
            with open(filename, encoding="utf-8", errors="replace") as handle:
                return io.StringIO(rewrite(handle.read()))
        return open(filename, mode, encoding="utf-8")
