"""kill -9 at random points during ingest and review, SIGTERM with and without grace.

After every kill the store shows whole reviews only; after the last restart every message
is stored once and every series is reviewed exactly once.
"""

from __future__ import annotations

import json
import random
import signal
import sqlite3
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.helpers import diff_of
from tests.servekit import db, make_spool, patch_mail, series_mails, serve_process, write_config

pytestmark = pytest.mark.slow


def _count(store: Path, query: str) -> int:
    if not store.exists():
        return 0
    try:
        with db(store) as conn:
            return int(conn.execute(query).fetchone()[0])
    except sqlite3.OperationalError:  # not migrated yet
        return 0


def _wait(predicate: Callable[[], bool], proc: subprocess.Popen[bytes], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        if proc.poll() is not None:
            return False
        time.sleep(0.01)
    return False


def _check_whole(store: Path) -> None:
    """No half review: each review's findings are all there, each generation reviewed once."""
    with db(store) as conn:
        for review_id, summary, state in conn.execute("SELECT id, summary, state FROM reviews"):
            stored = conn.execute(
                "SELECT count(*) FROM findings WHERE review_id = ?", (review_id,)
            ).fetchone()[0]
            if state == "done":
                assert stored == sum(json.loads(summary)["findings"].values())
        twice = conn.execute(
            "SELECT revision_id, generation FROM reviews GROUP BY 1, 2 HAVING count(*) > 1"
        ).fetchall()
        assert twice == []
        lost = conn.execute(
            "SELECT count(*) FROM revisions v WHERE v.reviewed_generation >= 0 AND NOT EXISTS"
            " (SELECT 1 FROM reviews r WHERE r.revision_id = v.id"
            " AND r.generation = v.reviewed_generation)"
        ).fetchone()[0]
        assert lost == 0


def _add_series(spool: Path, first: int, count: int) -> dict[str, int]:
    serial = len(list(spool.iterdir()))
    out: dict[str, int] = {}
    for number in range(first, first + count):
        parts = 1 + number % 3
        mails = series_mails(number, parts)
        out[mails[0][0]] = parts
        for _, raw in mails:
            (spool / f"{serial:06d}.eml").write_bytes(raw)
            serial += 1
    return out


@pytest.mark.parametrize("seed", [7, 19, 42])
def test_sigkill_at_random_points_loses_nothing_and_reviews_once(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    spool = tmp_path / "spool"
    expected = make_spool(spool, 10)
    config = write_config(tmp_path, spool)
    store = tmp_path / "service.sqlite"
    log = tmp_path / "serve.log"
    hits = {"ingest": 0, "review": 0}
    for round_ in range(6):
        if round_ == 3:  # new mail arrives between two crashes
            expected |= _add_series(spool, 10, 6)
        total = len(list(spool.iterdir()))
        stored = _count(store, "SELECT count(*) FROM messages")
        reviewed = _count(store, "SELECT count(*) FROM reviews")
        proc = serve_process(config, log)
        if stored < total and rng.random() < 0.5:
            target = rng.randint(stored + 1, total)
            phase = "ingest"
            query = "SELECT count(*) FROM messages"
        else:
            target = reviewed + rng.randint(1, 3)
            phase = "review"
            query = "SELECT count(*) FROM reviews"
        reached = _wait(lambda q=query, t=target: _count(store, q) >= t, proc, 60)
        time.sleep(rng.uniform(0, 0.05))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert proc.returncode == -signal.SIGKILL, log.read_text()[-3000:]
        if reached:
            hits[phase] += 1
        _check_whole(store)
    proc = serve_process(config, log, "--once")
    assert proc.wait(timeout=300) == 0, log.read_text()[-3000:]
    _check_whole(store)
    files = len(list(spool.iterdir()))
    with db(store) as conn:
        assert conn.execute("SELECT count(*) FROM messages").fetchone()[0] == files
        assert conn.execute("SELECT count(*) FROM message_conflicts").fetchone()[0] == 0
        per_revision = dict(
            conn.execute(
                "SELECT v.head_message_id, count(r.id) FROM revisions v"
                " LEFT JOIN reviews r ON r.revision_id = v.id GROUP BY v.id"
            )
        )
        states = {s for (s,) in conn.execute("SELECT DISTINCT state FROM revisions")}
    assert per_revision == dict.fromkeys(expected, 1)
    assert states == {"reviewed"}
    assert sum(hits.values()) >= 4, hits  # the kills did land while work was going on


def _big_series(spool: Path, parts: int) -> str:
    """One series of many patches, so that its review takes a while."""
    head = "big-0@example.org"
    sender = "Big Author <big@example.org>"
    cover = f"From: {sender}\nSubject: [PATCH 0/{parts}] foo: many\nMessage-ID: <{head}>\n\nMany.\n"
    (spool / "100000.eml").write_bytes(cover.encode())

    for part in range(1, parts + 1):
        diff = diff_of(
            f"drivers/foo/big{part}.c", None, "".join(f"int b{part}_{i};\n" for i in range(200))
        )
        raw = patch_mail(
            f"big-{part}@example.org", f"[PATCH {part}/{parts}] foo: many", diff, head, sender
        )
        (spool / f"{100000 + part:06d}.eml").write_bytes(raw)
    return head


@pytest.mark.parametrize("grace", [300.0, 0.0])
def test_sigterm_finishes_or_requeues_the_review_in_flight(tmp_path: Path, grace: float) -> None:
    spool = tmp_path / "spool"
    spool.mkdir()
    head = _big_series(spool, 30)
    config = write_config(tmp_path, spool, service=f"shutdown_grace = {grace}\n")
    store = tmp_path / "service.sqlite"
    log = tmp_path / "serve.log"
    proc = serve_process(config, log)
    reviewing = "SELECT count(*) FROM revisions WHERE state = 'reviewing'"
    assert _wait(lambda: _count(store, reviewing) == 1, proc, 60), log.read_text()[-3000:]
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=400) == 0, log.read_text()[-3000:]
    with db(store) as conn:
        state, attempts = conn.execute(
            "SELECT state, attempts FROM revisions WHERE head_message_id = ?", (head,)
        ).fetchone()
        reviews = conn.execute("SELECT count(*) FROM reviews").fetchone()[0]
    if grace:
        assert (state, reviews) == ("reviewed", 1)  # finished within the grace period
    else:
        assert (state, reviews, attempts) == ("queued", 0, 0)  # put back, no attempt used
    proc = serve_process(config, log, "--once")
    assert proc.wait(timeout=300) == 0, log.read_text()[-3000:]
    with db(store) as conn:
        assert conn.execute("SELECT count(*) FROM reviews").fetchone()[0] == 1
        assert conn.execute("SELECT state FROM revisions").fetchone()[0] == "reviewed"
