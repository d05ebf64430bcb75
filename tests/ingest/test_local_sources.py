"""The local mbox and maildir sources."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from reviewbot.ingest.local import MaildirSource, MboxSource
from reviewbot.mail.mbox import split_mbox
from reviewbot.store.store import Store

SERIES = Path(__file__).resolve().parents[1] / "data" / "series"


def _mails(name: str) -> list[bytes]:
    return [raw.data for raw in split_mbox((SERIES / name).read_bytes(), name)]


def _mbox(mails: list[bytes]) -> bytes:
    return b"".join(
        b"From someone@example.org Thu Jan  1 00:00:00 2026\n" + m + b"\n" for m in mails
    )


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await Store.open(tmp_path / "store.db")
    yield opened
    await opened.close()


async def test_mbox_reads_appended_mail_and_waits_for_the_last_one_to_settle(
    store: Store, tmp_path: Path
) -> None:
    cover, first, second = _mails("base-cover-letter.mbox")
    path = tmp_path / "list.mbox"
    path.write_bytes(_mbox([cover, first]))
    now = [time.time()]
    source = MboxSource(path, clock=lambda: now[0], settle_seconds=60)
    assert await source.poll(store) == 1  # the last mail may still be being written
    now[0] += 120
    assert await source.poll(store) == 1
    assert await source.poll(store) == 0
    with path.open("ab") as handle:
        handle.write(_mbox([second]))
    now[0] = time.time() + 120
    assert await source.poll(store) == 1
    assert (await store.message_counts()) == {"new": 3}


async def test_mbox_replaced_is_read_again_without_duplicates(store: Store, tmp_path: Path) -> None:
    mails = _mails("base-cover-letter.mbox")
    path = tmp_path / "list.mbox"
    path.write_bytes(_mbox(mails[:2]))
    source = MboxSource(path, clock=lambda: time.time() + 120)
    assert await source.poll(store) == 2
    replacement = tmp_path / "rotated"
    replacement.write_bytes(_mbox(mails[1:]))
    replacement.replace(path)
    assert await source.poll(store) == 1
    events = await store.recent_events(levels=("info",))
    assert any("replaced or truncated" in e.text for e in events)


async def test_maildir_reads_new_and_cur_once(store: Store, tmp_path: Path) -> None:
    cover, first, second = _mails("base-cover-letter.mbox")
    for sub in ("new", "cur", "tmp"):
        (tmp_path / "md" / sub).mkdir(parents=True)
    (tmp_path / "md/new/1.host").write_bytes(cover)
    (tmp_path / "md/cur/2.host:2,S").write_bytes(first)
    (tmp_path / "md/tmp/3.host").write_bytes(second)  # still being delivered: not read
    source = MaildirSource(tmp_path / "md")
    assert await source.poll(store) == 2
    assert await source.poll(store) == 0
    (tmp_path / "md/tmp/3.host").rename(tmp_path / "md/new/3.host")
    assert await source.poll(store) == 1
