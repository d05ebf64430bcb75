"""Open a store file (WAL, busy timeout) and migrate it to the latest schema.

The sync path over sqlite3, for code that is not on the event loop (the build executor).
Connections are in autocommit mode; `transaction()` groups statements. Opening a file
written by an older reviewbot applies the missing migrations; a file written by a newer
one is refused rather than misread.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from reviewbot.errors import InfrastructureError
from reviewbot.store import sql

Migrations = Sequence[tuple[int, Sequence[str]]]

BUSY_TIMEOUT_MS = 30_000


def iso(seconds: float) -> str:
    """Seconds since the epoch as the store's ISO 8601 UTC text (every table's times)."""
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="milliseconds")


def parse_iso(text: str) -> float:
    """The store's ISO 8601 text back to seconds since the epoch."""
    return datetime.fromisoformat(text).timestamp()


class StoreError(InfrastructureError):
    """The store file cannot be opened, migrated or written."""


def connect(path: Path, migrations: Migrations = sql.MIGRATIONS) -> sqlite3.Connection:
    """Open (creating if needed) the store at `path` in WAL mode and migrate it."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(
            path,
            isolation_level=None,
            timeout=BUSY_TIMEOUT_MS / 1000,
            check_same_thread=False,  # one thread at a time, not always the opener
        )
    except (OSError, sqlite3.Error) as exc:
        raise StoreError(f"{path}: cannot open the store: {exc}") from exc
    try:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise StoreError(f"{path}: the store needs WAL mode, SQLite gave {mode!r}")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
        migrate(conn, migrations)
    except sqlite3.Error as exc:
        conn.close()
        raise StoreError(f"{path}: cannot prepare the store: {exc}") from exc
    except StoreError:
        conn.close()
        raise
    return conn


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE ... COMMIT (ROLLBACK on error) on an autocommit connection."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def schema_version(conn: sqlite3.Connection) -> int:
    """The number of the last migration applied (0 for a new file)."""
    conn.execute(sql.CREATE_SCHEMA_VERSION)
    row = conn.execute(sql.SELECT_SCHEMA_VERSION).fetchone()
    return int(row[0]) if row else 0


def migrate(conn: sqlite3.Connection, migrations: Migrations = sql.MIGRATIONS) -> int:
    """Apply the migrations the file lacks, each atomically; return the new version."""
    numbers = [number for number, _ in migrations]
    if numbers != list(range(1, len(numbers) + 1)):
        raise StoreError(f"migrations must be numbered 1..N without gaps, got {numbers}")
    latest = len(numbers)
    with transaction(conn):
        current = schema_version(conn)
    if current > latest:
        raise StoreError(
            f"the store is at schema version {current}, newer than this reviewbot ({latest})"
        )
    for number, statements in migrations[current:]:
        with transaction(conn):
            # Another process may have migrated between our read and our lock.
            if schema_version(conn) >= number:
                continue
            for statement in statements:
                conn.execute(statement)
            conn.execute(sql.SET_SCHEMA_VERSION, (number,))
    return latest
