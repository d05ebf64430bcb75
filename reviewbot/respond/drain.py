"""Drain the outbox: send each due mail and check, with retries and backoff, exactly once.

Per due row: re-read the policy (a list switched to dry-run stops its mail), drop mail a
newer version superseded, hold mail over the list's hourly rate, then mark the row in
flight (committed) and send. The answer decides: sent (marked once), retry later
(4xx, refused or lost connection, timeout, HTTP 5xx: backoff doubling from `backoff`,
jittered, up to `max_attempts`), or failed (SMTP 5xx, HTTP 4xx, 403 with the reason).

After a crash a row can be in flight: its send may or may not have happened. A mail that
came back through intake (its Message-ID is in the store) is marked sent without a second
try; otherwise it is sent again with the same Message-ID, which receivers deduplicate.
A check is looked up on patchwork first: if patchwork already shows it, nothing is posted.
Patchwork is never given a pending check over a final one, nor a post that changes nothing.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from reviewbot.errors import PatchworkForbidden, RemoteError, ReviewbotError
from reviewbot.ingest.patchwork import Check
from reviewbot.respond.checks import Decision, Shown, decide
from reviewbot.respond.model import CheckPost, CheckState, OutboundEmail
from reviewbot.respond.policy import RespondConfig
from reviewbot.respond.smtp import Delivery, Outcome
from reviewbot.store import outbox, sql
from reviewbot.store.db import parse_iso
from reviewbot.store.outbox import OutboxKind, OutboxRow, OutboxState
from reviewbot.store.store import Store

log = logging.getLogger(__name__)

RATE_WINDOW = 3600.0
PATCHWORK_LAG = 600.0  # seconds between two looks for a patch patchwork has not filed yet
PATCHWORK_LOOKUPS = 3


class Mailer(Protocol):
    async def send(self, mail: OutboundEmail, date: datetime) -> Delivery: ...


class CheckClient(Protocol):
    @property
    def read_only(self) -> bool: ...

    async def checks(self, patch_id: int) -> list[Check]: ...

    async def post_check(
        self,
        patch_id: int,
        context: str,
        state: CheckState | str,
        target_url: str | None,
        description: str | None,
    ) -> Check: ...


@dataclass
class Drainer:
    """Sends what the outbox holds. One drainer per store."""

    store: Store
    respond: RespondConfig
    mailer: Mailer
    patchwork: Callable[[str], CheckClient | None] = lambda _base_url: None
    backoff: float = 30.0
    max_backoff: float = 3600.0
    rng: random.Random = field(default_factory=random.Random)

    async def once(self, limit: int = 50) -> int:
        """Try every due row once; returns how many were tried."""
        rows = await outbox.due(self.store, self.store.clock(), limit)
        for row in rows:
            try:
                await self._one(row)
            except (ReviewbotError, ValueError, KeyError, TypeError) as exc:
                # a row we cannot even read must not stop the others
                log.exception("outbox %s: %s", row.key, exc)
                await outbox.mark_done(self.store, row.id, OutboxState.FAILED, f"unusable: {exc}")
        return len(rows)

    def _delay(self, attempts: int) -> float:
        base: float = min(self.backoff * 2.0 ** max(attempts - 1, 0), self.max_backoff)
        return base * (0.5 + self.rng.random() / 2)

    async def _retry_or_fail(self, row: OutboxRow, attempts: int, error: str) -> None:
        if attempts >= self.respond.max_attempts:
            log.error("outbox %s: giving up after %d attempts: %s", row.key, attempts, error)
            await outbox.mark_done(self.store, row.id, OutboxState.FAILED, error)
            return
        wait = self._delay(attempts)
        log.warning(
            "outbox %s: attempt %d failed (%s); next in %.0fs", row.key, attempts, error, wait
        )
        await outbox.mark_retry(self.store, row.id, self.store.clock() + wait, error)

    async def _one(self, row: OutboxRow) -> None:
        if row.kind is OutboxKind.EMAIL:
            await self._mail(row, OutboundEmail.from_payload(row.payload))
        else:
            await self._check(row, CheckPost.from_payload(row.payload))

    # -- mail ------------------------------------------------------------------------

    async def _mail(self, row: OutboxRow, mail: OutboundEmail) -> None:
        policy = self.respond.policy(row.list_id)
        if not policy.sends_mail:
            await outbox.mark_done(
                self.store, row.id, OutboxState.CANCELLED, f"policy is now {policy.mode}"
            )
            return
        if row.inflight and await outbox.message_seen(self.store, mail.message_id):
            log.info("outbox %s: %s came back through intake: sent", row.key, mail.message_id)
            await outbox.mark_sent(self.store, row.id, "in doubt after a crash; seen in intake")
            return
        if await self._superseded(row):
            return
        now = self.store.clock()
        count, oldest = await outbox.sent_since(self.store, row.list_id, now - RATE_WINDOW)
        if count >= policy.rate_limit:
            later = (parse_iso(oldest) if oldest else now) + RATE_WINDOW + 1
            log.info("outbox %s: %s is at its rate limit (%d/h); held", row.key, row.list_id, count)
            await outbox.mark_retry(self.store, row.id, later, "rate limit")
            return
        if row.inflight:
            log.warning(
                "outbox %s: in doubt after a crash; sending %s again", row.key, mail.message_id
            )
        if not await outbox.mark_inflight(self.store, row.id):
            return
        delivery = await self.mailer.send(mail, datetime.fromtimestamp(now, UTC))
        attempts = row.attempts + 1
        if delivery.outcome is Outcome.SENT:
            await outbox.mark_sent(self.store, row.id, delivery.detail[:500] or None)
            log.info("outbox %s: sent %s to %s", row.key, mail.message_id, ", ".join(mail.to))
        elif delivery.outcome is Outcome.FAIL:
            log.error(
                "outbox %s: %s refused for good: %s", row.key, mail.message_id, delivery.detail
            )
            await outbox.mark_done(self.store, row.id, OutboxState.FAILED, delivery.detail)
        else:
            await self._retry_or_fail(row, attempts, delivery.detail)

    async def _superseded(self, row: OutboxRow) -> bool:
        if row.series_id is None or row.revision_id is None:
            return False
        newest = await outbox.newest_version(self.store, row.series_id)
        found = await self.store.fetchone(sql.SELECT_RESPOND_REVISION, (row.revision_id,))
        if newest is None or found is None or newest <= int(found[2]):
            return False
        reason = f"superseded by v{newest} before it was sent"
        log.info("outbox %s: %s", row.key, reason)
        await outbox.mark_done(self.store, row.id, OutboxState.CANCELLED, reason)
        return True

    # -- checks ----------------------------------------------------------------------

    async def _check(self, row: OutboxRow, post: CheckPost) -> None:
        policy = self.respond.policy(row.list_id)
        if not policy.sends_checks:
            await outbox.mark_done(
                self.store, row.id, OutboxState.CANCELLED, f"policy is now {policy.mode}"
            )
            return
        found = await self.store.fetchone(sql.SELECT_PATCHWORK_PATCH, (post.patch_message_id,))
        if found is None:
            # patchwork may file the patch after lore gave it to us: look again later
            if row.attempts + 1 < PATCHWORK_LOOKUPS and await outbox.mark_inflight(
                self.store, row.id
            ):
                later = self.store.clock() + PATCHWORK_LAG
                await outbox.mark_retry(self.store, row.id, later, "not on patchwork yet")
            else:
                await outbox.mark_done(
                    self.store, row.id, OutboxState.CANCELLED, "the patch is not on patchwork"
                )
            return
        base_url, patch_id = str(found[0]), int(found[2])
        client = self.patchwork(base_url)
        if client is None or client.read_only:
            reason = f"patchwork {base_url}: read-only (no token); check not posted"
            log.info("outbox %s: %s", row.key, reason)
            await outbox.mark_done(self.store, row.id, OutboxState.CANCELLED, reason)
            return
        if not await outbox.mark_inflight(self.store, row.id):
            return
        attempts = row.attempts + 1
        try:
            shown = _newest(await client.checks(patch_id), post.context)
            decision = decide(post, shown)
            if decision is Decision.POST:
                await client.post_check(
                    patch_id, post.context, post.state, post.target_url, post.description
                )
        except PatchworkForbidden as exc:
            log.error("outbox %s: %s", row.key, exc)
            await outbox.mark_done(self.store, row.id, OutboxState.FAILED, str(exc))
            return
        except RemoteError as exc:
            status = exc.status
            if status is not None and 400 <= status < 500 and status not in (408, 429):
                log.error("outbox %s: patchwork refused the check: %s", row.key, exc)
                await outbox.mark_done(self.store, row.id, OutboxState.FAILED, str(exc))
            else:
                await self._retry_or_fail(row, attempts, str(exc))
            return
        note = {
            Decision.POST: f"posted {post.state} on patch {patch_id}",
            Decision.UNCHANGED: "patchwork already shows this check: not posted",
            Decision.FINAL_KEPT: f"patchwork shows a final {shown.state if shown else ''}: "
            "pending not posted",
        }[decision]
        log.info("outbox %s: %s", row.key, note)
        if decision is Decision.FINAL_KEPT:
            await outbox.mark_done(self.store, row.id, OutboxState.CANCELLED, note)
        else:
            await outbox.mark_sent(self.store, row.id, note)


def _newest(checks: list[Check], context: str) -> Shown | None:
    mine = [c for c in checks if c.context == context]
    if not mine:
        return None
    newest = max(mine, key=lambda c: (c.date, c.id))
    return Shown(CheckState(newest.state.value), newest.target_url, newest.description)
