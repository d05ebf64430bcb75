"""Respond on what ingest's real assembly stores: threading, list policy, our mail coming back.

Mail goes in as a source would store it, `assemble_pending` builds the series, a review
row is written as serve writes it, and on_reviewed + the drain answer it through a real
SMTP server. The reply then comes back through intake (as lore would deliver it): assembly
skips it as ours, and a maintainer's reply to it with a command is obeyed.
"""

from __future__ import annotations

import json
from pathlib import Path

from reviewbot.config import load_config
from reviewbot.respond.drain import Drainer
from reviewbot.respond.hook import on_reviewed
from reviewbot.respond.intake import process_commands
from reviewbot.respond.maintainers import parse_maintainers
from reviewbot.respond.smtp import SmtpSender
from reviewbot.store.series import assemble_pending
from reviewbot.store.store import Incoming, Store
from tests.respond.conftest import SmtpServer
from tests.respond.seed import DATA, MAINTAINERS, config, mail, seed_findings

LIST = "iommu.lists.linux.dev"
SEED = DATA / "seed-iommufd-driver-tristate.patch"
NOW = 1_800_000_000.0


async def _review(store: Store, revision_id: int) -> int:
    """Write a review of the revision with the seed's real findings, as serve does."""
    async with store.transaction() as tx:
        cur = await tx.execute(
            "INSERT INTO reviews (revision_id, generation, started, finished, state, tree,"
            " summary) VALUES (?, 0, '', '', 'done', 'linux-source-6.12', ?)",
            (revision_id, json.dumps({"arches": ["x86_64"]})),
        )
        review_id = cur.lastrowid
        for f in seed_findings():
            await tx.execute(
                "INSERT INTO findings (review_id, patch_message_id, rule, name, severity, path,"
                " line, message, hint) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (review_id, f["patch"], f["rule"], f["name"], f["severity"], f["path"],
                 f["line"], f["message"], f["hint"]),
            )  # fmt: skip
        await tx.execute(
            "UPDATE revisions SET state = 'reviewed', reviewed_generation = 0 WHERE id = ?",
            (revision_id,),
        )
    assert review_id is not None
    return review_id


async def test_reply_on_assembled_series_and_back_through_intake(
    tmp_path: Path, smtpd: SmtpServer
) -> None:
    config(tmp_path, smtpd.port, policy="")  # dry-run by default; the list's table: email
    path = tmp_path / "reviewbot.toml"
    path.write_text(path.read_text() + f'[lists."{LIST}".respond]\nmode = "email"\n')
    cfg = load_config(path)
    async with await Store.open(tmp_path / "s.sqlite") as store:
        msgid = "341b16560dd2@fixture.reviewbot"
        await store.add_messages([Incoming(msgid, SEED.read_bytes(), "lore:iommu/git/0", LIST)])
        (revision,) = await assemble_pending(store, NOW, 600.0)
        review = await _review(store, revision)
        await on_reviewed(store, cfg, revision, review)
        drain = Drainer(store, cfg.respond, SmtpSender(cfg.respond.smtp), backoff=0)
        await drain.once()
        assert len(smtpd.recorder.messages) == 1
        sent = smtpd.recorder.messages[0]
        assert sent["In-Reply-To"] == f"<{msgid}>"
        assert sent["To"] == "Fixture Author <author@example.org>"
        body = sent.get_content().replace("\r\n", "\n")
        flat = " ".join(body.replace("\\\n", " ").split())
        assert "check --list iommu.lists.linux.dev --arch x86_64 series.mbox" in flat
        # our reply comes back through lore: assembly skips it as ours
        ours = str(sent["Message-ID"]).strip("<>")
        await store.add_messages([Incoming(ours, sent.as_bytes(), "lore:iommu/git/0", LIST)])
        # a maintainer answers our reply with a command
        await store.add_messages(
            [
                Incoming(
                    "m1@x",
                    mail(
                        "m1@x",
                        f"Re: {sent['Subject']}",
                        "> [1] error\n\nreviewbot: not-a-bug EX006 iova_bitmap gets a license\n",
                        "Will Deacon <will@kernel.org>",
                        ours,
                    ),
                    "lore:iommu/git/0",
                    LIST,
                )
            ]
        )
        await assemble_pending(store, NOW + 1, 600.0)
        kinds = dict(await store.fetchall("SELECT message_id, kind FROM messages"))
        assert kinds[ours] == "skipped" and kinds["m1@x"] == "reply"
        handled = await process_commands(store, cfg.respond, parse_maintainers(MAINTAINERS))
        silences = await store.fetchall("SELECT rule, by FROM silences")
    assert handled == 1
    assert silences == [("EX006", "will@kernel.org")]
