"""The service store: messages deduplicated, conflicts kept aside, cursors atomic."""

from __future__ import annotations

from pathlib import Path

import pytest

from reviewbot.store import sql
from reviewbot.store.store import Added, Incoming, MessageKind, Store


def _mail(message_id: str, body: bytes = b"hello") -> Incoming:
    return Incoming(message_id, b"Message-ID: <" + message_id.encode() + b">\n\n" + body, "test")


async def test_messages_dedup_and_conflict(tmp_path: Path) -> None:
    async with await Store.open(tmp_path / "s.sqlite") as store:
        added = await store.add_messages(
            [_mail("a@x"), _mail("a@x"), _mail("a@x", b"other")], cursor=("src", "1")
        )
        assert added == [Added.NEW, Added.DUPLICATE, Added.CONFLICT]
        stored = await store.message("a@x")
        assert stored is not None
        assert stored.raw.endswith(b"hello")
        assert stored.kind is MessageKind.NEW
        cursor = await store.cursor("src")
        assert cursor is not None
        assert cursor.value == "1"
        conflicts = await store.fetchall("SELECT message_id FROM message_conflicts")
        assert conflicts == [("a@x",)]


async def test_failed_transaction_keeps_neither_mail_nor_cursor(tmp_path: Path) -> None:
    async with await Store.open(tmp_path / "s.sqlite") as store:
        with pytest.raises(RuntimeError):
            async with store.transaction() as tx:
                await tx.execute(sql.SET_CURSOR, ("src", "9", store.now(), None))
                raise RuntimeError("boom")
        assert await store.cursor("src") is None


async def test_errors_are_kept_for_status(tmp_path: Path) -> None:
    async with await Store.open(tmp_path / "s.sqlite") as store:
        await store.set_cursor("lore", "abc")
        await store.source_error("lore", "HTTP 503")
        cursor = await store.cursor("lore")
        assert cursor is not None
        assert (cursor.value, cursor.last_error) == ("abc", "HTTP 503")
        events = await store.recent_events()
        assert [e.text for e in events] == ["HTTP 503"]


async def test_reopen_migrates_once(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    async with await Store.open(path) as store:
        await store.add_messages([_mail("b@x")])
    async with await Store.open(path) as store:
        assert (await store.message_counts()) == {"new": 1}
