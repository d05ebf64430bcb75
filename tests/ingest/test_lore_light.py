"""The Atom feed and t.mbox.gz thread sources against a real public-inbox."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from reviewbot.ingest.atom import LoreAtomSource, LoreThreadSource
from reviewbot.ingest.source import incoming
from reviewbot.mail.mbox import split_mbox
from reviewbot.store.series import assemble_pending
from reviewbot.store.store import Store
from tests.lore import PublicInbox

SERIES = Path(__file__).resolve().parents[1] / "data" / "series"


def _mails(name: str) -> list[bytes]:
    return [raw.data for raw in split_mbox((SERIES / name).read_bytes(), name)]


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await Store.open(tmp_path / "store.db")
    yield opened
    await opened.close()


async def test_atom_feed_brings_new_mail_once(lore_server: PublicInbox, store: Store) -> None:
    cover, first, second = _mails("base-cover-letter.mbox")
    lore_server.deliver(cover)
    lore_server.deliver(first)
    async with aiohttp.ClientSession() as session:
        source = LoreAtomSource(lore_server.url, session)
        assert await source.poll(store) == 2
        assert await source.poll(store) == 0
        lore_server.deliver(second)
        assert await source.poll(store) == 1
    stored = await store.message("1473632524-8585-3-git-send-email-stephenfinucane@gmail.com")
    assert stored is not None and b"Convert to Markdown" in stored.raw


async def test_thread_completes_a_series_with_a_part_missing(
    lore_server: PublicInbox, store: Store
) -> None:
    mails = _mails("base-cover-letter.mbox")
    for raw in mails:
        lore_server.deliver(raw)
    # Our store saw only the cover letter and 1/2; the list has 2/2 too.
    await store.add_messages([incoming(raw, "test") for raw in mails[:2]])
    assert await assemble_pending(store, store.clock(), 600) == []
    async with aiohttp.ClientSession() as session:
        threads = LoreThreadSource(lore_server.url, session, wait_seconds=0)
        assert await threads.poll(store) == 1
        assert await threads.poll(store) == 0  # each revision's thread is fetched once
    assert await assemble_pending(store, store.clock(), 600) == [1]


async def test_a_feed_of_html_is_recorded_and_stores_nothing(
    aiohttp_server: object, store: Store
) -> None:
    async def html(request: web.Request) -> web.Response:
        return web.Response(text="<html><body>maintenance</body></html>", content_type="text/html")

    app = web.Application()
    app.router.add_get("/linux-kbuild/new.atom", html)
    server = await aiohttp_server(app)  # type: ignore[operator]
    async with aiohttp.ClientSession() as session:
        source = LoreAtomSource(str(server.make_url("/linux-kbuild/")), session)
        assert await source.poll(store) == 0
    cursor = await store.cursor(source.name)
    assert (
        cursor is not None and cursor.value == "" and "not an Atom feed" in str(cursor.last_error)
    )
    assert await store.message_counts() == {}
