"""The review queue: claims, whole reviews, generations, restarts, give-up (store level)."""

from __future__ import annotations

from pathlib import Path

import pytest

from reviewbot.model import Finding, Severity
from reviewbot.store import reviews
from reviewbot.store.store import Store


async def _revision(store: Store, head: str, state: str = "queued") -> int:
    now = store.now()
    async with store.transaction() as tx:
        await tx.execute(
            "INSERT INTO series (key, list_id, subject, submitter, created, updated)"
            " VALUES (?, 'foo', 's', 'a', ?, ?) ON CONFLICT DO NOTHING",
            (head, now, now),
        )
        cur = await tx.execute(
            "INSERT INTO revisions (series_id, version, head_message_id, subject, total,"
            " first_seen, updated, deadline, state)"
            " SELECT id, 1, ?, 's', 1, ?, ?, ?, ? FROM series WHERE key = ?",
            (head, now, now, now, state, head),
        )
        assert cur.lastrowid is not None
        return cur.lastrowid


FINDING = Finding("MK001", "name", Severity.WARNING, "Makefile", 3, "text", patch="p@x")


async def test_claim_write_and_never_twice(tmp_path: Path) -> None:
    async with await Store.open(tmp_path / "s.sqlite") as store:
        rid = await _revision(store, "h1")
        claim = await reviews.claim(store, rid)
        assert claim is not None and claim.generation == 0 and claim.attempts == 1
        assert await reviews.claim(store, rid) is None  # already taken
        record = reviews.ReviewRecord(base_kind="branch", base_ref="next", findings=(FINDING,))
        review_id = await reviews.write_review(store, claim, record)
        assert review_id is not None
        assert await reviews.write_review(store, claim, record) is None  # same generation
        assert await store.fetchall("SELECT count(*) FROM findings") == [(1,)]
        assert await reviews.revision_counts(store) == {"reviewed": 1}
        assert await reviews.list_of(store, rid) == "foo"
        assert await reviews.unhooked(store) == [(review_id, rid)]
        await reviews.mark_hooked(store, review_id)
        assert await reviews.unhooked(store) == []
        (row,) = await reviews.recent_reviews(store)
        assert (row.base_kind, row.base_ref, row.state) == ("branch", "next", "done")


async def test_late_part_during_review_requeues_for_the_new_generation(tmp_path: Path) -> None:
    async with await Store.open(tmp_path / "s.sqlite") as store:
        rid = await _revision(store, "h1")
        claim = await reviews.claim(store, rid)
        assert claim is not None
        async with store.transaction() as tx:  # what assembly does with a late part
            await tx.execute(
                "UPDATE revisions SET generation = generation + 1, state = 'queued' WHERE id = ?",
                (rid,),
            )
        await reviews.write_review(store, claim, reviews.ReviewRecord())
        assert await reviews.queued(store) == [(rid, 1, 1)]
        second = await reviews.claim(store, rid)
        assert second is not None and second.generation == 1
        assert await reviews.write_review(store, second, reviews.ReviewRecord()) is not None
        rows = await store.fetchall(
            "SELECT generation FROM reviews WHERE revision_id = ? ORDER BY 1", (rid,)
        )
        assert rows == [(0,), (1,)]
        assert await store.fetchone(
            "SELECT state, reviewed_generation FROM revisions WHERE id = ?", (rid,)
        ) == ("reviewed", 1)


@pytest.mark.parametrize("how", ["restart", "release", "retry"])
async def test_claims_go_back_to_the_queue(tmp_path: Path, how: str) -> None:
    async with await Store.open(tmp_path / "s.sqlite") as store:
        rid = await _revision(store, "h1")
        claim = await reviews.claim(store, rid)
        assert claim is not None
        if how == "restart":
            assert await reviews.requeue_interrupted(store) == 1
            attempts = 1  # the process died during the attempt: it counts
        elif how == "release":
            await reviews.release(store, claim)
            attempts = 0  # a graceful stop: no attempt used
        else:
            await reviews.retry_later(store, claim)
            attempts = 1
        assert await reviews.queued(store) == [(rid, 0, attempts)]
