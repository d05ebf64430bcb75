"""Fill a store with a reviewed revision, as ingest and serve would (plain SQL inserts)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from reviewbot.config import Config, load_config
from reviewbot.mail.parse import parse_mail
from reviewbot.model import RawMail
from reviewbot.store.store import Incoming, Store

DATA = Path(__file__).resolve().parents[1] / "data" / "respond"
LIST = "linux-kbuild.vger.kernel.org"


def mail(
    message_id: str,
    subject: str,
    body: str,
    sender: str = "Fixture Author <author@example.org>",
    in_reply_to: str | None = None,
    extra: str = "",
) -> bytes:
    head = f"From: {sender}\nSubject: {subject}\nMessage-ID: <{message_id}>\n"
    if in_reply_to:
        head += f"In-Reply-To: <{in_reply_to}>\nReferences: <{in_reply_to}>\n"
    return (head + extra + "Content-Type: text/plain; charset=UTF-8\n\n" + body).encode()


def seed_findings(name: str = "seed-iommufd-review.json") -> list[dict[str, Any]]:
    return list(json.loads((DATA / name).read_text())["findings"])


async def add_reviewed(
    store: Store,
    patches: Sequence[bytes],
    findings: Sequence[dict[str, Any]],
    *,
    series_key: str = "iommufd",
    version: int = 1,
    cover: bytes | None = None,
    submitter: str | None = None,
    generation: int = 0,
    list_id: str = LIST,
    state: str = "done",
    summary: dict[str, Any] | None = None,
    patchwork_base: str | None = None,
    patch_ids: Sequence[int] = (),
) -> tuple[int, int]:
    """Store the mails, series, revision, patches, review and findings; (revision, review)."""
    parsed = [parse_mail(RawMail(raw, "seed")) for raw in patches]
    head = parse_mail(RawMail(cover, "seed")) if cover else parsed[0]
    incoming = [
        Incoming(m.message_id, raw, "seed", LIST) for m, raw in zip(parsed, patches, strict=True)
    ]
    if cover:
        incoming.append(Incoming(head.message_id, cover, "seed", LIST))
    await store.add_messages(incoming)
    now = store.now()
    async with store.transaction() as tx:
        await tx.execute(
            "INSERT INTO series (key, list_id, subject, submitter, created, updated)"
            " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING",
            (
                series_key,
                list_id,
                head.subject,
                submitter if submitter is not None else head.sender,
                now,
                now,
            ),
        )
        cur = await tx.execute("SELECT id FROM series WHERE key = ?", (series_key,))
        series_id = (await cur.fetchone())[0]  # type: ignore[index]
        cur = await tx.execute(
            "INSERT INTO revisions (series_id, version, head_message_id, cover_message_id,"
            " subject, total, received, complete, first_seen, updated, deadline, state,"
            " generation, reviewed_generation) VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?,"
            " 'reviewed', ?, ?)",
            (
                series_id,
                version,
                head.message_id,
                head.message_id if cover else None,
                head.subject,
                len(parsed),
                len(parsed),
                now,
                now,
                now,
                generation,
                generation,
            ),
        )
        revision_id = cur.lastrowid
        for number, message in enumerate(parsed, 1):
            await tx.execute(
                "INSERT INTO patches (revision_id, number, message_id, subject)"
                " VALUES (?, ?, ?, ?)",
                (revision_id, number, message.message_id, message.subject),
            )
            if patchwork_base is not None:
                await tx.execute(
                    "INSERT INTO patchwork_patches (message_id, base_url, project, patch_id,"
                    " checks_url) VALUES (?, ?, 'linux-kbuild', ?, '')",
                    (message.message_id, patchwork_base, patch_ids[number - 1]),
                )
        cur = await tx.execute(
            "INSERT INTO reviews (revision_id, generation, started, finished, state, base_kind,"
            " base_ref, base_commit, tree, summary) VALUES (?, ?, ?, ?, ?, 'default', '', NULL,"
            " 'linux-source-6.12', ?)",
            (revision_id, generation, now, now, state, json.dumps(summary or {})),
        )
        review_id = cur.lastrowid
        for f in findings:
            await tx.execute(
                "INSERT INTO findings (review_id, patch_message_id, rule, name, severity, path,"
                " line, message, hint, evidence) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    review_id,
                    f.get("patch", parsed[0].message_id),
                    f["rule"],
                    f["name"],
                    f["severity"],
                    f.get("path", ""),
                    f.get("line"),
                    f["message"],
                    f.get("hint", ""),
                    json.dumps(f.get("evidence", [])),
                ),
            )
    assert isinstance(revision_id, int) and isinstance(review_id, int)
    return revision_id, review_id


# trimmed from the 6.12 tree's MAINTAINERS (the entries covering drivers/iommu/)
MAINTAINERS = """\
Descriptions of section entries and preferred order
	M: *Mail* patches to: FullName <address@domain>

IOMMU SUBSYSTEM
M:	Joerg Roedel <joro@8bytes.org>
M:	Will Deacon <will@kernel.org>
R:	Robin Murphy <robin.murphy@arm.com>
L:	iommu@lists.linux.dev
S:	Maintained
F:	drivers/iommu/
X:	drivers/iommu/amd/

IOMMUFD
M:	Jason Gunthorpe <jgg@nvidia.com>
F:	drivers/iommu/iommufd/

AMD IOMMU (AMD-VI)
M:	Joerg Roedel <joro@8bytes.org>
M:	Suravee Suthikulpanit <suravee.suthikulpanit@amd.com>
F:	drivers/iommu/amd/
N:	amd_iommu
"""


def config(tmp_path: Path, port: int, policy: str = 'mode = "email"', extra: str = "") -> Config:
    path = tmp_path / "reviewbot.toml"
    path.write_text(
        f"""
[respond]
from = "reviewbot <bot@reviewbot.example>"
web_base_url = "https://reviewbot.example/"
{extra}
[respond.smtp]
host = "127.0.0.1"
port = {port}
timeout = 5
[respond.policy]
{policy}
"""
    )
    return load_config(path)
