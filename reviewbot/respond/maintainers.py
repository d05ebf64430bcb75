"""Who maintains a set of files, from the tree's MAINTAINERS file (pure).

An entry is a title line followed by `X:\\tvalue` lines. Files match an entry as
scripts/get_maintainer.pl matches them: `F:` a path, a directory ("dir/" = everything
below it), or a glob where * and ? do not cross "/" unless the pattern ends in a
directory; `N:` a regular expression on the path; `X:` excludes. Only `M:` (maintainer)
addresses are returned: reviewers and lists do not command the bot.
"""

from __future__ import annotations

import fnmatch
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from email.utils import parseaddr

log = logging.getLogger(__name__)

_FIELD = re.compile(r"^([A-Z]):\s*(.*?)\s*$")


@dataclass(frozen=True)
class Entry:
    title: str
    maintainers: tuple[str, ...]  # bare addresses, lower case
    files: tuple[str, ...]
    excludes: tuple[str, ...]
    regexes: tuple[str, ...]


def parse_maintainers(text: str) -> tuple[Entry, ...]:
    entries: list[Entry] = []
    title = ""
    fields: dict[str, list[str]] = {}

    def flush() -> None:
        if title and fields:
            entries.append(
                Entry(
                    title=title,
                    maintainers=tuple(
                        a for a in (parseaddr(v)[1].lower() for v in fields.get("M", [])) if a
                    ),
                    files=tuple(fields.get("F", [])),
                    excludes=tuple(fields.get("X", [])),
                    regexes=tuple(fields.get("N", [])),
                )
            )

    for line in text.splitlines():
        found = _FIELD.match(line)
        if found and title:
            fields.setdefault(found.group(1), []).append(found.group(2))
        elif not line.strip():
            flush()
            title, fields = "", {}
        elif not found:
            flush()
            title, fields = line.strip(), {}
    flush()
    return tuple(entries)


def _matches(pattern: str, path: str) -> bool:
    if pattern.endswith("/"):
        return path.startswith(pattern)
    if any(c in pattern for c in "*?["):
        return fnmatch.fnmatchcase(path, pattern) and path.count("/") == pattern.count("/")
    return path == pattern or path.startswith(pattern.rstrip("/") + "/")


def _regex(pattern: str, path: str) -> bool:
    try:
        return re.search(pattern, path) is not None
    except re.error:
        log.warning("MAINTAINERS: N: %r is not a regular expression; ignored", pattern)
        return False


def maintainers_of(entries: Sequence[Entry], paths: Iterable[str]) -> frozenset[str]:
    """The M: addresses of every entry that covers one of paths."""
    found: set[str] = set()
    for path in paths:
        for entry in entries:
            if any(_matches(x, path) for x in entry.excludes):
                continue
            if any(_matches(f, path) for f in entry.files) or any(
                _regex(n, path) for n in entry.regexes
            ):
                found.update(entry.maintainers)
    return frozenset(found)
