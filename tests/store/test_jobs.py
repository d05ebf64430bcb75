"""The store file and its job table: WAL, numbered migrations, a job finished once."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from reviewbot.store.db import StoreError, connect, schema_version
from reviewbot.store.jobs import JobState, JobStore
from reviewbot.store.sql import MIGRATIONS

ADD_NOTE = (len(MIGRATIONS) + 1, ("ALTER TABLE jobs ADD COLUMN note TEXT",))


def test_a_new_store_is_wal_and_fully_migrated(tmp_path: Path) -> None:
    conn = connect(tmp_path / "sub" / "store.sqlite3")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert schema_version(conn) == len(MIGRATIONS)
    columns = {row[1] for row in conn.execute("PRAGMA table_info(jobs)")}
    assert columns == {
        "id", "kind", "payload", "state", "attempts", "result", "error", "created", "updated"
    }  # fmt: skip
    conn.close()


def test_opening_an_old_store_applies_the_new_migrations(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite3"
    with JobStore.open(path) as store:
        store.record([("a", "k", {"n": 1})])
    conn = connect(path, (*MIGRATIONS, ADD_NOTE))
    assert schema_version(conn) == len(MIGRATIONS) + 1
    assert conn.execute("SELECT id, note FROM jobs").fetchall() == [("a", None)]
    conn.close()
    # Opening it again applies nothing twice.
    connect(path, (*MIGRATIONS, ADD_NOTE)).close()


def test_a_failing_migration_leaves_the_store_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite3"
    connect(path).close()
    broken = (len(MIGRATIONS) + 1, ("CREATE TABLE extra (x)", "THIS IS NOT SQL"))
    with pytest.raises(StoreError):
        connect(path, (*MIGRATIONS, broken))
    conn = sqlite3.connect(path)
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    assert "extra" not in tables
    assert conn.execute("SELECT version FROM schema_version").fetchone() == (len(MIGRATIONS),)
    conn.close()


def test_a_store_from_a_newer_reviewbot_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite3"
    connect(path, (*MIGRATIONS, ADD_NOTE)).close()
    with pytest.raises(StoreError, match="newer"):
        connect(path)


def test_recording_a_job_twice_keeps_the_first_row(tmp_path: Path) -> None:
    with JobStore.open(tmp_path / "s.sqlite3", clock=lambda: 0.0) as store:
        store.record([("a", "build", {"arch": "arm64", "objs": ["x.o"]})])
        assert store.mark_running("a")
        store.record([("a", "build", {"arch": "arm64", "objs": ["x.o"]})])
        job = store.require("a")
    assert job.state is JobState.RUNNING
    assert job.attempts == 1
    assert job.payload == {"arch": "arm64", "objs": ["x.o"]}
    assert job.created == "1970-01-01T00:00:00.000+00:00"


def test_a_result_is_stored_once(tmp_path: Path) -> None:
    with JobStore.open(tmp_path / "s.sqlite3") as store:
        store.record([("a", "k", {})])
        store.mark_running("a")
        assert store.mark_done("a", {"ok": True})
        assert not store.mark_done("a", {"ok": False})
        assert not store.mark_failed("a", "late error")
        assert not store.mark_running("a")
        job = store.require("a")
    assert (job.state, job.result, job.error, job.attempts) == (
        JobState.DONE, {"ok": True}, None, 1
    )  # fmt: skip


def test_lost_attempts_stay_unfinished_and_failed_jobs_can_be_retried(tmp_path: Path) -> None:
    with JobStore.open(tmp_path / "s.sqlite3") as store:
        store.record([("a", "k", {"n": 1}), ("b", "k", {"n": 2}), ("c", "other", {})])
        store.mark_running("a")
        assert store.note_error("a", "worker lost")
        assert [job.id for job in store.unfinished("k")] == ["a", "b"]
        assert store.require("a").error == "worker lost"
        store.mark_running("b")
        store.mark_failed("b", "boom")
        assert [job.id for job in store.unfinished("k")] == ["a"]
        assert store.counts()[JobState.FAILED] == 1
        assert store.retry("b")
        job = store.require("b")
    assert (job.state, job.attempts, job.error) == (JobState.PENDING, 0, None)


def test_payloads_must_be_json(tmp_path: Path) -> None:
    with JobStore.open(tmp_path / "s.sqlite3") as store, pytest.raises(StoreError):
        store.record([("a", "k", {"objs": {"x.o"}})])
