"""Local sources for operators without a server: an mbox file or a maildir, watched by polling.

`MboxSource(path)` reads what was appended since the last poll. Its cursor is
`{"inode": N, "offset": bytes}`: it moves, with the mail it covers, to the start of the
last message, which is read only once the file has been left alone for `settle_seconds`
(a mail server may still be writing it). A file replaced or truncated (log rotation) is
read again from its start; the store drops what it already has by Message-ID.

`MaildirSource(path)` reads every file in new/ and cur/ that it has not read yet (the
maildir is never modified: reading is not consuming). After a restart it reads them all
again, and the store drops the duplicates.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

from reviewbot.errors import UserInputError
from reviewbot.ingest.source import Backoff, cursor_state, guarded, incoming, store_batch, too_big
from reviewbot.mail.mbox import maybe_gunzip, split_mbox
from reviewbot.store.store import Incoming, Store

log = logging.getLogger(__name__)

READ_LIMIT = 256 * 1024 * 1024  # per poll; the rest is read by the next one
BATCH = 500


def _last_boundary(data: bytes) -> int:
    """Offset of the last "From " line that starts a message (0 when there is one message)."""
    pos = data.rfind(b"\n\nFrom ")
    return 0 if pos < 0 else pos + 2


class MboxSource:
    """An mbox file that a mail server (or a person) appends to."""

    def __init__(
        self,
        path: Path,
        list_id: str = "",
        name: str | None = None,
        settle_seconds: float = 2.0,
        clock: Callable[[], float] = time.time,
        backoff: Backoff | None = None,
    ) -> None:
        self.path = path
        self.name = name or f"mbox:{path}"
        self.list_id = list_id
        self.settle_seconds = settle_seconds
        self.clock = clock
        self.backoff = backoff or Backoff(base=5.0, cap=300.0)

    async def poll(self, store: Store) -> int:
        return await guarded(self.name, store, self.backoff, lambda: self._poll(store))

    async def _poll(self, store: Store) -> int:
        cursor = await store.cursor(self.name)
        state = cursor_state(cursor)
        try:
            info = self.path.stat()
        except FileNotFoundError:
            return 0  # not created yet
        offset = int(str(state.get("offset", 0)))
        if state.get("inode") not in (None, info.st_ino) or info.st_size < offset:
            await store.event(self.name, "info", "the file was replaced or truncated: read again")
            offset = 0
        if info.st_size == offset:
            return 0
        data = await asyncio.to_thread(_read, self.path, offset, READ_LIMIT)
        settled = self.clock() - info.st_mtime >= self.settle_seconds
        at_end = offset + len(data) >= info.st_size
        end = len(data) if (settled and at_end) else _last_boundary(data)
        if end == 0:
            return 0
        chunk = data[:end]
        try:
            raws = list(split_mbox(maybe_gunzip(chunk, str(self.path)), str(self.path)))
        except UserInputError as exc:
            raise UserInputError(f"{self.path}: {exc}") from exc
        items = [incoming(r.data, f"{self.name}@{offset}", self.list_id) for r in raws]
        items = _bounded(items, self.name)
        value = json.dumps({"inode": info.st_ino, "offset": offset + end})
        new = 0
        for start in range(0, max(len(items), 1), BATCH):
            last = start + BATCH >= len(items)
            batch_cursor = value if last else (cursor.value if cursor else "")
            new += await store_batch(store, self.name, items[start : start + BATCH], batch_cursor)
        return new


class MaildirSource:
    """A maildir (new/ and cur/), read without modifying it."""

    def __init__(
        self,
        path: Path,
        list_id: str = "",
        name: str | None = None,
        backoff: Backoff | None = None,
    ) -> None:
        self.path = path
        self.name = name or f"maildir:{path}"
        self.list_id = list_id
        self.backoff = backoff or Backoff(base=5.0, cap=300.0)
        self._read: set[str] = set()

    async def poll(self, store: Store) -> int:
        return await guarded(self.name, store, self.backoff, lambda: self._poll(store))

    async def _poll(self, store: Store) -> int:
        files = await asyncio.to_thread(self._new_files)
        new = 0
        for start in range(0, len(files), BATCH):
            batch = files[start : start + BATCH]
            items = await asyncio.to_thread(self._load, batch)
            value = json.dumps({"files_read": len(self._read) + len(batch)})
            new += await store_batch(store, self.name, items, value)
            self._read.update(p.name for p in batch)
        return new

    def _new_files(self) -> list[Path]:
        found: list[Path] = []
        for sub in ("new", "cur"):
            folder = self.path / sub
            if not folder.is_dir():
                continue
            for entry in os.scandir(folder):
                if (
                    entry.is_file()
                    and not entry.name.startswith(".")
                    and entry.name not in self._read
                ):
                    found.append(Path(entry.path))
        return sorted(found, key=lambda p: (p.stat().st_mtime, p.name))

    def _load(self, files: list[Path]) -> list[Incoming]:
        items = []
        for path in files:
            try:
                raw = _read(path, 0, READ_LIMIT)
            except FileNotFoundError:
                continue  # moved from new/ to cur/ meanwhile: seen under its new name
            items.append(incoming(raw, f"{self.name}/{path.parent.name}/{path.name}", self.list_id))
        return _bounded(items, self.name)


def _bounded(items: list[Incoming], name: str) -> list[Incoming]:
    kept = []
    for item in items:
        if too_big(item.raw):
            log.warning("source %s: <%s>: %d bytes, skipped", name, item.message_id, len(item.raw))
            continue
        kept.append(item)
    return kept


def _read(path: Path, offset: int, limit: int) -> bytes:
    with path.open("rb") as handle:
        handle.seek(offset)
        return handle.read(limit)
