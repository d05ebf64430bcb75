"""The static stage as the benchmark runs it: parse, assemble, review; crashes collected.

It calls the same library functions as `reviewbot check`, times each step, and never
lets one mail or series stop the run: an exception is recorded as a crash with its
traceback, as is every RB000 finding (with the traceback the engine logged for it).
"""

from __future__ import annotations

import logging
import time
import traceback
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

from reviewbot.errors import MalformedMailError
from reviewbot.mail.parse import parse_mail
from reviewbot.mail.series import assemble
from reviewbot.model import Finding, Message, RawMail, Series
from reviewbot.rules.base import PatchContext, Rule
from reviewbot.rules.engine import review_series
from reviewbot.tree.fs import FsTree
from reviewbot.tree.index import TreeIndex


@dataclass(frozen=True)
class Crash:
    """Something that must not happen: an exception or a rule that crashed (RB000)."""

    where: str
    what: str
    detail: str = ""


@dataclass
class StaticRun:
    """What one pass of the static stage saw, found and cost."""

    mails: int
    messages: list[Message]
    malformed: list[tuple[str, str]]
    series: list[Series]
    others: list[Message]
    findings: list[Finding]
    crashes: list[Crash]
    parse_s: float
    assemble_s: float
    review_s: float
    cpu_s: float
    review_s_by_series: dict[str, float] = field(default_factory=dict)
    rule_s: dict[str, float] = field(default_factory=dict)

    @property
    def seconds(self) -> float:
        """Wall time of parse + assemble + review."""
        return self.parse_s + self.assemble_s + self.review_s

    @property
    def patches(self) -> int:
        return sum(len(series.patches) for series in self.series)

    def skipped(self) -> Counter[str]:
        """Why each mail outside the reviewed series was not reviewed (as the CLI says)."""
        reasons: Counter[str] = Counter()
        for message in self.others:
            if message.tags.number == 0 and not message.tags.is_reply:
                reasons["cover letter without patches"] += 1
            elif message.has_patch:
                reasons["patch mail outside a series (reply with a diff, repeat, > total)"] += 1
            elif message.tags.is_reply:
                reasons["reply or review, no patch"] += 1
            else:
                reasons["no patch in this mail"] += 1
        covers = sum(1 for series in self.series if series.cover is not None)
        if covers:
            reasons["cover letter of a reviewed series"] += covers
        return reasons


class _Records(logging.Handler):
    """Keeps the tracebacks reviewbot logs (the engine logs each crashed rule)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[tuple[str, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        detail = ""
        if record.exc_info:
            detail = "".join(traceback.format_exception(*record.exc_info))
        self.records.append((record.getMessage(), detail))


@contextmanager
def _captured() -> Iterator[_Records]:
    logger = logging.getLogger("reviewbot")
    handler = _Records()
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)


def timed(rules: Sequence[Rule], spent: dict[str, float]) -> list[Rule]:
    """The same rules, each adding the wall time of its checks to spent[rule id]."""

    def wrap(current: Rule) -> Rule:
        inner = current.run

        def run(rule: Rule, ctx: PatchContext) -> Iterable[Finding]:
            started = time.perf_counter()
            try:
                return list(inner(rule, ctx))
            finally:
                spent[rule.id] += time.perf_counter() - started

        return replace(current, run=run)

    return [wrap(current) for current in rules]


def _parse_all(
    raws: Sequence[RawMail], crashes: list[Crash]
) -> tuple[list[Message], list[tuple[str, str]]]:
    messages: list[Message] = []
    malformed: list[tuple[str, str]] = []
    for raw in raws:
        try:
            messages.append(parse_mail(raw))
        except MalformedMailError as exc:
            malformed.append((raw.source, str(exc)))
        except Exception as exc:  # parse_mail promises never to raise anything else
            crashes.append(Crash(raw.source, f"parse_mail raised {exc!r}", traceback.format_exc()))
    return messages, malformed


def run_static(
    raws: Sequence[RawMail],
    root: Path,
    index: TreeIndex,
    rules: Sequence[Rule],
    arches: tuple[str, ...],
) -> StaticRun:
    """Parse, assemble and review raws against root (a fresh FsTree) and index.

    The static stage only: no Kconfig evaluation provider is passed to the engine.
    """
    crashes: list[Crash] = []
    spent: dict[str, float] = defaultdict(float)
    rules = timed(rules, spent)
    with _captured() as logged:
        cpu_started = time.process_time()
        started = time.perf_counter()
        messages, malformed = _parse_all(raws, crashes)
        parsed = time.perf_counter()
        series_list, others = assemble(messages)
        assembled = time.perf_counter()
        base = FsTree(root)
        findings: list[Finding] = []
        by_series: dict[str, float] = {}
        for series in series_list:
            begun = time.perf_counter()
            try:
                findings.extend(review_series(series, base, index, rules, arches).findings)
            except Exception as exc:  # the engine promises to turn rule crashes into RB000
                crashes.append(
                    Crash(
                        series.message_id, f"review_series raised {exc!r}", traceback.format_exc()
                    )
                )
            by_series[series.message_id] = time.perf_counter() - begun
        reviewed = time.perf_counter()
        cpu = time.process_time() - cpu_started
    for finding in findings:
        if finding.rule == "RB000":
            detail = next((d for m, d in logged.records if finding.patch in m and d), "")
            crashes.append(Crash(finding.patch, finding.message, detail))
    return StaticRun(
        mails=len(raws),
        messages=messages,
        malformed=malformed,
        series=series_list,
        others=others,
        findings=findings,
        crashes=crashes,
        parse_s=parsed - started,
        assemble_s=assembled - parsed,
        review_s=reviewed - assembled,
        cpu_s=cpu,
        review_s_by_series=by_series,
        rule_s=dict(spent),
    )
