"""Find the sources in a tree that use what a header hunk changed (edge: runs grep).

`header_users(tree, header, buildable, cap)` searches the tree's C sources (not tools/,
scripts/, Documentation/, samples/, usr/) with one bounded `grep -rnE` per group of
names, direct names first. The matching lines of each buildable hit are then read back
(at most MAX_SOURCE_BYTES per file, CLASSIFY_SECONDS in all, in the order the users are
tried) and the arguments its calls pass to the changed macros and functions classified
by kind (reviewbot.build.argkinds); reviewbot.build.users.choose_users picks from that.
"""

from __future__ import annotations

import logging
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from reviewbot.build.argkinds import site_kinds
from reviewbot.build.users import (
    HeaderChange,
    Kind,
    Users,
    candidate_order,
    choose_users,
    searchable,
    use_pattern,
)

log = logging.getLogger(__name__)

SEARCH_SECONDS = 60.0
MAX_HITS = 20000  # files per search
MAX_LINES = 64  # matching lines kept per file
MAX_SOURCE_BYTES = 512 * 1024
CLASSIFY_SECONDS = 15.0
_EXCLUDED = ("tools", "scripts", "Documentation", "samples", "usr", ".git", ".pc", "debian")


def _grep(tree: Path, patterns: list[str]) -> dict[str, list[int]]:
    """file -> the numbers of its lines matching any pattern (bounded)."""
    argv = ["grep", "-rnE", "--include=*.c"]
    argv += [f"--exclude-dir={d}" for d in _EXCLUDED]
    for pattern in patterns:
        argv += ["-e", pattern]
    argv.append(".")
    hits: dict[str, list[int]] = {}
    with subprocess.Popen(
        argv, cwd=tree, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, errors="replace"
    ) as proc:
        expired = threading.Event()

        def expire() -> None:
            expired.set()
            proc.kill()

        timer = threading.Timer(SEARCH_SECONDS, expire)
        timer.start()
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                path, _, rest = line.partition(":")
                number = rest.partition(":")[0]
                if not number.isdigit():
                    continue
                lines = hits.get(path)
                if lines is None:
                    if len(hits) >= MAX_HITS:
                        break
                    lines = hits[path] = []
                if len(lines) < MAX_LINES:
                    lines.append(int(number))
        finally:
            timer.cancel()
            proc.kill()  # stops it early at MAX_HITS; a no-op once it is done
            proc.wait()
        if expired.is_set():
            log.warning("searching the users of %s timed out", patterns[:3])
    return {path.removeprefix("./"): lines for path, lines in hits.items()}


def classify(
    tree: Path,
    order: Sequence[str],
    lines: Mapping[str, Sequence[int]],
    names: Sequence[str],
    seconds: float = CLASSIFY_SECONDS,
) -> dict[str, frozenset[str]]:
    """source -> kinds of the arguments it passes to names, for the sources in order
    read before the time runs out."""
    kinds: dict[str, frozenset[str]] = {}
    if not names:
        return kinds
    deadline = time.monotonic() + seconds
    for source in order:
        if time.monotonic() > deadline:
            log.info("argument kinds: time out after %d of %d users", len(kinds), len(order))
            break
        try:
            with (tree / source).open("rb") as file:
                text = file.read(MAX_SOURCE_BYTES).decode(errors="replace")
        except OSError:
            continue
        kinds[source] = site_kinds(text, lines.get(source, ()), names)
    return kinds


def header_users(
    tree: Path, header: HeaderChange, buildable: Callable[[str], bool], cap: int
) -> Users:
    """Up to cap sources using the names header changed, chosen by argument kind."""
    uses: dict[str, list[str]] = {}
    lines: dict[str, list[int]] = {}
    for direct in (True, False):
        items = [c for c in header.changed if bool(c.via) != direct and searchable(c)]
        if not items:
            continue
        # One search per group: which group a file matched is all the ranking needs.
        for source, numbers in _grep(tree, [use_pattern(item) for item in items]).items():
            uses.setdefault(source, []).extend(item.name for item in items)
            lines.setdefault(source, []).extend(numbers)
        if len([s for s in uses if buildable(s)]) >= cap:
            break
    callable_names = [c.name for c in header.changed if c.kind in (Kind.MACRO, Kind.FUNCTION)]
    order = candidate_order(uses, header, buildable)
    kinds = classify(tree, order, lines, callable_names)
    chosen = choose_users(uses, header, buildable, cap, kinds)
    return Users(header, tuple(chosen), {s: kinds[s] for s in chosen if s in kinds})
