"""Series assembly on the stored stream (STAND-IN until branch `ingest` lands; replaced then).

The contract: `assemble_pending(store, now, hold_seconds)` turns messages of kind 'new'
into series -> revisions -> patches and returns the revision ids newly queued;
`load_series(store, revision_id)` gives the frozen Series the reviewer takes. This
stand-in threads a patch to its cover letter or first patch through In-Reply-To only.
"""

from __future__ import annotations

from reviewbot.errors import MalformedMailError
from reviewbot.mail.parse import parse_mail
from reviewbot.model import Message, RawMail, Series
from reviewbot.store.store import MessageKind, Store, StoredMessage, iso


async def assemble_pending(store: Store, now: float, hold_seconds: float) -> list[int]:
    """Assemble new messages into revisions; queue the complete and the overdue ones."""
    new = await store.messages_of_kind(MessageKind.NEW, 0, 1000)
    parsed: list[tuple[StoredMessage, Message | None, str]] = []
    for row in new:
        try:
            parsed.append((row, parse_mail(RawMail(row.raw, row.source)), ""))
        except MalformedMailError as exc:
            parsed.append((row, None, str(exc)))
    stamp = iso(now)
    deadline = iso(now + hold_seconds)
    queued: list[int] = []
    async with store.transaction() as tx:
        for row, message, error in parsed:
            kind, reason = _classify(message, error)
            await tx.execute(
                "UPDATE messages SET kind = ?, reason = ? WHERE id = ?", (kind, reason, row.id)
            )
            if message is None or kind not in ("patch", "cover"):
                continue
            tags = message.tags
            number = tags.number or 1
            total = tags.total or 1
            threaded = number > 0 and total > 1 and message.in_reply_to
            head = message.in_reply_to if threaded else message.message_id
            assert head is not None
            key = f"{message.sender}\0{tags.name}"
            await tx.execute(
                "INSERT INTO series (key, list_id, subject, submitter, change_id, created,"
                " updated) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING",
                (key, row.list_id, tags.name, message.sender, message.change_id, stamp, stamp),
            )
            await tx.execute(
                "INSERT INTO revisions (series_id, version, head_message_id, subject, total,"
                " first_seen, updated, deadline) SELECT id, ?, ?, ?, ?, ?, ?, ? FROM series"
                " WHERE key = ? ON CONFLICT (head_message_id) DO NOTHING",
                (tags.version, head, message.subject, total, stamp, stamp, deadline, key),
            )
            if kind == "cover":
                await tx.execute(
                    "UPDATE revisions SET cover_message_id = ? WHERE head_message_id = ?",
                    (message.message_id, head),
                )
                continue
            await tx.execute(
                "INSERT INTO patches (revision_id, number, message_id, subject)"
                " SELECT id, ?, ?, ? FROM revisions WHERE head_message_id = ?"
                " ON CONFLICT DO NOTHING",
                (number, message.message_id, message.subject, head),
            )
        cur = await tx.execute(
            "UPDATE revisions SET received = (SELECT count(*) FROM patches p"
            " WHERE p.revision_id = revisions.id) WHERE state = 'assembling'"
            " RETURNING id, received >= total, deadline <= ?",
            (stamp,),
        )
        for revision_id, complete, overdue in await cur.fetchall():
            if complete or overdue:
                await tx.execute(
                    "UPDATE revisions SET state = 'queued', complete = ? WHERE id = ?",
                    (int(bool(complete)), revision_id),
                )
                queued.append(int(revision_id))
    return queued


def _classify(message: Message | None, error: str) -> tuple[str, str]:
    if message is None:
        return "bad", f"does not parse: {error}"
    if message.tags.is_reply:
        return "reply", ""
    if message.has_patch:
        return "patch", ""
    if message.tags.is_patch and message.tags.number == 0:
        return "cover", ""
    return "skipped", "no patch in this mail"


async def load_series(store: Store, revision_id: int) -> Series:
    """The revision as the reviewer takes it: its patches in order, the cover, the gaps."""
    head = await store.fetchone(
        "SELECT head_message_id, cover_message_id, subject, version, total FROM revisions"
        " WHERE id = ?",
        (revision_id,),
    )
    if head is None:
        raise MalformedMailError(f"revision {revision_id} does not exist")
    rows = await store.fetchall(
        "SELECT m.raw, m.source FROM patches p JOIN messages m ON m.message_id = p.message_id"
        " WHERE p.revision_id = ? ORDER BY p.number",
        (revision_id,),
    )
    patches = tuple(parse_mail(RawMail(bytes(raw), source)) for raw, source in rows)
    cover = None
    if head[1]:
        found = await store.message(head[1])
        cover = parse_mail(RawMail(found.raw, found.source)) if found else None
    numbers = {p.tags.number or 1 for p in patches}
    base = next((m.base_commit for m in (cover, *patches) if m and m.base_commit), None)
    return Series(
        message_id=head[0],
        subject=head[2],
        version=int(head[3]),
        total=int(head[4]),
        patches=patches,
        cover=cover,
        missing=tuple(n for n in range(1, int(head[4]) + 1) if n not in numbers),
        base_commit=base,
    )
