"""Find the exact extent of a unified diff inside a mail body (pure).

git format-patch puts the commit message, "---", a diffstat, the diff, then "-- "
and a version; people also paste diffs after prose. The scanner follows hunk line
counts, so a removed line "-- " inside a hunk is never taken for the signature.
"""

from __future__ import annotations

import re

_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")
_EXTENDED = re.compile(
    r"^(diff --git |diff -|index [0-9a-fA-F]|old mode |new mode |deleted file mode |"
    r"new file mode |similarity index |dissimilarity index |rename from |rename to |"
    r"copy from |copy to |Binary files |Index: |={60,}$|RCS file: |retrieving revision |"
    r"Only in )"
)
_START = re.compile(r"^(diff --git |Index: \S|diff -\S)")


def _count(digits: str | None) -> int:
    """A hunk's line count; absurdly long numbers (int() refuses 5,000 digits) read as huge,
    so the scan keeps the hunk and the diff parser reports it."""
    if digits is None:
        return 1
    return int(digits) if len(digits) <= 18 else 10**18


def _is_file_header(lines: list[str], i: int) -> bool:
    return lines[i].startswith("--- ") and i + 1 < len(lines) and lines[i + 1].startswith("+++ ")


def find_diff(text: str) -> tuple[int, int] | None:
    """Return (start, end) line indexes of the diff in text, or None if there is none."""
    lines = text.split("\n")
    start = None
    for i, line in enumerate(lines):
        if _START.match(line) or _is_file_header(lines, i):
            start = i
            break
    if start is None:
        return None
    end = _scan(lines, start)
    if end is None:
        return None
    return start, end


def _scan(lines: list[str], start: int) -> int | None:
    """Return the index one past the diff's last line; None if no hunk or binary was seen."""
    i = start
    seen_content = False
    last_good = start
    while i < len(lines):
        line = lines[i]
        hunk = _HUNK.match(line)
        if hunk:
            old = _count(hunk.group(2))
            new = _count(hunk.group(4))
            i += 1
            while i < len(lines) and (old > 0 or new > 0):
                body = lines[i]
                if body.startswith("\\"):
                    i += 1
                    continue
                op = body[:1]
                if op == "-":
                    old -= 1
                elif op == "+":
                    new -= 1
                elif op == " " or body in {"", "\r"}:
                    old -= 1
                    new -= 1
                else:
                    break
                i += 1
            while i < len(lines) and lines[i].startswith("\\"):
                i += 1
            seen_content = True
            last_good = i
            continue
        if line.startswith("GIT binary patch"):
            i += 1
            while i < len(lines) and lines[i].strip():
                i += 1
            seen_content = True
            last_good = i
            continue
        if _EXTENDED.match(line) or _is_file_header(lines, i):
            i += 2 if _is_file_header(lines, i) else 1
            if line.startswith(("Binary files ", "rename to ", "copy to ")) or (
                line.startswith(("new file mode", "deleted file mode", "old mode"))
            ):
                seen_content = True
                last_good = i
            continue
        if (
            not line.strip()
            and i + 1 < len(lines)
            and (_START.match(lines[i + 1]) or _is_file_header(lines, i + 1))
        ):
            i += 1
            continue
        break
    return last_good if seen_content else None
