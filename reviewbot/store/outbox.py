"""The outbox in the store: every mail and check recorded under a unique key before it is sent.

A row is inserted once per key (`email:<revision>:<generation>`,
`check:<patch msgid>:<context>:<generation>:<state>`; a second insert of a key does
nothing) and moves pending -> sent | failed | cancelled exactly once (every update is
guarded by state = 'pending'). Before each try the drain marks the row in flight and
counts the attempt in its own transaction; a process that dies mid-send leaves the row
pending and in flight, and the next drain resolves that doubt before trying again.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import aiosqlite

from reviewbot.store import sql
from reviewbot.store.db import iso
from reviewbot.store.store import Store


class OutboxKind(StrEnum):
    EMAIL = "email"
    CHECK = "check"


class OutboxState(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class OutboxRow:
    id: int
    key: str
    kind: OutboxKind
    revision_id: int | None
    series_id: int | None
    list_id: str
    payload: dict[str, Any]
    state: OutboxState
    attempts: int
    not_before: str
    last_error: str | None
    inflight: str | None
    created: str
    updated: str
    sent: str | None


@dataclass(frozen=True)
class NewItem:
    """A row to record: its unique key and what it sends."""

    key: str
    kind: OutboxKind
    payload: dict[str, Any]
    revision_id: int | None = None
    series_id: int | None = None
    list_id: str = ""
    state: OutboxState = OutboxState.PENDING  # dry-run rows are recorded cancelled
    note: str | None = None


def _row(row: Sequence[Any]) -> OutboxRow:
    return OutboxRow(
        id=int(row[0]),
        key=row[1],
        kind=OutboxKind(row[2]),
        revision_id=row[3],
        series_id=row[4],
        list_id=row[5],
        payload=json.loads(row[6]),
        state=OutboxState(row[7]),
        attempts=int(row[8]),
        not_before=row[9],
        last_error=row[10],
        inflight=row[11],
        created=row[12],
        updated=row[13],
        sent=row[14],
    )


async def insert(tx: aiosqlite.Connection, item: NewItem, now: str, not_before: str) -> bool:
    """Record one item inside the caller's transaction; False if its key was there."""
    cur = await tx.execute(
        sql.INSERT_OUTBOX,
        (
            item.key,
            item.kind.value,
            item.revision_id,
            item.series_id,
            item.list_id,
            json.dumps(item.payload, sort_keys=True),
            item.state.value,
            not_before,
            item.note,
            now,
            now,
        ),
    )
    return cur.rowcount > 0


async def cancel_superseded(
    tx: aiosqlite.Connection, series_id: int, version: int, now: str
) -> int:
    """Cancel unsent mail about versions of the series older than `version`."""
    cur = await tx.execute(
        sql.CANCEL_SUPERSEDED_EMAIL,
        (f"superseded by v{version}", now, series_id, series_id, version),
    )
    return max(cur.rowcount, 0)


async def email_keys(tx: aiosqlite.Connection, revision_id: int) -> list[tuple[str, str]]:
    """(key, state) of every mail recorded for a revision."""
    async with tx.execute(sql.SELECT_EMAIL_KEYS_OF_REVISION, (revision_id,)) as cur:
        return [(str(k), str(s)) for k, s in await cur.fetchall()]


async def cancel_key(tx: aiosqlite.Connection, key: str, reason: str, now: str) -> None:
    await tx.execute(sql.CANCEL_OUTBOX_KEY, (reason, now, key))


async def final_check_recorded(tx: aiosqlite.Connection, patch_msgid: str, context: str) -> bool:
    async with tx.execute(sql.COUNT_FINAL_CHECKS, (patch_msgid, context)) as cur:
        row = await cur.fetchone()
    return bool(row and row[0])


async def get(store: Store, key: str) -> OutboxRow | None:
    row = await store.fetchone(sql.SELECT_OUTBOX_KEY, (key,))
    return None if row is None else _row(row)


async def all_rows(store: Store) -> list[OutboxRow]:
    return [_row(r) for r in await store.fetchall(sql.SELECT_OUTBOX_ALL)]


async def of_revision(store: Store, revision_id: int, kind: OutboxKind) -> list[OutboxRow]:
    rows = await store.fetchall(sql.SELECT_OUTBOX_OF_REVISION, (revision_id, kind.value))
    return [_row(r) for r in rows]


async def due(store: Store, now: float, limit: int = 50) -> list[OutboxRow]:
    rows = await store.fetchall(sql.SELECT_OUTBOX_DUE, (iso(now), limit))
    return [_row(r) for r in rows]


async def mark_inflight(store: Store, row_id: int) -> bool:
    """Count an attempt and mark the row in flight, committed before the send starts."""
    now = store.now()
    async with store.transaction() as tx:
        cur = await tx.execute(sql.MARK_OUTBOX_INFLIGHT, (now, now, row_id))
        return cur.rowcount > 0


async def mark_sent(store: Store, row_id: int, note: str | None = None) -> bool:
    now = store.now()
    async with store.transaction() as tx:
        cur = await tx.execute(sql.MARK_OUTBOX_SENT, (now, note, now, row_id))
        return cur.rowcount > 0


async def mark_retry(store: Store, row_id: int, not_before: float, error: str) -> None:
    async with store.transaction() as tx:
        await tx.execute(
            sql.MARK_OUTBOX_RETRY, (iso(not_before), error[:2000], store.now(), row_id)
        )


async def mark_done(store: Store, row_id: int, state: OutboxState, reason: str) -> bool:
    """Finish a row as failed or cancelled, with the reason."""
    async with store.transaction() as tx:
        cur = await tx.execute(
            sql.MARK_OUTBOX_DONE, (state.value, reason[:2000], store.now(), row_id)
        )
        return cur.rowcount > 0


async def retry_failed(store: Store, key: str) -> bool:
    now = store.now()
    async with store.transaction() as tx:
        cur = await tx.execute(sql.RETRY_FAILED_OUTBOX, (now, now, key))
        return cur.rowcount > 0


async def sent_since(store: Store, list_id: str, since: float) -> tuple[int, str | None]:
    """How many mails the list got since a time, and the oldest of them."""
    row = await store.fetchone(sql.COUNT_OUTBOX_SENT_SINCE, (list_id, iso(since)))
    return (int(row[0]), row[1]) if row else (0, None)


async def newest_version(store: Store, series_id: int) -> int | None:
    row = await store.fetchone(sql.SELECT_NEWEST_VERSION, (series_id,))
    return None if row is None or row[0] is None else int(row[0])


async def message_seen(store: Store, message_id: str) -> bool:
    """Our own mail came back through intake (it was delivered)."""
    bare = message_id.strip().strip("<>")
    return await store.fetchone(sql.SELECT_MESSAGE_EXISTS, (bare,)) is not None


async def counts(store: Store) -> dict[tuple[str, str], int]:
    rows = await store.fetchall(sql.COUNT_OUTBOX_BY_STATE)
    return {(kind, state): int(n) for kind, state, n in rows}
