"""Find the sources in a tree that use what a header hunk changed (edge: runs grep).

`header_users(tree, header, buildable, cap)` searches the tree's C sources (not tools/,
scripts/, Documentation/, samples/, usr/) with one bounded `grep -rlE` per group of
names, direct names first, and hands the hits to reviewbot.build.users.choose_users.
"""

from __future__ import annotations

import logging
import subprocess
from collections.abc import Callable
from pathlib import Path

from reviewbot.build.users import HeaderChange, choose_users, searchable, use_pattern

log = logging.getLogger(__name__)

SEARCH_SECONDS = 60.0
MAX_HITS = 4000
_EXCLUDED = ("tools", "scripts", "Documentation", "samples", "usr", ".git", ".pc", "debian")


def _grep(tree: Path, patterns: list[str]) -> list[str]:
    argv = ["grep", "-rlE", "--include=*.c"]
    argv += [f"--exclude-dir={d}" for d in _EXCLUDED]
    for pattern in patterns:
        argv += ["-e", pattern]
    argv.append(".")
    try:
        result = subprocess.run(
            argv, cwd=tree, capture_output=True, text=True, timeout=SEARCH_SECONDS, check=False
        )
    except subprocess.TimeoutExpired:
        log.warning("searching the users of %s timed out", patterns[:3])
        return []
    return [line.removeprefix("./") for line in result.stdout.splitlines()[:MAX_HITS]]


def header_users(
    tree: Path, header: HeaderChange, buildable: Callable[[str], bool], cap: int
) -> list[str]:
    """Up to cap sources using the names header changed (direct users first)."""
    uses: dict[str, list[str]] = {}
    for direct in (True, False):
        items = [c for c in header.changed if bool(c.via) != direct and searchable(c)]
        if not items:
            continue
        # One search per group: which group a file matched is all the ranking needs.
        for source in _grep(tree, [use_pattern(item) for item in items]):
            uses.setdefault(source, []).extend(item.name for item in items)
        if len([s for s in uses if buildable(s)]) >= cap:
            break
    return choose_users(uses, header, buildable, cap)
