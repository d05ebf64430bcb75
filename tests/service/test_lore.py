"""End to end through a real public-inbox: mail delivered while `serve` runs is reviewed
exactly once; kill -9 at random points while reading the git epochs and reviewing."""

from __future__ import annotations

import random
import signal
from pathlib import Path

import pytest

from reviewbot.ingest.source import headers_of
from reviewbot.mail.mbox import split_mbox
from tests.lore import PublicInbox
from tests.servekit import db, serve_process, write_config
from tests.service.test_kill import _check_whole, _count, _wait

SERIES = Path(__file__).resolve().parents[1] / "data" / "series"


def _mails(name: str) -> list[bytes]:
    return [raw.data for raw in split_mbox((SERIES / name).read_bytes(), name)]


def _config(tmp_path: Path, inbox: PublicInbox, service: str = "") -> Path:
    sources = f'[sources.lore]\nkind = "lore"\nlist = "linux-kbuild"\nurl = "{inbox.url}"\n'
    return write_config(tmp_path, None, service=service, sources=sources)


def _reviews_per_revision(store: Path) -> dict[str, int]:
    with db(store) as conn:
        return dict(
            conn.execute(
                "SELECT v.head_message_id, count(r.id) FROM revisions v"
                " LEFT JOIN reviews r ON r.revision_id = v.id GROUP BY v.id"
            )
        )


@pytest.mark.slow
def test_mail_delivered_while_serving_is_reviewed_exactly_once(
    lore_server: PublicInbox, tmp_path: Path
) -> None:
    for raw in _mails("base-single-patch.mbox"):
        lore_server.deliver(raw)
    config = _config(tmp_path, lore_server)
    store = tmp_path / "service.sqlite"
    log = tmp_path / "serve.log"
    proc = serve_process(config, log)
    try:
        reviewed = "SELECT count(*) FROM reviews"
        assert _wait(lambda: _count(store, reviewed) >= 1, proc, 120), log.read_text()[-3000:]
        # a series of two arrives, part by part and out of order, while the service runs
        first, second = _mails("base-no-cover-letter.mbox")
        for raw in (second, first):
            lore_server.deliver(raw)
        assert _wait(lambda: _count(store, reviewed) >= 2, proc, 120), log.read_text()[-3000:]
        # a review of it arrives too: stored, attached, not a new review
        reply = (
            b"From: Maintainer <m@example.org>\nSubject: Re: [PATCH 1/2] first\n"
            b"Message-ID: <review-1@example.org>\n"
            b"In-Reply-To: <" + _msgid(first) + b">\n\nReviewed-by: Maintainer <m@example.org>\n"
        )
        lore_server.deliver(reply)
        stored = "SELECT count(*) FROM messages"
        assert _wait(lambda: _count(store, stored) >= 4, proc, 120), log.read_text()[-3000:]
        assert _wait(lambda: _count(store, "SELECT count(*) FROM replies") >= 1, proc, 60)
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=120) == 0, log.read_text()[-3000:]
    per_revision = _reviews_per_revision(store)
    assert sorted(per_revision.values()) == [1, 1], per_revision
    with db(store) as conn:
        (partial, patches) = conn.execute(
            "SELECT r.partial, json_extract(r.summary, '$.patches') FROM reviews r"
            " JOIN patches p ON p.revision_id = r.revision_id WHERE p.message_id = ?",
            (_msgid(first).decode(),),
        ).fetchone()
        assert (partial, patches) == (0, 2)  # held until whole, then reviewed once
        assert conn.execute("SELECT count(*) FROM messages").fetchone()[0] == 4


def _msgid(raw: bytes) -> bytes:
    for line in raw.split(b"\n"):
        if line.lower().startswith(b"message-id:"):
            return line.split(b"<", 1)[1].split(b">", 1)[0]
    raise AssertionError("no Message-ID")


def _all_series() -> tuple[bytes, int]:
    """Every mail of the patchwork series fixtures, each Message-ID once, as an mboxrd."""
    seen: set[bytes] = set()
    out = []
    for name in sorted(SERIES.glob("*.mbox")):
        for raw in split_mbox(name.read_bytes(), name.name):
            msgid = headers_of(raw.data)[0].encode()  # as the store will key it
            if msgid in seen:
                continue
            seen.add(msgid)
            body = b"\n".join(
                b">" + line if line.lstrip(b">").startswith(b"From ") else line
                for line in raw.data.split(b"\n")
            )
            out.append(b"From mboxrd@z Thu Jan  1 00:00:00 1970\n" + body.rstrip(b"\n") + b"\n\n")
    return b"".join(out), len(out)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [3, 11])
def test_sigkill_while_reading_lore_and_reviewing(
    lore_server: PublicInbox, tmp_path: Path, seed: int
) -> None:
    rng = random.Random(seed)
    mbox, total = _all_series()
    lore_server.import_mbox(mbox)
    config = _config(tmp_path, lore_server)
    config.write_text(config.read_text().replace("hold_seconds = 3600", "hold_seconds = 0"))
    store = tmp_path / "service.sqlite"
    log = tmp_path / "serve.log"
    hits = 0
    for _ in range(5):
        proc = serve_process(config, log)
        if rng.random() < 0.5:
            query, target = "SELECT count(*) FROM messages", rng.randint(1, total)
        else:
            query = "SELECT count(*) FROM reviews"
            target = _count(store, query) + rng.randint(1, 5)
        hits += _wait(lambda q=query, t=target: _count(store, q) >= t, proc, 120)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        _check_whole(store)
    assert hits >= 3  # most kills landed while the service was reading or reviewing
    proc = serve_process(config, log, "--once")
    assert proc.wait(timeout=600) == 0, log.read_text()[-3000:]
    _check_whole(store)
    with db(store) as conn:
        assert conn.execute("SELECT count(*) FROM messages").fetchone()[0] == total
        assert conn.execute("SELECT count(*) FROM message_conflicts").fetchone()[0] == 0
        left = conn.execute(
            "SELECT state, count(*) FROM revisions WHERE state NOT IN ('reviewed', 'failed')"
            " GROUP BY state"
        ).fetchall()
        assert left == []
        # every generation of every revision reviewed exactly once
        wrong = conn.execute(
            "SELECT v.id FROM revisions v WHERE v.reviewed_generation != v.generation"
            " OR (SELECT count(*) FROM reviews r WHERE r.revision_id = v.id)"
            " != (SELECT count(DISTINCT generation) FROM reviews r WHERE r.revision_id = v.id)"
        ).fetchall()
        assert wrong == []
        assert conn.execute("SELECT count(*) FROM reviews").fetchone()[0] >= 1
