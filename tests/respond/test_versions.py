"""One reply per series version; v2 says what changed since v1; a quick v2 supersedes v1."""

from __future__ import annotations

from pathlib import Path

from reviewbot.model import Severity
from reviewbot.respond.delta import delta, fingerprint
from reviewbot.respond.drain import Drainer
from reviewbot.respond.hook import on_reviewed
from reviewbot.respond.model import ReplyFinding
from reviewbot.respond.smtp import SmtpSender
from reviewbot.store import outbox
from reviewbot.store.outbox import OutboxState
from reviewbot.store.store import Store
from tests.respond.conftest import SmtpServer
from tests.respond.seed import DATA, add_reviewed, config, seed_findings

V1 = DATA / "seed-iommufd-driver-tristate.patch"
V2 = DATA / "seed-iommufd-driver-tristate-v2.patch"


def _f(rule: str, path: str, message: str) -> ReplyFinding:
    return ReplyFinding(rule, "n", Severity.ERROR, "p@x", path, 3, message)


def test_delta_matches_across_line_moves() -> None:
    before = [_f("KC015", "a/Kconfig", "at line 11: X=m"), _f("EX006", "a/Kconfig", "no license")]
    after = [_f("KC015", "a/Kconfig", "at line 14: X=m"), _f("MK001", "a/Makefile", "new")]
    change = delta(before, after)
    assert [f.rule for f in change.fixed] == ["EX006"]
    assert [f.rule for f in change.still] == ["KC015"]
    assert [f.rule for f in change.new] == ["MK001"]
    # numbers inside identifiers are part of the problem, not a position
    assert fingerprint(_f("KC1", "K", "CONFIG_A1=y")) != fingerprint(_f("KC1", "K", "CONFIG_A2=y"))


async def test_v2_reply_shows_fixed_still_new(tmp_path: Path, smtpd: SmtpServer) -> None:
    cfg = config(tmp_path, smtpd.port)
    drain = None
    async with await Store.open(tmp_path / "s.sqlite") as store:
        drain = Drainer(store, cfg.respond, SmtpSender(cfg.respond.smtp), backoff=0.0)
        rev1, review1 = await add_reviewed(store, [V1.read_bytes()], seed_findings())
        await on_reviewed(store, cfg, rev1, review1)
        await drain.once()
        v2_findings = seed_findings("seed-iommufd-review-v2.json")
        for f in v2_findings:
            f["patch"] = "v2.341b16560dd2@fixture.reviewbot"
        rev2, review2 = await add_reviewed(store, [V2.read_bytes()], v2_findings, version=2)
        await on_reviewed(store, cfg, rev2, review2)
        await drain.once()
    assert len(smtpd.recorder.messages) == 2
    v2 = smtpd.recorder.messages[1]
    assert v2["Subject"] == "Re: [PATCH v2] iommufd: make IOMMUFD_DRIVER tristate"
    assert v2["In-Reply-To"] == "<v2.341b16560dd2@fixture.reviewbot>"
    body = v2.get_content().replace("\r\n", "\n")
    since = body.split("Since v1:\n")[1].split("\n\n")[0]
    assert "fixed:\n    - EX006 module-license-missing in drivers/iommu/Kconfig" in since
    assert "still present:\n    - KC015 kconfig-builtin-calls-modular" in since
    assert "new: none" in since
    assert "[1] error: drivers/iommu/Kconfig:11" in body
    assert "EX006" not in body.split("Since v1:")[1].split("\n\n", 1)[1]


async def test_one_reply_per_version_and_quick_v2_supersedes_v1(
    tmp_path: Path, smtpd: SmtpServer
) -> None:
    cfg = config(tmp_path, smtpd.port, 'mode = "email"\ndelay = 600')
    async with await Store.open(tmp_path / "s.sqlite") as store:
        clock = [1_800_000_000.0]
        store.clock = lambda: clock[0]
        drain = Drainer(store, cfg.respond, SmtpSender(cfg.respond.smtp), backoff=0.0)
        rev1, review1 = await add_reviewed(store, [V1.read_bytes()], seed_findings())
        await on_reviewed(store, cfg, rev1, review1)
        await on_reviewed(store, cfg, rev1, review1)  # called twice: one row
        await drain.once()
        assert smtpd.recorder.messages == []  # held for the delay
        clock[0] += 300  # v2 arrives within the delay
        rev2, review2 = await add_reviewed(
            store, [V2.read_bytes()], seed_findings("seed-iommufd-review-v2.json"), version=2
        )
        await on_reviewed(store, cfg, rev2, review2)
        clock[0] += 601
        await drain.once()
        rows = {r.key: r for r in await outbox.all_rows(store) if r.kind == "email"}
    assert len(smtpd.recorder.messages) == 1
    assert smtpd.recorder.messages[0]["In-Reply-To"] == "<v2.341b16560dd2@fixture.reviewbot>"
    assert rows[f"email:{rev1}:0"].state is OutboxState.CANCELLED
    assert rows[f"email:{rev1}:0"].last_error == "superseded by v2"
    assert rows[f"email:{rev2}:0"].state is OutboxState.SENT


async def test_later_generation_of_an_answered_version_sends_nothing(
    tmp_path: Path, smtpd: SmtpServer
) -> None:
    cfg = config(tmp_path, smtpd.port)
    async with await Store.open(tmp_path / "s.sqlite") as store:
        drain = Drainer(store, cfg.respond, SmtpSender(cfg.respond.smtp), backoff=0.0)
        rev, review = await add_reviewed(store, [V1.read_bytes()], seed_findings())
        await on_reviewed(store, cfg, rev, review)
        await drain.once()
        # a retest: the same revision reviewed again at generation 1
        async with store.transaction() as tx:
            cur = await tx.execute(
                "INSERT INTO reviews (revision_id, generation, started, finished, state)"
                " VALUES (?, 1, '', '', 'done')",
                (rev,),
            )
            again = cur.lastrowid
        assert again is not None
        await on_reviewed(store, cfg, rev, again)
        await drain.once()
    assert len(smtpd.recorder.messages) == 1


async def test_late_generation_replaces_a_pending_mail(tmp_path: Path, smtpd: SmtpServer) -> None:
    cfg = config(tmp_path, smtpd.port, 'mode = "email"\ndelay = 600')
    async with await Store.open(tmp_path / "s.sqlite") as store:
        clock = [1_800_000_000.0]
        store.clock = lambda: clock[0]
        drain = Drainer(store, cfg.respond, SmtpSender(cfg.respond.smtp), backoff=0.0)
        rev, review = await add_reviewed(store, [V1.read_bytes()], seed_findings())
        await on_reviewed(store, cfg, rev, review)
        async with store.transaction() as tx:  # a late part: generation 1, reviewed again
            cur = await tx.execute(
                "INSERT INTO reviews (revision_id, generation, started, finished, state)"
                " VALUES (?, 1, '', '', 'done')",
                (rev,),
            )
            again = cur.lastrowid
            await tx.execute(
                "INSERT INTO findings (review_id, patch_message_id, rule, name, severity,"
                " path, line, message) SELECT ?, patch_message_id, rule, name, severity, path,"
                " line, message FROM findings WHERE review_id = ? AND rule = 'KC015'",
                (again, review),
            )
        assert again is not None
        await on_reviewed(store, cfg, rev, again)
        clock[0] += 601
        await drain.once()
        rows = {r.key: r for r in await outbox.all_rows(store) if r.kind == "email"}
    assert rows[f"email:{rev}:0"].state is OutboxState.CANCELLED
    assert rows[f"email:{rev}:0"].last_error == "replaced by generation 1"
    assert rows[f"email:{rev}:1"].state is OutboxState.SENT
    (sent,) = smtpd.recorder.messages
    assert "EX006" not in sent.get_content() and "KC015" in sent.get_content()


async def test_list_switched_to_dry_run_stops_its_pending_mail(
    tmp_path: Path, smtpd: SmtpServer
) -> None:
    cfg = config(tmp_path, smtpd.port)
    async with await Store.open(tmp_path / "s.sqlite") as store:
        rev, review = await add_reviewed(store, [V1.read_bytes()], seed_findings())
        await on_reviewed(store, cfg, rev, review)
        quiet = config(tmp_path, smtpd.port, policy='mode = "dry-run"')
        await Drainer(store, quiet.respond, SmtpSender(quiet.respond.smtp)).once()
        (row,) = await outbox.of_revision(store, rev, outbox.OutboxKind.EMAIL)
    assert row.state is OutboxState.CANCELLED and row.last_error == "policy is now dry-run"
    assert smtpd.recorder.messages == []
