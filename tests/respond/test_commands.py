"""Maintainer commands by reply: obeyed from MAINTAINERS or configured senders, nobody else."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from reviewbot.config import Config
from reviewbot.respond.commands import Command, Malformed, Verb, parse_commands
from reviewbot.respond.hook import on_reviewed
from reviewbot.respond.intake import process_commands
from reviewbot.respond.maintainers import Entry, maintainers_of, parse_maintainers
from reviewbot.store import outbox
from reviewbot.store.store import Incoming, Store
from tests.respond.conftest import closed_port
from tests.respond.seed import DATA, LIST, MAINTAINERS, add_reviewed, config, mail, seed_findings

SEED = DATA / "seed-iommufd-driver-tristate.patch"
SEED_ID = "341b16560dd2@fixture.reviewbot"


def test_parse_commands() -> None:
    body = (
        "Thanks.\n\n> reviewbot: retest\nreviewbot: not-a-bug kc015 callers use IS_REACHABLE\n"
        "  reviewbot: retest\nreviewbot: retest now\nreviewbot: frobnicate\nreviewbot:\n"
        "reviewbot: not-a-bug KC015\nreviewbot: not-a-bug everything please\n"
    )
    found = parse_commands(body)
    assert found[0] == Command(Verb.NOT_A_BUG, "KC015", "callers use IS_REACHABLE")
    assert found[1] == Command(Verb.RETEST)
    assert [type(c) for c in found[2:]] == [Malformed] * 5
    reasons = [c.reason for c in found[2:] if isinstance(c, Malformed)]
    assert reasons[0] == "retest takes no arguments"
    assert reasons[1].startswith("unknown command 'frobnicate'")
    assert reasons[2] == "no command after 'reviewbot:'"
    assert reasons[3] == "not-a-bug KC015 needs a reason"
    assert "is not a rule id" in reasons[4]


def test_maintainers_match_like_get_maintainer() -> None:
    entries = parse_maintainers(MAINTAINERS)
    assert [e.title for e in entries] == ["IOMMU SUBSYSTEM", "IOMMUFD", "AMD IOMMU (AMD-VI)"]
    assert maintainers_of(entries, ["drivers/iommu/Kconfig"]) == {
        "joro@8bytes.org",
        "will@kernel.org",
    }
    assert "jgg@nvidia.com" in maintainers_of(entries, ["drivers/iommu/iommufd/main.c"])
    # X: excludes, N: matches by regex, reviewers (R:) are not maintainers
    assert maintainers_of(entries, ["drivers/iommu/amd/init.c"]) == {
        "joro@8bytes.org",
        "suravee.suthikulpanit@amd.com",
    }
    assert "robin.murphy@arm.com" not in maintainers_of(entries, ["drivers/iommu/Kconfig"])
    assert maintainers_of(entries, ["fs/ext4/inode.c"]) == frozenset()


@pytest.mark.realtree
def test_real_maintainers_file(real_tree: Path) -> None:
    entries = parse_maintainers((real_tree / "MAINTAINERS").read_text(errors="replace"))
    assert len(entries) > 1000
    owners = maintainers_of(entries, ["drivers/iommu/Kconfig"])
    assert "joro@8bytes.org" in owners


async def _reply(store: Store, message_id: str, sender: str, body: str, extra: str = "") -> None:
    raw = mail(
        message_id,
        "Re: [PATCH] iommufd: make IOMMUFD_DRIVER tristate",
        body,
        sender,
        SEED_ID,
        extra,
    )
    await store.add_messages([Incoming(message_id, raw, "test", LIST, sender=sender)])
    async with store.transaction() as tx:
        await tx.execute("UPDATE messages SET kind = 'reply' WHERE message_id = ?", (message_id,))


async def _snapshot(store: Store) -> dict[str, list[Any]]:
    tables = ("series", "revisions", "patches", "reviews", "findings", "outbox", "silences")
    return {t: await store.fetchall(f"SELECT * FROM {t} ORDER BY 1") for t in tables}


async def _setup(tmp_path: Path) -> tuple[Config, Store, int, list[Entry]]:
    cfg = config(tmp_path, closed_port(), 'mode = "email"\ncommanders = ["lead@example.org"]')
    store = await Store.open(tmp_path / "s.sqlite")
    revision, review = await add_reviewed(store, [SEED.read_bytes()], seed_findings())
    await on_reviewed(store, cfg, revision, review)
    return cfg, store, revision, list(parse_maintainers(MAINTAINERS))


async def test_command_from_a_sender_not_allowed_changes_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cfg, store, _revision, entries = await _setup(tmp_path)
    async with store:
        before = await _snapshot(store)
        body = "reviewbot: not-a-bug KC015 I do not like it\nreviewbot: retest\n"
        await _reply(store, "r1@x", "Random Person <random@example.com>", body)
        with caplog.at_level(logging.INFO):
            assert await process_commands(store, cfg.respond, entries) == 2
        assert await _snapshot(store) == before
        rows = await store.fetchall("SELECT message_id, command, allowed, reason FROM commands")
    assert [(r[0], r[1], r[2]) for r in rows] == [("r1@x", "not-a-bug", 0), ("r1@x#2", "retest", 0)]
    assert "random@example.com is not a MAINTAINERS M: entry of the touched files" in rows[0][3]
    assert "joro@8bytes.org" in rows[0][3]
    assert "no action" in caplog.text and "<r1@x>" in caplog.text


async def test_maintainer_silences_a_finding_for_later_versions(tmp_path: Path) -> None:
    cfg, store, revision, entries = await _setup(tmp_path)
    async with store:
        await _reply(
            store,
            "r2@x",
            "Joerg Roedel <joro@8bytes.org>",
            "reviewbot: not-a-bug KC015 IS_REACHABLE is used\n",
        )
        assert await process_commands(store, cfg.respond, entries) == 1
        assert await process_commands(store, cfg.respond, entries) == 0  # the cursor moved
        silences = await store.fetchall("SELECT rule, reason, by FROM silences")
        assert silences == [("KC015", "IS_REACHABLE is used", "joro@8bytes.org")]
        v2 = SEED.read_bytes().replace(b"[PATCH]", b"[PATCH v2]").replace(b"<341b", b"<v2.341b")
        findings = [{**f, "patch": "v2.341b16560dd2@fixture.reviewbot"} for f in seed_findings()]
        rev2, review2 = await add_reviewed(store, [v2], findings, version=2)
        await on_reviewed(store, cfg, rev2, review2)
        (row,) = await outbox.of_revision(store, rev2, outbox.OutboxKind.EMAIL)
        checks = await outbox.of_revision(store, rev2, outbox.OutboxKind.CHECK)
    body = row.payload["body"]
    assert "[KC015" not in body and "[EX006 module-license-missing]" in body
    assert "KC015 is silenced by joro@8bytes.org: IS_REACHABLE is used" in " ".join(body.split())
    kconfig = next(c for c in checks if c.payload["context"] == "reviewbot-kconfig")
    assert kconfig.payload["state"] == "success"
    assert revision != rev2


async def test_retest_from_configured_commander_requeues(tmp_path: Path) -> None:
    cfg, store, revision, entries = await _setup(tmp_path)
    async with store:
        await _reply(store, "r3@x", "Lead <lead@example.org>", "reviewbot: retest\n")
        await process_commands(store, cfg.respond, entries)
        state = await store.fetchone(
            "SELECT state, generation FROM revisions WHERE id = ?", (revision,)
        )
        (command,) = await store.fetchall("SELECT allowed, reason FROM commands")
    assert tuple(state) == ("queued", 1)
    assert command[0] == 1 and "configured commander" in command[1]


async def test_bad_input_is_a_log_line_never_a_crash(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cfg, store, _revision, entries = await _setup(tmp_path)
    async with store:
        before = await _snapshot(store)
        await _reply(store, "b1@x", "Joerg Roedel <joro@8bytes.org>", "reviewbot: pleaseretest\n")
        bounce = (
            "This is the mail system at host mx.example.\n\n<author@example.org>: "
            "host said: 550 5.1.1 user unknown\n\nreviewbot: retest\n"
        )
        await _reply(
            store,
            "b2@x",
            "MAILER-DAEMON@mx.example (Mail Delivery System)",
            bounce,
            extra="Content-Type: multipart/report; report-type=delivery-status; boundary=x\n",
        )
        await _reply(
            store,
            "b3@x",
            "reviewbot <bot@reviewbot.example>",
            "reviewbot: retest\n",
            extra="X-Reviewbot: 0.1.0\n",
        )
        await store.add_messages([Incoming("b4@x", b"\xff\xfe not a mail at all", "test", LIST)])
        async with store.transaction() as tx:
            await tx.execute("UPDATE messages SET kind = 'reply' WHERE message_id = 'b4@x'")
        with caplog.at_level(logging.INFO):
            await process_commands(store, cfg.respond, entries)
        assert await _snapshot(store) == before
        rows = await store.fetchall("SELECT message_id, command, allowed, reason FROM commands")
        events = await store.recent_events()
    assert rows == [
        (
            "b1@x",
            "malformed",
            0,
            "malformed: unknown command 'pleaseretest' (known: retest, not-a-bug)",
        )
    ]
    assert "<b2@x>: a bounce from MAILER-DAEMON" in caplog.text
    assert any(e.message_id == "b2@x" and "bounce" in e.text for e in events)
    assert "<b3@x>: our own reply; skipped" in caplog.text


async def test_hook_bad_input_logged_not_crashing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cfg = config(tmp_path, closed_port())
    no_line = [
        {**seed_findings()[0], "line": None},
        {**seed_findings()[2], "path": "", "line": None},
    ]
    async with await Store.open(tmp_path / "s.sqlite") as store:
        with caplog.at_level(logging.INFO):
            rev, review = await add_reviewed(store, [SEED.read_bytes()], no_line)
            await on_reviewed(store, cfg, rev, review)
            (mail_row,) = await outbox.of_revision(store, rev, outbox.OutboxKind.EMAIL)
            # a series whose author has no address: no mail, the checks still go
            anon = SEED.read_bytes().replace(b"<341b", b"<anon.341b")
            rev2, review2 = await add_reviewed(
                store, [anon], seed_findings(), series_key="anon", submitter="someone"
            )
            await on_reviewed(store, cfg, rev2, review2)
            assert await outbox.of_revision(store, rev2, outbox.OutboxKind.EMAIL) == []
            assert len(await outbox.of_revision(store, rev2, outbox.OutboxKind.CHECK)) == 2
            # a review that is not in the store, a revision mismatch: logged, nothing recorded
            await on_reviewed(store, cfg, rev, 999)
            await on_reviewed(store, cfg, rev2, review)
    body = mail_row.payload["body"]
    assert "[1] error: drivers/iommu/Kconfig [EX006" in body
    assert "[2] error: (the patch as a whole)" in body
    assert "\n> " not in body  # nothing to quote
    assert "EX006 at drivers/iommu/Kconfig has no line: nothing quoted" in caplog.text
    assert "no author address ('someone')" in caplog.text
    assert "review 999: not in the store" in caplog.text
    assert f"review {review} is of revision {rev}, not {rev2}" in caplog.text


async def test_unreadable_outbox_row_fails_alone(tmp_path: Path) -> None:
    from reviewbot.respond.drain import Drainer
    from reviewbot.respond.smtp import SmtpSender

    cfg = config(tmp_path, closed_port())
    async with await Store.open(tmp_path / "s.sqlite") as store:
        now = store.now()
        async with store.transaction() as tx:
            await tx.execute(
                "INSERT INTO outbox (key, kind, payload, not_before, created, updated)"
                " VALUES ('email:bad', 'email', '{\"to\": 1}', ?, ?, ?)",
                (now, now, now),
            )
        drain = Drainer(store, cfg.respond, SmtpSender(cfg.respond.smtp))
        assert await drain.once() == 1
        row = await outbox.get(store, "email:bad")
    assert row is not None and row.state is outbox.OutboxState.FAILED
    assert (row.last_error or "").startswith("unusable:")
