"""The patchwork source: series-completed events, then each series and its mbox.

`PatchworkSource(base_url, project, session)` lists
`events/?category=series-completed&project=P&since=S` (all pages, `since` inclusive),
and for each event not seen yet fetches the series and its mbox, stores the messages
and records message_id -> patch id in patchwork_patches (respond posts checks there).
The cursor is `{"since": <date of the last event done>, "seen": [event ids at that
date]}`: `since` is inclusive, so the events at the cursor's date come back and are
told apart by id. It moves one event at a time, in the transaction that stores the
event's mail. A series that patchwork announced but answers 404 for (deleted, made
private) is skipped with a warning event; any other failure stops the poll where it
is, to be retried after a backoff: nothing is skipped.
"""

from __future__ import annotations

import json
import logging
from urllib.parse import urlsplit

import aiohttp

from reviewbot.errors import UserInputError
from reviewbot.ingest.http import Policy
from reviewbot.ingest.patchwork import Event, NotFound, PatchworkClient
from reviewbot.ingest.source import Backoff, cursor_state, guarded, incoming, store_batch
from reviewbot.mail.mbox import split_mbox
from reviewbot.store import sql
from reviewbot.store.store import Store

log = logging.getLogger(__name__)


class PatchworkSource:
    """One patchwork project, read through its series-completed events."""

    def __init__(
        self,
        base_url: str,
        project: str,
        session: aiohttp.ClientSession,
        token: str | None = None,
        start: str | None = None,
        list_id: str = "",
        name: str | None = None,
        policy: Policy | None = None,
        backoff: Backoff | None = None,
    ) -> None:
        self.client = PatchworkClient(base_url, session, token, policy)
        self.project = project
        self.start = start  # the first poll's `since` (None: everything patchwork lists)
        self.list_id = list_id
        self.name = name or f"patchwork:{urlsplit(base_url).netloc}/{project}"
        self.backoff = backoff or Backoff()
        self._new = 0

    async def poll(self, store: Store) -> int:
        self._new = 0  # what a poll stored before it failed still counts
        return await guarded(self.name, store, self.backoff, lambda: self._poll(store)) or self._new

    async def _poll(self, store: Store) -> int:
        cursor = await store.cursor(self.name)
        state = cursor_state(cursor)
        since = state.get("since") or self.start
        seen = {int(i) for i in state.get("seen", [])}
        events = await self.client.events(self.project, since=str(since) if since else None)
        for event in events:
            if event.id in seen or (since and event.date < str(since)):
                continue
            if since != event.date:
                since, seen = event.date, set()
            seen.add(event.id)
            value = json.dumps({"since": since, "seen": sorted(seen)})
            self._new += await self._take(store, event, value)
        return self._new

    async def _take(self, store: Store, event: Event, cursor: str) -> int:
        """Store one event's series (or skip it with a reason), moving the cursor past it."""
        if event.series_id is None:
            return await store_batch(store, self.name, [], cursor)
        try:
            series = await self.client.series(event.series_id)
            mbox = await self.client.mbox(series.mbox)
        except NotFound as exc:
            text = f"event {event.id}: series {event.series_id} is gone (404), skipped: {exc}"
            log.warning("source %s: %s", self.name, text)
            await store.event(self.name, "warning", text)
            return await store_batch(store, self.name, [], cursor)
        try:
            raws = list(split_mbox(mbox, series.mbox))
        except UserInputError as exc:
            await store.event(self.name, "warning", f"series {series.id}: bad mbox: {exc}")
            raws = []
        items = [incoming(r.data, f"{self.name}:series/{series.id}", self.list_id) for r in raws]
        async with store.transaction() as tx:  # idempotent: safe to repeat after a crash
            for ref in series.patches:
                await tx.execute(
                    sql.UPSERT_PATCHWORK_PATCH,
                    (ref.msgid, self.client.base_url, self.project, ref.id, series.id,
                     f"{self.client.api}patches/{ref.id}/checks/"),
                )  # fmt: skip
        return await store_batch(store, self.name, items, cursor)
