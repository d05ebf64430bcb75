"""Store rows shaped into the API's JSON documents and the pages' template context (pure)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from reviewbot.analysis.diff import FileChange
from reviewbot.rules.base import Rule
from reviewbot.store.webq import FindingRow, RevisionDetail, SeriesRow, Status
from reviewbot.web.hunks import excerpt, reproduce_series, reproduce_witness, witness

BUILD_KEYS = ("arch", "target", "config", "result", "seconds", "log")
MAX_LOG = 64 * 1024


def series_row(row: SeriesRow, base: str) -> dict[str, Any]:
    return {
        "id": row.id,
        "series_id": row.series_id,
        "version": row.version,
        "subject": row.subject,
        "state": row.state,
        "total": row.total,
        "received": row.received,
        "complete": row.complete,
        "first_seen": row.first_seen,
        "updated": row.updated,
        "list": row.list_id,
        "submitter": row.submitter,
        "reviewed": row.review_id is not None,
        "findings": {s: row.counts.get(s, 0) for s in ("error", "warning", "info")},
        "url": f"{base}/api/v1/series/{row.id}",
        "html_url": f"{base}/series/{row.id}",
    }


def finding(
    row: FindingRow, changes: Mapping[str, Sequence[FileChange]], base: str
) -> dict[str, Any]:
    found = witness(row.message, row.evidence)
    part = excerpt(changes.get(row.patch_message_id, ()), row.path, row.line)
    if part is None and row.patch_message_id not in changes:
        # a finding on the series as a whole: look in every patch for the file
        for patch_changes in changes.values():
            part = excerpt(patch_changes, row.path, row.line)
            if part is not None:
                break
    return {
        "id": row.id,
        "rule": row.rule,
        "name": row.name,
        "severity": row.severity,
        "patch": row.patch_message_id,
        "path": row.path,
        "line": row.line,
        "message": row.message,
        "hint": row.hint,
        "evidence": list(row.evidence),
        "witness": None
        if found is None
        else {
            "arch": found.arch,
            "config": list(found.config_lines()),
            "reproduce": list(reproduce_witness(found)),
        },
        "hunk": None
        if part is None
        else {
            "path": part.path,
            "header": part.header,
            "lines": [
                {"op": x.op, "old": x.old, "new": x.new, "text": x.text, "mark": x.mark}
                for x in part.lines
            ],
        },
        "rule_url": f"{base}/api/v1/rules/{row.rule}",
        "rule_html_url": f"{base}/rules/{row.rule}",
    }


def _build(item: Any) -> dict[str, Any] | None:
    if not isinstance(item, dict):
        return None
    out: dict[str, Any] = {}
    for key in BUILD_KEYS:
        value = item.get(key)
        if key == "seconds":
            out[key] = float(value) if isinstance(value, int | float) else None
        else:
            out[key] = None if value is None else str(value)[:MAX_LOG]
    return out


def builds(summary: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The review's build results (summary['builds']: arch, target, config, result, log)."""
    items = summary.get("builds")
    if not isinstance(items, list):
        return []
    return [b for b in (_build(item) for item in items) if b is not None]


def revision(
    detail: RevisionDetail, changes: Mapping[str, Sequence[FileChange]], base: str
) -> dict[str, Any]:
    review = detail.review
    mbox_url = f"{base}/api/v1/series/{detail.id}/mbox"
    review_json = None
    if review is not None:
        review_json = {
            "id": review.id,
            "generation": review.generation,
            "started": review.started,
            "finished": review.finished,
            "state": review.state,
            "partial": review.partial,
            "error": review.error,
            "base": {
                "kind": review.base_kind,
                "ref": review.base_ref,
                "commit": review.base_commit,
                "tree": review.tree,
            },
        }
    return {
        "id": detail.id,
        "series_id": detail.series_id,
        "version": detail.version,
        "subject": detail.subject,
        "series_subject": detail.series_subject,
        "submitter": detail.submitter,
        "list": detail.list_id,
        "change_id": detail.change_id,
        "message_id": detail.head_message_id,
        "cover_message_id": detail.cover_message_id,
        "state": detail.state,
        "total": detail.total,
        "received": detail.received,
        "complete": detail.complete,
        "base_commit": detail.base_commit,
        "first_seen": detail.first_seen,
        "updated": detail.updated,
        "generation": detail.generation,
        "revisions": [
            {
                "id": r.id,
                "version": r.version,
                "subject": r.subject,
                "state": r.state,
                "first_seen": r.first_seen,
                "url": f"{base}/api/v1/series/{r.id}",
            }
            for r in detail.revisions
        ],
        "patches": [
            {
                "number": p.number,
                "message_id": p.message_id,
                "subject": p.subject,
                "files": list(p.files),
                "url": f"{base}/api/v1/patches/{p.message_id}",
            }
            for p in detail.patches
        ],
        "review": review_json,
        "findings": [finding(f, changes, base) for f in detail.findings],
        "builds": builds(review.summary) if review is not None else [],
        "reproduce": list(
            reproduce_series(
                mbox_url,
                detail.list_id,
                review.base_commit if review else detail.base_commit,
                review.base_ref if review else "",
            )
        ),
        "mbox_url": mbox_url,
        "html_url": f"{base}/series/{detail.id}",
    }


def rule(current: Rule, has_doc: bool, base: str) -> dict[str, Any]:
    return {
        "id": current.id,
        "name": current.name,
        "severity": current.severity.value,
        "summary": current.summary,
        "doc_url": f"{base}/api/v1/rules/{current.id}" if has_doc else None,
        "html_url": f"{base}/rules/{current.id}",
    }


def status(state: Status, workers: int | None) -> dict[str, Any]:
    states = {s: state.states.get(s, 0) for s in ("assembling", "queued", "reviewing")}
    return {
        "at": state.at,
        "queue": {
            "assembling": states["assembling"],
            "queued": states["queued"],
            "reviewing": states["reviewing"],
            "oldest_queued_age": state.oldest_queued_age,
            "unassembled_messages": state.new_messages,
            "oldest_unassembled_age": state.oldest_new_message_age,
        },
        "workers": {"configured": workers, "busy": states["reviewing"]},
        "revisions": dict(sorted(state.states.items())),
        "latency": {
            "window_seconds": 86400,
            "reviews": state.latency_count,
            "median": state.latency_median,
            "p95": state.latency_p95,
        },
        "outbox": {"pending": state.outbox_pending, "oldest_age": state.oldest_outbox_age},
        "sources": [
            {
                "source": s.source,
                "updated": s.updated,
                "poll_age": s.poll_age,
                "lag": s.lag,
                "last_error": s.last_error,
                "last_error_at": s.last_error_at,
            }
            for s in state.sources
        ],
    }
