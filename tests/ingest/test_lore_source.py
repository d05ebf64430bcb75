"""The lore git-epoch source against a real public-inbox served by public-inbox-httpd."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from reviewbot.ingest.lore import LoreGitSource
from reviewbot.ingest.source import Backoff
from reviewbot.mail.mbox import split_mbox
from reviewbot.store.series import assemble_pending
from reviewbot.store.store import Store
from tests.lore import PublicInbox, purge

SERIES = Path(__file__).resolve().parents[1] / "data" / "series"


def _mails(name: str) -> list[bytes]:
    return [raw.data for raw in split_mbox((SERIES / name).read_bytes(), name)]


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await Store.open(tmp_path / "store.db")
    yield opened
    await opened.close()


async def test_epochs_are_cloned_then_fetched_one_message_per_commit(
    lore_server: PublicInbox, store: Store, tmp_path: Path
) -> None:
    cover, first, second = _mails("base-cover-letter.mbox")
    lore_server.deliver(cover)
    lore_server.deliver(first)
    async with aiohttp.ClientSession() as session:
        source = LoreGitSource(lore_server.url, tmp_path / "mirror", session)
        assert await source.poll(store) == 2
        assert await source.poll(store) == 0
        lore_server.deliver(second)
        assert await source.poll(store) == 1
    cursor = await store.cursor(source.name)
    assert cursor is not None and cursor.last_error is None
    assert json.loads(cursor.value)["epoch"] == 0
    assert await assemble_pending(store, 1e9, 600) == [1]  # the series is whole: queued


async def test_a_rewritten_epoch_is_read_again_without_duplicates(
    lore_server: PublicInbox, store: Store, tmp_path: Path
) -> None:
    cover, first, second = _mails("base-cover-letter.mbox")
    for raw in (cover, first):
        lore_server.deliver(raw)
    async with aiohttp.ClientSession() as session:
        source = LoreGitSource(lore_server.url, tmp_path / "mirror", session)
        assert await source.poll(store) == 2
        purge(lore_server, first)  # history rewritten: the cursor's commit is gone
        lore_server.deliver(second)
        assert await source.poll(store) == 1
    events = await store.recent_events(levels=("warning",))
    assert any("rewritten" in e.text for e in events)
    counts = await store.message_counts()
    assert counts == {"new": 3}


async def test_a_manifest_of_html_is_an_error_with_backoff_not_a_crash(
    aiohttp_server: object, store: Store, tmp_path: Path
) -> None:
    hits: list[str] = []

    async def html(request: web.Request) -> web.Response:
        hits.append(request.path)
        return web.Response(text="<html><body>Bad gateway</body></html>", content_type="text/html")

    app = web.Application()
    app.router.add_get("/linux-kbuild/manifest.js.gz", html)
    server = await aiohttp_server(app)  # type: ignore[operator]
    async with aiohttp.ClientSession() as session:
        source = LoreGitSource(
            str(server.make_url("/linux-kbuild/")), tmp_path / "m", session, backoff=Backoff()
        )
        assert await source.poll(store) == 0
        assert await source.poll(store) == 0  # backing off: no second request
    assert hits == ["/linux-kbuild/manifest.js.gz"]
    cursor = await store.cursor(source.name)
    assert cursor is not None and cursor.value == ""
    assert cursor.last_error is not None and "not a gzipped JSON manifest" in cursor.last_error
