"""What every source shares: the Source protocol, backoff after errors, raw mail -> Incoming.

A source has a `name` (its cursor's key in the store) and `async def poll(store) -> int`:
fetch what is new, store it with `store.add_messages(..., cursor=...)` (the cursor moves
in the transaction that stores the mail it covers, so a crash never skips unread mail),
and return how many messages were new. `guarded()` wraps a poll: a remote failure or bad
data is recorded with `store.source_error` and the source backs off (exponential, with
jitter, capped) instead of retrying at once; our own bugs still raise.
"""

from __future__ import annotations

import email.parser
import email.policy
import hashlib
import json
import logging
import random
import re
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from reviewbot.errors import RemoteError, UserInputError
from reviewbot.limits import DEFAULT_LIMITS
from reviewbot.store.store import Added, Cursor, Incoming, Store

log = logging.getLogger(__name__)

# one mail, as `check` and assembly bound it (reviewbot.limits)
MAX_MESSAGE_BYTES = DEFAULT_LIMITS.mail_bytes
_MSGID = re.compile(r"<([^<>\s]+)>")


class Source(Protocol):
    name: str

    async def poll(self, store: Store) -> int: ...


@dataclass
class Backoff:
    """When a failing source may try again: base * 2**failures, full jitter, capped."""

    base: float = 30.0
    cap: float = 3600.0
    failures: int = 0
    not_before: float = 0.0
    rng: random.Random = field(default_factory=random.Random)

    def ready(self, now: float) -> bool:
        return now >= self.not_before

    def failed(self, now: float) -> float:
        delay = float(min(self.cap, self.base * 2**self.failures))
        delay = delay / 2 + self.rng.uniform(0, delay / 2)
        self.failures += 1
        self.not_before = now + delay
        return delay

    def succeeded(self) -> None:
        self.failures = 0
        self.not_before = 0.0


async def guarded(
    name: str,
    store: Store,
    backoff: Backoff,
    poll: Callable[[], Awaitable[int]],
    clock: Callable[[], float] = time.time,
) -> int:
    """Run one poll unless backing off; record a failure and back off instead of raising."""
    now = clock()
    if not backoff.ready(now):
        return 0
    try:
        count = await poll()
    except (RemoteError, UserInputError, OSError, TimeoutError) as exc:
        delay = backoff.failed(now)
        text = f"{type(exc).__name__}: {exc}"
        log.warning("source %s failed (retry in %.0f s): %s", name, delay, text)
        await store.source_error(name, text)
        return 0
    backoff.succeeded()
    return count


def headers_of(raw: bytes) -> tuple[str, str, str, str | None, str | None]:
    """(Message-ID, subject, from, date, in-reply-to) read from the headers only.

    A mail without a Message-ID gets one made from its content (as parse_mail does),
    so that the same bytes always have the same identity.
    """
    parser = email.parser.BytesHeaderParser(policy=email.policy.compat32)
    try:
        msg = parser.parsebytes(raw)
        found = _MSGID.search(str(msg.get("Message-ID", "")))
        subject = str(msg.get("Subject", ""))
        sender = str(msg.get("From", ""))
        date = msg.get("Date")
        reply = _MSGID.search(str(msg.get("In-Reply-To", "")))
    except Exception:  # a mail's headers must never stop a source: keep the bytes
        found, subject, sender, date, reply = None, "", "", None, None
    message_id = (
        found.group(1) if found else f"{hashlib.sha1(raw).hexdigest()[:16]}@reviewbot.missing-id"
    )
    return (
        message_id,
        " ".join(subject.split()),
        " ".join(sender.split()),
        str(date) if date is not None else None,
        reply.group(1) if reply else None,
    )


def incoming(raw: bytes, source: str, list_id: str = "") -> Incoming:
    message_id, subject, sender, date, in_reply_to = headers_of(raw)
    return Incoming(
        message_id=message_id,
        raw=raw,
        source=source,
        list_id=list_id,
        subject=subject,
        sender=sender,
        date=date,
        in_reply_to=in_reply_to,
    )


async def store_batch(
    store: Store,
    name: str,
    items: Sequence[Incoming],
    cursor: str,
    newest: str | None = None,
) -> int:
    """Store one batch with the cursor that covers it; report conflicts; return how many new."""
    results = await store.add_messages(items, cursor=(name, cursor), newest=newest)
    for item, added in zip(items, results, strict=True):
        if added is Added.CONFLICT:
            await store.event(
                name,
                "warning",
                "the same Message-ID with other content: the first copy is kept, this one"
                " is kept aside in message_conflicts",
                item.message_id,
            )
    return sum(1 for added in results if added is Added.NEW)


def too_big(raw: bytes) -> bool:
    return len(raw) > MAX_MESSAGE_BYTES


def cursor_state(cursor: Cursor | None) -> dict[str, Any]:
    """A source's JSON cursor as a dict ({} when there is none or it does not read)."""
    try:
        data = json.loads(cursor.value) if cursor and cursor.value else {}
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
