"""The hunk lines a finding is about, quoted from the patch for a reply (pure).

A finding points at a post-image line of a file the patch changes. The quote is that
file's hunk header and the lines around it (context up to CONTEXT lines away, every
changed line in that window), each prefixed "> " so that no tool reads the reply as a
patch. Nothing to quote (no diff, no line, a file the patch does not change) gives ().
"""

from __future__ import annotations

import logging

from reviewbot.analysis.diff import Hunk, parse_diff
from reviewbot.errors import BadDiffError

log = logging.getLogger(__name__)

CONTEXT = 2
MAX_LINES = 12


def _window(hunk: Hunk, line: int) -> list[str]:
    """The hunk's lines whose post-image number is within CONTEXT of line."""
    out: list[str] = []
    target = hunk.target_start
    for op, text in hunk.lines:
        # a removed line sits where the next post-image line is
        if abs(target - line) <= CONTEXT or (op == "-" and abs(target - line) <= CONTEXT + 1):
            out.append(f"{op}{text}".rstrip("\n"))
        if op != "-":
            target += 1
    return out


def quote_hunk(diff: str | None, path: str, line: int | None) -> tuple[str, ...]:
    """The quoted lines of diff around path:line, or () when there is nothing to quote."""
    if not diff or not path or line is None:
        return ()
    try:
        changes = parse_diff(diff)
    except BadDiffError as exc:
        log.warning("cannot quote %s:%s: the patch's diff does not parse: %s", path, line, exc)
        return ()
    for change in changes:
        if change.path != path:
            continue
        for hunk in change.hunks:
            end = hunk.target_start + max(hunk.target_length, 1)
            if not hunk.target_start - CONTEXT <= line < end + CONTEXT:
                continue
            lines = _window(hunk, line)[:MAX_LINES]
            if not lines:
                continue
            header = (
                f"@@ -{hunk.source_start},{hunk.source_length} "
                f"+{hunk.target_start},{hunk.target_length} @@"
            )
            return tuple(
                "> " + text for text in (f"--- a/{change.old_path or path}", header, *lines)
            )
    return ()
