"""Pure helpers of the benchmarks: checkpatch output, patch line maps, overlap, tables (pure).

Nothing here reads files, runs processes or looks at the clock; bench_static and its
helpers do that and hand the data in.
"""

from __future__ import annotations

import email
import email.policy
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

# ---------------------------------------------------------------------------
# checkpatch.pl --terse --show-types output

_TERSE = re.compile(
    r"^(?P<source>[^:\s][^:]*):(?:(?P<line>\d+):)? "
    r"(?P<level>ERROR|WARNING|CHECK):(?P<type>[A-Z0-9_]+): (?P<message>.*)$"
)


@dataclass(frozen=True)
class CheckpatchHit:
    """One line of `checkpatch.pl --terse --show-types` output."""

    source: str
    line: int | None
    level: str
    type: str
    message: str


def parse_checkpatch_terse(output: str) -> list[CheckpatchHit]:
    """Read checkpatch's terse lines; anything else (perl warnings, totals) is skipped."""
    hits: list[CheckpatchHit] = []
    for text in output.splitlines():
        found = _TERSE.match(text.rstrip("\r"))
        if found is None:
            continue
        line = found.group("line")
        hits.append(
            CheckpatchHit(
                source=found.group("source"),
                line=int(line) if line is not None else None,
                level=found.group("level"),
                type=found.group("type"),
                message=found.group("message"),
            )
        )
    return hits


# ---------------------------------------------------------------------------
# Which file of a patch a line number of the patch file falls in

_DIFF_GIT = re.compile(r"^diff --git (?:\"?a/)?(?P<old>\S+) (?:\"?b/)?(?P<new>\S+?)\"?$")


def _header_path(line: str, prefix: str) -> str | None:
    """The path of a '--- a/x' or '+++ b/x' line; None for /dev/null."""
    path = line[4:].split("\t", 1)[0].strip().strip('"')
    if path == "/dev/null" or not path:
        return None
    if path.startswith(prefix):
        path = path[len(prefix) :]
    return path


def diff_files_by_line(text: str) -> list[str | None]:
    """For each line of a patch mail (index = line number - 1), the file its diff is of.

    Lines before the first file header map to None; a file's headers and hunks map to
    its new path (the old path for a deletion). Only a '--- ' line directly followed by
    a '+++ ' line counts as a header, so hunk lines cannot switch the file.
    """
    lines = text.split("\n")
    out: list[str | None] = []
    current: str | None = None
    for number, line in enumerate(lines):
        found = _DIFF_GIT.match(line)
        if found:
            current = found.group("new")
        elif (
            line.startswith("--- ")
            and number + 1 < len(lines)
            and lines[number + 1].startswith("+++ ")
        ):
            new = _header_path(lines[number + 1], "b/")
            current = new or _header_path(line, "a/") or current
        out.append(current)
    return out


def file_at_line(files_by_line: Sequence[str | None], line: int | None) -> str | None:
    """The file a 1-based line number falls in (None when unknown or out of range)."""
    if line is None or line < 1 or line > len(files_by_line):
        return None
    return files_by_line[line - 1]


# ---------------------------------------------------------------------------
# What checkpatch is given: the mail, its text parts decoded


def checkpatch_input(raw: bytes) -> bytes:
    """A mail as checkpatch reads it best: plain 7/8-bit mails unchanged, others decoded.

    checkpatch does not decode quoted-printable, base64 or MIME parts; `git am` does, and
    so does reviewbot. To compare like with like, such mails are rewritten as one
    8-bit text mail with the From/Subject/Date/Message-ID headers and the text parts.
    """
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    encoding = str(msg.get("Content-Transfer-Encoding") or "").strip().lower()
    if not msg.is_multipart() and encoding in ("", "7bit", "8bit", "binary"):
        return raw
    headers = [
        f"{name}: {value}"
        for name in ("From", "Subject", "Date", "Message-ID")
        if (value := msg.get(name)) is not None
    ]
    texts: list[str] = []
    for part in msg.walk():
        if part.is_multipart():
            continue
        name = part.get_filename() or ""
        if part.get_content_maintype() != "text" and not name.endswith((".patch", ".diff")):
            continue
        payload = part.get_payload(decode=True)
        if not isinstance(payload, bytes):
            continue
        charset = part.get_content_charset() or "utf-8"
        try:
            texts.append(payload.decode(charset, errors="replace"))
        except LookupError:
            texts.append(payload.decode("utf-8", errors="replace"))
    head = "\n".join(
        [
            *headers,
            "MIME-Version: 1.0",
            "Content-Type: text/plain; charset=UTF-8",
            "Content-Transfer-Encoding: 8bit",
        ]
    )
    body = "\n".join(text.replace("\r\n", "\n") for text in texts)
    return (head + "\n\n" + body).encode("utf-8", errors="replace")


# ---------------------------------------------------------------------------
# Overlap between checkpatch types and reviewbot rules

Key = tuple[str, str]
"""(patch Message-ID, file path): the unit both tools are compared on."""


@dataclass(frozen=True)
class CheckPair:
    """A reviewbot rule and the checkpatch types that look for the same thing."""

    rule_id: str
    rule_name: str
    checkpatch_types: tuple[str, ...]
    note: str = ""


PAIRS: tuple[CheckPair, ...] = (
    CheckPair("MK001", "kbuild-extra-flags-deprecated", ("DEPRECATED_VARIABLE",)),
    CheckPair("EX003", "export-not-adjacent", ("EXPORT_SYMBOL",)),
    CheckPair("KC003", "kconfig-help-missing", ("CONFIG_DESCRIPTION",)),
    CheckPair(
        "KC004",
        "kconfig-ifdef-tristate",
        ("PREFER_IS_ENABLED", "IS_ENABLED_CONFIG"),
        "partial: checkpatch flags the spelling, reviewbot the symbol's type",
    ),
)


@dataclass(frozen=True)
class Overlap:
    """How two tools' (patch, file) sets compare, with their raw hit counts."""

    both: int
    only_checkpatch: int
    only_reviewbot: int
    checkpatch_hits: int
    reviewbot_hits: int


def overlap(checkpatch: Iterable[Key], reviewbot: Iterable[Key]) -> Overlap:
    """Compare two lists of (patch, file) keys; repeats count as hits but once in the sets."""
    left = list(checkpatch)
    right = list(reviewbot)
    a, b = set(left), set(right)
    return Overlap(
        both=len(a & b),
        only_checkpatch=len(a - b),
        only_reviewbot=len(b - a),
        checkpatch_hits=len(left),
        reviewbot_hits=len(right),
    )


def pair_overlaps(
    pairs: Sequence[CheckPair],
    checkpatch_by_type: Mapping[str, Sequence[Key]],
    reviewbot_by_rule: Mapping[str, Sequence[Key]],
) -> list[tuple[CheckPair, Overlap]]:
    """The overlap of each pair: checkpatch keys of any of its types against the rule's."""
    out: list[tuple[CheckPair, Overlap]] = []
    for pair in pairs:
        left = [key for kind in pair.checkpatch_types for key in checkpatch_by_type.get(kind, ())]
        out.append((pair, overlap(left, reviewbot_by_rule.get(pair.rule_id, ()))))
    return out


# ---------------------------------------------------------------------------
# Small arithmetic and text layout


def prefix_within(sizes: Sequence[int], limit: int) -> int:
    """How many leading items fit in `limit` (their sizes summed); at least one if any."""
    total = 0
    for count, size in enumerate(sizes):
        if total + size > limit:
            return max(count, 1 if limit > 0 else 0)
        total += size
    return len(sizes)


def rate(count: int, seconds: float) -> float:
    """Items per second; infinite for no time at all."""
    return count / seconds if seconds > 0 else math.inf


def per_100(count: int, base: int) -> float:
    return 100.0 * count / base if base else 0.0


def verdict(measured: float, target: float, *, at_least: bool) -> str:
    """PASS when measured meets target (>= when at_least, else <), MISS otherwise."""
    ok = measured >= target if at_least else measured < target
    return "PASS" if ok else "MISS"


def format_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A plain text table: numbers right-aligned, text left-aligned, two spaces apart."""
    cells = [[_cell(value) for value in row] for row in rows]
    widths = [len(title) for title in header]
    for row in cells:
        for column, text in enumerate(row):
            widths[column] = max(widths[column], len(text))
    numeric = [
        all(isinstance(row[column], int | float) for row in rows) if rows else False
        for column in range(len(header))
    ]

    def line(values: Sequence[str]) -> str:
        parts = [
            value.rjust(widths[i]) if numeric[i] else value.ljust(widths[i])
            for i, value in enumerate(values)
        ]
        return "  ".join(parts).rstrip()

    out = [line(header), line(["-" * width for width in widths])]
    out.extend(line(row) for row in cells)
    return "\n".join(out)


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)
