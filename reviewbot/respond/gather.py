"""Read one stored review into the ReplyInput a reply and the checks are made from.

Everything comes from the store: the review and its findings, the revision, its series
and patches (each patch's diff parsed from the stored raw mail), the thread to answer
(the cover letter, else the first patch), the previous reviewed version's findings and
the series' silences. What is missing is logged and left out, never a crash: a patch
whose mail is not stored has no diff to quote, a series without an author has "".
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from email.utils import parseaddr
from typing import Any

from reviewbot.build.matrix import load_matrix
from reviewbot.errors import ConfigError, MalformedMailError
from reviewbot.mail.parse import parse_mail
from reviewbot.model import Message, RawMail, Severity
from reviewbot.respond.model import PatchInfo, ReplyFinding, ReplyInput, Silence, Stage
from reviewbot.store import sql
from reviewbot.store.store import Store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Gathered:
    """A ReplyInput with what the hook needs besides: series, state, stages that ran."""

    info: ReplyInput
    series_id: int
    generation: int
    review_state: str
    stages: tuple[Stage, ...]


async def _parsed(store: Store, message_id: str) -> Message | None:
    stored = await store.message(message_id)
    if stored is None:
        log.warning("<%s>: not in the store; replying without its text", message_id)
        return None
    try:
        return parse_mail(RawMail(stored.raw, f"store:{message_id}"))
    except MalformedMailError as exc:
        log.warning("<%s>: stored mail does not parse: %s", message_id, exc)
        return None


def _finding(row: Sequence[Any]) -> ReplyFinding | None:
    try:
        severity = Severity(row[2])
        evidence = json.loads(row[8]) if row[8] else []
    except (ValueError, TypeError) as exc:
        log.warning("finding %s at %s: unreadable (%s); left out", row[0], row[4], exc)
        return None
    return ReplyFinding(
        rule=row[0],
        name=row[1],
        severity=severity,
        patch_message_id=row[3] or "",
        path=row[4] or "",
        line=int(row[5]) if row[5] is not None else None,
        message=row[6] or "",
        hint=row[7] or "",
        evidence=tuple(str(e) for e in evidence) if isinstance(evidence, list) else (),
    )


async def findings_of(store: Store, review_id: int) -> tuple[ReplyFinding, ...]:
    rows = await store.fetchall(sql.SELECT_RESPOND_FINDINGS, (review_id,))
    return tuple(f for f in (_finding(r) for r in rows) if f is not None)


def _compilers(arches: Sequence[str]) -> tuple[str, ...]:
    try:
        matrix = load_matrix()
    except ConfigError as exc:
        log.warning("arch matrix unreadable: %s", exc)
        return tuple(arches)
    return tuple(f"{a} ({matrix[a].compiler})" if a in matrix else a for a in arches)


def _stages(summary: dict[str, Any], findings: Sequence[ReplyFinding]) -> tuple[Stage, ...]:
    named = summary.get("stages")
    if isinstance(named, list):
        return tuple(Stage(s) for s in named if s in set(Stage))
    ran = [Stage.STATIC]
    if summary.get("kconfig", True):
        ran.append(Stage.KCONFIG)
    if summary.get("build") or any(f.rule.upper().startswith("BLD") for f in findings):
        ran.append(Stage.BUILD)
    return tuple(ran)


async def gather(store: Store, review_id: int, default_arches: Sequence[str]) -> Gathered | None:
    """The review as a reply sees it; None (logged) when the review or revision is gone."""
    review = await store.fetchone(sql.SELECT_RESPOND_REVIEW, (review_id,))
    if review is None:
        log.warning("review %s: not in the store; nothing to answer", review_id)
        return None
    revision = await store.fetchone(sql.SELECT_RESPOND_REVISION, (review[1],))
    if revision is None:
        log.warning("review %s: revision %s is gone; nothing to answer", review_id, review[1])
        return None
    (rev_id, series_id, version, head, cover, subject, total, list_id, submitter) = revision[:9]
    findings = await findings_of(store, review_id)
    patches: list[PatchInfo] = []
    for msgid, number, psubject in await store.fetchall(sql.SELECT_RESPOND_PATCHES, (rev_id,)):
        parsed = await _parsed(store, msgid)
        patches.append(PatchInfo(msgid, number, psubject, parsed.diff if parsed else None))
    parent_id = cover or (patches[0].message_id if patches else head)
    parent = await _parsed(store, parent_id)
    author = submitter or (parent.sender if parent else "")
    if "@" not in parseaddr(author)[1]:
        log.warning("revision %s <%s>: no author address (%r)", rev_id, parent_id, author)
        author = ""
    previous_version: int | None = None
    previous: tuple[ReplyFinding, ...] | None = None
    prev = await store.fetchone(sql.SELECT_PREVIOUS_REVIEW, (series_id, version))
    if prev is not None and prev[2] is not None:
        previous_version, previous = int(prev[1]), await findings_of(store, int(prev[2]))
    silences = tuple(
        Silence(rule, reason, by)
        for rule, reason, by in await store.fetchall(sql.SELECT_SILENCES, (series_id,))
    )
    try:
        summary = json.loads(review[9]) if review[9] else {}
    except ValueError:
        summary = {}
    summary = summary if isinstance(summary, dict) else {}
    arches = summary.get("arches")
    arches = tuple(str(a) for a in arches) if isinstance(arches, list) else tuple(default_arches)
    info = ReplyInput(
        revision_id=rev_id,
        version=version,
        subject=parent.subject if parent else subject,
        list_id=list_id or "",
        author=author,
        parent_message_id=parent_id,
        parent_references=parent.references if parent else (),
        patches=tuple(patches),
        findings=findings,
        base_commit=review[7],
        base_ref=review[6] or "",
        base_kind=review[5] or "default",
        tree=review[8] or "",
        arches=arches,
        compilers=_compilers(arches),
        partial=bool(review[4]),
        total=int(total),
        previous_version=previous_version,
        previous=previous,
        silenced=silences,
    )
    return Gathered(
        info, int(series_id), int(review[2]), str(review[3]), _stages(summary, findings)
    )
