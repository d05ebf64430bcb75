"""on_reviewed: record in the outbox the reply and the checks a finished review calls for.

The service calls `on_reviewed(store, config, revision_id, review_id)` after it has
written a review. Per the list's policy this records, in one transaction, a final
patchwork check per patch and stage, and at most one mail per series version (a later
generation of the same version replaces a mail not yet sent; one already sent is not
repeated). A newer version cancels the unsent mail of older ones, and the policy's delay
gives a quick v2 that chance. In dry-run everything is recorded as it would be sent, and
cancelled with the reason, so an operator can read it. Nothing is sent here: the drain
sends (drain.py).
"""

from __future__ import annotations

import logging
import secrets
from email.utils import parseaddr

import aiosqlite

from reviewbot.config import Config
from reviewbot.respond.checks import pending_checks, plan_checks
from reviewbot.respond.compose import Site, render_reply
from reviewbot.respond.delta import unsilenced
from reviewbot.respond.gather import Gathered, gather
from reviewbot.respond.model import PatchInfo, ReplyInput, Stage
from reviewbot.respond.policy import ListPolicy, Mode, RespondConfig
from reviewbot.store import outbox, sql
from reviewbot.store.db import iso
from reviewbot.store.outbox import NewItem, OutboxKind, OutboxState
from reviewbot.store.store import Store

log = logging.getLogger(__name__)


def new_message_id(sender: str, revision_id: int, generation: int) -> str:
    domain = parseaddr(sender)[1].rpartition("@")[2] or "reviewbot.invalid"
    return f"<rb{revision_id}.{generation}.{secrets.token_hex(4)}@{domain}>"


def site_for(respond: RespondConfig, revision_id: int) -> Site:
    return Site(
        sender=respond.sender,
        series_url=respond.series_url(revision_id),
        archive_url=respond.archive_url,
        rule_doc_url=respond.rule_doc_url,
    )


def _skip_state(policy: ListPolicy, mail: bool) -> tuple[OutboxState, str | None]:
    if policy.mode is Mode.DRY_RUN:
        return OutboxState.CANCELLED, "dry-run: recorded, not sent"
    if mail and not policy.sends_mail:
        return OutboxState.CANCELLED, "checks-only: no mail"
    return OutboxState.PENDING, None


def _mail_reason(info: ReplyInput, policy: ListPolicy) -> str:
    """Why this review gets no mail ('' when it gets one)."""
    shown = [
        f
        for f in unsilenced(info.findings, info.silenced)
        if f.severity.rank >= policy.min_severity.rank
    ]
    if not shown and not policy.mail_clean:
        return f"nothing at {policy.min_severity.value} or above: no mail (mail_clean is off)"
    if not info.author:
        return "the series has no author address: no mail"
    if not policy.recipient_allowed(info.author):
        return f"{parseaddr(info.author)[1]} is not an allowed recipient: no mail"
    return ""


async def on_reviewed(store: Store, config: Config, revision_id: int, review_id: int) -> None:
    """Enqueue the reply and the checks of a finished review (never raises on bad data)."""
    got = await gather(store, review_id, config.arches)
    if got is None:
        return
    if got.info.revision_id != revision_id:
        log.warning(
            "review %s is of revision %s, not %s", review_id, got.info.revision_id, revision_id
        )
        return
    respond = config.respond
    policy = respond.policy(got.info.list_id)
    if got.review_state != "done":
        log.info(
            "revision %s: review %s %s; nothing sent", revision_id, review_id, got.review_state
        )
        return
    now = store.clock()
    async with store.transaction() as tx:
        posted = await _enqueue_checks(tx, respond, policy, got, now)
        mailed = await _enqueue_mail(tx, respond, policy, got, now)
    log.info(
        "revision %s v%s (<%s>): %d check(s) recorded, mail: %s [%s]",
        revision_id,
        got.info.version,
        got.info.parent_message_id,
        posted,
        mailed,
        policy.mode.value,
    )


async def _enqueue_checks(
    tx: aiosqlite.Connection, respond: RespondConfig, policy: ListPolicy, got: Gathered, now: float
) -> int:
    info = got.info
    state, note = _skip_state(policy, mail=False)
    count = 0
    for post in plan_checks(
        info.patches,
        unsilenced(info.findings, info.silenced),
        got.stages,
        respond.context_prefix,
        respond.series_url(info.revision_id),
    ):
        item = NewItem(
            key=f"check:{post.patch_message_id}:{post.context}:{got.generation}:{post.state}",
            kind=OutboxKind.CHECK,
            payload=post.to_payload(),
            revision_id=info.revision_id,
            series_id=got.series_id,
            list_id=info.list_id,
            state=state,
            note=note,
        )
        count += await outbox.insert(tx, item, iso(now), iso(now))
    return count


async def _enqueue_mail(
    tx: aiosqlite.Connection, respond: RespondConfig, policy: ListPolicy, got: Gathered, now: float
) -> str:
    info = got.info
    await outbox.cancel_superseded(tx, got.series_id, info.version, iso(now))
    reason = _mail_reason(info, policy)
    if reason:
        log.info(
            "revision %s v%s <%s>: %s",
            info.revision_id,
            info.version,
            info.parent_message_id,
            reason,
        )
        return reason
    key = f"email:{info.revision_id}:{got.generation}"
    earlier = [(k, s) for k, s in await outbox.email_keys(tx, info.revision_id) if k != key]
    if any(s == OutboxState.SENT for _, s in earlier):
        return f"v{info.version} was already answered: no second mail"
    for old_key, old_state in earlier:
        if old_state == OutboxState.PENDING:
            reason = f"replaced by generation {got.generation}"
            await outbox.cancel_key(tx, old_key, reason, iso(now))
    cc = tuple(a for a in policy.cc if policy.recipient_allowed(a))
    mail = render_reply(
        info,
        site_for(respond, info.revision_id),
        new_message_id(respond.sender, info.revision_id, got.generation),
        policy.min_severity,
        cc,
    )
    state, note = _skip_state(policy, mail=True)
    item = NewItem(
        key=key,
        kind=OutboxKind.EMAIL,
        payload=mail.to_payload(),
        revision_id=info.revision_id,
        series_id=got.series_id,
        list_id=info.list_id,
        state=state,
        note=note,
    )
    inserted = await outbox.insert(tx, item, iso(now), iso(now + policy.delay))
    return ("recorded " + mail.message_id) if inserted else "already recorded"


async def on_reviewing(
    store: Store,
    config: Config,
    revision_id: int,
    stages: tuple[Stage, ...] = (Stage.STATIC, Stage.KCONFIG),
) -> int:
    """Record pending checks while a revision is reviewed (never over a final one).

    Name only the stages that will run (add Stage.BUILD when builds are on): the review's
    summary must then say so too ("stages" or "build": true), so that each pending check
    is followed by a final one.
    """
    revision = await store.fetchone(sql.SELECT_RESPOND_REVISION, (revision_id,))
    if revision is None:
        log.warning("revision %s: not in the store; no pending checks", revision_id)
        return 0
    series_id, list_id, generation = int(revision[1]), str(revision[7] or ""), int(revision[9])
    policy = config.respond.policy(list_id)
    state, note = _skip_state(policy, mail=False)
    rows = await store.fetchall(sql.SELECT_RESPOND_PATCHES, (revision_id,))
    # a patch's diff is not needed to say "running": every patch gets the pending checks
    patches = [PatchInfo(msgid, number, subject, diff="") for msgid, number, subject in rows]
    url = config.respond.series_url(revision_id)
    now = store.clock()
    count = 0
    async with store.transaction() as tx:
        for post in pending_checks(patches, stages, config.respond.context_prefix, url):
            if await outbox.final_check_recorded(tx, post.patch_message_id, post.context):
                continue
            item = NewItem(
                key=f"check:{post.patch_message_id}:{post.context}:{generation}:{post.state}",
                kind=OutboxKind.CHECK,
                payload=post.to_payload(),
                revision_id=revision_id,
                series_id=series_id,
                list_id=list_id,
                state=state,
                note=note,
            )
            count += await outbox.insert(tx, item, iso(now), iso(now))
    return count
