"""Render review results as compiler-style text or the JSON contract (pure)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from reviewbot.model import Finding, Message, Series, Severity
from reviewbot.rules.engine import SeriesResult


@dataclass(frozen=True)
class Skipped:
    """A mail that was read but not reviewed, and why."""

    message_id: str
    subject: str
    reason: str


def exit_status(results: Sequence[SeriesResult]) -> int:
    """0 when nothing is at warning or above, 1 otherwise."""
    worst = max((f.severity.rank for r in results for f in r.findings), default=Severity.INFO.rank)
    return 1 if worst >= Severity.WARNING.rank else 0


def missing_ranges(numbers: Sequence[int]) -> list[list[int]]:
    """(1, 2, 3, 5) -> [[1, 3], [5, 5]] (the series total is capped: limits.series_total)."""
    out: list[list[int]] = []
    for number in sorted(numbers):
        if out and out[-1][1] == number - 1:
            out[-1][1] = number
        else:
            out.append([number, number])
    return out


def _patch_json(message: Message) -> dict[str, object]:
    return {
        "message_id": message.message_id,
        "subject": message.subject,
        "number": message.tags.number,
        "has_diff": message.has_patch,
    }


def _series_json(series: Series) -> dict[str, object]:
    return {
        "subject": series.subject,
        "message_id": series.message_id,
        "version": series.version,
        "total": series.total,
        "complete": series.complete,
        "missing": list(series.missing),
        "missing_ranges": missing_ranges(series.missing),
        "base_commit": series.base_commit,
        "cover": series.cover.message_id if series.cover else None,
        "patches": [_patch_json(p) for p in series.patches],
    }


def _finding_json(finding: Finding) -> dict[str, object]:
    return {
        "rule": finding.rule,
        "name": finding.name,
        "severity": finding.severity.value,
        "patch": finding.patch,
        "path": finding.path,
        "line": finding.line,
        "message": finding.message,
        "hint": finding.hint,
        "evidence": list(finding.evidence),
    }


def to_json(results: Sequence[SeriesResult], skipped: Sequence[Skipped], tree: str) -> str:
    document = {
        "tree": tree,
        "series": [_series_json(r.series) for r in results],
        "findings": [_finding_json(f) for r in results for f in r.findings],
        "skipped": [
            {"message_id": s.message_id, "subject": s.subject, "reason": s.reason} for s in skipped
        ],
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def to_text(results: Sequence[SeriesResult]) -> str:
    lines: list[str] = []
    for result in results:
        for finding in result.findings:
            where = finding.path or "<patch>"
            if finding.line:
                where += f":{finding.line}"
            lines.append(
                f"{where}: {finding.severity.value}: {finding.message} "
                f"[{finding.rule} {finding.name}]"
            )
            if finding.hint:
                lines.append(f"  hint: {finding.hint}")
            for note in finding.evidence:
                first, *rest = note.splitlines() or [""]
                lines.append(f"  note: {first}")
                lines.extend(f"        {more}" for more in rest)
    counts = dict.fromkeys(Severity, 0)
    for result in results:
        for finding in result.findings:
            counts[finding.severity] += 1
    patches = sum(len(r.series.patches) for r in results)
    lines.append(
        f"{counts[Severity.ERROR]} error(s), {counts[Severity.WARNING]} warning(s), "
        f"{counts[Severity.INFO]} info in {patches} patch(es) of {len(results)} series"
    )
    return "\n".join(lines) + "\n"
