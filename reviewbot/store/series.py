"""Series assembly on a stream: new messages -> series (v1..vN) -> revisions -> patches.

`assemble_pending(store, now, hold_seconds)` reads the messages still of kind 'new' in
arrival order, parses them, and in one transaction per batch classifies each
(reviewbot.mail.classify) and links it:

- a part joins a revision of the same sender, size and version (an unversioned part
  under a vN cover letter is vN) that does not have that part yet, found (1) through
  its In-Reply-To/References (nearest first), else (2) through a sibling that hangs under
  the same thread root, or is its child (parts arriving before their cover), else
  (3) for mail without usable threading, an assembling revision with the same subject
  topic; otherwise it starts a revision, of the series its thread or topic key (b4
  change-id, else sender + normalised name) names. A patch without n/m is a revision of
  one.
- replies go to the replies table with the trailers they give; bots' reports and our
  own mail are skipped, with the reason kept on the message; mail that does not parse is
  'bad' with the parser's reason. Nothing is ever dropped without a reason.
- a revision is 'assembling' until all its parts are in, then 'queued'; at its deadline
  (first seen + hold) it is queued as partial; a late part of a queued or reviewed
  revision bumps its generation (and re-queues it when it was reviewed).

It returns the revision ids it newly queued. `load_series(store, revision_id)` rebuilds
the frozen reviewbot.model.Series the reviewer takes, with its missing parts.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import aiosqlite

from reviewbot.errors import UserInputError
from reviewbot.mail.bounded import parse_bounded
from reviewbot.mail.classify import (
    Kind,
    address,
    classify,
    is_bot,
    part,
    reply_trailers,
    series_key,
    topic,
)
from reviewbot.mail.parse import parse_mail
from reviewbot.model import Message, RawMail, Series
from reviewbot.store import sql
from reviewbot.store.db import StoreError, iso
from reviewbot.store.store import MessageKind, Store, StoredMessage

log = logging.getLogger(__name__)

BATCH = 500
_HEADER_NAME = re.compile(rb"^([!-9;-~]+):", re.MULTILINE)


@dataclass(frozen=True)
class _Parsed:
    row: StoredMessage
    message: Message | None
    error: str
    headers: frozenset[str]


@dataclass(frozen=True)
class _Revision:
    id: int
    series_id: int
    version: int
    total: int
    sender: str
    topic: str
    state: str
    cover: str | None
    head: str
    subject: str
    complete: bool
    generation: int
    base_commit: str | None


def _header_names(raw: bytes) -> frozenset[str]:
    head = raw.split(b"\n\n", 1)[0].replace(b"\r\n", b"\n")
    return frozenset(name.decode("ascii").lower() for name in _HEADER_NAME.findall(head))


def _parse_all(rows: Sequence[StoredMessage]) -> list[_Parsed]:
    out = []
    for row in rows:
        try:
            # the same bounds as `check`: mail size and parse time (reviewbot.limits)
            message = parse_bounded(RawMail(row.raw, f"store:{row.message_id}"))
        except UserInputError as exc:
            out.append(_Parsed(row, None, str(exc), frozenset()))
            continue
        out.append(_Parsed(row, message, "", _header_names(row.raw)))
    return out


async def assemble_pending(
    store: Store,
    now: float,
    hold_seconds: float,
    own_addresses: Iterable[str] = (),
    batch: int = BATCH,
) -> list[int]:
    """Assemble every new message; queue what is complete or due. Returns newly queued ids."""
    own = tuple(own_addresses)
    queued: list[int] = []
    after = 0
    while True:
        rows = await store.messages_of_kind(MessageKind.NEW, after_id=after, limit=batch)
        if not rows:
            break
        parsed = await asyncio.to_thread(_parse_all, rows)
        try:
            queued += await _place(store, parsed, now, hold_seconds, own)
        except (StoreError, sqlite3.Error):
            raise
        except Exception:  # a bug on one mail must not stop the stream: isolate it
            log.exception("assembly of a batch failed; placing its messages one by one")
            for item in parsed:
                queued += await _place_alone(store, item, now, hold_seconds, own)
        after = rows[-1].id
    async with (
        store.transaction() as tx,
        tx.execute(sql.QUEUE_DUE_REVISIONS, (iso(now), iso(now))) as cur,
    ):
        due = [int(row[0]) for row in await cur.fetchall()]
    for revision_id in due:
        log.info("revision %d: hold time over, queued as partial", revision_id)
    return list(dict.fromkeys(queued + due))


async def _place(
    store: Store, parsed: Sequence[_Parsed], now: float, hold: float, own: Sequence[str]
) -> list[int]:
    async with store.transaction() as tx:
        assembler = _Assembler(tx, now, hold, own)
        for item in parsed:
            await assembler.place(item)
        await assembler.flush()
        return assembler.queued


async def _place_alone(
    store: Store, item: _Parsed, now: float, hold: float, own: Sequence[str]
) -> list[int]:
    """One message in its own transaction; if it fails, it is 'bad' with the reason."""
    try:
        return await _place(store, [item], now, hold, own)
    except (StoreError, sqlite3.Error):
        raise
    except Exception as exc:
        msgid = item.row.message_id
        log.exception("<%s>: assembly failed", msgid)
        reason = f"assembly failed: {exc!r}"[:1000]
        async with store.transaction() as tx:
            await tx.execute(sql.SET_MESSAGE_KIND, (MessageKind.BAD.value, reason, msgid))
        return []


class _Assembler:
    """Places the messages of one batch, inside its transaction."""

    def __init__(
        self, tx: aiosqlite.Connection, now: float, hold: float, own: Sequence[str]
    ) -> None:
        self.tx = tx
        self.now = iso(now)
        self.deadline = iso(now + hold)
        self.own = own
        self.queued: list[int] = []
        # Within one batch (one transaction): what this assembler read or wrote, so that
        # each message costs few round trips to the database thread.
        self._revisions: dict[int, _Revision] = {}
        self._parts: dict[int, set[int]] = {}
        self._marks: list[tuple[str, str, str]] = []
        self._replies: list[tuple[str, str, int | None, str, str]] = []

    async def _all(self, statement: str, params: Sequence[object]) -> list[aiosqlite.Row]:
        return list(await self.tx.execute_fetchall(statement, params))

    async def _mark(self, message_id: str, kind: MessageKind, reason: str = "") -> None:
        self._marks.append((kind.value, reason[:1000], message_id))

    async def flush(self) -> None:
        """Write what was kept for the end of the batch (message kinds, replies)."""
        await self.tx.executemany(sql.INSERT_REPLY, self._replies)
        await self.tx.executemany(sql.SET_MESSAGE_KIND, self._marks)
        self._replies.clear()
        self._marks.clear()

    async def place(self, item: _Parsed) -> None:
        msgid = item.row.message_id
        message = item.message
        if message is None:
            log.warning("<%s>: not assembled: %s", msgid, item.error)
            await self._mark(msgid, MessageKind.BAD, item.error)
            return
        headers = dict.fromkeys(item.headers, "")
        bot = is_bot(message.sender, headers, self.own)
        if bot is not None:
            await self._mark(msgid, MessageKind.SKIPPED, bot)
            return
        verdict = classify(message)
        if verdict.kind is Kind.SKIPPED:
            await self._mark(msgid, MessageKind.SKIPPED, verdict.reason)
        elif verdict.kind is Kind.REPLY:
            await self._reply(msgid, message)
        elif verdict.kind is Kind.COVER:
            await self._part(msgid, message, 0, message.tags.total)
        else:
            number, total = part(message)
            if number is None:
                await self._part(msgid, message, 1, 1, single=True)
            else:
                await self._part(msgid, message, number, total)

    # -- replies ---------------------------------------------------------------------

    async def _reply(self, msgid: str, message: Message) -> None:
        chain = _chain(message, msgid)
        members = await self._members(chain)
        revision_id = members[0][1] if members else None
        parent = message.in_reply_to or (message.references[-1] if message.references else "")
        trailers = reply_trailers(message.body)
        self._replies.append((msgid, parent, revision_id, message.sender, json.dumps(trailers)))
        await self._mark(msgid, MessageKind.REPLY)

    # -- parts -----------------------------------------------------------------------

    async def _members(self, chain: list[str]) -> list[tuple[str, int]]:
        if not chain:
            return []
        ids = json.dumps(chain)
        rows = await self._all(sql.SELECT_MEMBERS, (ids, ids))
        order = {m: i for i, m in enumerate(chain)}
        return sorted(((str(r[0]), int(r[1])) for r in rows), key=lambda r: order[r[0]])

    async def _revision(self, revision_id: int) -> _Revision:
        cached = self._revisions.get(revision_id)
        if cached is not None:
            return cached
        rows = await self._all(sql.SELECT_REVISION, (revision_id,))
        r = rows[0]
        self._revisions[revision_id] = _Revision(
            int(r[0]), int(r[1]), int(r[2]), int(r[3]), r[4], r[5], r[6], r[7], r[8], r[9],
            bool(r[10]), int(r[11]), r[12],
        )  # fmt: skip
        return self._revisions[revision_id]

    async def _numbers(self, revision_id: int) -> set[int]:
        if revision_id not in self._parts:
            rows = await self._all(sql.SELECT_PART_NUMBERS, (revision_id,))
            self._parts[revision_id] = {int(r[0]) for r in rows}
        return self._parts[revision_id]

    async def _fits(
        self, rev: _Revision, message: Message, number: int, total: int | None, threaded: bool
    ) -> bool:
        if rev.sender != address(message.sender):
            return False
        version = message.tags.version
        if rev.version != version and not (threaded and version == 1):
            return False
        extra = threaded and number > rev.total and (total is None or total == rev.total)
        if total != rev.total and not extra:
            return False
        if number == 0:
            return rev.cover is None
        return number not in await self._numbers(rev.id)

    async def _find(
        self, msgid: str, message: Message, number: int, total: int | None
    ) -> tuple[_Revision | None, _Revision | None]:
        """(revision to join, a revision of the same sender this mail threads to)."""
        chain = _chain(message, msgid)
        kin: _Revision | None = None
        seen: set[int] = set()
        for _, revision_id in await self._members(chain):
            if revision_id in seen:
                continue
            seen.add(revision_id)
            rev = await self._revision(revision_id)
            if kin is None and rev.sender == address(message.sender):
                kin = rev
            if await self._fits(rev, message, number, total, threaded=True):
                return rev, kin
        anchors = [a for a in (_anchor(message), msgid) if a]
        for row in await self._all(sql.SELECT_ANCHORED, (json.dumps(anchors),)):
            rev = await self._revision(int(row[0]))
            if await self._fits(rev, message, number, total, threaded=True):
                return rev, kin
        if total is not None:
            params = (address(message.sender), message.tags.version, total, topic(message))
            for row in await self._all(sql.SELECT_LOOSE, params):
                rev = await self._revision(int(row[0]))
                if await self._fits(rev, message, number, total, threaded=False):
                    return rev, kin
        return None, kin

    async def _part(
        self, msgid: str, message: Message, number: int, total: int | None, single: bool = False
    ) -> None:
        rev, kin = (None, None) if single else await self._find(msgid, message, number, total)
        if rev is None:
            rev = await self._create(msgid, message, number, total or 1, kin)
        if number == 0:
            await self.tx.execute(
                sql.SET_REVISION_COVER,
                (msgid, msgid, message.tags.name or message.subject, message.base_commit,
                 self.now, rev.id),
            )  # fmt: skip
            self._revisions.pop(rev.id, None)
            await self._rekey(rev, message)
            await self._mark(msgid, MessageKind.COVER)
            await self._settle(rev, late=False)
            return
        await self.tx.execute(
            sql.INSERT_PATCH, (rev.id, number, msgid, message.subject, _anchor(message))
        )
        numbers = await self._numbers(rev.id)
        numbers.add(number)
        complete = all(n in numbers for n in range(1, rev.total + 1))
        await self.tx.execute(
            sql.COUNT_PART, (int(complete), message.base_commit, self.now, rev.id)
        )
        if number == 1 and rev.cover is None:
            name = message.tags.name or message.subject
            await self.tx.execute(sql.SET_REVISION_HEAD, (msgid, name, self.now, rev.id))
            self._revisions.pop(rev.id, None)
            await self._rekey(rev, message)
        await self._mark(msgid, MessageKind.PATCH)
        await self._settle(rev, late=True, complete=complete)

    async def _settle(self, rev: _Revision, late: bool, complete: bool | None = None) -> None:
        if rev.state == "assembling":
            if complete:
                self._revisions.pop(rev.id, None)
                await self.tx.execute(sql.QUEUE_REVISION, (self.now, rev.id))
                self.queued.append(rev.id)
            return
        if late:
            log.info("revision %d: a late part arrived, reviewed again", rev.id)
            self._revisions.pop(rev.id, None)
            await self.tx.execute(sql.REQUEUE_REVISION, (self.now, rev.id))
            if rev.state in ("reviewed", "failed"):
                self.queued.append(rev.id)

    async def _create(
        self, msgid: str, message: Message, number: int, total: int, kin: _Revision | None
    ) -> _Revision:
        if kin is not None:
            series_id = kin.series_id  # a new version sent in reply to the old one
        else:
            key = series_key(message) if number in (0, 1) else f"pending:{msgid}"
            series_id = await self._series(key, message)
        name = message.tags.name or message.subject
        cur = await self.tx.execute(
            sql.INSERT_REVISION,
            (series_id, message.tags.version, msgid, None, name, total, message.base_commit,
             self.now, self.now, self.deadline, address(message.sender), topic(message)),
        )  # fmt: skip
        if cur.lastrowid is None:
            raise StoreError(f"<{msgid}>: revision not created")
        return await self._revision(cur.lastrowid)

    async def _series(self, key: str, message: Message) -> int:
        rows = await self._all(sql.SELECT_SERIES_BY_KEY, (key,))
        if rows:
            return int(rows[0][0])
        cur = await self.tx.execute(
            sql.INSERT_SERIES,
            (key, "", message.tags.name or message.subject, message.sender, message.change_id,
             self.now, self.now),
        )  # fmt: skip
        if cur.lastrowid is None:
            raise StoreError(f"series {key!r} not created")
        return cur.lastrowid

    async def _rekey(self, rev: _Revision, head: Message) -> None:
        """A revision started by a later part gets its series once its head arrives."""
        rows = await self._all(sql.SELECT_SERIES_KEY, (rev.series_id,))
        if not rows or not str(rows[0][0]).startswith("pending:"):
            return
        key = series_key(head)
        existing = await self._all(sql.SELECT_SERIES_BY_KEY, (key,))
        if existing:
            await self.tx.execute(sql.MOVE_REVISION, (int(existing[0][0]), rev.id))
            self._revisions.pop(rev.id, None)
            await self.tx.execute(sql.DELETE_EMPTY_SERIES, (rev.series_id,))
            return
        name = head.tags.name or head.subject
        await self.tx.execute(
            sql.REKEY_SERIES, (key, name, head.change_id, self.now, rev.series_id)
        )


def _chain(message: Message, msgid: str) -> list[str]:
    """The messages this one replies to, nearest first (In-Reply-To, then References)."""
    chain = [message.in_reply_to] if message.in_reply_to else []
    chain += list(reversed(message.references))
    return [m for m in dict.fromkeys(chain) if m and m != msgid]


def _anchor(message: Message) -> str | None:
    """The thread root a part hangs under (its first Reference, else what it replies to)."""
    if message.references:
        return message.references[0]
    return message.in_reply_to


async def load_series(store: Store, revision_id: int) -> Series:
    """The frozen series of one revision, as the reviewer takes it (gaps in `missing`)."""
    row = await store.fetchone(sql.SELECT_REVISION, (revision_id,))
    if row is None:
        raise StoreError(f"no revision {revision_id}")
    total = int(row[3])
    cover_id: str | None = row[7]
    parts = [(int(n), str(m)) for n, m in await store.fetchall(sql.SELECT_PARTS, (revision_id,))]
    wanted = [m for _, m in parts] + ([cover_id] if cover_id else [])
    raws = dict(await store.fetchall(sql.SELECT_RAW_MESSAGES, (json.dumps(wanted),)))

    def parsed(msgid: str) -> Message:
        return parse_mail(RawMail(bytes(raws[msgid]), f"store:{msgid}"))

    patches = await asyncio.to_thread(lambda: tuple(parsed(m) for _, m in parts))
    cover = parsed(cover_id) if cover_id else None
    numbers = {n for n, _ in parts}
    return Series(
        message_id=str(row[8]),
        subject=str(row[9]),
        version=int(row[2]),
        total=total,
        patches=patches,
        cover=cover,
        missing=tuple(n for n in range(1, total + 1) if n not in numbers),
        base_commit=row[12],
    )
