"""The project's store: one SQLite file (WAL) with numbered migrations.

Map (each module states its job in its first docstring line):

- sql.py   (pure)  every SQL statement of the store and the numbered migration list
- db.py    (edge)  open a database file (WAL, busy timeout) and migrate it to the latest
                   schema; the sync path, over sqlite3
- jobs.py  (edge)  the job table the build executor records its work in before submitting
- store.py (edge)  the service's async store (aiosqlite): transactions, messages, cursors,
                   events; areas (series, reviews, outbox, web) add their own modules on it

The synchronous modules here serve the build executor, which runs in a plain thread. The
async service (ingest, web, outbox) will use aiosqlite over the same file, the same
migrations and the same statements in sql.py; whichever opens the file first migrates it.
"""
