"""The review queue in the store: claim a queued revision, write its review whole, status.

A revision moves queued -> reviewing (claimed, one attempt counted) -> reviewed (or
failed), and the review with its findings and the revision's reviewed_generation are
written in ONE transaction: a reader sees the whole review or none of it, and a kill -9
at any point leaves either the claim (re-queued at the next start) or the finished
review. Reviews are unique per (revision, generation), so a revision is never reviewed
twice for the same generation, even when a claim is re-run after a crash.

A revision that was claimed `max_attempts` times without a review (the process died
during each attempt) is given up with a failed review that says so, instead of looping.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from reviewbot.model import Finding
from reviewbot.store import sql
from reviewbot.store.store import Store


@dataclass(frozen=True)
class Claim:
    """A revision taken off the queue for one generation."""

    revision_id: int
    generation: int
    attempts: int
    started: str


@dataclass(frozen=True)
class ReviewRecord:
    """What a finished review writes: its base, its findings and a summary."""

    state: str = "done"  # 'done' or 'failed'
    partial: bool = False
    base_kind: str = "default"
    base_ref: str = ""
    base_commit: str | None = None
    tree: str = ""
    summary: Mapping[str, Any] = field(default_factory=dict)
    findings: tuple[Finding, ...] = ()
    error: str | None = None


@dataclass(frozen=True)
class ReviewRow:
    """One stored review, for status and tests."""

    id: int
    revision_id: int
    generation: int
    finished: str
    state: str
    partial: bool
    base_kind: str
    base_ref: str
    base_commit: str | None
    summary: dict[str, Any]
    error: str | None
    subject: str
    version: int


async def requeue_interrupted(store: Store) -> int:
    """At start-up: every revision left 'reviewing' by a dead process goes back to queued."""
    async with store.transaction() as tx:
        cur = await tx.execute(sql.REQUEUE_REVIEWING, (store.now(),))
        return max(cur.rowcount, 0)


async def queued(store: Store, limit: int = 100) -> list[tuple[int, int, int]]:
    """(revision id, generation, attempts) of queued revisions, oldest first."""
    rows = await store.fetchall(sql.SELECT_QUEUED, (limit,))
    return [(int(a), int(b), int(c)) for a, b, c in rows]


async def claim(store: Store, revision_id: int) -> Claim | None:
    """Take one queued revision (None when another claim or a state change won)."""
    now = store.now()
    async with store.transaction() as tx:
        cur = await tx.execute(sql.CLAIM_REVISION, (now, revision_id))
        if cur.rowcount <= 0:
            return None
        async with tx.execute(sql.SELECT_REVISION_CLAIM, (revision_id,)) as found:
            row = await found.fetchone()
    assert row is not None
    return Claim(revision_id, int(row[0]), int(row[1]), now)


async def release(store: Store, item: Claim) -> None:
    """Put a claimed revision back (shutdown before its review finished): no attempt used."""
    async with store.transaction() as tx:
        await tx.execute(sql.RELEASE_REVISION, (store.now(), item.revision_id))


async def retry_later(store: Store, item: Claim) -> None:
    """Put a claimed revision back after a failure on our side; the attempt counts."""
    async with store.transaction() as tx:
        await tx.execute(sql.RETRY_REVISION, (store.now(), item.revision_id))


async def list_of(store: Store, revision_id: int) -> str:
    """The list a revision was posted to ('' when unknown)."""
    row = await store.fetchone(sql.SELECT_REVISION_LIST, (revision_id,))
    return str(row[0]) if row else ""


async def write_review(store: Store, item: Claim, record: ReviewRecord) -> int | None:
    """Write the review, its findings and the revision's state in one transaction.

    Returns the review id, or None when this (revision, generation) already has one (the
    revision's state is still settled).
    """
    now = store.now()
    final = "failed" if record.state == "failed" else "reviewed"
    async with store.transaction() as tx:
        cur = await tx.execute(
            sql.INSERT_REVIEW,
            (
                item.revision_id,
                item.generation,
                item.started,
                now,
                record.state,
                int(record.partial),
                record.base_kind,
                record.base_ref,
                record.base_commit,
                record.tree,
                json.dumps(dict(record.summary), sort_keys=True),
                record.error,
            ),
        )
        review_id = cur.lastrowid if cur.rowcount > 0 else None
        if review_id is not None:
            await tx.executemany(
                sql.INSERT_FINDING, [_finding_row(review_id, f) for f in record.findings]
            )
        await tx.execute(
            sql.FINISH_REVISION, (item.generation, now, item.generation, final, item.revision_id)
        )
    return review_id


def _finding_row(review_id: int, finding: Finding) -> tuple[Any, ...]:
    return (
        review_id,
        finding.patch,
        finding.rule,
        finding.name,
        finding.severity.value,
        finding.path,
        finding.line,
        finding.message,
        finding.hint,
        json.dumps(list(finding.evidence)),
    )


async def unhooked(store: Store, limit: int = 100) -> list[tuple[int, int]]:
    """(review id, revision id) of reviews the hooks have not yet taken, oldest first."""
    rows = await store.fetchall(sql.SELECT_UNHOOKED_REVIEWS, (limit,))
    return [(int(a), int(b)) for a, b in rows]


async def mark_hooked(store: Store, review_id: int) -> None:
    async with store.transaction() as tx:
        await tx.execute(sql.MARK_REVIEW_HOOKED, (review_id,))


async def revision_counts(store: Store) -> dict[str, int]:
    """Revisions by state: assembling, queued, reviewing, reviewed, failed."""
    return {state: int(n) for state, n in await store.fetchall(sql.COUNT_REVISIONS_BY_STATE)}


async def recent_reviews(store: Store, limit: int = 10) -> list[ReviewRow]:
    rows = await store.fetchall(sql.SELECT_RECENT_REVIEWS, (limit,))
    return [_review_row(row) for row in rows]


def _review_row(row: Sequence[Any]) -> ReviewRow:
    return ReviewRow(
        id=int(row[0]),
        revision_id=int(row[1]),
        generation=int(row[2]),
        finished=row[3],
        state=row[4],
        partial=bool(row[5]),
        base_kind=row[6],
        base_ref=row[7],
        base_commit=row[8],
        summary=json.loads(row[9]),
        error=row[10],
        subject=row[11],
        version=int(row[12]),
    )
