"""The loop that records which files each stored patch touches (for path filters).

Assembly (ingest) writes patches; this loop reads those it has not seen, in id order,
parses their raw mail and stores (patch, revision, path) in web_touched, a patch with no
readable diff as one row with path ''. Safe to repeat: rows are keyed by (patch, path),
and a restart continues after the highest patch id stored.
"""

from __future__ import annotations

import asyncio
import logging

from reviewbot.analysis.diff import parse_diff
from reviewbot.errors import ReviewbotError
from reviewbot.mail.parse import parse_mail
from reviewbot.model import RawMail
from reviewbot.store import webq
from reviewbot.store.store import Store

log = logging.getLogger(__name__)

BATCH = 200


def touched_files(raw: bytes, source: str) -> tuple[str, ...]:
    """The paths a patch mail's diff changes (old and new names of a rename)."""
    try:
        message = parse_mail(RawMail(raw, source))
        if message.diff is None:
            return ()
        changes = parse_diff(message.diff)
    except ReviewbotError as exc:
        log.info("%s: no files indexed: %s", source, exc)
        return ()
    paths: list[str] = []
    for change in changes:
        for path in (change.path, change.old_path):
            if path and path not in paths:
                paths.append(path)
    return tuple(paths)


async def index_once(store: Store, batch: int = BATCH) -> int:
    """Index up to `batch` new patches; return how many were looked at."""
    pending = await webq.unindexed_patches(store, batch)
    if not pending:
        return 0

    def parse_all() -> list[tuple[int, int, str]]:
        rows: list[tuple[int, int, str]] = []
        for patch_id, revision_id, raw in pending:
            files = touched_files(raw, f"patch {patch_id}") if raw is not None else ()
            rows.extend((patch_id, revision_id, path) for path in files or ("",))
        return rows

    rows = await asyncio.to_thread(parse_all)
    await webq.add_touched(store, rows)
    return len(pending)


async def index_all(store: Store) -> int:
    """Index every patch not yet indexed (tests, `reviewbot web` start-up)."""
    total = 0
    while n := await index_once(store):
        total += n
    return total
