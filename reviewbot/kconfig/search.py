"""Search the base tree's text with grep: callers of functions, static inline stubs."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterable
from pathlib import Path

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _grep(tree: Path, args: list[str], timeout: float = 120.0) -> list[str]:
    result = subprocess.run(
        ["grep", "-r", "-I", *args],
        cwd=tree,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode not in (0, 1):
        return []
    return [line for line in result.stdout.splitlines() if line]


def callers(tree: Path, names: Iterable[str], limit: int = 200) -> list[str]:
    """C files (tree-relative) that mention any of the names as a word."""
    wanted = sorted({n for n in names if _NAME.match(n)})
    if not wanted:
        return []
    args = ["-l", "-w", "--include=*.c"]
    for name in wanted[:64]:
        args += ["-e", name]
    files = _grep(
        tree,
        [
            *args,
            "--",
            "drivers",
            "fs",
            "net",
            "kernel",
            "mm",
            "lib",
            "virt",
            "sound",
            "crypto",
            "block",
            "security",
            "arch",
            "init",
            "io_uring",
        ],
    )
    return sorted(f[2:] if f.startswith("./") else f for f in files)[:limit]


def inline_stubs(tree: Path, names: Iterable[str]) -> set[str]:
    """Names that some header defines as a static inline function (a stub when off)."""
    wanted = sorted({n for n in names if _NAME.match(n)})
    if not wanted:
        return set()
    pattern = r"static\s+(__always_)?inline[^;{]*\b(" + "|".join(wanted[:64]) + r")\s*\("
    lines = _grep(tree, ["-h", "-o", "-E", "--include=*.h", pattern, "--", "include", "arch"])
    found = set()
    for line in lines:
        for name in wanted:
            if re.search(rf"\b{re.escape(name)}\s*\($", line):
                found.add(name)
    return found
