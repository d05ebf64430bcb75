"""docs/replies.md shows, in full, the replies the code sends for the seed defect (v1, v2).

The findings are those `reviewbot check --format json` gave on the two patches
(tests/data/respond/*.json); the replies go through the store, on_reviewed and the
renderer as in the service. REVIEWBOT_REGEN_DOCS=1 rewrites the blocks in the doc.
"""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime
from pathlib import Path

from reviewbot.respond.compose import to_mime
from reviewbot.respond.hook import on_reviewed
from reviewbot.respond.model import OutboundEmail
from reviewbot.store import outbox
from reviewbot.store.outbox import OutboxKind
from reviewbot.store.store import Store
from tests.respond.conftest import closed_port
from tests.respond.seed import DATA, add_reviewed, config, seed_findings

DOC = Path(__file__).resolve().parents[2] / "docs" / "replies.md"
_ID = re.compile(r"(rb\d+\.\d+\.)[0-9a-f]{8}@")
LIST = "iommu.lists.linux.dev"
DATE = datetime(2026, 11, 2, 10, 42, tzinfo=UTC)


async def _replies(tmp_path: Path) -> dict[str, str]:
    cfg = config(
        tmp_path,
        closed_port(),
        'mode = "email"\ncc = ["iommu@lists.linux.dev"]',
    )
    out: dict[str, str] = {}
    async with await Store.open(tmp_path / "s.sqlite") as store:
        v1 = (DATA / "seed-iommufd-driver-tristate.patch").read_bytes()
        rev, review = await add_reviewed(store, [v1], seed_findings(), list_id=LIST)
        await on_reviewed(store, cfg, rev, review)
        v2 = (DATA / "seed-iommufd-driver-tristate-v2.patch").read_bytes()
        findings = [
            {**f, "patch": "v2.341b16560dd2@fixture.reviewbot"}
            for f in seed_findings("seed-iommufd-review-v2.json")
        ]
        rev2, review2 = await add_reviewed(store, [v2], findings, version=2, list_id=LIST)
        await on_reviewed(store, cfg, rev2, review2)
        for name, revision in (("v1", rev), ("v2", rev2)):
            (row,) = await outbox.of_revision(store, revision, OutboxKind.EMAIL)
            mail = OutboundEmail.from_payload(row.payload)
            text = to_mime(mail, DATE).as_string().replace("\r\n", "\n")
            head, body = text.split("\n\n", 1)
            keep = ("From", "To", "Cc", "Subject", "Date", "Message-ID", "In-Reply-To")
            keep += ("References", "X-Reviewbot", "Auto-Submitted", "X-Patchwork-Hint")
            lines = [h for h in head.split("\n") if h.split(":")[0] in keep]
            out[name] = _ID.sub(r"\g<1>5f3c9a1e@", "\n".join(lines) + "\n\n" + body).rstrip("\n")
    return out


def _block(name: str) -> re.Pattern[str]:
    return re.compile(
        rf"(<!-- reply:{name} -->\n```text\n)(.*?)(\n```\n<!-- /reply:{name} -->)", re.S
    )


async def test_doc_replies_are_what_the_code_sends(tmp_path: Path) -> None:
    replies = await _replies(tmp_path)
    doc = DOC.read_text()
    if os.environ.get("REVIEWBOT_REGEN_DOCS"):
        for name, text in replies.items():
            doc = _block(name).sub(lambda m, t=text: m.group(1) + t + m.group(3), doc)
        DOC.write_text(doc)
    for name, text in replies.items():
        found = _block(name).search(doc)
        assert found is not None, f"docs/replies.md has no block for {name}"
        assert found.group(2) == text, f"docs/replies.md {name} is stale: REVIEWBOT_REGEN_DOCS=1"
