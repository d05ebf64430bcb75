"""The job table: work recorded before it is submitted, finished exactly once.

A job is keyed by a stable id (see reviewbot.build.executor.job_id: a hash of its kind and
payload), so recording the same work twice is a no-op. States:

    pending --mark_running--> running --mark_done--> done      (final: never rerun)
       ^                         |    --mark_failed--> failed  (final unless retried)
       |                         +--note_error (worker lost; stays running)
       +------------- retry ------------------------- failed

`running` means "handed to an executor" (attempts counts the hand-overs), not "seen
started on a worker": a worker on another host cannot reach this file. After a crash,
both pending and running jobs are unfinished and are submitted again.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Self

from reviewbot.store import sql
from reviewbot.store.db import StoreError, connect, iso, transaction

JSONDict = dict[str, Any]


class JobState(StrEnum):
    """Where a job is in its life."""

    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"

    @property
    def finished(self) -> bool:
        return self in (JobState.DONE, JobState.FAILED)


UNFINISHED = (JobState.PENDING, JobState.RUNNING)


@dataclass(frozen=True)
class Job:
    """One row of the job table."""

    id: str
    kind: str
    payload: JSONDict
    state: JobState
    attempts: int
    result: JSONDict | None
    error: str | None
    created: str
    updated: str


def canonical_json(value: Mapping[str, Any]) -> str:
    """The one JSON text of a JSON-able mapping (sorted keys, no spaces)."""
    try:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    except (TypeError, ValueError) as exc:
        raise StoreError(f"not JSON-able: {exc}") from exc


def _job(row: Sequence[Any]) -> Job:
    ident, kind, payload, state, attempts, result, error, created, updated = row
    return Job(
        id=ident,
        kind=kind,
        payload=json.loads(payload),
        state=JobState(state),
        attempts=int(attempts),
        result=None if result is None else json.loads(result),
        error=error,
        created=created,
        updated=updated,
    )


class JobStore:
    """The jobs table over one sqlite3 connection (not shared between threads)."""

    def __init__(self, conn: sqlite3.Connection, clock: Callable[[], float] = time.time):
        self.conn = conn
        self._clock = clock

    @classmethod
    def open(cls, path: Path, clock: Callable[[], float] = time.time) -> Self:
        """Open (and migrate) the store file at `path`."""
        return cls(connect(path), clock)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _now(self) -> str:
        return iso(self._clock())

    def _write(self, statement: str, params: Sequence[Any]) -> bool:
        try:
            return self.conn.execute(statement, params).rowcount > 0
        except sqlite3.Error as exc:
            raise StoreError(f"job store write failed: {exc}") from exc

    def record(self, jobs: Iterable[tuple[str, str, Mapping[str, Any]]]) -> None:
        """Record (id, kind, payload) jobs as pending in one transaction; known ids stay."""
        now = self._now()
        rows = [(ident, kind, canonical_json(payload), now, now) for ident, kind, payload in jobs]
        try:
            with transaction(self.conn):
                self.conn.executemany(sql.INSERT_JOB, rows)
        except sqlite3.Error as exc:
            raise StoreError(f"recording {len(rows)} jobs failed: {exc}") from exc

    def get(self, job_id: str) -> Job | None:
        row = self.conn.execute(sql.SELECT_JOB, (job_id,)).fetchone()
        return None if row is None else _job(row)

    def require(self, job_id: str) -> Job:
        job = self.get(job_id)
        if job is None:
            raise StoreError(f"job {job_id} is not recorded")
        return job

    def of_kind(self, kind: str, states: Iterable[JobState] = tuple(JobState)) -> list[Job]:
        """Jobs of one kind in the given states, oldest first."""
        wanted = json.dumps([JobState(s).value for s in states])
        rows = self.conn.execute(sql.SELECT_JOBS_OF_KIND_IN_STATES, (kind, wanted)).fetchall()
        return [_job(row) for row in rows]

    def unfinished(self, kind: str) -> list[Job]:
        """Jobs of one kind that were recorded or submitted but never finished."""
        return self.of_kind(kind, UNFINISHED)

    def counts(self) -> dict[JobState, int]:
        counts = dict.fromkeys(JobState, 0)
        for state, count in self.conn.execute(sql.COUNT_JOBS_BY_STATE):
            counts[JobState(state)] = int(count)
        return counts

    def mark_running(self, job_id: str) -> bool:
        """Count an attempt before handing the job over; False if it already finished."""
        return self._write(sql.MARK_JOB_RUNNING, (self._now(), job_id))

    def mark_done(self, job_id: str, result: Mapping[str, Any] | str) -> bool:
        """Store the result (a mapping or its JSON text) once; False if already finished."""
        text = result if isinstance(result, str) else canonical_json(result)
        return self._write(sql.MARK_JOB_DONE, (text, self._now(), job_id))

    def mark_failed(self, job_id: str, error: str) -> bool:
        """Finish the job with an error text; False if already finished."""
        return self._write(sql.MARK_JOB_FAILED, (error, self._now(), job_id))

    def note_error(self, job_id: str, error: str) -> bool:
        """Remember why an attempt was lost; the job stays unfinished."""
        return self._write(sql.NOTE_JOB_ERROR, (error, self._now(), job_id))

    def retry(self, job_id: str) -> bool:
        """Make a failed job pending again, with its attempts reset."""
        return self._write(sql.RETRY_FAILED_JOB, (self._now(), job_id))
