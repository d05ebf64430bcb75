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
    """Names that some header defines as a static inline function (a stub when off).

    The return type may stand on the line before the name (kernel style:
    `static inline struct x * __must_check` / `name(args)`): two lines of context count."""
    wanted = sorted({n for n in names if _NAME.match(n)})[:64]
    if not wanted:
        return set()
    alternation = "|".join(wanted)
    pattern = r"\b(" + alternation + r")\s*\("
    lines = _grep(tree, ["-h", "-B2", "-E", "--include=*.h", pattern, "--", "include", "arch"])
    head = re.compile(r"static\s+(__always_)?inline\b[^;{}()]*\b(" + alternation + r")\s*\(")
    found: set[str] = set()
    group: list[str] = []
    for line in [*lines, "--"]:
        if line == "--":
            group = []
            continue
        group.append(line)
        joined = " ".join(group[-3:])
        for match in head.finditer(joined):
            found.add(match.group(2))
    return found
