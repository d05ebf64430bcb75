"""A reviewed seed defect reaches a real SMTP server as a threaded, wrapped, useful reply."""

from __future__ import annotations

from pathlib import Path

from reviewbot.config import Config
from reviewbot.respond.drain import Drainer
from reviewbot.respond.hook import on_reviewed
from reviewbot.respond.smtp import SmtpSender
from reviewbot.store import outbox
from reviewbot.store.outbox import OutboxState
from reviewbot.store.store import Store
from tests.respond.conftest import SmtpServer
from tests.respond.seed import DATA, add_reviewed, config, seed_findings

SEED = DATA / "seed-iommufd-driver-tristate.patch"
SEED_ID = "341b16560dd2@fixture.reviewbot"


def drainer(store: Store, cfg: Config) -> Drainer:
    return Drainer(store, cfg.respond, SmtpSender(cfg.respond.smtp), backoff=0.0)


async def test_seed_reply_headers_threading_wrapping_body(
    tmp_path: Path, smtpd: SmtpServer
) -> None:
    cfg = config(tmp_path, smtpd.port, 'mode = "email"\ncc = ["linux-kbuild@vger.kernel.org"]')
    async with await Store.open(tmp_path / "s.sqlite") as store:
        revision, review = await add_reviewed(store, [SEED.read_bytes()], seed_findings())
        await on_reviewed(store, cfg, revision, review)
        assert await drainer(store, cfg).once() == 3  # the mail, a static and a kconfig check
        assert await drainer(store, cfg).once() == 0  # nothing left: each tried once
        rows = await outbox.all_rows(store)
    assert [r.state for r in rows if r.kind == "email"] == [OutboxState.SENT]
    assert len(smtpd.recorder.messages) == 1
    mail = smtpd.recorder.messages[0]
    # headers and threading
    assert mail["Subject"] == "Re: [PATCH] iommufd: make IOMMUFD_DRIVER tristate"
    assert mail["In-Reply-To"] == f"<{SEED_ID}>"
    assert mail["References"] == f"<{SEED_ID}>"
    assert mail["To"] == "Fixture Author <author@example.org>"
    assert mail["Cc"] == "linux-kbuild@vger.kernel.org"
    assert mail["From"] == "reviewbot <bot@reviewbot.example>"
    assert mail["X-Reviewbot"].startswith("0.")
    assert mail["Auto-Submitted"] == "auto-generated"
    assert mail["X-Patchwork-Hint"] == "ignore"
    assert [mail["Message-ID"]] == [r.payload["message_id"] for r in rows if r.kind == "email"]
    assert mail.get_content_type() == "text/plain"
    envelope_from, rcpts = smtpd.recorder.envelopes[0]
    assert envelope_from == "bot@reviewbot.example"
    assert sorted(rcpts) == ["author@example.org", "linux-kbuild@vger.kernel.org"]
    body = mail.get_content().replace("\r\n", "\n")  # CRLF on the wire
    # wrapping: prose at 72; quoted code, tags and unbreakable tokens may be longer
    for line in body.splitlines():
        if len(line) > 72 and not line.startswith(("Closes: ", "Reported-by: ")):
            assert line.startswith("> ") or " " not in line.strip().removesuffix(" \\"), line
    # content: each finding at or above warning, with its hunk, what goes wrong, config, fix
    assert body.startswith("Hi Fixture,\n")
    assert "[reviewbot]" in body
    assert "error: drivers/iommu/Kconfig:11 [EX006 module-license-missing]" in body
    assert "[2] error: drivers/iommu/Kconfig:11\n    [KC015 kconfig-builtin-calls-modular]" in body
    assert "KC014" not in body  # info: below the list's min_severity (on the page)
    assert "> -\tbool" in body and "> +\ttristate" in body
    assert "missing MODULE_LICENSE() in" in body
    assert "Configuration (x86_64): CONFIG_ETHERNET=y CONFIG_IOMMUFD=y" in body
    assert "CONFIG_IOMMUFD_DRIVER=m" in body
    assert "(the lines quoted in [1])" in body  # one hunk, two findings: quoted once
    assert 'How to fix: add MODULE_LICENSE("GPL")' in body
    flat = " ".join(body.split())
    assert "1 less severe note is on the series page" in flat
    # reproduce, tags, link
    joined = body.replace(" \\\n      ", " ")
    assert (
        "$ reviewbot check --list linux-kbuild.vger.kernel.org --arch x86_64 --arch arm64"
        " series.mbox" in joined
    )
    assert f"https://lore.kernel.org/all/{SEED_ID}/t.mbox.gz" in body
    assert "base: linux-source-6.12 (the default tree" in body
    assert "x86_64 (gcc)" in body and "arm64 (aarch64-linux-gnu-gcc)" in body
    assert "Reported-by: reviewbot <bot@reviewbot.example>" in body
    closes = mail["Message-ID"].strip("<>")
    assert f"Closes: https://lore.kernel.org/all/{closes}/" in body
    assert f"Details: https://reviewbot.example/series/{revision}" in body
    assert body.endswith("-- \nreviewbot 0.1.0, an automated reviewer [reviewbot]\n")


async def test_clean_series_gets_no_mail_unless_asked(tmp_path: Path, smtpd: SmtpServer) -> None:
    info_only = [f for f in seed_findings() if f["severity"] == "info"]
    cfg = config(tmp_path, smtpd.port)
    async with await Store.open(tmp_path / "s.sqlite") as store:
        revision, review = await add_reviewed(store, [SEED.read_bytes()], info_only)
        await on_reviewed(store, cfg, revision, review)
        await drainer(store, cfg).once()
    assert smtpd.recorder.messages == []
    cfg = config(tmp_path, smtpd.port, 'mode = "email"\nmail_clean = true')
    async with await Store.open(tmp_path / "t.sqlite") as store:
        revision, review = await add_reviewed(store, [SEED.read_bytes()], info_only)
        await on_reviewed(store, cfg, revision, review)
        await drainer(store, cfg).once()
    assert len(smtpd.recorder.messages) == 1
    assert "found no problems" in smtpd.recorder.messages[0].get_content()


async def test_dry_run_default_records_but_never_sends(tmp_path: Path, smtpd: SmtpServer) -> None:
    cfg = config(tmp_path, smtpd.port, policy="")
    async with await Store.open(tmp_path / "s.sqlite") as store:
        revision, review = await add_reviewed(store, [SEED.read_bytes()], seed_findings())
        await on_reviewed(store, cfg, revision, review)
        await drainer(store, cfg).once()
        rows = await outbox.all_rows(store)
    assert smtpd.recorder.messages == []
    mails = [r for r in rows if r.kind == "email"]
    assert len(mails) == 1 and mails[0].state is OutboxState.CANCELLED
    assert mails[0].last_error == "dry-run: recorded, not sent"
    assert "EX006" in mails[0].payload["body"]  # what would have been sent is readable


async def test_series_summary_replies_to_cover_letter(tmp_path: Path, smtpd: SmtpServer) -> None:
    from tests.respond.seed import mail

    cover = mail("cover@x", "[PATCH 0/2] iommufd: tristate", "Two patches.\n")
    seed = SEED.read_text()
    one = seed.replace("Subject: [PATCH] iommufd", "Subject: [PATCH 1/2] iommufd").replace(
        "Message-ID: <341b16560dd2@fixture.reviewbot>",
        "Message-ID: <p1@x>\nIn-Reply-To: <cover@x>\nReferences: <cover@x>",
    )
    two = one.replace("[PATCH 1/2]", "[PATCH 2/2]").replace("<p1@x>", "<p2@x>")
    findings = [{**f, "patch": "p1@x"} for f in seed_findings()]
    cfg = config(tmp_path, smtpd.port)
    async with await Store.open(tmp_path / "s.sqlite") as store:
        revision, review = await add_reviewed(
            store, [one.encode(), two.encode()], findings, cover=cover
        )
        await on_reviewed(store, cfg, revision, review)
        await drainer(store, cfg).once()
    sent = smtpd.recorder.messages[0]
    assert sent["In-Reply-To"] == "<cover@x>"
    assert sent["Subject"] == "Re: [PATCH 0/2] iommufd: tristate"
    body = sent.get_content().replace("\r\n", "\n")
    assert "I checked this series (v1)" in " ".join(body.split())
    assert "in [PATCH 1/2] iommufd: make IOMMUFD_DRIVER tristate" in body
