"""Bad input on the stream: logged with a reason, never a crash loop, no unread mail skipped."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from reviewbot.ingest.local import MboxSource
from reviewbot.ingest.source import incoming
from reviewbot.mail.mbox import split_mbox
from reviewbot.store.series import assemble_pending
from reviewbot.store.store import Incoming, Store

DATA = Path(__file__).resolve().parents[1] / "data"


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await Store.open(tmp_path / "store.db")
    yield opened
    await opened.close()


def _mbox(mails: list[bytes]) -> bytes:
    return b"".join(
        b"From someone@example.org Thu Jan  1 00:00:00 2026\n" + m + b"\n" for m in mails
    )


async def test_mail_that_does_not_parse_is_bad_with_a_reason_and_assembly_goes_on(
    store: Store,
) -> None:
    fuzz = [
        raw.data
        for path in sorted((DATA / "fuzz").glob("*.mbox"))
        for raw in split_mbox(path.read_bytes(), path.name)
    ]
    good = [
        raw.data for raw in split_mbox((DATA / "series/base-cover-letter.mbox").read_bytes(), "x")
    ]
    items = [incoming(raw, "test") for raw in fuzz]
    items.append(Incoming("blank@example.org", b" \n\n", source="test"))  # no headers, no body
    items += [incoming(raw, "test") for raw in good]
    await store.add_messages(items)
    queued = await assemble_pending(store, time.time(), 600)
    head = await store.fetchone(
        "SELECT id FROM revisions WHERE head_message_id = ?",
        ("1473632524-8585-1-git-send-email-stephenfinucane@gmail.com",),
    )
    assert head is not None and head[0] in queued  # the good series still comes through
    counts = await store.message_counts()
    assert "new" not in counts  # every message was looked at once: no retry loop
    blank = await store.message("blank@example.org")
    assert blank is not None and blank.kind == "bad" and "empty message" in blank.reason
    for item in items:
        stored = await store.message(item.message_id)
        assert stored is not None
        assert stored.kind != "skipped" or stored.reason, item.message_id  # a reason, always
    assert await assemble_pending(store, time.time(), 600) == []  # and nothing is redone


async def test_the_same_message_id_with_other_content_is_kept_aside(
    store: Store, tmp_path: Path
) -> None:
    cover, first, _ = (
        raw.data for raw in split_mbox((DATA / "series/base-cover-letter.mbox").read_bytes(), "x")
    )
    forged = first.replace(b"lorem ipsum", b"LOREM IPSUM")
    assert forged != first
    path = tmp_path / "list.mbox"
    path.write_bytes(_mbox([cover, first, forged]))
    source = MboxSource(path, clock=lambda: time.time() + 60)
    assert await source.poll(store) == 2
    stored = await store.message("1473632524-8585-2-git-send-email-stephenfinucane@gmail.com")
    assert stored is not None and stored.raw == first  # the first copy stays
    conflicts = await store.fetchall("SELECT message_id, raw FROM message_conflicts")
    assert [bytes(r[1]) for r in conflicts] == [forged]
    events = await store.recent_events(levels=("warning",))
    assert any("other content" in e.text for e in events)
    cursor = await store.cursor(source.name)
    assert cursor is not None and cursor.last_error is None
