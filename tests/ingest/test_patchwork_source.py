"""The patchwork source against the schema-validated fake."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from reviewbot.ingest.http import Policy
from reviewbot.ingest.pwsource import PatchworkSource
from reviewbot.ingest.source import Backoff
from reviewbot.store.series import assemble_pending
from reviewbot.store.store import Store
from tests.fakes.patchwork import PatchworkServer

SERIES = Path(__file__).resolve().parents[1] / "data" / "series"
FAST = Policy(retries=0)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await Store.open(tmp_path / "store.db")
    yield opened
    await opened.close()


def _mbox(name: str) -> bytes:
    return (SERIES / name).read_bytes()


async def test_series_completed_events_bring_series_and_patch_ids(
    patchwork_server: PatchworkServer, store: Store
) -> None:
    fake = patchwork_server.fake
    fake.add_series(_mbox("base-cover-letter.mbox"))
    fake.add_series(_mbox("mercurial-no-cover-letter.mbox"))
    async with aiohttp.ClientSession() as session:
        source = PatchworkSource(patchwork_server.base_url, "linux-kbuild", session, policy=FAST)
        assert await source.poll(store) == 5
        assert await source.poll(store) == 0  # `since` is inclusive: the last event is seen
        fake.add_series(_mbox("base-no-references.mbox"))
        assert await source.poll(store) == 2
    rows = await store.fetchall("SELECT message_id, patch_id FROM patchwork_patches ORDER BY 2")
    assert [int(r[1]) for r in rows] == [1, 2, 3, 4, 5, 6]
    assert rows[0][0] == "1473632524-8585-2-git-send-email-stephenfinucane@gmail.com"
    assert await assemble_pending(store, store.clock(), 600) == [1, 2, 3]


async def test_a_series_that_404s_is_skipped_with_a_reason(
    patchwork_server: PatchworkServer, store: Store
) -> None:
    fake = patchwork_server.fake
    gone = fake.add_series(_mbox("base-cover-letter.mbox"))
    fake.missing_series.add(gone)
    fake.add_series(_mbox("mercurial-no-cover-letter.mbox"))
    async with aiohttp.ClientSession() as session:
        source = PatchworkSource(patchwork_server.base_url, "linux-kbuild", session, policy=FAST)
        assert await source.poll(store) == 2  # the next series is still read
    events = await store.recent_events(levels=("warning",))
    assert any("is gone (404)" in e.text for e in events)
    cursor = await store.cursor(source.name)
    assert cursor is not None and json.loads(cursor.value)["seen"] == [2]


async def test_a_failing_server_never_moves_the_cursor_past_unread_mail(
    patchwork_server: PatchworkServer, store: Store
) -> None:
    fake = patchwork_server.fake
    fake.add_series(_mbox("base-single-patch.mbox"))
    broken = fake.add_series(_mbox("mercurial-cover-letter.mbox"))
    fake.failing_series.add(broken)
    async with aiohttp.ClientSession() as session:
        source = PatchworkSource(
            patchwork_server.base_url, "linux-kbuild", session, policy=FAST, backoff=Backoff(base=0)
        )
        assert await source.poll(store) == 1
        cursor = await store.cursor(source.name)
        assert cursor is not None and json.loads(cursor.value)["seen"] == [1]
        assert cursor.last_error is not None and "500" in cursor.last_error
        fake.failing_series.clear()
        assert await source.poll(store) == 3
