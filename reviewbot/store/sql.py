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
    # 2: the service's tables (ingest, series, reviews, outbox, web). Later changes to
    # one area go into that area's own migration below, then new ones at the end.
    (
        2,
        (
            # -- ingest: every message kept raw, deduplicated by Message-ID
            "CREATE TABLE messages ("
            " id INTEGER PRIMARY KEY,"
            " message_id TEXT NOT NULL UNIQUE,"
            " sha256 TEXT NOT NULL,"
            " raw BLOB NOT NULL,"
            " list_id TEXT NOT NULL DEFAULT '',"
            " source TEXT NOT NULL,"
            " received TEXT NOT NULL,"
            " subject TEXT NOT NULL DEFAULT '',"
            " sender TEXT NOT NULL DEFAULT '',"
            " date TEXT,"
            " in_reply_to TEXT,"
            " kind TEXT NOT NULL DEFAULT 'new'"
            "  CHECK (kind IN ('new', 'patch', 'cover', 'reply', 'skipped', 'bad')),"
            " reason TEXT NOT NULL DEFAULT '')",
            "CREATE INDEX messages_kind ON messages (kind, id)",
            "CREATE INDEX messages_in_reply_to ON messages (in_reply_to)",
            # the same Message-ID seen again with other content: kept, never replacing
            "CREATE TABLE message_conflicts ("
            " id INTEGER PRIMARY KEY,"
            " message_id TEXT NOT NULL,"
            " sha256 TEXT NOT NULL,"
            " raw BLOB NOT NULL,"
            " source TEXT NOT NULL,"
            " received TEXT NOT NULL,"
            " UNIQUE (message_id, sha256))",
            # one cursor per source, advanced in the transaction that stores its mail
            "CREATE TABLE cursors ("
            " source TEXT PRIMARY KEY,"
            " value TEXT NOT NULL,"
            " updated TEXT NOT NULL,"
            " newest TEXT,"
            " last_error TEXT,"
            " last_error_at TEXT)",
            # what went wrong, with a reason (status, web)
            "CREATE TABLE events ("
            " id INTEGER PRIMARY KEY,"
            " at TEXT NOT NULL,"
            " source TEXT NOT NULL,"
            " level TEXT NOT NULL CHECK (level IN ('info', 'warning', 'error')),"
            " message_id TEXT,"
            " text TEXT NOT NULL)",
            "CREATE INDEX events_at ON events (at)",
            # -- series: a topic (v1 -> vN), its revisions, their patches
            "CREATE TABLE series ("
            " id INTEGER PRIMARY KEY,"
            " key TEXT NOT NULL UNIQUE,"
            " list_id TEXT NOT NULL DEFAULT '',"
            " subject TEXT NOT NULL,"
            " submitter TEXT NOT NULL,"
            " change_id TEXT,"
            " created TEXT NOT NULL,"
            " updated TEXT NOT NULL)",
            "CREATE TABLE revisions ("
            " id INTEGER PRIMARY KEY,"
            " series_id INTEGER NOT NULL REFERENCES series (id),"
            " version INTEGER NOT NULL,"
            " head_message_id TEXT NOT NULL UNIQUE,"
            " cover_message_id TEXT,"
            " subject TEXT NOT NULL,"
            " total INTEGER NOT NULL,"
            " received INTEGER NOT NULL DEFAULT 0,"
            " complete INTEGER NOT NULL DEFAULT 0,"
            " base_commit TEXT,"
            " first_seen TEXT NOT NULL,"
            " updated TEXT NOT NULL,"
            " deadline TEXT NOT NULL,"
            " state TEXT NOT NULL DEFAULT 'assembling'"
            "  CHECK (state IN ('assembling', 'queued', 'reviewing', 'reviewed', 'failed')),"
            " generation INTEGER NOT NULL DEFAULT 0,"
            " reviewed_generation INTEGER NOT NULL DEFAULT -1,"
            " attempts INTEGER NOT NULL DEFAULT 0)",
            "CREATE INDEX revisions_state ON revisions (state, deadline)",
            "CREATE INDEX revisions_series ON revisions (series_id, version)",
            "CREATE TABLE patches ("
            " id INTEGER PRIMARY KEY,"
            " revision_id INTEGER NOT NULL REFERENCES revisions (id),"
            " number INTEGER NOT NULL,"
            " message_id TEXT NOT NULL UNIQUE,"
            " subject TEXT NOT NULL,"
            " UNIQUE (revision_id, number))",
            # replies to a patch or cover letter, with the trailers they give
            "CREATE TABLE replies ("
            " message_id TEXT PRIMARY KEY,"
            " parent_message_id TEXT NOT NULL,"
            " revision_id INTEGER REFERENCES revisions (id),"
            " sender TEXT NOT NULL,"
            " trailers TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(trailers)))",
            "CREATE INDEX replies_revision ON replies (revision_id)",
            # where patchwork knows a patch (patchwork source), for checks (respond)
            "CREATE TABLE patchwork_patches ("
            " message_id TEXT PRIMARY KEY,"
            " base_url TEXT NOT NULL,"
            " project TEXT NOT NULL,"
            " patch_id INTEGER NOT NULL,"
            " series_id INTEGER,"
            " checks_url TEXT NOT NULL)",
            # -- reviews: one per (revision, generation), written whole in one transaction
            "CREATE TABLE reviews ("
            " id INTEGER PRIMARY KEY,"
            " revision_id INTEGER NOT NULL REFERENCES revisions (id),"
            " generation INTEGER NOT NULL,"
            " started TEXT NOT NULL,"
            " finished TEXT NOT NULL,"
            " state TEXT NOT NULL CHECK (state IN ('done', 'failed')),"
            " partial INTEGER NOT NULL DEFAULT 0,"
            " base_kind TEXT NOT NULL DEFAULT 'default'"
            "  CHECK (base_kind IN ('trailer', 'branch', 'default')),"
            " base_ref TEXT NOT NULL DEFAULT '',"
            " base_commit TEXT,"
            " tree TEXT NOT NULL DEFAULT '',"
            " summary TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(summary)),"
            " error TEXT,"
            " UNIQUE (revision_id, generation))",
            "CREATE TABLE findings ("
            " id INTEGER PRIMARY KEY,"
            " review_id INTEGER NOT NULL REFERENCES reviews (id),"
            " patch_message_id TEXT NOT NULL DEFAULT '',"
            " rule TEXT NOT NULL,"
            " name TEXT NOT NULL,"
            " severity TEXT NOT NULL CHECK (severity IN ('error', 'warning', 'info')),"
            " path TEXT NOT NULL DEFAULT '',"
            " line INTEGER,"
            " message TEXT NOT NULL,"
            " hint TEXT NOT NULL DEFAULT '',"
            " evidence TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(evidence)))",
            "CREATE INDEX findings_review ON findings (review_id)",
            "CREATE INDEX findings_rule ON findings (rule, severity)",
            "CREATE INDEX findings_path ON findings (path)",
            # -- respond: every mail and check recorded under a unique key before it is sent
            "CREATE TABLE outbox ("
            " id INTEGER PRIMARY KEY,"
            " key TEXT NOT NULL UNIQUE,"
            " kind TEXT NOT NULL CHECK (kind IN ('email', 'check')),"
            " revision_id INTEGER REFERENCES revisions (id),"
            " payload TEXT NOT NULL CHECK (json_valid(payload)),"
            " state TEXT NOT NULL DEFAULT 'pending'"
            "  CHECK (state IN ('pending', 'sent', 'failed', 'cancelled')),"
            " attempts INTEGER NOT NULL DEFAULT 0,"
            " not_before TEXT NOT NULL,"
            " last_error TEXT,"
            " created TEXT NOT NULL,"
            " updated TEXT NOT NULL,"
            " sent TEXT)",
            "CREATE INDEX outbox_due ON outbox (state, not_before)",
            "CREATE TABLE silences ("
            " id INTEGER PRIMARY KEY,"
            " series_id INTEGER NOT NULL REFERENCES series (id),"
            " rule TEXT NOT NULL,"
            " reason TEXT NOT NULL DEFAULT '',"
            " by TEXT NOT NULL,"
            " at TEXT NOT NULL,"
            " UNIQUE (series_id, rule))",
            "CREATE TABLE commands ("
            " message_id TEXT PRIMARY KEY,"
            " sender TEXT NOT NULL,"
            " command TEXT NOT NULL,"
            " args TEXT NOT NULL DEFAULT '',"
            " allowed INTEGER NOT NULL,"
            " reason TEXT NOT NULL DEFAULT '',"
            " at TEXT NOT NULL)",
            # -- web: API tokens, stored hashed
            "CREATE TABLE api_tokens ("
            " name TEXT PRIMARY KEY,"
            " sha256 TEXT NOT NULL UNIQUE,"
            " scopes TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(scopes)),"
            " created TEXT NOT NULL)",
        ),
    ),
    # Reserved, one per area, so that work on each area can change its own tables
    # without renumbering the others (empty until then).
    (
        3,  # ingest and series assembly
        (
            # the thread root a part hangs under, to join parts that arrive before it
            "ALTER TABLE patches ADD COLUMN anchor TEXT",
            "CREATE INDEX patches_anchor ON patches (anchor)",
            "CREATE INDEX patches_revision ON patches (revision_id, number)",
            # who sent a revision and its subject topic ([PATCH net-next]), for joining parts
            "ALTER TABLE revisions ADD COLUMN sender TEXT NOT NULL DEFAULT ''",
            "ALTER TABLE revisions ADD COLUMN topic TEXT NOT NULL DEFAULT ''",
            "CREATE INDEX revisions_cover ON revisions (cover_message_id)",
            "CREATE INDEX revisions_loose ON revisions (state, sender, version, total)",
            "CREATE INDEX replies_parent ON replies (parent_message_id)",
        ),
    ),
    (
        4,
        (  # reviews and the service loop: which reviews the hooks (respond, web) have seen
            "ALTER TABLE reviews ADD COLUMN hooked INTEGER NOT NULL DEFAULT 0",
            "CREATE INDEX reviews_hooked ON reviews (hooked, id)",
        ),
    ),
    (
        5,
        (
            # respond: which list a row is for (rate limits), its series (supersession),
            # and when a send attempt started (in doubt after a crash until resolved)
            "ALTER TABLE outbox ADD COLUMN list_id TEXT NOT NULL DEFAULT ''",
            "ALTER TABLE outbox ADD COLUMN series_id INTEGER",
            "ALTER TABLE outbox ADD COLUMN inflight TEXT",
            "CREATE INDEX outbox_rate ON outbox (list_id, kind, state, sent)",
            "CREATE INDEX outbox_revision ON outbox (revision_id, kind)",
        ),
    ),  # respond: outbox, silences, commands
    (
        6,  # web: touched files per patch (path filters), submissions, read indexes
        (
            # files each patch touches, filled by the web app's indexer from the raw mail;
            # a patch without readable files gets one row with path '' (indexed, none)
            "CREATE TABLE web_touched ("
            " patch_id INTEGER NOT NULL REFERENCES patches (id),"
            " revision_id INTEGER NOT NULL REFERENCES revisions (id),"
            " path TEXT NOT NULL,"
            " PRIMARY KEY (patch_id, path))",
            "CREATE INDEX web_touched_path ON web_touched (path, revision_id)",
            "CREATE INDEX web_touched_revision ON web_touched (revision_id, path)",
            # mboxes posted to the API: which token, which messages (to poll)
            "CREATE TABLE web_submissions ("
            " id INTEGER PRIMARY KEY,"
            " token_name TEXT NOT NULL,"
            " created TEXT NOT NULL,"
            " list_id TEXT NOT NULL DEFAULT '',"
            " messages TEXT NOT NULL CHECK (json_valid(messages)))",
            "CREATE INDEX web_findings_review_rule ON findings (review_id, rule, severity)",
            "CREATE INDEX web_reviews_finished ON reviews (finished)",
            "CREATE INDEX web_series_list ON series (list_id)",
            "CREATE INDEX web_series_submitter ON series (submitter)",
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


# -- ingest: messages, conflicts, cursors, events ------------------------------------------

INSERT_MESSAGE: Final = (
    "INSERT INTO messages (message_id, sha256, raw, list_id, source, received, subject,"
    " sender, date, in_reply_to) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (message_id) DO NOTHING"
)
SELECT_MESSAGE_SHA: Final = "SELECT id, sha256 FROM messages WHERE message_id = ?"
INSERT_MESSAGE_CONFLICT: Final = (
    "INSERT INTO message_conflicts (message_id, sha256, raw, source, received)"
    " VALUES (?, ?, ?, ?, ?) ON CONFLICT (message_id, sha256) DO NOTHING"
)
_MESSAGE_COLUMNS: Final = (
    "id, message_id, sha256, raw, list_id, source, received, subject, sender, date,"
    " in_reply_to, kind, reason"
)
SELECT_MESSAGE: Final = f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE message_id = ?"
SELECT_MESSAGES_OF_KIND: Final = (
    f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE kind = ? AND id > ? ORDER BY id LIMIT ?"
)
SET_MESSAGE_KIND: Final = "UPDATE messages SET kind = ?, reason = ? WHERE message_id = ?"
COUNT_MESSAGES_BY_KIND: Final = "SELECT kind, count(*) FROM messages GROUP BY kind"

SELECT_CURSOR: Final = (
    "SELECT source, value, updated, newest, last_error, last_error_at FROM cursors WHERE source = ?"
)
SELECT_CURSORS: Final = (
    "SELECT source, value, updated, newest, last_error, last_error_at FROM cursors ORDER BY source"
)
SET_CURSOR: Final = (
    "INSERT INTO cursors (source, value, updated, newest) VALUES (?, ?, ?, ?)"
    " ON CONFLICT (source) DO UPDATE SET value = excluded.value, updated = excluded.updated,"
    " newest = coalesce(excluded.newest, cursors.newest), last_error = NULL"
)
SET_CURSOR_ERROR: Final = (
    "INSERT INTO cursors (source, value, updated, last_error, last_error_at)"
    " VALUES (?, '', ?, ?, ?)"
    " ON CONFLICT (source) DO UPDATE SET last_error = excluded.last_error,"
    " last_error_at = excluded.last_error_at"
)
INSERT_EVENT: Final = (
    "INSERT INTO events (at, source, level, message_id, text) VALUES (?, ?, ?, ?, ?)"
)
SELECT_RECENT_EVENTS: Final = (
    "SELECT at, source, level, message_id, text FROM events"
    " WHERE level IN (SELECT value FROM json_each(?)) ORDER BY id DESC LIMIT ?"
)

# -- series and revisions (assembly) -------------------------------------------------------

_REVISION_COLUMNS: Final = (
    "id, series_id, version, total, sender, topic, state, cover_message_id, head_message_id,"
    " subject, complete, generation, base_commit"
)
SELECT_REVISION: Final = f"SELECT {_REVISION_COLUMNS} FROM revisions WHERE id = ?"
# members (patches and cover letters) among a list of Message-IDs, with their revision
SELECT_MEMBERS: Final = (
    "SELECT message_id, revision_id FROM patches"
    " WHERE message_id IN (SELECT value FROM json_each(?))"
    " UNION ALL SELECT cover_message_id, id FROM revisions"
    " WHERE cover_message_id IN (SELECT value FROM json_each(?))"
)
SELECT_ANCHORED: Final = (
    "SELECT DISTINCT revision_id FROM patches"
    " WHERE anchor IN (SELECT value FROM json_each(?)) ORDER BY revision_id DESC"
)
SELECT_LOOSE: Final = (
    "SELECT id FROM revisions WHERE state = 'assembling' AND sender = ? AND version = ?"
    " AND total = ? AND topic = ? ORDER BY id DESC"
)
SELECT_PART_NUMBERS: Final = "SELECT number FROM patches WHERE revision_id = ? ORDER BY number"
SELECT_PARTS: Final = "SELECT number, message_id FROM patches WHERE revision_id = ? ORDER BY number"
SELECT_SERIES_BY_KEY: Final = "SELECT id FROM series WHERE key = ?"
SELECT_SERIES_KEY: Final = "SELECT key FROM series WHERE id = ?"
INSERT_SERIES: Final = (
    "INSERT INTO series (key, list_id, subject, submitter, change_id, created, updated)"
    " VALUES (?, ?, ?, ?, ?, ?, ?)"
)
REKEY_SERIES: Final = (
    "UPDATE series SET key = ?, subject = ?, change_id = ?, updated = ? WHERE id = ?"
)
MOVE_REVISION: Final = "UPDATE revisions SET series_id = ? WHERE id = ?"
DELETE_EMPTY_SERIES: Final = (
    "DELETE FROM series WHERE id = ? AND NOT EXISTS"
    " (SELECT 1 FROM revisions WHERE series_id = series.id)"
)
INSERT_REVISION: Final = (
    "INSERT INTO revisions (series_id, version, head_message_id, cover_message_id, subject,"
    " total, received, complete, base_commit, first_seen, updated, deadline, sender, topic)"
    " VALUES (?, ?, ?, ?, ?, ?, 0, 0, ?, ?, ?, ?, ?, ?)"
)
SET_REVISION_COVER: Final = (
    "UPDATE revisions SET cover_message_id = ?, head_message_id = ?, subject = ?,"
    " base_commit = coalesce(base_commit, ?), updated = ? WHERE id = ?"
)
SET_REVISION_HEAD: Final = (
    "UPDATE revisions SET head_message_id = ?, subject = ?, updated = ? WHERE id = ?"
)
INSERT_PATCH: Final = (
    "INSERT INTO patches (revision_id, number, message_id, subject, anchor) VALUES (?, ?, ?, ?, ?)"
)
# a part arrived: count it, note completeness, take the author's base
COUNT_PART: Final = (
    "UPDATE revisions SET received = received + 1, complete = ?,"
    " base_commit = coalesce(base_commit, ?), updated = ? WHERE id = ?"
)
QUEUE_REVISION: Final = (
    "UPDATE revisions SET state = 'queued', updated = ? WHERE id = ? AND state = 'assembling'"
)
# a late part of a revision already queued or reviewed: review it again
REQUEUE_REVISION: Final = (
    "UPDATE revisions SET generation = generation + 1, updated = ?,"
    " state = CASE WHEN state IN ('reviewed', 'failed') THEN 'queued' ELSE state END"
    " WHERE id = ?"
)
QUEUE_DUE_REVISIONS: Final = (
    "UPDATE revisions SET state = 'queued', updated = ?"
    " WHERE state = 'assembling' AND deadline <= ? RETURNING id"
)
INSERT_REPLY: Final = (
    "INSERT INTO replies (message_id, parent_message_id, revision_id, sender, trailers)"
    " VALUES (?, ?, ?, ?, ?) ON CONFLICT (message_id) DO NOTHING"
)
SELECT_REPLIES_TO: Final = (
    "SELECT message_id, parent_message_id, sender, trailers FROM replies"
    " WHERE parent_message_id IN (SELECT value FROM json_each(?)) ORDER BY rowid"
)
UPSERT_PATCHWORK_PATCH: Final = (
    "INSERT INTO patchwork_patches (message_id, base_url, project, patch_id, series_id,"
    " checks_url) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (message_id) DO UPDATE SET"
    " base_url = excluded.base_url, project = excluded.project, patch_id = excluded.patch_id,"
    " series_id = excluded.series_id, checks_url = excluded.checks_url"
)
# revisions still waiting for parts after a while: their threads are worth fetching whole
SELECT_INCOMPLETE_REVISIONS: Final = (
    "SELECT id, head_message_id FROM revisions"
    " WHERE state = 'assembling' AND complete = 0 AND first_seen <= ? ORDER BY id LIMIT 100"
)
SELECT_RAW_MESSAGES: Final = (
    "SELECT message_id, raw FROM messages WHERE message_id IN (SELECT value FROM json_each(?))"
)

# -- reviews and the service loop ----------------------------------------------------------

# After a restart, a review in flight was lost with the process: queue it again.
REQUEUE_REVIEWING: Final = (
    "UPDATE revisions SET state = 'queued', updated = ? WHERE state = 'reviewing'"
)
SELECT_QUEUED: Final = (
    "SELECT id, generation, attempts FROM revisions WHERE state = 'queued'"
    " ORDER BY updated, id LIMIT ?"
)
CLAIM_REVISION: Final = (
    "UPDATE revisions SET state = 'reviewing', attempts = attempts + 1, updated = ?"
    " WHERE id = ? AND state = 'queued'"
)
SELECT_REVISION_CLAIM: Final = "SELECT generation, attempts FROM revisions WHERE id = ?"
INSERT_REVIEW: Final = (
    "INSERT INTO reviews (revision_id, generation, started, finished, state, partial,"
    " base_kind, base_ref, base_commit, tree, summary, error)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (revision_id, generation) DO NOTHING"
)
INSERT_FINDING: Final = (
    "INSERT INTO findings (review_id, patch_message_id, rule, name, severity, path, line,"
    " message, hint, evidence) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
# The review of generation g is written: reviewed unless a late part bumped the generation
# meanwhile (then it stays queued for the new one).
FINISH_REVISION: Final = (
    "UPDATE revisions SET reviewed_generation = max(reviewed_generation, ?), updated = ?,"
    " state = CASE WHEN generation <= ? THEN ? ELSE 'queued' END"
    " WHERE id = ? AND state IN ('reviewing', 'queued')"
)
RELEASE_REVISION: Final = (
    "UPDATE revisions SET state = 'queued', attempts = max(attempts - 1, 0), updated = ?"
    " WHERE id = ? AND state = 'reviewing'"
)
# A review that failed on our side: back in the queue, the attempt still counted.
RETRY_REVISION: Final = (
    "UPDATE revisions SET state = 'queued', updated = ? WHERE id = ? AND state = 'reviewing'"
)
# the series' list, else the list its first patch came from
SELECT_REVISION_LIST: Final = (
    "SELECT coalesce(nullif(s.list_id, ''), (SELECT m.list_id FROM patches p"
    " JOIN messages m ON m.message_id = p.message_id WHERE p.revision_id = r.id"
    " ORDER BY p.number LIMIT 1), '')"
    " FROM revisions r JOIN series s ON s.id = r.series_id WHERE r.id = ?"
)
SELECT_UNHOOKED_REVIEWS: Final = (
    "SELECT id, revision_id FROM reviews WHERE hooked = 0 ORDER BY id LIMIT ?"
)
MARK_REVIEW_HOOKED: Final = "UPDATE reviews SET hooked = 1 WHERE id = ?"
COUNT_REVISIONS_BY_STATE: Final = "SELECT state, count(*) FROM revisions GROUP BY state"
SELECT_RECENT_REVIEWS: Final = (
    "SELECT r.id, r.revision_id, r.generation, r.finished, r.state, r.partial, r.base_kind,"
    " r.base_ref, r.base_commit, r.summary, r.error, v.subject, v.version"
    " FROM reviews r JOIN revisions v ON v.id = r.revision_id ORDER BY r.id DESC LIMIT ?"
)
SELECT_REVIEW_OF: Final = (
    "SELECT id, state, base_kind, base_ref, base_commit, summary FROM reviews"
    " WHERE revision_id = ? ORDER BY generation DESC LIMIT 1"
)
SELECT_FINDINGS_OF: Final = (
    "SELECT patch_message_id, rule, name, severity, path, line, message, hint, evidence"
    " FROM findings WHERE review_id = ? ORDER BY id"
)

# -- respond: outbox, silences, commands ---------------------------------------------------

_OUTBOX_COLUMNS: Final = (
    "id, key, kind, revision_id, series_id, list_id, payload, state, attempts, not_before,"
    " last_error, inflight, created, updated, sent"
)
# A key is recorded once; a second enqueue of the same key does nothing.
INSERT_OUTBOX: Final = (
    "INSERT INTO outbox (key, kind, revision_id, series_id, list_id, payload, state,"
    " not_before, last_error, created, updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (key) DO NOTHING"
)
SELECT_OUTBOX_KEY: Final = f"SELECT {_OUTBOX_COLUMNS} FROM outbox WHERE key = ?"
SELECT_OUTBOX_ALL: Final = f"SELECT {_OUTBOX_COLUMNS} FROM outbox ORDER BY id"
SELECT_OUTBOX_DUE: Final = (
    f"SELECT {_OUTBOX_COLUMNS} FROM outbox WHERE state = 'pending' AND not_before <= ?"
    " ORDER BY not_before, id LIMIT ?"
)
# Before each try: the attempt is counted and the row is in flight (in doubt if we die).
MARK_OUTBOX_INFLIGHT: Final = (
    "UPDATE outbox SET inflight = ?, attempts = attempts + 1, updated = ?"
    " WHERE id = ? AND state = 'pending'"
)
# Only a pending row moves: a row is sent, failed or cancelled once.
MARK_OUTBOX_SENT: Final = (
    "UPDATE outbox SET state = 'sent', sent = ?, inflight = NULL, last_error = ?, updated = ?"
    " WHERE id = ? AND state = 'pending'"
)
MARK_OUTBOX_RETRY: Final = (
    "UPDATE outbox SET not_before = ?, last_error = ?, inflight = NULL, updated = ?"
    " WHERE id = ? AND state = 'pending'"
)
MARK_OUTBOX_DONE: Final = (
    "UPDATE outbox SET state = ?, last_error = ?, inflight = NULL, updated = ?"
    " WHERE id = ? AND state = 'pending'"
)
# A newer version of the series supersedes the mail of an older one not yet sent.
CANCEL_SUPERSEDED_EMAIL: Final = (
    "UPDATE outbox SET state = 'cancelled', last_error = ?, updated = ?"
    " WHERE kind = 'email' AND state = 'pending' AND series_id = ? AND revision_id IN"
    " (SELECT id FROM revisions WHERE series_id = ? AND version < ?)"
)
SELECT_NEWEST_VERSION: Final = "SELECT max(version) FROM revisions WHERE series_id = ?"
COUNT_OUTBOX_SENT_SINCE: Final = (
    "SELECT count(*), min(sent) FROM outbox"
    " WHERE list_id = ? AND kind = 'email' AND state = 'sent' AND sent >= ?"
)
SELECT_OUTBOX_OF_REVISION: Final = (
    f"SELECT {_OUTBOX_COLUMNS} FROM outbox WHERE revision_id = ? AND kind = ? ORDER BY id"
)
# A final check for (patch, context) already recorded: a pending one must not follow.
COUNT_FINAL_CHECKS: Final = (
    "SELECT count(*) FROM outbox WHERE kind = 'check' AND state IN ('pending', 'sent')"
    " AND json_extract(payload, '$.patch_message_id') = ?"
    " AND json_extract(payload, '$.context') = ?"
    " AND json_extract(payload, '$.state') != 'pending'"
)
SELECT_EMAIL_KEYS_OF_REVISION: Final = (
    "SELECT key, state FROM outbox WHERE kind = 'email' AND revision_id = ?"
)
CANCEL_OUTBOX_KEY: Final = (
    "UPDATE outbox SET state = 'cancelled', last_error = ?, updated = ?"
    " WHERE key = ? AND state = 'pending'"
)
# an operator's retry of a failed row: pending again, attempts from zero
RETRY_FAILED_OUTBOX: Final = (
    "UPDATE outbox SET state = 'pending', attempts = 0, not_before = ?, last_error = NULL,"
    " inflight = NULL, updated = ? WHERE key = ? AND state = 'failed'"
)
COUNT_OUTBOX_BY_STATE: Final = "SELECT kind, state, count(*) FROM outbox GROUP BY kind, state"
SELECT_MESSAGE_EXISTS: Final = "SELECT 1 FROM messages WHERE message_id = ?"
SELECT_PATCHWORK_PATCH: Final = (
    "SELECT base_url, project, patch_id, checks_url FROM patchwork_patches WHERE message_id = ?"
)

# what a reply says: the review, its findings, the revision, its series and patches
SELECT_RESPOND_REVIEW: Final = (
    "SELECT id, revision_id, generation, state, partial, base_kind, base_ref, base_commit,"
    " tree, summary FROM reviews WHERE id = ?"
)
SELECT_RESPOND_FINDINGS: Final = (
    "SELECT rule, name, severity, patch_message_id, path, line, message, hint, evidence"
    " FROM findings WHERE review_id = ? ORDER BY id"
)
SELECT_RESPOND_REVISION: Final = (
    "SELECT r.id, r.series_id, r.version, r.head_message_id, r.cover_message_id, r.subject,"
    " r.total, coalesce(nullif(s.list_id, ''), (SELECT m.list_id FROM messages m"
    " WHERE m.message_id = r.head_message_id), ''), s.submitter, r.generation, r.state"
    " FROM revisions r JOIN series s ON s.id = r.series_id WHERE r.id = ?"
)
SELECT_RESPOND_PATCHES: Final = (
    "SELECT message_id, number, subject FROM patches WHERE revision_id = ? ORDER BY number"
)
# the newest done review of the previous reviewed version of the same series
SELECT_PREVIOUS_REVIEW: Final = (
    "SELECT v.id, v.version, (SELECT max(w.id) FROM reviews w WHERE w.revision_id = v.id"
    " AND w.state = 'done') FROM revisions v WHERE v.series_id = ? AND v.version < ?"
    " AND EXISTS (SELECT 1 FROM reviews w WHERE w.revision_id = v.id AND w.state = 'done')"
    " ORDER BY v.version DESC LIMIT 1"
)
SELECT_SILENCES: Final = "SELECT rule, reason, by FROM silences WHERE series_id = ? ORDER BY id"
INSERT_SILENCE: Final = (
    "INSERT INTO silences (series_id, rule, reason, by, at) VALUES (?, ?, ?, ?, ?)"
    " ON CONFLICT (series_id, rule) DO UPDATE SET reason = excluded.reason,"
    " by = excluded.by, at = excluded.at"
)
INSERT_COMMAND: Final = (
    "INSERT INTO commands (message_id, sender, command, args, allowed, reason, at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (message_id) DO NOTHING"
)
SELECT_COMMANDS: Final = (
    "SELECT message_id, sender, command, args, allowed, reason, at FROM commands ORDER BY at"
)
# retest: the revision goes back on the queue with a new generation
REQUEUE_FOR_RETEST: Final = (
    "UPDATE revisions SET state = 'queued', generation = generation + 1, updated = ?"
    " WHERE id = ? AND state IN ('reviewed', 'failed')"
)
SELECT_REVISION_OF_MESSAGE: Final = (
    "SELECT r.id FROM revisions r WHERE r.cover_message_id = ? OR r.head_message_id = ?"
    " UNION SELECT p.revision_id FROM patches p WHERE p.message_id = ?"
    " UNION SELECT q.revision_id FROM replies q WHERE q.message_id = ?"
    " AND q.revision_id IS NOT NULL"
    # a reply to our own reply
    " UNION SELECT o.revision_id FROM outbox o WHERE o.kind = 'email'"
    " AND json_extract(o.payload, '$.message_id') = '<' || ? || '>'"
    " AND o.revision_id IS NOT NULL"
)

# -- web -----------------------------------------------------------------------------------

# The series list is one SELECT with the filters the client gave ANDed in (webq.py joins
# the WEB_FILTER_* fragments it needs; each takes the parameters its comment names).
WEB_SERIES_LIST_HEAD: Final = (
    "SELECT rv.id, rv.series_id, rv.version, rv.subject, rv.state, rv.total, rv.received,"
    " rv.complete, rv.first_seen, rv.updated, s.list_id, s.submitter,"
    " (SELECT r.id FROM reviews r WHERE r.revision_id = rv.id"
    "  AND r.generation = rv.reviewed_generation) AS review_id"
    " FROM revisions rv JOIN series s ON s.id = rv.series_id WHERE rv.id < ?"
)
WEB_SERIES_LIST_TAIL: Final = " ORDER BY rv.id DESC LIMIT ?"
WEB_FILTER_LIST: Final = " AND s.list_id = ?"  # list id
# part of the name or address, ASCII case ignored ('%text%' with % _ \\ escaped): one scan
# of the submitter index, not one per row
WEB_FILTER_SUBMITTER: Final = (
    " AND rv.series_id IN (SELECT id FROM series WHERE submitter LIKE ? ESCAPE '\\')"
)
WEB_FILTER_STATE: Final = " AND rv.state = ?"  # state
WEB_FILTER_SINCE: Final = " AND rv.updated >= ?"  # ISO time
# a file, or anything under a directory: (path, path + '/', path + '0'). Two forms: IN
# reads the few matching rows through the path index (a rare path); EXISTS walks the
# revisions newest first and stops at a page (a common path, where IN would sort thousands)
WEB_FILTER_PATH: Final = (
    " AND rv.id IN (SELECT t.revision_id FROM web_touched t"
    " WHERE t.path = ? OR (t.path >= ? AND t.path < ?))"
)
WEB_FILTER_PATH_COMMON: Final = (
    " AND EXISTS (SELECT 1 FROM web_touched t WHERE t.revision_id = rv.id"
    " AND (t.path = ? OR (t.path >= ? AND t.path < ?)))"
)
WEB_PATH_ROWS: Final = (
    "SELECT count(*) FROM (SELECT 1 FROM web_touched"
    " WHERE path = ? OR (path >= ? AND path < ?) LIMIT ?)"
)
# any of these paths (a JSON list)
WEB_FILTER_PATHS: Final = (
    " AND rv.id IN (SELECT t.revision_id FROM web_touched t"
    " WHERE t.path IN (SELECT value FROM json_each(?)))"
)
# a finding in the current review: (rule or NULL, rule or NULL, three severities)
WEB_FILTER_FINDING: Final = (
    " AND EXISTS (SELECT 1 FROM reviews r JOIN findings f ON f.review_id = r.id"
    " WHERE r.revision_id = rv.id AND r.generation = rv.reviewed_generation"
    " AND (? IS NULL OR f.rule = ?) AND f.severity IN (?, ?, ?))"
)
WEB_FINDING_COUNTS: Final = (
    "SELECT review_id, severity, count(*) FROM findings"
    " WHERE review_id IN (SELECT value FROM json_each(?)) GROUP BY review_id, severity"
)
# one revision, its current review, its series' revisions and its patches (with the files
# they touch) in one statement: the series page is the hot path
WEB_REVISION: Final = (
    "SELECT rv.id, rv.series_id, rv.version, rv.head_message_id, rv.cover_message_id,"
    " rv.subject, rv.total, rv.received, rv.complete, rv.base_commit, rv.first_seen,"
    " rv.updated, rv.state, rv.generation, rv.reviewed_generation,"
    " s.subject, s.submitter, s.list_id, s.change_id,"
    " r.id, r.generation, r.started, r.finished, r.state, r.partial, r.base_kind, r.base_ref,"
    " r.base_commit, r.tree, r.summary, r.error,"
    " (SELECT json_group_array(json_array(o.id, o.version, o.subject, o.state, o.first_seen))"
    "  FROM (SELECT * FROM revisions WHERE series_id = rv.series_id ORDER BY version, id) o),"
    " (SELECT json_group_array(json_array(p.id, p.number, p.message_id, p.subject,"
    "   json((SELECT json_group_array(t.path) FROM web_touched t"
    "    WHERE t.patch_id = p.id AND t.path != ''))))"
    "  FROM (SELECT * FROM patches WHERE revision_id = rv.id ORDER BY number) p)"
    " FROM revisions rv JOIN series s ON s.id = rv.series_id"
    " LEFT JOIN reviews r ON r.revision_id = rv.id AND r.generation = rv.reviewed_generation"
    " WHERE rv.id = ?"
)
WEB_FINDINGS: Final = (
    "SELECT id, patch_message_id, rule, name, severity, path, line, message, hint, evidence"
    " FROM findings WHERE review_id = ? ORDER BY id"
)
WEB_PATCH_BY_MSGID: Final = (
    "SELECT p.id, p.number, p.message_id, p.subject, p.revision_id FROM patches p"
    " WHERE p.message_id = ?"
)
WEB_RAW_MESSAGES: Final = (
    "SELECT message_id, raw FROM messages WHERE message_id IN (SELECT value FROM json_each(?))"
)
# -- status
WEB_REVISION_STATES: Final = "SELECT state, count(*) FROM revisions GROUP BY state"
WEB_OLDEST_QUEUED: Final = "SELECT min(first_seen) FROM revisions WHERE state = 'queued'"
WEB_NEW_MESSAGES: Final = "SELECT count(*), min(received) FROM messages WHERE kind = 'new'"
WEB_OUTBOX_PENDING: Final = "SELECT count(*), min(created) FROM outbox WHERE state = 'pending'"
WEB_LATENCIES: Final = (
    "SELECT rv.first_seen, r.finished FROM reviews r JOIN revisions rv"
    " ON rv.id = r.revision_id WHERE r.finished >= ? AND r.state = 'done'"
)
# -- the touched-files index
WEB_UNINDEXED_PATCHES: Final = (
    "SELECT p.id, p.revision_id, m.raw FROM patches p"
    " LEFT JOIN messages m ON m.message_id = p.message_id"
    " WHERE p.id > coalesce((SELECT max(patch_id) FROM web_touched), 0)"
    " ORDER BY p.id LIMIT ?"
)
WEB_INSERT_TOUCHED: Final = (
    "INSERT INTO web_touched (patch_id, revision_id, path) VALUES (?, ?, ?)"
    " ON CONFLICT (patch_id, path) DO NOTHING"
)
WEB_TOUCHED_PATHS: Final = "SELECT DISTINCT path FROM web_touched WHERE path != ''"
WEB_TOUCHED_WATERMARK: Final = (
    "SELECT coalesce(max(rowid), 0), coalesce(max(patch_id), 0) FROM web_touched"
)
# findings per (rule, path) over the current reviews, for "which files trip which rule"
WEB_FINDINGS_BY_PATH_HEAD: Final = (
    "SELECT f.rule, f.path, count(*) FROM findings f JOIN reviews r ON r.id = f.review_id"
    " JOIN revisions rv ON rv.id = r.revision_id AND r.generation = rv.reviewed_generation"
    " WHERE r.finished >= ?"
)
WEB_FINDINGS_BY_PATH_PREFIX: Final = " AND (f.path = ? OR (f.path >= ? AND f.path < ?))"
WEB_FINDINGS_BY_PATH_IN: Final = " AND f.path IN (SELECT value FROM json_each(?))"
WEB_FINDINGS_BY_PATH_TAIL: Final = (
    " GROUP BY f.rule, f.path ORDER BY count(*) DESC, f.rule, f.path LIMIT ?"
)
# -- tokens and submissions
WEB_TOKENS: Final = "SELECT name, sha256, scopes FROM api_tokens ORDER BY name"
WEB_TOKEN_LIST: Final = "SELECT name, scopes, created FROM api_tokens ORDER BY name"
WEB_INSERT_TOKEN: Final = (
    "INSERT INTO api_tokens (name, sha256, scopes, created) VALUES (?, ?, ?, ?)"
    " ON CONFLICT DO NOTHING"
)
WEB_DELETE_TOKEN: Final = "DELETE FROM api_tokens WHERE name = ?"
WEB_INSERT_SUBMISSION: Final = (
    "INSERT INTO web_submissions (token_name, created, list_id, messages) VALUES (?, ?, ?, ?)"
)
WEB_SUBMISSION: Final = (
    "SELECT id, token_name, created, list_id, messages FROM web_submissions WHERE id = ?"
)
WEB_MESSAGE_STATES: Final = (
    "SELECT m.message_id, m.kind, m.reason, rv.id, rv.state FROM messages m"
    " LEFT JOIN patches p ON p.message_id = m.message_id"
    " LEFT JOIN revisions rv ON rv.id = p.revision_id OR rv.cover_message_id = m.message_id"
    " WHERE m.message_id IN (SELECT value FROM json_each(?))"
)
