"""MAINTAINERS entries and which files they cover, as scripts/get_maintainer.pl reads them (pure).

An entry is a title line followed by `X:<tab>value` lines. F: patterns follow
get_maintainer.pl: a trailing `/` covers everything below that directory; otherwise `*`
and `?` are shell-like wildcards and the match must have as many `/` as the pattern (so
`drivers/net/*` is the files in drivers/net, not below); a plain name also covers what
is below it when it is a directory. N: is a regular expression on the whole path; X:
excludes with the same rules as F:.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Entry:
    title: str
    files: tuple[str, ...] = ()
    excludes: tuple[str, ...] = ()
    regexes: tuple[str, ...] = ()


def parse_maintainers(text: str) -> dict[str, Entry]:
    """Entries by upper-cased title; the preamble before the first entry is skipped."""
    entries: dict[str, Entry] = {}
    title: str | None = None
    fields: dict[str, list[str]] = {"F": [], "X": [], "N": []}

    def close() -> None:
        if title is not None and (fields["F"] or fields["N"]):
            entries[title.upper()] = Entry(
                title, tuple(fields["F"]), tuple(fields["X"]), tuple(fields["N"])
            )

    previous_blank = True
    for line in text.splitlines():
        tag = re.match(r"([A-Z]):\s*(.*)$", line)
        if tag and title is not None:
            if tag.group(1) in fields:
                fields[tag.group(1)].append(tag.group(2).strip())
        elif line.strip() and previous_blank:
            close()
            title = line.strip()
            fields = {"F": [], "X": [], "N": []}
        previous_blank = not line.strip()
    close()
    return entries


def _pattern_regex(pattern: str) -> tuple[re.Pattern[str], int | None]:
    """A compiled F:/X: pattern and the slash count a match needs (None: any)."""
    body = re.escape(pattern).replace(r"\*", ".*").replace(r"\?", ".")
    if pattern.endswith("/"):
        return re.compile(body), None
    if "*" not in pattern and "?" not in pattern:
        # a file, or a directory named without its slash: the file or what is below it
        return re.compile(body + "(/|$)"), None
    return re.compile(body), pattern.count("/")


class Matcher:
    """Which paths one MAINTAINERS entry covers."""

    def __init__(self, entry: Entry):
        self.entry = entry
        self._files = [_pattern_regex(p) for p in entry.files]
        self._excludes = [_pattern_regex(p) for p in entry.excludes]
        self._regexes = []
        for regex in entry.regexes:
            try:
                self._regexes.append(re.compile(regex))
            except re.error:
                continue  # a Perl-only construct: that N: line covers nothing here

    @staticmethod
    def _hit(path: str, patterns: list[tuple[re.Pattern[str], int | None]]) -> bool:
        for regex, slashes in patterns:
            if regex.match(path) and (slashes is None or path.count("/") == slashes):
                return True
        return False

    def covers(self, path: str) -> bool:
        if self._hit(path, self._excludes):
            return False
        return self._hit(path, self._files) or any(r.search(path) for r in self._regexes)

    def select(self, paths: Iterable[str]) -> frozenset[str]:
        return frozenset(p for p in paths if self.covers(p))
