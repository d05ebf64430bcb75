"""Render review results as compiler-style text or the JSON contract (pure)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from reviewbot.analysis.apply import HunkOffset
from reviewbot.model import Finding, Message, Severity
from reviewbot.rules.engine import SeriesResult
from reviewbot.tree.identity import TreeInfo


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


def _offset_json(offset: HunkOffset) -> dict[str, object]:
    return {
        "patch": offset.patch,
        "path": offset.path,
        "hunk": offset.hunk,
        "header_line": offset.header,
        "line": offset.line,
        "patched_line": offset.target,
        "offset": offset.offset,
    }


def _series_json(result: SeriesResult) -> dict[str, object]:
    series = result.series
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
        "offsets": [_offset_json(o) for o in result.offsets],
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


def to_json(
    results: Sequence[SeriesResult], skipped: Sequence[Skipped], tree: TreeInfo | None
) -> str:
    document = {
        "tree": tree.to_json() if tree else None,
        "series": [_series_json(r) for r in results],
        "findings": [_finding_json(f) for r in results for f in r.findings],
        "skipped": [
            {"message_id": s.message_id, "subject": s.subject, "reason": s.reason} for s in skipped
        ],
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def offset_notes(result: SeriesResult) -> list[str]:
    """One line per patched file whose hunks applied away from their headers (as patch says)."""
    numbers = {p.message_id: p.tags.number for p in result.series.patches}
    total = result.series.total
    by_file: dict[tuple[str, str], list[HunkOffset]] = {}
    for offset in result.offsets:
        by_file.setdefault((offset.patch, offset.path), []).append(offset)
    lines = []
    for (patch, path), offsets in by_file.items():
        hunks = ", ".join(
            f"hunk #{o.hunk} at {o.target} (offset {o.offset:+d} line{'s' * (abs(o.offset) != 1)})"
            for o in offsets
        )
        number = numbers.get(patch)
        which = ""
        if total > 1:
            which = f" [patch {number}/{total}]" if number else f" [<{patch}>]"
        lines.append(
            f"{path}: note: applied at an offset: {hunks}; line numbers are the checked "
            f"tree's, the patch's base differs{which}"
        )
    return lines


def to_text(results: Sequence[SeriesResult], tree: TreeInfo | None = None) -> str:
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
    for result in results:
        lines.extend(offset_notes(result))
    patches = sum(len(r.series.patches) for r in results)
    lines.append(
        f"{counts[Severity.ERROR]} error(s), {counts[Severity.WARNING]} warning(s), "
        f"{counts[Severity.INFO]} info in {patches} patch(es) of {len(results)} series"
        + (f", checked against {tree.label}" if tree else "")
    )
    return "\n".join(lines) + "\n"
