"""What changed between two versions of a series: fixed, still present, new (pure).

Findings are matched across versions by a fingerprint that survives a rebase: the rule,
the file and the message with standalone numbers (line and column numbers, counts) left
out. Line numbers move between versions; the problem a message names does not.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from reviewbot.respond.model import ReplyFinding, Silence

_NUMBER = re.compile(r"(?<![A-Za-z0-9_])\d+(?![A-Za-z0-9_])")


def fingerprint(finding: ReplyFinding) -> tuple[str, str, str]:
    return (finding.rule, finding.path, _NUMBER.sub("#", finding.message))


@dataclass(frozen=True)
class Delta:
    fixed: tuple[ReplyFinding, ...]
    still: tuple[ReplyFinding, ...]
    new: tuple[ReplyFinding, ...]


def delta(previous: Iterable[ReplyFinding], current: Iterable[ReplyFinding]) -> Delta:
    """Compare vN-1's findings with vN's (each side already filtered the same way)."""
    before = {fingerprint(f): f for f in previous}
    now = list(current)
    seen = {fingerprint(f) for f in now}
    return Delta(
        fixed=tuple(f for key, f in before.items() if key not in seen),
        still=tuple(f for f in now if fingerprint(f) in before),
        new=tuple(f for f in now if fingerprint(f) not in before),
    )


def unsilenced(
    findings: Iterable[ReplyFinding], silences: Iterable[Silence]
) -> tuple[ReplyFinding, ...]:
    rules = {s.rule.upper() for s in silences}
    return tuple(f for f in findings if f.rule.upper() not in rules)
