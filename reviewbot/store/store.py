"""The service's async store over aiosqlite: one connection, serialised writers, raw mail.

`Store.open(path)` migrates the file (the same numbered migrations as the sync path in
db.py) and opens one aiosqlite connection in WAL mode. Writes go through
`async with store.transaction() as tx:` (BEGIN IMMEDIATE ... COMMIT, ROLLBACK on any
error), serialised by a lock, so that what one transaction writes is seen whole or not at
all: a kill -9 at any point leaves the last committed state.

This module holds the core every area shares: messages (kept raw, deduplicated by
Message-ID; the same id with other content goes to message_conflicts), cursors (advanced
in the transaction that stores the mail they cover, so a restart never skips unread
mail) and events (what went wrong, with a reason). Areas (series assembly, reviews,
outbox, web) keep their queries in their own modules on top of `Store.transaction`,
`Store.fetchall` and `Store.fetchone`; every statement lives in sql.py.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Self

import aiosqlite

from reviewbot.store import sql
from reviewbot.store.db import BUSY_TIMEOUT_MS, StoreError, connect, iso


class MessageKind(StrEnum):
    """What assembly made of a stored message."""

    NEW = "new"  # stored, not yet looked at by assembly
    PATCH = "patch"
    COVER = "cover"
    REPLY = "reply"
    SKIPPED = "skipped"  # not a patch (reason says why), or a bot's own report
    BAD = "bad"  # does not parse (reason says why)


class Added(StrEnum):
    """What storing one incoming message did."""

    NEW = "new"
    DUPLICATE = "duplicate"  # the same Message-ID with the same bytes
    CONFLICT = "conflict"  # the same Message-ID with other bytes: kept aside


@dataclass(frozen=True)
class Incoming:
    """A message as a source hands it to the store, before it is parsed."""

    message_id: str
    raw: bytes
    source: str  # where it came from: "lore:<list>/git/0:<commit>", "patchwork:<id>", ...
    list_id: str = ""
    subject: str = ""
    sender: str = ""
    date: str | None = None
    in_reply_to: str | None = None

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.raw).hexdigest()


@dataclass(frozen=True)
class StoredMessage:
    """One row of the messages table."""

    id: int
    message_id: str
    sha256: str
    raw: bytes
    list_id: str
    source: str
    received: str
    subject: str
    sender: str
    date: str | None
    in_reply_to: str | None
    kind: MessageKind
    reason: str


@dataclass(frozen=True)
class Cursor:
    """Where a source has read up to, and its last error."""

    source: str
    value: str
    updated: str
    newest: str | None  # the newest item's own time (for lag), when the source knows it
    last_error: str | None
    last_error_at: str | None


@dataclass(frozen=True)
class Event:
    """Something that went wrong (or is worth telling an operator), with a reason."""

    at: str
    source: str
    level: str
    message_id: str | None
    text: str


def _message(row: Sequence[Any]) -> StoredMessage:
    return StoredMessage(
        id=int(row[0]),
        message_id=row[1],
        sha256=row[2],
        raw=bytes(row[3]),
        list_id=row[4],
        source=row[5],
        received=row[6],
        subject=row[7],
        sender=row[8],
        date=row[9],
        in_reply_to=row[10],
        kind=MessageKind(row[11]),
        reason=row[12],
    )


def _cursor(row: Sequence[Any]) -> Cursor:
    return Cursor(*row)


class Store:
    """The service store. Constructed by `open`; pass it in, never reach for a global."""

    def __init__(self, conn: aiosqlite.Connection, clock: Callable[[], float] = time.time):
        self.conn = conn
        self.clock = clock
        self._lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: Path, clock: Callable[[], float] = time.time) -> Self:
        """Migrate the file (creating it) and open the service connection."""
        await asyncio.to_thread(lambda: connect(path).close())
        try:
            conn = await aiosqlite.connect(path, isolation_level=None)
            await conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            await conn.execute("PRAGMA journal_mode = WAL")
            await conn.execute("PRAGMA synchronous = NORMAL")
            await conn.execute("PRAGMA foreign_keys = ON")
        except (OSError, aiosqlite.Error) as exc:
            raise StoreError(f"{path}: cannot open the store: {exc}") from exc
        return cls(conn, clock)

    async def close(self) -> None:
        await self.conn.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def now(self) -> str:
        return iso(self.clock())

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """One write transaction: all of it is committed, or none of it."""
        async with self._lock:
            try:
                await self.conn.execute("BEGIN IMMEDIATE")
            except aiosqlite.Error as exc:
                raise StoreError(f"cannot begin a transaction: {exc}") from exc
            try:
                yield self.conn
            except BaseException:
                await self.conn.execute("ROLLBACK")
                raise
            try:
                await self.conn.execute("COMMIT")
            except aiosqlite.Error as exc:
                raise StoreError(f"commit failed: {exc}") from exc

    async def fetchall(self, statement: str, params: Sequence[Any] = ()) -> list[Any]:
        try:
            async with self.conn.execute(statement, params) as cur:
                return list(await cur.fetchall())
        except aiosqlite.Error as exc:
            raise StoreError(f"store read failed: {exc}") from exc

    async def fetchone(self, statement: str, params: Sequence[Any] = ()) -> Any:
        try:
            async with self.conn.execute(statement, params) as cur:
                return await cur.fetchone()
        except aiosqlite.Error as exc:
            raise StoreError(f"store read failed: {exc}") from exc

    # -- messages --------------------------------------------------------------------

    async def add_messages(
        self,
        messages: Iterable[Incoming],
        cursor: tuple[str, str] | None = None,
        newest: str | None = None,
    ) -> list[Added]:
        """Store messages and (optionally) move a source's cursor, in one transaction.

        A Message-ID already stored with the same bytes is a duplicate; with other bytes
        the new copy is kept in message_conflicts and the first one stays.
        """
        now = self.now()
        out: list[Added] = []
        async with self.transaction() as tx:
            for item in messages:
                out.append(await _add_one(tx, item, now))
            if cursor is not None:
                await tx.execute(sql.SET_CURSOR, (cursor[0], cursor[1], now, newest))
        return out

    async def message(self, message_id: str) -> StoredMessage | None:
        row = await self.fetchone(sql.SELECT_MESSAGE, (message_id,))
        return None if row is None else _message(row)

    async def messages_of_kind(
        self, kind: MessageKind, after_id: int = 0, limit: int = 500
    ) -> list[StoredMessage]:
        rows = await self.fetchall(sql.SELECT_MESSAGES_OF_KIND, (kind.value, after_id, limit))
        return [_message(row) for row in rows]

    async def message_counts(self) -> dict[str, int]:
        return {kind: int(n) for kind, n in await self.fetchall(sql.COUNT_MESSAGES_BY_KIND)}

    # -- cursors and events ----------------------------------------------------------

    async def cursor(self, source: str) -> Cursor | None:
        row = await self.fetchone(sql.SELECT_CURSOR, (source,))
        return None if row is None else _cursor(row)

    async def cursors(self) -> list[Cursor]:
        return [_cursor(row) for row in await self.fetchall(sql.SELECT_CURSORS)]

    async def set_cursor(self, source: str, value: str, newest: str | None = None) -> None:
        async with self.transaction() as tx:
            await tx.execute(sql.SET_CURSOR, (source, value, self.now(), newest))

    async def source_error(self, source: str, text: str) -> None:
        """A source failed (it will back off and retry): keep the reason for status."""
        now = self.now()
        async with self.transaction() as tx:
            await tx.execute(sql.SET_CURSOR_ERROR, (source, now, text[:2000], now))
            await tx.execute(sql.INSERT_EVENT, (now, source, "error", None, text[:2000]))

    async def event(
        self, source: str, level: str, text: str, message_id: str | None = None
    ) -> None:
        async with self.transaction() as tx:
            await tx.execute(sql.INSERT_EVENT, (self.now(), source, level, message_id, text[:2000]))

    async def recent_events(
        self, levels: Sequence[str] = ("warning", "error"), limit: int = 20
    ) -> list[Event]:
        rows = await self.fetchall(sql.SELECT_RECENT_EVENTS, (json.dumps(list(levels)), limit))
        return [Event(*row) for row in rows]


async def _add_one(tx: aiosqlite.Connection, item: Incoming, now: str) -> Added:
    digest = item.sha256
    cur = await tx.execute(
        sql.INSERT_MESSAGE,
        (
            item.message_id,
            digest,
            item.raw,
            item.list_id,
            item.source,
            now,
            item.subject[:1000],
            item.sender[:1000],
            item.date,
            item.in_reply_to,
        ),
    )
    if cur.rowcount > 0:
        return Added.NEW
    async with tx.execute(sql.SELECT_MESSAGE_SHA, (item.message_id,)) as found:
        row = await found.fetchone()
    if row is not None and row[1] == digest:
        return Added.DUPLICATE
    await tx.execute(
        sql.INSERT_MESSAGE_CONFLICT, (item.message_id, digest, item.raw, item.source, now)
    )
    return Added.CONFLICT
