"""The light lore sources: the Atom feed (new.atom) and whole threads (<msgid>/t.mbox.gz).

`LoreAtomSource` polls `<inbox>new.atom` with If-None-Match / If-Modified-Since; for each
entry not yet stored it fetches `<msgid>/raw`. The feed shows only the newest entries
(25 on lore), so a list busier than the poll interval can outrun it: use the git
source where that matters. The cursor (ETag, Last-Modified) moves only once every entry
of the feed is stored, so a failed fetch makes the next poll read the whole feed again.

`LoreThreadSource` completes series with parts missing: for each revision still
assembling after `wait_seconds`, it fetches the thread of its head once
(`<msgid>/t.mbox.gz`) and stores what it did not have; assembly does the rest.
"""

from __future__ import annotations

import gzip
import json
import logging
import xml.etree.ElementTree as ET
import zlib
from urllib.parse import quote, unquote

import aiohttp

from reviewbot.errors import RemoteError, UserInputError
from reviewbot.ingest.http import Http, Policy
from reviewbot.ingest.source import Backoff, cursor_state, guarded, incoming, store_batch
from reviewbot.mail.mbox import kind_of, split_mbox
from reviewbot.store import sql
from reviewbot.store.db import iso
from reviewbot.store.store import Incoming, Store

log = logging.getLogger(__name__)

ATOM = "{http://www.w3.org/2005/Atom}"
FEED_MAX_BYTES = 16 * 1024 * 1024
THREAD_MAX_BYTES = 64 * 1024 * 1024
_MID_SAFE = "-._~!$&'()*+,;=:@"  # public-inbox's mid_escape keeps these


def mid_url(inbox_url: str, message_id: str, suffix: str) -> str:
    return f"{inbox_url}{quote(message_id, safe=_MID_SAFE)}/{suffix}"


def parse_feed(data: bytes, inbox_url: str) -> tuple[list[str], str | None]:
    """(Message-IDs oldest first, the feed's <updated>); garbage is a RemoteError."""
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise RemoteError(f"{inbox_url}new.atom: not XML: {data[:60]!r}") from exc
    if root.tag != f"{ATOM}feed":
        raise RemoteError(f"{inbox_url}new.atom: not an Atom feed (root <{root.tag}>)")
    ids: list[str] = []
    for entry in root.findall(f"{ATOM}entry"):
        link = entry.find(f"{ATOM}link")
        href = link.get("href", "") if link is not None else ""
        if not href.startswith(inbox_url):
            log.warning("%snew.atom: an entry links outside the inbox: %r", inbox_url, href)
            continue
        mid = unquote(href[len(inbox_url) :].split("/", 1)[0])
        if mid:
            ids.append(mid)
    updated = root.findtext(f"{ATOM}updated")
    return list(reversed(ids)), updated


class LoreAtomSource:
    """One inbox's new.atom, with conditional requests."""

    def __init__(
        self,
        url: str,
        session: aiohttp.ClientSession,
        list_id: str = "",
        name: str | None = None,
        policy: Policy | None = None,
        backoff: Backoff | None = None,
    ) -> None:
        self.url = url.rstrip("/") + "/"
        self.name = name or f"lore:{self.url.rstrip('/').rsplit('/', 1)[-1]}/atom"
        self.list_id = list_id
        self.http = Http(session, policy)
        self.backoff = backoff or Backoff()

    async def poll(self, store: Store) -> int:
        return await guarded(self.name, store, self.backoff, lambda: self._poll(store))

    async def _poll(self, store: Store) -> int:
        cursor = await store.cursor(self.name)
        state = cursor_state(cursor)
        headers = {}
        if state.get("etag"):
            headers["If-None-Match"] = str(state["etag"])
        if state.get("modified"):
            headers["If-Modified-Since"] = str(state["modified"])
        response = await self.http.get(
            self.url + "new.atom", headers=headers, max_bytes=FEED_MAX_BYTES
        )
        if response.status == 304:
            return 0
        if response.status != 200:
            raise RemoteError(f"{response.url}: HTTP {response.status}", response.status)
        ids, updated = parse_feed(response.body, self.url)
        items: list[Incoming] = []
        for mid in ids:
            if await store.message(mid) is None:
                items.append(await self._raw(mid))
        value = json.dumps(
            {
                "etag": response.headers.get("ETag"),
                "modified": response.headers.get("Last-Modified"),
            }
        )
        return await store_batch(store, self.name, items, value, newest=updated)

    async def _raw(self, message_id: str) -> Incoming:
        url = mid_url(self.url, message_id, "raw")
        response = await self.http.get(url, max_bytes=FEED_MAX_BYTES)
        if response.status != 200:
            raise RemoteError(f"{url}: HTTP {response.status}", response.status)
        body = response.body
        if kind_of(body) == "mbox":  # public-inbox serves raw mail as a one-message mboxrd
            body = next(iter(split_mbox(body, url))).data
        elif kind_of(body) != "mail":
            raise RemoteError(f"{url}: not a mail: {body[:60]!r}")
        return incoming(body, f"{self.name}:{message_id}", self.list_id)


async def fetch_thread(http: Http, inbox_url: str, message_id: str, source: str) -> list[Incoming]:
    """Every message of the thread that holds message_id (t.mbox.gz), as Incoming."""
    url = mid_url(inbox_url, message_id, "t.mbox.gz")
    response = await http.get(url, max_bytes=THREAD_MAX_BYTES)
    if response.status != 200:
        raise RemoteError(f"{url}: HTTP {response.status}", response.status)
    try:
        data = gzip.decompress(response.body) if response.body[:2] == b"\x1f\x8b" else response.body
    except (OSError, EOFError, zlib.error) as exc:
        raise RemoteError(f"{url}: corrupt gzip: {exc}") from exc
    if len(data) > THREAD_MAX_BYTES or kind_of(data) != "mbox":
        raise RemoteError(f"{url}: not an mbox (or over {THREAD_MAX_BYTES} bytes)")
    try:
        return [incoming(raw.data, source) for raw in split_mbox(data, url)]
    except UserInputError as exc:
        raise RemoteError(f"{url}: {exc}") from exc


class LoreThreadSource:
    """Fetch the whole thread of each revision still incomplete after wait_seconds, once."""

    def __init__(
        self,
        url: str,
        session: aiohttp.ClientSession,
        wait_seconds: float = 120.0,
        name: str | None = None,
        policy: Policy | None = None,
        backoff: Backoff | None = None,
        remember: int = 2000,
    ) -> None:
        self.url = url.rstrip("/") + "/"
        self.name = name or f"lore:{self.url.rstrip('/').rsplit('/', 1)[-1]}/threads"
        self.wait_seconds = wait_seconds
        self.http = Http(session, policy)
        self.backoff = backoff or Backoff()
        self.remember = remember

    async def poll(self, store: Store) -> int:
        return await guarded(self.name, store, self.backoff, lambda: self._poll(store))

    async def _poll(self, store: Store) -> int:
        cursor = await store.cursor(self.name)
        fetched = cursor_state(cursor).get("fetched", [])
        done = [int(i) for i in fetched] if isinstance(fetched, list) else []
        cutoff = iso(store.clock() - self.wait_seconds)
        rows = await store.fetchall(sql.SELECT_INCOMPLETE_REVISIONS, (cutoff,))
        new = 0
        for revision_id, head in rows:
            if int(revision_id) in done:
                continue
            try:
                items = await fetch_thread(self.http, self.url, str(head), f"{self.name}:{head}")
            except RemoteError as exc:
                if exc.status != 404:
                    raise
                await store.event(self.name, "warning", f"no thread on the server: {exc}", head)
                items = []
            done = [*done, int(revision_id)][-self.remember :]
            new += await store_batch(store, self.name, items, json.dumps({"fetched": done}))
        return new
