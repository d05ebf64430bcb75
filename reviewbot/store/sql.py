"""Every SQL statement of the store and the numbered migration list (pure).

Migrations are append-only: migration N is applied once, in a transaction with the bump of
`schema_version` to N, and is never edited after it has shipped. A new table or column is
a new entry at the end of MIGRATIONS.

Times are ISO 8601 UTC text; payloads and results are JSON text (checked by json_valid).
"""

from __future__ import annotations

from typing import Final

# -- schema version ---------------------------------------------------------------------

CREATE_SCHEMA_VERSION: Final = (
    "CREATE TABLE IF NOT EXISTS schema_version ("
    " id INTEGER PRIMARY KEY CHECK (id = 1),"
    " version INTEGER NOT NULL)"
)
SELECT_SCHEMA_VERSION: Final = "SELECT version FROM schema_version WHERE id = 1"
SET_SCHEMA_VERSION: Final = (
    "INSERT INTO schema_version (id, version) VALUES (1, ?)"
    " ON CONFLICT (id) DO UPDATE SET version = excluded.version"
)

# -- migrations: (number, statements), numbered from 1 without gaps -----------------------

MIGRATIONS: Final[tuple[tuple[int, tuple[str, ...]], ...]] = (
    (
        1,
        (
            "CREATE TABLE jobs ("
            " id TEXT PRIMARY KEY,"
            " kind TEXT NOT NULL,"
            " payload TEXT NOT NULL CHECK (json_valid(payload)),"
            " state TEXT NOT NULL DEFAULT 'pending'"
            "  CHECK (state IN ('pending', 'running', 'done', 'failed')),"
            " attempts INTEGER NOT NULL DEFAULT 0,"
            " result TEXT CHECK (result IS NULL OR json_valid(result)),"
            " error TEXT,"
            " created TEXT NOT NULL,"
            " updated TEXT NOT NULL)",
            "CREATE INDEX jobs_kind_state ON jobs (kind, state)",
        ),
    ),
)

# -- jobs ---------------------------------------------------------------------------------

_JOB_COLUMNS: Final = "id, kind, payload, state, attempts, result, error, created, updated"

INSERT_JOB: Final = (
    "INSERT INTO jobs (id, kind, payload, state, attempts, created, updated)"
    " VALUES (?, ?, ?, 'pending', 0, ?, ?)"
    " ON CONFLICT (id) DO NOTHING"
)
SELECT_JOB: Final = f"SELECT {_JOB_COLUMNS} FROM jobs WHERE id = ?"
SELECT_JOBS_OF_KIND_IN_STATES: Final = (
    f"SELECT {_JOB_COLUMNS} FROM jobs"
    " WHERE kind = ? AND state IN (SELECT value FROM json_each(?))"
    " ORDER BY created, id"
)
COUNT_JOBS_BY_STATE: Final = "SELECT state, count(*) FROM jobs GROUP BY state"
# A job that is submitted counts an attempt; a finished one is never started again.
MARK_JOB_RUNNING: Final = (
    "UPDATE jobs SET state = 'running', attempts = attempts + 1, updated = ?"
    " WHERE id = ? AND state IN ('pending', 'running')"
)
# The first result wins: a finished job is never overwritten.
MARK_JOB_DONE: Final = (
    "UPDATE jobs SET state = 'done', result = ?, error = NULL, updated = ?"
    " WHERE id = ? AND state IN ('pending', 'running')"
)
MARK_JOB_FAILED: Final = (
    "UPDATE jobs SET state = 'failed', error = ?, updated = ?"
    " WHERE id = ? AND state IN ('pending', 'running')"
)
# A lost worker: the job stays unfinished (to be resubmitted); remember why.
NOTE_JOB_ERROR: Final = (
    "UPDATE jobs SET error = ?, updated = ? WHERE id = ? AND state IN ('pending', 'running')"
)
RETRY_FAILED_JOB: Final = (
    "UPDATE jobs SET state = 'pending', attempts = 0, error = NULL, updated = ?"
    " WHERE id = ? AND state = 'failed'"
)
