"""Teach kconfiglib 14.1 newer Kconfig syntax and read patched files from memory.

kconfiglib 14.1 predates two keywords:
- `modules` (Linux >= 5.13; kconfiglib only knows `option modules`): rewritten to
  `option modules` on the same line.
- `transitional` (Linux >= 6.18): a property marking a symbol kept only to migrate old
  configs; kconfiglib has no such notion, so the line is blanked (line numbers kept).

Files named in an overlay are served from memory (None = deleted), and `source` globs
see added and deleted files, so a patched tree is evaluated without copying it. A parse
records the files it read and the `source` patterns it expanded (`unaffected` tells
whether a change of files could alter it).

`$(shell,...)` output is kept per process, by command, environment and directory: the
worker parses the same tree (base, then each patched state) with the same toolchain, so
a patched parse reuses the base's compiler probes instead of running them again. A patch
cannot change what a command sees (its files are served to kconfiglib only, never to
the commands), so the output is the one a fresh run would give.
"""

from __future__ import annotations

import fnmatch
import hashlib
import io
import os
import re
import subprocess
from collections.abc import Iterator, Mapping
from typing import IO, Any

import kconfiglib

_MODULES = re.compile(r"^(\s+)modules[ \t]*(#.*)?$", re.MULTILINE)
_TRANSITIONAL = re.compile(r"^\s+transitional[ \t]*(#.*)?$", re.MULTILINE)

_real_iglob = kconfiglib.iglob
_active: dict[str, str | None] = {}
_patterns: list[str] = []  # `source` patterns the current parse expanded
_SHELL: dict[tuple[str, str], tuple[bytes, bytes]] = {}
MAX_SHELL_CACHE = 4096


def rewrite(text: str) -> str:
    """Rewrite what kconfiglib cannot parse into what it can, keeping line numbers."""
    text = _MODULES.sub(r"\1option modules", text)
    return _TRANSITIONAL.sub("", text)


def _overlay_iglob(pattern: str, **kwargs: Any) -> Iterator[str]:
    _patterns.append(pattern)
    seen = set()
    for path in _real_iglob(pattern, **kwargs):
        if _active.get(path, "") is None:
            continue
        seen.add(path)
        yield path
    for path, text in _active.items():
        if text is not None and path not in seen and _matches(path, pattern):
            yield path


def _matches(path: str, pattern: str) -> bool:
    """fnmatch, without compiling a pattern that has no wildcard (most `source` lines)."""
    if not any(c in pattern for c in "*?["):
        return path == pattern
    return fnmatch.fnmatchcase(path, pattern)


kconfiglib.iglob = _overlay_iglob


def _environment() -> str:
    text = repr((os.getcwd(), sorted(os.environ.items())))
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def _cached_shell(kconf: Any, _: Any, command: str) -> str:
    """kconfiglib's $(shell,...), its output kept by (environment, command)."""
    key = (_environment(), command)
    found = _SHELL.get(key)
    if found is None:
        found = subprocess.Popen(
            command, shell=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        ).communicate()
        if len(_SHELL) < MAX_SHELL_CACHE:
            _SHELL[key] = found
    try:
        stdout, stderr = (raw.decode(kconf._encoding) for raw in found)
    except UnicodeDecodeError as exc:
        kconfiglib._decoding_error(exc, kconf.filename, kconf.linenr)
        raise  # _decoding_error raises a KconfigError first
    if stderr:
        kconf._warn(
            "'{}' wrote to stderr: {}".format(command, "\n".join(stderr.splitlines())),
            kconf.filename,
            kconf.linenr,
        )
    return "\n".join(stdout.splitlines()).rstrip("\n").replace("\n", " ")


kconfiglib._shell_fn = _cached_shell


class OverlayKconfig(kconfiglib.Kconfig):  # type: ignore[misc]
    """A kconfiglib.Kconfig whose files may come from an in-memory overlay."""

    def __init__(
        self, srctree: str, overlay: Mapping[str, str | None] | None = None, **kwargs: Any
    ) -> None:
        self._overlay = {
            os.path.join(os.path.realpath(srctree), path): text
            for path, text in (overlay or {}).items()
        }
        self.read_paths: set[str] = set()
        _active.clear()
        _active.update(self._overlay)
        _patterns.clear()
        try:
            super().__init__("Kconfig", **kwargs)
        finally:
            _active.clear()
            self.source_patterns = tuple(_patterns)
            _patterns.clear()

    def _open(self, filename: str, mode: str) -> IO[str]:
        if "r" in mode:
            full = os.path.realpath(filename) if not os.path.isabs(filename) else filename
            self.read_paths.add(full)
            if full in self._overlay:
                text = self._overlay[full]
                if text is None:
                    raise FileNotFoundError(2, "deleted by the patch", filename)
                return io.StringIO(rewrite(text))
            with open(filename, encoding="utf-8", errors="replace") as handle:
                return io.StringIO(rewrite(handle.read()))
        return open(filename, mode, encoding="utf-8")


def unaffected(
    kc: kconfiglib.Kconfig,
    srctree: str,
    before: Mapping[str, str | None],
    after: Mapping[str, str | None],
) -> bool:
    """True when parsing `after` would give kc (a parse of `before`) again: every path the
    two overlays differ on is one kc never read and no `source` pattern of it matches."""
    read: set[str] | None = getattr(kc, "read_paths", None)
    patterns: tuple[str, ...] | None = getattr(kc, "source_patterns", None)
    if read is None or patterns is None:
        return False
    missing = object()
    root = os.path.realpath(srctree)
    for path in set(before) | set(after):
        if before.get(path, missing) == after.get(path, missing):
            continue
        full = os.path.join(root, path)
        if full in read or any(_matches(full, p) for p in patterns):
            return False
    return True
