"""The web app's reads of the store (series, findings, status) and its own small writes.

Reads go through `Store.fetchall`/`fetchone`; the web's own tables (api_tokens,
web_submissions, web_touched from migration 6) are written in `Store.transaction`. Every
statement lives in sql.py. Results are frozen dataclasses; JSON shaping is the web
layer's job.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiosqlite

from reviewbot.store import sql
from reviewbot.store.db import StoreError, iso, parse_iso
from reviewbot.store.store import Store

SEVERITIES_AT_LEAST: dict[str, tuple[str, ...]] = {
    "info": ("info", "warning", "error"),
    "warning": ("warning", "error"),
    "error": ("error",),
}


@dataclass(frozen=True)
class SeriesFilter:
    """What the series list is narrowed to; None means no condition."""

    list_id: str | None = None
    submitter: str | None = None
    state: str | None = None
    since: str | None = None  # ISO time: revisions updated at or after it
    path: str | None = None  # a file, or a directory and everything below it
    paths: frozenset[str] | None = None  # any of these files (a MAINTAINERS entry)
    rule: str | None = None
    severity: str | None = None  # a finding at this severity or above


@dataclass(frozen=True)
class SeriesRow:
    id: int
    series_id: int
    version: int
    subject: str
    state: str
    total: int
    received: int
    complete: bool
    first_seen: str
    updated: str
    list_id: str
    submitter: str
    review_id: int | None
    counts: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class RevisionBrief:
    id: int
    version: int
    subject: str
    state: str
    first_seen: str


@dataclass(frozen=True)
class PatchRow:
    id: int
    number: int
    message_id: str
    subject: str
    files: tuple[str, ...]


@dataclass(frozen=True)
class ReviewRow:
    id: int
    generation: int
    started: str
    finished: str
    state: str
    partial: bool
    base_kind: str
    base_ref: str
    base_commit: str | None
    tree: str
    summary: dict[str, Any]
    error: str | None


@dataclass(frozen=True)
class FindingRow:
    id: int
    patch_message_id: str
    rule: str
    name: str
    severity: str
    path: str
    line: int | None
    message: str
    hint: str
    evidence: tuple[str, ...]


@dataclass(frozen=True)
class RevisionDetail:
    id: int
    series_id: int
    version: int
    head_message_id: str
    cover_message_id: str | None
    subject: str
    total: int
    received: int
    complete: bool
    base_commit: str | None
    first_seen: str
    updated: str
    state: str
    generation: int
    reviewed_generation: int
    series_subject: str
    submitter: str
    list_id: str
    change_id: str | None
    revisions: tuple[RevisionBrief, ...]
    patches: tuple[PatchRow, ...]
    review: ReviewRow | None
    findings: tuple[FindingRow, ...]


@dataclass(frozen=True)
class PatchLookup:
    id: int
    number: int
    message_id: str
    subject: str
    revision_id: int


@dataclass(frozen=True)
class Status:
    """The service's health as the store shows it (status page, /metrics)."""

    at: float
    states: dict[str, int]
    oldest_queued_age: float | None
    new_messages: int
    oldest_new_message_age: float | None
    outbox_pending: int
    oldest_outbox_age: float | None
    latency_count: int
    latency_median: float | None
    latency_p95: float | None
    sources: tuple[SourceLag, ...]


@dataclass(frozen=True)
class SourceLag:
    source: str
    updated: str
    poll_age: float  # seconds since the cursor last moved or was polled successfully
    lag: float | None  # seconds between now and the newest item the source has given
    last_error: str | None
    last_error_at: str | None


@dataclass(frozen=True)
class TokenRecord:
    name: str
    sha256: str
    scopes: tuple[str, ...]


@dataclass(frozen=True)
class MessageState:
    message_id: str
    kind: str
    reason: str
    revision_id: int | None
    revision_state: str | None


@dataclass(frozen=True)
class Submission:
    id: int
    token_name: str
    created: str
    list_id: str
    message_ids: tuple[str, ...]


COMMON_PATH_ROWS = 300  # above this many touched rows, a path filter walks revisions


async def _rows(store: Store, statement: str, params: Sequence[Any] = ()) -> list[Any]:
    """All rows in one hop to aiosqlite's thread (execute + fetch + close in one call).

    Store.fetchall takes three hops; under load each hop can wait a GIL switch interval,
    and the series page runs half a dozen queries."""
    try:
        return list(await store.conn.execute_fetchall(statement, params))
    except aiosqlite.Error as exc:
        raise StoreError(f"store read failed: {exc}") from exc


async def _row(store: Store, statement: str, params: Sequence[Any] = ()) -> Any:
    rows = await _rows(store, statement, params)
    return rows[0] if rows else None


def _filter_sql(flt: SeriesFilter, common_path: bool = False) -> tuple[str, list[Any]]:
    where = ""
    params: list[Any] = []
    if flt.list_id is not None:
        where += sql.WEB_FILTER_LIST
        params.append(flt.list_id)
    if flt.submitter is not None:
        where += sql.WEB_FILTER_SUBMITTER
        escaped = flt.submitter.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        params.append(f"%{escaped}%")
    if flt.state is not None:
        where += sql.WEB_FILTER_STATE
        params.append(flt.state)
    if flt.since is not None:
        where += sql.WEB_FILTER_SINCE
        params.append(flt.since)
    if flt.path is not None:
        where += sql.WEB_FILTER_PATH_COMMON if common_path else sql.WEB_FILTER_PATH
        params += [flt.path, flt.path + "/", flt.path + "0"]
    if flt.paths is not None:
        where += sql.WEB_FILTER_PATHS
        params.append(json.dumps(sorted(flt.paths)))
    if flt.rule is not None or flt.severity is not None:
        where += sql.WEB_FILTER_FINDING
        severities = SEVERITIES_AT_LEAST[flt.severity or "info"]
        params += [flt.rule, flt.rule, *(severities * 3)[:3]]
    return where, params


async def list_series(
    store: Store, flt: SeriesFilter, before: int | None, limit: int
) -> tuple[list[SeriesRow], int | None]:
    """A page of revisions, newest first, and the id to continue before (None at the end)."""
    common = False
    if flt.path is not None:
        bounds = (flt.path, flt.path + "/", flt.path + "0", COMMON_PATH_ROWS + 1)
        (rows_for_path,) = await _row(store, sql.WEB_PATH_ROWS, bounds)
        common = int(rows_for_path) > COMMON_PATH_ROWS
    where, params = _filter_sql(flt, common)
    statement = sql.WEB_SERIES_LIST_HEAD + where + sql.WEB_SERIES_LIST_TAIL
    start = before if before is not None else 2**62
    rows = await _rows(store, statement, [start, *params, limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    review_ids = [row[12] for row in rows if row[12] is not None]
    counts: dict[int, dict[str, int]] = {}
    if review_ids:
        for review_id, severity, n in await _rows(
            store, sql.WEB_FINDING_COUNTS, (json.dumps(review_ids),)
        ):
            counts.setdefault(int(review_id), {})[severity] = int(n)
    out = [
        SeriesRow(
            id=int(row[0]),
            series_id=int(row[1]),
            version=int(row[2]),
            subject=row[3],
            state=row[4],
            total=int(row[5]),
            received=int(row[6]),
            complete=bool(row[7]),
            first_seen=row[8],
            updated=row[9],
            list_id=row[10],
            submitter=row[11],
            review_id=row[12],
            counts=counts.get(int(row[12]), {}) if row[12] is not None else {},
        )
        for row in rows
    ]
    return out, (out[-1].id if more and out else None)


def _evidence(text: str) -> tuple[str, ...]:
    try:
        value = json.loads(text)
    except ValueError:
        return (text,)
    if isinstance(value, list):
        return tuple(str(item) for item in value)
    return (str(value),)


def _summary(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


async def revision(store: Store, revision_id: int) -> RevisionDetail | None:
    """One revision with its series' revisions, patches, current review and findings."""
    row = await _row(store, sql.WEB_REVISION, (revision_id,))
    if row is None:
        return None
    revisions = tuple(
        RevisionBrief(int(r[0]), int(r[1]), r[2], r[3], r[4]) for r in json.loads(row[31])
    )
    patches = tuple(
        PatchRow(int(p[0]), int(p[1]), p[2], p[3], tuple(p[4] or ())) for p in json.loads(row[32])
    )
    review = None
    findings: tuple[FindingRow, ...] = ()
    if row[19] is not None:
        review = ReviewRow(
            id=int(row[19]),
            generation=int(row[20]),
            started=row[21],
            finished=row[22],
            state=row[23],
            partial=bool(row[24]),
            base_kind=row[25],
            base_ref=row[26],
            base_commit=row[27],
            tree=row[28],
            summary=_summary(row[29]),
            error=row[30],
        )
        findings = tuple(
            FindingRow(
                id=int(f[0]),
                patch_message_id=f[1],
                rule=f[2],
                name=f[3],
                severity=f[4],
                path=f[5],
                line=None if f[6] is None else int(f[6]),
                message=f[7],
                hint=f[8],
                evidence=_evidence(f[9]),
            )
            for f in await _rows(store, sql.WEB_FINDINGS, (review.id,))
        )
    return RevisionDetail(
        id=int(row[0]),
        series_id=int(row[1]),
        version=int(row[2]),
        head_message_id=row[3],
        cover_message_id=row[4],
        subject=row[5],
        total=int(row[6]),
        received=int(row[7]),
        complete=bool(row[8]),
        base_commit=row[9],
        first_seen=row[10],
        updated=row[11],
        state=row[12],
        generation=int(row[13]),
        reviewed_generation=int(row[14]),
        series_subject=row[15],
        submitter=row[16],
        list_id=row[17],
        change_id=row[18],
        revisions=revisions,
        patches=patches,
        review=review,
        findings=findings,
    )


async def patch_by_message_id(store: Store, message_id: str) -> PatchLookup | None:
    row = await _row(store, sql.WEB_PATCH_BY_MSGID, (message_id,))
    if row is None:
        return None
    return PatchLookup(int(row[0]), int(row[1]), row[2], row[3], int(row[4]))


async def raw_messages(store: Store, message_ids: Sequence[str]) -> dict[str, bytes]:
    rows = await _rows(store, sql.WEB_RAW_MESSAGES, (json.dumps(list(message_ids)),))
    return {row[0]: bytes(row[1]) for row in rows}


def _percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of sorted values."""
    rank = max(1, math.ceil(fraction * len(values)))
    return values[min(rank, len(values)) - 1]


def _age(now: float, when: str | None) -> float | None:
    return None if when is None else max(0.0, now - parse_iso(when))


async def status(store: Store, clock: Callable[[], float] = time.time) -> Status:
    """Queue, oldest pending, arrival -> report latency over the last day, source lags."""
    now = clock()
    states = {state: int(n) for state, n in await _rows(store, sql.WEB_REVISION_STATES)}
    oldest = await _row(store, sql.WEB_OLDEST_QUEUED)
    new_count, new_oldest = await _row(store, sql.WEB_NEW_MESSAGES)
    out_count, out_oldest = await _row(store, sql.WEB_OUTBOX_PENDING)
    spans = sorted(
        max(0.0, parse_iso(finished) - parse_iso(first_seen))
        for first_seen, finished in await _rows(store, sql.WEB_LATENCIES, (iso(now - 86400),))
    )
    sources = tuple(
        SourceLag(
            source=c.source,
            updated=c.updated,
            poll_age=max(0.0, now - parse_iso(c.updated)),
            lag=_age(now, c.newest),
            last_error=c.last_error,
            last_error_at=c.last_error_at,
        )
        for c in await store.cursors()
    )
    return Status(
        at=now,
        states=states,
        oldest_queued_age=_age(now, oldest[0] if oldest else None),
        new_messages=int(new_count),
        oldest_new_message_age=_age(now, new_oldest),
        outbox_pending=int(out_count),
        oldest_outbox_age=_age(now, out_oldest),
        latency_count=len(spans),
        latency_median=_percentile(spans, 0.5) if spans else None,
        latency_p95=_percentile(spans, 0.95) if spans else None,
        sources=sources,
    )


async def findings_by_path(
    store: Store,
    since: str,
    path: str | None,
    paths: frozenset[str] | None,
    limit: int,
) -> list[tuple[str, str, int]]:
    """(rule, path, count) over current reviews finished since `since`, most first."""
    statement = sql.WEB_FINDINGS_BY_PATH_HEAD
    params: list[Any] = [since]
    if path is not None:
        statement += sql.WEB_FINDINGS_BY_PATH_PREFIX
        params += [path, path + "/", path + "0"]
    if paths is not None:
        statement += sql.WEB_FINDINGS_BY_PATH_IN
        params.append(json.dumps(sorted(paths)))
    statement += sql.WEB_FINDINGS_BY_PATH_TAIL
    params.append(limit)
    return [(r, p, int(n)) for r, p, n in await _rows(store, statement, params)]


# -- touched files ------------------------------------------------------------------------


async def unindexed_patches(store: Store, limit: int) -> list[tuple[int, int, bytes | None]]:
    rows = await _rows(store, sql.WEB_UNINDEXED_PATCHES, (limit,))
    return [(int(a), int(b), None if raw is None else bytes(raw)) for a, b, raw in rows]


async def add_touched(store: Store, rows: Sequence[tuple[int, int, str]]) -> None:
    """Record (patch id, revision id, path); '' marks a patch looked at with no file."""
    async with store.transaction() as tx:
        await tx.executemany(sql.WEB_INSERT_TOUCHED, rows)


async def touched_watermark(store: Store) -> tuple[int, int]:
    count, top = await _row(store, sql.WEB_TOUCHED_WATERMARK)
    return int(count), int(top)


async def touched_paths(store: Store) -> list[str]:
    return [row[0] for row in await _rows(store, sql.WEB_TOUCHED_PATHS)]


# -- tokens and submissions ---------------------------------------------------------------


async def tokens(store: Store) -> list[TokenRecord]:
    return [
        TokenRecord(name, digest, tuple(json.loads(scopes)))
        for name, digest, scopes in await _rows(store, sql.WEB_TOKENS)
    ]


async def token_list(store: Store) -> list[tuple[str, tuple[str, ...], str]]:
    return [
        (name, tuple(json.loads(scopes)), created)
        for name, scopes, created in await _rows(store, sql.WEB_TOKEN_LIST)
    ]


async def add_token(store: Store, name: str, sha256: str, scopes: Sequence[str]) -> bool:
    """Store a token's hash; False when the name is taken."""
    async with store.transaction() as tx:
        cur = await tx.execute(
            sql.WEB_INSERT_TOKEN, (name, sha256, json.dumps(list(scopes)), store.now())
        )
        return cur.rowcount > 0


async def delete_token(store: Store, name: str) -> bool:
    async with store.transaction() as tx:
        cur = await tx.execute(sql.WEB_DELETE_TOKEN, (name,))
        return cur.rowcount > 0


async def add_submission(
    store: Store, token_name: str, list_id: str, message_ids: Sequence[str]
) -> int:
    async with store.transaction() as tx:
        cur = await tx.execute(
            sql.WEB_INSERT_SUBMISSION,
            (token_name, store.now(), list_id, json.dumps(list(message_ids))),
        )
        return int(cur.lastrowid or 0)


async def submission(store: Store, submission_id: int) -> Submission | None:
    row = await _row(store, sql.WEB_SUBMISSION, (submission_id,))
    if row is None:
        return None
    return Submission(int(row[0]), row[1], row[2], row[3], tuple(json.loads(row[4])))


async def message_states(store: Store, message_ids: Sequence[str]) -> list[MessageState]:
    rows = await _rows(store, sql.WEB_MESSAGE_STATES, (json.dumps(list(message_ids)),))
    return [
        MessageState(row[0], row[1], row[2], None if row[3] is None else int(row[3]), row[4])
        for row in rows
    ]
