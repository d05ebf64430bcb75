"""Fill a store the way ingest and serve do: messages, series, revisions, patches, reviews."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from reviewbot.store.store import Incoming, Store


def patch_mail(
    msgid: str,
    subject: str,
    diff: str,
    sender: str = "Dev One <dev@example.org>",
    body: str = "A change.\n\nSigned-off-by: Dev One <dev@example.org>\n",
) -> bytes:
    mail = EmailMessage()
    mail["From"] = sender
    mail["Subject"] = subject
    mail["Message-ID"] = f"<{msgid}>"
    mail["Date"] = "Mon, 2 Nov 2026 10:00:00 +0000"
    mail.set_content(body + "---\n" + diff, charset="utf-8", cte="8bit")
    return bytes(mail)


@dataclass(frozen=True)
class FindingSpec:
    rule: str
    severity: str
    path: str
    line: int | None
    message: str
    patch: str = ""
    name: str = "some-rule"
    hint: str = ""
    evidence: tuple[str, ...] = ()


@dataclass(frozen=True)
class RevisionSpec:
    subject: str
    patches: Sequence[tuple[str, bytes]]  # (message id, raw mail)
    submitter: str = "Dev One <dev@example.org>"
    list_id: str = "linux-kbuild.vger.kernel.org"
    key: str = ""
    version: int = 1
    state: str = "reviewed"
    first_seen: str = "2026-11-02T10:00:00.000+00:00"
    finished: str | None = "2026-11-02T10:05:00.000+00:00"
    findings: Sequence[FindingSpec] = ()
    summary: dict[str, Any] = field(default_factory=dict)
    base_commit: str | None = None


async def add_revision(store: Store, spec: RevisionSpec) -> int:
    """Insert one revision as assembly and a finished review would; its id."""
    await store.add_messages(
        Incoming(m, raw, "test", spec.list_id, spec.subject, spec.submitter)
        for m, raw in spec.patches
    )
    key = spec.key or f"{spec.subject}|{spec.submitter}"
    reviewed = spec.state == "reviewed"
    async with store.transaction() as tx:
        await tx.execute(
            "INSERT INTO series (key, list_id, subject, submitter, created, updated)"
            " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING",
            (key, spec.list_id, spec.subject, spec.submitter, spec.first_seen, spec.first_seen),
        )
        cur = await tx.execute("SELECT id FROM series WHERE key = ?", (key,))
        (series_id,) = await cur.fetchone()  # type: ignore[misc]
        cur = await tx.execute(
            "INSERT INTO revisions (series_id, version, head_message_id, subject, total,"
            " received, complete, base_commit, first_seen, updated, deadline, state,"
            " generation, reviewed_generation) VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?, 0, ?)",
            (
                series_id,
                spec.version,
                spec.patches[0][0],
                spec.subject,
                len(spec.patches),
                len(spec.patches),
                spec.base_commit,
                spec.first_seen,
                spec.finished or spec.first_seen,
                spec.first_seen,
                spec.state,
                0 if reviewed else -1,
            ),
        )
        revision_id = int(cur.lastrowid or 0)
        for number, (msgid, raw) in enumerate(spec.patches, 1):
            subject = next(
                (
                    line[9:]
                    for line in raw.decode(errors="replace").splitlines()
                    if line.startswith("Subject: ")
                ),
                spec.subject,
            )
            await tx.execute(
                "INSERT INTO patches (revision_id, number, message_id, subject)"
                " VALUES (?, ?, ?, ?)",
                (revision_id, number, msgid, subject),
            )
            await tx.execute("UPDATE messages SET kind = 'patch' WHERE message_id = ?", (msgid,))
        if reviewed:
            cur = await tx.execute(
                "INSERT INTO reviews (revision_id, generation, started, finished, state,"
                " base_kind, base_ref, base_commit, tree, summary)"
                " VALUES (?, 0, ?, ?, 'done', 'default', '', NULL, 'linux-source-6.12', ?)",
                (revision_id, spec.first_seen, spec.finished, json.dumps(spec.summary)),
            )
            review_id = cur.lastrowid
            await tx.executemany(
                "INSERT INTO findings (review_id, patch_message_id, rule, name, severity,"
                " path, line, message, hint, evidence) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        review_id,
                        f.patch or spec.patches[0][0],
                        f.rule,
                        f.name,
                        f.severity,
                        f.path,
                        f.line,
                        f.message,
                        f.hint,
                        json.dumps(list(f.evidence)),
                    )
                    for f in spec.findings
                ],
            )
    return revision_id


def findings_from_report(report: dict[str, Any]) -> list[FindingSpec]:
    """The findings of `reviewbot check --format json` output."""
    return [
        FindingSpec(
            rule=f["rule"],
            name=f["name"],
            severity=f["severity"],
            path=f["path"],
            line=f["line"],
            message=f["message"],
            hint=f["hint"],
            patch=f["patch"],
            evidence=tuple(f["evidence"]),
        )
        for f in report["findings"]
    ]


REPO = Path(__file__).resolve().parents[2]
SEED_PATCH = REPO / "rules" / "EX006" / "bad" / "seed-iommufd-driver-tristate.patch"
SEED_REVIEW = REPO / "tests" / "data" / "web" / "seed-iommufd-review.json"


async def add_seed_review(store: Store) -> int:
    """The IOMMUFD_DRIVER seed defect with the findings the real reviewer gave it
    (`reviewbot check --format json` on SEED_PATCH, saved in SEED_REVIEW)."""
    raw = SEED_PATCH.read_bytes().split(b"\n", 1)[1]  # drop the mbox From_ line
    report = json.loads(SEED_REVIEW.read_text())
    series = report["series"][0]
    return await add_revision(
        store,
        RevisionSpec(
            subject=series["patches"][0]["subject"],
            submitter="Fixture Author <author@example.org>",
            list_id="linux-iommu.lists.linux.dev",
            patches=[(series["message_id"], raw)],
            findings=findings_from_report(report),
        ),
    )
