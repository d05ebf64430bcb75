"""robot_replay's pure helpers: read kernel test robot reports, match findings, render (pure).

Nothing here reads files, runs processes or looks at the clock; bench.robot_replay does
that and hands the text, findings and timings in.
"""

from __future__ import annotations

import re
import statistics
import urllib.parse
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from bench.common import format_table

ROBOT_ADDRESS = "lkp@intel.com"
# 0-day's arch names that the build matrix spells differently (reviewbot/build/arches).
ARCH_ALIASES = {"sparc": "sparc64", "riscv": "riscv64", "s390": "s390x"}
MATCH_RULE = (
    "a finding matches the robot's report when its file is a file named in one of the "
    "robot's diagnostic lines, or its message or evidence contains a name the robot "
    "quotes in one ('nvram_mutex') or the robot's diagnostic text (after 'error:' / "
    "'warning:' / 'warn:', without the [-W...] flag); caught = a matching finding at "
    "warning or error, caught-info = matching only at info, other = a non-matching "
    "finding at warning or error, silent = none of these"
)

_NOTICED = re.compile(r"kernel test robot noticed the following build (errors|warnings)")
_PATCH_LINK = re.compile(r"^patch link:\s+https?://lore\.kernel\.org/r/(\S+?)/?$", re.MULTILINE)
_CONFIG = re.compile(r"^config: (\S+)", re.MULTILINE)
_COMPILER = re.compile(r"^compiler: (.+?)\s*$", re.MULTILINE)
_SECTION = re.compile(
    r"^(?:All (?:errors|warnings)|(?:New )?smatch warnings|(?:New )?sparse warnings)"
    r"\b.*:\s*$"
)
# 'path:line[:col]: error: text', smatch's 'path:line func() warn: text',
# make's 'Makefile:12: *** text', and tools' 'path:line: WARNING: text'.
_DIAG = re.compile(
    r"^(?:>>\s*)?(?P<path>[A-Za-z0-9_./+-]+):(?P<line>\d+)(?::\d+)?:?\s+"
    r"(?:\S+\(\)\s+)?(?P<kind>error|warning|warn|WARNING|ERROR|\*\*\*):?\s+(?P<text>.*)$"
)
_OPEN, _CLOSE = "'`\u2018", "'`\u2019"  # gcc quotes with ' or with typographic quotes
_QUOTED = re.compile(f"[{_OPEN}]([A-Za-z_][A-Za-z0-9_]*)[{_CLOSE}]")
_FLAG = re.compile(r"\s*\[-W[^\]]*\]\s*$")


@dataclass(frozen=True)
class RobotReport:
    """One kernel test robot reply: what it built and what it printed first."""

    message_id: str
    answers: str  # the Message-ID of the patch it answers
    date: datetime | None
    kind: str  # "errors" or "warnings"
    config: str  # "x86_64-rhel-9.4", "" when the report names none
    compiler: str
    new_lines: tuple[str, ...]  # the diagnostic lines it marks new (">>"), else its first
    sources: tuple[str, ...] = ()  # the .c/.S files it names (sources_named)


@dataclass(frozen=True)
class Diagnostic:
    path: str
    text: str  # after error:/warning:, the [-W...] flag removed


@dataclass(frozen=True)
class Found:
    """One finding of `reviewbot check --format json` (the fields the match needs)."""

    rule: str
    severity: str
    path: str
    line: int | None
    message: str
    evidence: tuple[str, ...] = ()

    def label(self) -> str:
        where = f"{self.path}:{self.line}" if self.line is not None else self.path
        return f"{self.rule} {where} {self.severity}"


def is_build_report(sender: str, body: str) -> bool:
    """A reply from kernel test robot that reports build errors or warnings."""
    return ROBOT_ADDRESS in sender.lower() and _NOTICED.search(body) is not None


def answered_id(body: str, in_reply_to: str | None) -> str | None:
    """The Message-ID of the patch a report answers: its 'patch link:', else In-Reply-To."""
    match = _PATCH_LINK.search(body)
    if match:
        return urllib.parse.unquote(match.group(1))
    return in_reply_to


def report_lines(body: str) -> tuple[str, ...]:
    """The lines the robot marks new (">>"); without any, the first lines of its section."""
    marked = [line[2:].strip() for line in body.splitlines() if line.startswith(">>")]
    if marked:
        return tuple(marked)
    out: list[str] = []
    inside = False
    for line in body.splitlines():
        if _SECTION.match(line):
            inside = True
            continue
        if inside and not line.strip():
            if out:
                break
            continue
        if inside:
            out.append(line.strip())
    return tuple(out)


_IN_FUNCTION = re.compile(r"^(?P<path>[A-Za-z0-9_./+-]+\.[cS]): In function ")


def sources_named(body: str) -> tuple[str, ...]:
    """The .c/.S files a report names: in its diagnostics and its 'x.c: In function' lines."""
    out = [d.path for d in diagnostics(body.splitlines()) if d.path.endswith((".c", ".S"))]
    for line in body.splitlines():
        match = _IN_FUNCTION.match(line.strip())
        if match:
            out.append(match["path"])
    return tuple(dict.fromkeys(out))


def parse_report(message_id: str, answers: str, date: datetime | None, body: str) -> RobotReport:
    kind = _NOTICED.search(body)
    config = _CONFIG.search(body)
    compiler = _COMPILER.search(body)
    return RobotReport(
        message_id=message_id,
        answers=answers,
        date=date,
        kind=kind.group(1) if kind else "",
        config=config.group(1) if config else "",
        compiler=compiler.group(1) if compiler else "",
        new_lines=report_lines(body),
        sources=sources_named(body),
    )


def robot_arch(config: str) -> str:
    """0-day's arch from its config name ('i386-randconfig-141-20251222' -> 'i386')."""
    return config.split("-", 1)[0] if config else ""


def our_arches(configs: Iterable[str], usable: Iterable[str]) -> tuple[str, ...]:
    """The robot's arches among those reviewbot can build here (the matrix's spelling)."""
    known = set(usable)
    out: list[str] = []
    for config in configs:
        arch = robot_arch(config)
        arch = ARCH_ALIASES.get(arch, arch)
        if arch in known and arch not in out:
            out.append(arch)
    return tuple(out)


def diagnostics(lines: Iterable[str]) -> list[Diagnostic]:
    """The compiler/tool diagnostics among a report's lines (notes and context dropped)."""
    out = []
    for line in lines:
        match = _DIAG.match(line.strip())
        if match:
            out.append(Diagnostic(match["path"].removeprefix("./"), _FLAG.sub("", match["text"])))
    return out


def matches(finding: Found, reports: Sequence[RobotReport]) -> bool:
    """Whether a finding is what the robot reported (MATCH_RULE)."""
    found = [d for report in reports for d in diagnostics(report.new_lines)]
    if any(finding.path == d.path for d in found):
        return True
    text = "\n".join((finding.message, *finding.evidence))
    for diag in found:
        for name in _QUOTED.findall(diag.text):
            if re.search(f"[{_OPEN}]{re.escape(name)}[{_CLOSE}]", text):
                return True
        if len(diag.text) >= 12 and diag.text in text:
            return True
    return False


def verdict(findings: Sequence[Found], reports: Sequence[RobotReport]) -> str:
    """caught / caught-info / other / silent (MATCH_RULE)."""
    loud = [f for f in findings if f.severity in ("warning", "error")]
    if any(matches(f, reports) for f in loud):
        return "caught"
    if any(matches(f, reports) for f in findings):
        return "caught-info"
    return "other" if loud else "silent"


def latency_hours(patch: datetime | None, reply: datetime | None) -> float | None:
    if patch is None or reply is None:
        return None
    return (reply - patch).total_seconds() / 3600


@dataclass(frozen=True)
class Row:
    """One answered patch of the replay."""

    subject: str
    applies: str  # "yes", "no", or why it was not tried
    planned: str
    verdict: str  # caught / caught-info / other / silent / timeout / failed / "-"
    seconds: float | None
    latency_h: float | None
    robot_first: str
    findings: tuple[str, ...] = ()
    exit_code: int | None = None


def _num(value: float | None, digits: int) -> object:
    return "-" if value is None else round(value, digits)


def render(rows: Sequence[Row]) -> str:
    table = [
        (
            row.subject[:58],
            row.applies,
            row.planned[:60],
            row.verdict,
            _num(row.seconds, 0),
            _num(row.latency_h, 1),
            row.robot_first[:90],
        )
        for row in rows
    ]
    header = (
        "patch",
        "applies",
        "planned steps",
        "our verdict",
        "our wall s",
        "robot latency h",
        "robot's first error",
    )
    return format_table(header, table)


def summary(rows: Sequence[Row]) -> str:
    """'caught N of M applicable (and of the ported); median our time vs robot latency'."""
    applied = [r for r in rows if r.applies == "yes"]
    ported = [r for r in rows if r.applies == "ported"]
    ours = [r.seconds for r in applied + ported if r.seconds is not None]
    robot = [r.latency_h for r in rows if r.latency_h is not None]
    our_s = f"{statistics.median(ours):.0f} s" if ours else "-"
    robot_h = f"{statistics.median(robot):.1f} h" if robot else "-"
    return (
        f"caught {sum(r.verdict == 'caught' for r in applied)} of {len(applied)} applicable "
        f"as posted, {sum(r.verdict == 'caught' for r in ported)} of {len(ported)} ported "
        f"({len(rows)} answered patches); median our time {our_s} (checked) vs median "
        f"robot latency {robot_h} (all)"
    )


def oracle_line(
    label: str,
    objects: Sequence[str],
    base: Sequence[Found],
    patched: Sequence[Found],
    reports: Sequence[RobotReport],
) -> str:
    """One line on building the robot's own files: what the patch added, what matches."""
    seen = {(f.path, f.message) for f in base}
    new = [f for f in patched if (f.path, f.message) not in seen]
    hits = [f for f in new if matches(f, reports)]
    head = f"oracle {label}: {' '.join(objects)}: {len(new)} new diagnostics"
    if hits:
        return f"{head}, {len(hits)} matching the robot: {hits[0].path}: {hits[0].message}"[:300]
    return f"{head}, none matching the robot"
