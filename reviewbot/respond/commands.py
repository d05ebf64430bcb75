"""Maintainer commands in replies, in the style of syzbot and pw-bot (pure).

A command is a line of its own, not quoted, starting with `reviewbot:`:

    reviewbot: retest                       review the series again
    reviewbot: not-a-bug KC011 <reason>     silence KC011 for later versions of this series

Anything else after `reviewbot:` is a malformed command: it is reported with a reason,
never guessed at. Quoted lines ("> reviewbot: ...", as in a reply quoting our own
footer) are not commands.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

MAX_COMMANDS = 8
_LINE = re.compile(r"^reviewbot:\s*(.*?)\s*$", re.IGNORECASE)
_RULE = re.compile(r"^[A-Z]{2,4}\d{3}$")


class Verb(StrEnum):
    RETEST = "retest"
    NOT_A_BUG = "not-a-bug"


@dataclass(frozen=True)
class Command:
    verb: Verb
    rule: str = ""
    reason: str = ""


@dataclass(frozen=True)
class Malformed:
    line: str
    reason: str


def parse_commands(body: str) -> list[Command | Malformed]:
    """The commands (and malformed command lines) of a reply body, in order."""
    out: list[Command | Malformed] = []
    for raw in body.splitlines():
        found = _LINE.match(raw.strip()) if not raw.lstrip().startswith(">") else None
        if found is None:
            continue
        if len(out) >= MAX_COMMANDS:
            out.append(Malformed(raw.strip()[:200], f"more than {MAX_COMMANDS} commands"))
            break
        out.append(_one(found.group(1), raw.strip()[:200]))
    return out


def _one(text: str, line: str) -> Command | Malformed:
    words = text.split()
    if not words:
        return Malformed(line, "no command after 'reviewbot:'")
    verb = words[0].lower()
    if verb == Verb.RETEST:
        if len(words) > 1:
            return Malformed(line, "retest takes no arguments")
        return Command(Verb.RETEST)
    if verb == Verb.NOT_A_BUG:
        if len(words) < 2:
            return Malformed(line, "not-a-bug needs a rule id, e.g. 'not-a-bug KC011 <reason>'")
        rule = words[1].upper()
        if not _RULE.match(rule):
            return Malformed(line, f"{words[1]!r} is not a rule id such as KC011")
        reason = " ".join(words[2:])
        if not reason:
            return Malformed(line, f"not-a-bug {rule} needs a reason")
        return Command(Verb.NOT_A_BUG, rule, reason[:500])
    return Malformed(line, f"unknown command {words[0]!r} (known: retest, not-a-bug)")
