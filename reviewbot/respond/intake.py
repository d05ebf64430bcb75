"""Obey maintainers' `reviewbot:` commands found in replies to reviewed series.

`process_commands(store, respond, maintainers)` reads the replies assembly stored since
its cursor, finds command lines (commands.py) and, per command, in one transaction with
the cursor: records it in the commands table (who, what, allowed or not, and why) and,
when the sender may command, acts: `retest` puts the revision back on the review queue
with a new generation, `not-a-bug RULE reason` silences RULE for this series' later
versions. A sender may command when a MAINTAINERS `M:` entry covers a file the series
touches, or when the list's policy names them in `commanders`; anyone else changes
nothing and the refusal is logged with the reason. Bounces, our own mail, unparsable
mail and malformed commands are logged and skipped, never a crash.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from email.utils import parseaddr

import aiosqlite

from reviewbot.analysis.diff import parse_diff
from reviewbot.errors import BadDiffError, MalformedMailError
from reviewbot.mail.parse import parse_mail
from reviewbot.model import Message, RawMail
from reviewbot.respond.commands import Command, Malformed, Verb, parse_commands
from reviewbot.respond.compose import MARK_HEADER
from reviewbot.respond.maintainers import Entry, maintainers_of
from reviewbot.respond.policy import RespondConfig
from reviewbot.store import sql
from reviewbot.store.store import MessageKind, Store, StoredMessage

log = logging.getLogger(__name__)

CURSOR = "respond:commands"
_BOUNCER = re.compile(r"^(mailer-daemon|postmaster|bounce[s]?)([-+@]|$)", re.IGNORECASE)


def is_bounce(stored: StoredMessage, sender: str) -> bool:
    head = stored.raw.split(b"\n\n", 1)[0].lower()
    local = parseaddr(sender)[1].split("@")[0]
    return bool(_BOUNCER.match(local)) or b"multipart/report" in head


def _ours(stored: StoredMessage) -> bool:
    head = stored.raw.split(b"\n\n", 1)[0].lower()
    return f"\n{MARK_HEADER.lower()}:".encode() in b"\n" + head


async def _revision_of(store: Store, message: Message) -> int | None:
    for parent in (message.in_reply_to, *reversed(message.references)):
        if not parent:
            continue
        row = await store.fetchone(sql.SELECT_REVISION_OF_MESSAGE, (parent,) * 5)
        if row is not None:
            return int(row[0])
    return None


async def touched_files(store: Store, revision_id: int) -> set[str]:
    paths: set[str] = set()
    for msgid, _n, _s in await store.fetchall(sql.SELECT_RESPOND_PATCHES, (revision_id,)):
        stored = await store.message(msgid)
        if stored is None:
            continue
        try:
            diff = parse_mail(RawMail(stored.raw, msgid)).diff
            changes = parse_diff(diff) if diff else ()
        except (MalformedMailError, BadDiffError) as exc:
            log.warning("<%s>: cannot read its diff for MAINTAINERS: %s", msgid, exc)
            continue
        for change in changes:
            paths.add(change.path)
            if change.old_path:
                paths.add(change.old_path)
    return paths


async def process_commands(
    store: Store, respond: RespondConfig, maintainers: Sequence[Entry], limit: int = 500
) -> int:
    """Handle the commands of replies stored since the last call; returns how many."""
    cursor = await store.cursor(CURSOR)
    after = int(cursor.value) if cursor and cursor.value.isdigit() else 0
    handled = 0
    for stored in await store.messages_of_kind(MessageKind.REPLY, after, limit):
        handled += await _message(store, respond, maintainers, stored)
    return handled


async def _message(
    store: Store, respond: RespondConfig, maintainers: Sequence[Entry], stored: StoredMessage
) -> int:
    mid = stored.message_id
    actions: list[tuple[str, Command | Malformed, bool, str]] = []
    revision: tuple[int, int, str] | None = None
    message: Message | None = None
    try:
        message = parse_mail(RawMail(stored.raw, f"store:{mid}"))
    except MalformedMailError as exc:
        log.warning("<%s>: cannot parse the reply: %s", mid, exc)
    sender = message.sender if message is not None and message.sender else stored.sender
    if is_bounce(stored, sender):
        log.warning("<%s>: a bounce from %s (%r); no command read", mid, sender, stored.subject)
        await store.event("respond", "warning", f"bounce: {stored.subject[:200]}", mid)
    elif _ours(stored):
        log.info("<%s>: our own reply; skipped", mid)
    elif message is not None and (found := parse_commands(message.body)):
        rev = await _revision_of(store, message)
        row = await store.fetchone(sql.SELECT_RESPOND_REVISION, (rev,)) if rev else None
        if row is not None:
            revision = (int(row[0]), int(row[1]), str(row[7] or ""))
        allowed, why = await _allowed(store, respond, maintainers, sender, revision)
        for n, command in enumerate(found, 1):
            key = mid if n == 1 else f"{mid}#{n}"
            if isinstance(command, Malformed):
                actions.append((key, command, False, f"malformed: {command.reason}"))
            else:
                actions.append((key, command, allowed, why))
    async with store.transaction() as tx:
        for key, command, allowed, why in actions:
            reason = why
            if allowed and isinstance(command, Command) and revision is not None:
                reason = await _act(tx, store.now(), command, revision, sender, why)
            await _record(tx, store.now(), key, sender, command, allowed, reason)
            log_fn = log.info if allowed else log.warning
            log_fn("<%s>: %s from %s: %s", mid, _text(command), sender, reason)
        await tx.execute(sql.SET_CURSOR, (CURSOR, str(stored.id), store.now(), None))
    return len(actions)


async def _allowed(
    store: Store,
    respond: RespondConfig,
    maintainers: Sequence[Entry],
    sender: str,
    revision: tuple[int, int, str] | None,
) -> tuple[bool, str]:
    address = parseaddr(sender)[1].lower()
    if revision is None:
        return False, "not a reply to a series reviewbot knows: no action"
    if not address:
        return False, "no sender address: no action"
    policy = respond.policy(revision[2])
    if policy.may_command(address):
        return True, f"{address} is a configured commander"
    files = await touched_files(store, revision[0])
    owners = maintainers_of(maintainers, files)
    if address in owners:
        return True, f"{address} maintains files this series touches"
    return False, (
        f"{address} is not a MAINTAINERS M: entry of the touched files "
        f"({', '.join(sorted(owners)) or 'none found'}) nor a configured commander: no action"
    )


async def _act(
    tx: aiosqlite.Connection,
    now: str,
    command: Command,
    revision: tuple[int, int, str],
    sender: str,
    why: str,
) -> str:
    revision_id, series_id, _list = revision
    if command.verb is Verb.RETEST:
        cur = await tx.execute(sql.REQUEUE_FOR_RETEST, (now, revision_id))
        if cur.rowcount <= 0:
            return f"{why}; revision {revision_id} is not reviewed yet: nothing to retest"
        return f"{why}; revision {revision_id} queued again"
    by = parseaddr(sender)[1].lower()
    await tx.execute(sql.INSERT_SILENCE, (series_id, command.rule, command.reason, by, now))
    return f"{why}; {command.rule} silenced for this series"


def _text(command: Command | Malformed) -> str:
    if isinstance(command, Malformed):
        return repr(command.line)
    return " ".join(x for x in (command.verb.value, command.rule) if x)


async def _record(
    tx: aiosqlite.Connection,
    now: str,
    key: str,
    sender: str,
    command: Command | Malformed,
    allowed: bool,
    reason: str,
) -> None:
    if isinstance(command, Malformed):
        name, args = "malformed", command.line
    else:
        name, args = command.verb.value, " ".join(x for x in (command.rule, command.reason) if x)
    await tx.execute(
        sql.INSERT_COMMAND, (key, sender[:500], name, args[:1000], int(allowed), reason[:1000], now)
    )
