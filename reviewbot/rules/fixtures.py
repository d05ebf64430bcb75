"""Rule fixtures: patches under rules/<ID>/{bad,good}/ that declare what they expect (pure).

A fixture is a mail or git format-patch file. Lines in its commit message of the form

    Expect: KC001 drivers/iommu/Kconfig:13

declare one finding each (rule id, path, post-image line; `path` alone when the finding
has no line; `-` for a finding about the whole patch, with no path). A line

    Arches: arm64 x86_64

pins the architectures Kconfig is evaluated (and builds run) for (default: x86_64), to
keep tests fast. A bad fixture's findings from the rules it names, plus the rule whose
directory holds it, must be exactly those declared; a good fixture declares none.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from reviewbot.mail.mbox import read_input
from reviewbot.mail.parse import parse_mail

_ARCHES = re.compile(r"^Arches:\s+(.+)$", re.MULTILINE)
_EXPECT = re.compile(r"^Expect:\s+([A-Z]{2,3}\d{3})\s+(\S+?)(?::(\d+))?\s*$", re.MULTILINE)


@dataclass(frozen=True)
class Expectation:
    rule: str
    path: str
    line: int | None


@dataclass(frozen=True)
class Fixture:
    rule: str
    path: Path
    bad: bool
    expected: frozenset[Expectation]
    arches: tuple[str, ...] = ("x86_64",)


def expectations(text: str) -> frozenset[Expectation]:
    return frozenset(
        Expectation(
            m.group(1),
            "" if m.group(2) == "-" else m.group(2),
            int(m.group(3)) if m.group(3) else None,
        )
        for m in _EXPECT.finditer(text)
    )


def _declared(path: Path) -> tuple[frozenset[Expectation], tuple[str, ...]]:
    """Expect: and Arches: lines of every mail in the file, read after MIME decoding."""
    data = path.read_bytes()
    bodies = [parse_mail(raw).body for raw in read_input(data, str(path))]
    arches: list[str] = []
    for body in bodies:
        for match in _ARCHES.finditer(body):
            arches += match.group(1).split()
    expected = frozenset().union(*(expectations(body) for body in bodies))
    return expected, tuple(arches) or ("x86_64",)


def load_fixtures(rules_dir: Path) -> list[Fixture]:
    out: list[Fixture] = []
    for rule_dir in sorted(p for p in rules_dir.iterdir() if p.is_dir()):
        for kind in ("bad", "good"):
            for path in sorted((rule_dir / kind).glob("*.patch")):
                expected, arches = _declared(path)
                out.append(Fixture(rule_dir.name, path, kind == "bad", expected, arches))
    return out
