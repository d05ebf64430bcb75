"""Patchwork checks through the outbox, against the schema-validating patchwork fake.

The fake (tests/fakes/patchwork.py) validates every request, POST bodies included, and
every response against shared/data/patchwork/patchwork-api-v1.3.yaml; the fixture fails
the test on any violation.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from reviewbot.config import Config
from reviewbot.ingest.http import Policy
from reviewbot.ingest.patchwork import PatchworkClient
from reviewbot.model import Severity
from reviewbot.respond.checks import Decision, Shown, decide, plan_checks, stage_of
from reviewbot.respond.drain import CheckClient, Drainer
from reviewbot.respond.hook import on_reviewed, on_reviewing
from reviewbot.respond.model import CheckPost, CheckState, PatchInfo, ReplyFinding, Stage
from reviewbot.respond.smtp import SmtpSender
from reviewbot.store import outbox
from reviewbot.store.outbox import OutboxState
from reviewbot.store.store import Store
from tests.fakes.patchwork import PatchworkFake, PatchworkServer
from tests.respond.conftest import closed_port
from tests.respond.seed import DATA, add_reviewed, config, seed_findings

SEED = DATA / "seed-iommufd-driver-tristate.patch"


def test_state_from_worst_finding_per_stage() -> None:
    def f(rule: str, severity: Severity, patch: str = "a@x") -> ReplyFinding:
        return ReplyFinding(rule, "n", severity, patch, "K", 1, "m")

    patches = [PatchInfo("a@x", 1, "one", ""), PatchInfo("b@x", 2, "two", "")]
    findings = [
        f("KC015", Severity.ERROR),
        f("MK001", Severity.WARNING, "b@x"),
        f("EX1", Severity.INFO),
    ]
    posts = {
        (p.patch_message_id, p.context): p
        for p in plan_checks(patches, findings, list(Stage), "rb", "u")
    }
    assert posts["a@x", "rb-kconfig"].state is CheckState.FAIL
    assert posts["a@x", "rb-static"].state is CheckState.SUCCESS  # info only
    assert posts["b@x", "rb-static"].state is CheckState.WARNING
    assert posts["b@x", "rb-build"].state is CheckState.SUCCESS
    assert stage_of("BLD001") is Stage.BUILD and stage_of("EX006") is Stage.STATIC
    final = Shown(CheckState.FAIL, "u", "d")
    assert decide(CheckPost("a", "c", CheckState.PENDING, "u", "d"), final) is Decision.FINAL_KEPT
    assert decide(CheckPost("a", "c", CheckState.FAIL, "u", "d"), final) is Decision.UNCHANGED
    assert decide(CheckPost("a", "c", CheckState.SUCCESS, "u", "d"), final) is Decision.POST


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


def clients(
    session: aiohttp.ClientSession, token: str | None, timeout: float = 5
) -> Callable[[str], CheckClient | None]:
    def make(base_url: str) -> CheckClient | None:
        policy = Policy(retries=0, timeout=timeout, connect_timeout=2)
        return PatchworkClient(base_url, session, token=token, policy=policy)

    return make


async def _reviewed(
    store: Store, pw: PatchworkServer, cfg: Config, findings: list[dict[str, object]] | None = None
) -> tuple[int, int]:
    sid = pw.fake.add_series(SEED.read_bytes())
    rev, review = await add_reviewed(
        store,
        [SEED.read_bytes()],
        seed_findings() if findings is None else findings,
        patchwork_base=pw.base_url,
        patch_ids=pw.fake.series[sid].patches,
    )
    return rev, review


def _posted(pw: PatchworkServer) -> list[tuple[str, str]]:
    return [(c["context"], c["state"]) for c in pw.fake.received_checks]


async def test_checks_posted_once_then_unchanged_skipped(
    tmp_path: Path, patchwork_server: PatchworkServer, session: aiohttp.ClientSession
) -> None:
    cfg = config(tmp_path, closed_port(), 'mode = "checks-only"')
    async with await Store.open(tmp_path / "s.sqlite") as store:
        drain = Drainer(
            store, cfg.respond, SmtpSender(cfg.respond.smtp), clients(session, "fake-token")
        )
        rev, review = await _reviewed(store, patchwork_server, cfg)
        assert await on_reviewing(store, cfg, rev) == 2  # static, kconfig: running
        await drain.once()
        await on_reviewed(store, cfg, rev, review)
        await drain.once()
        assert _posted(patchwork_server) == [
            ("reviewbot-static", "pending"),
            ("reviewbot-kconfig", "pending"),
            ("reviewbot-static", "fail"),
            ("reviewbot-kconfig", "fail"),
        ]
        check = patchwork_server.fake.received_checks[-1]
        assert check["target_url"] == f"https://reviewbot.example/series/{rev}"
        assert check["description"].startswith(check["context"].removeprefix("reviewbot-"))
        # a retest with the same result: recorded (new generation), nothing new posted
        async with store.transaction() as tx:
            await tx.execute("UPDATE revisions SET generation = 1 WHERE id = ?", (rev,))
            cur = await tx.execute(
                "INSERT INTO reviews (revision_id, generation, started, finished, state)"
                " SELECT revision_id, 1, started, finished, state FROM reviews WHERE id = ?",
                (review,),
            )
            again = cur.lastrowid
            await tx.execute(
                "INSERT INTO findings (review_id, patch_message_id, rule, name, severity, path,"
                " line, message, hint, evidence) SELECT ?, patch_message_id, rule, name,"
                " severity, path, line, message, hint, evidence FROM findings WHERE review_id = ?",
                (again, review),
            )
        # pending while the retest runs must not hide the final fail
        assert await on_reviewing(store, cfg, rev) == 0
        assert again is not None
        await on_reviewed(store, cfg, rev, again)
        await drain.once()
        rows = [r for r in await outbox.all_rows(store) if r.kind == "check"]
    assert len(_posted(patchwork_server)) == 4
    assert len(rows) == 6 and all(r.state is OutboxState.SENT for r in rows)
    assert sum("already shows" in (r.last_error or "") for r in rows) == 2
    assert sum(m == "POST" for m, _ in patchwork_server.fake.requests) == 4


async def test_pending_never_over_final_on_patchwork(
    tmp_path: Path, patchwork_server: PatchworkServer, session: aiohttp.ClientSession
) -> None:
    cfg = config(tmp_path, closed_port(), 'mode = "checks-only"')
    async with await Store.open(tmp_path / "s.sqlite") as store:
        drain = Drainer(
            store, cfg.respond, SmtpSender(cfg.respond.smtp), clients(session, "fake-token")
        )
        rev, _review = await _reviewed(store, patchwork_server, cfg)
        # patchwork already shows a final state (posted by an earlier run of the bot)
        pid = patchwork_server.fake.series[1].patches[0]
        client = PatchworkClient(patchwork_server.base_url, session, token="fake-token")
        await client.post_check(pid, "reviewbot-static", "success", "https://x/", "static: ok")
        assert await on_reviewing(store, cfg, rev, tuple(Stage)) == 3
        await drain.once()
        rows = {r.payload["context"]: r for r in await outbox.all_rows(store)}
    assert _posted(patchwork_server) == [
        ("reviewbot-static", "success"),
        ("reviewbot-kconfig", "pending"),
        ("reviewbot-build", "pending"),
    ]
    assert rows["reviewbot-static"].state is OutboxState.CANCELLED
    assert "pending not posted" in (rows["reviewbot-static"].last_error or "")


async def test_read_only_without_token_posts_nothing(
    tmp_path: Path, patchwork_server: PatchworkServer, session: aiohttp.ClientSession
) -> None:
    cfg = config(tmp_path, closed_port(), 'mode = "checks-only"')
    async with await Store.open(tmp_path / "s.sqlite") as store:
        drain = Drainer(store, cfg.respond, SmtpSender(cfg.respond.smtp), clients(session, None))
        rev, review = await _reviewed(store, patchwork_server, cfg)
        await on_reviewed(store, cfg, rev, review)
        await drain.once()
        rows = [r for r in await outbox.all_rows(store) if r.kind == "check"]
    assert patchwork_server.fake.received_checks == []
    assert not any(m == "POST" for m, _ in patchwork_server.fake.requests)
    assert all(r.state is OutboxState.CANCELLED for r in rows)
    assert all("read-only (no token)" in (r.last_error or "") for r in rows)


async def test_403_is_failed_with_a_clear_reason(
    tmp_path: Path,
    patchwork_server: PatchworkServer,
    session: aiohttp.ClientSession,
    caplog: pytest.LogCaptureFixture,
) -> None:
    cfg = config(tmp_path, closed_port(), 'mode = "checks-only"')
    async with await Store.open(tmp_path / "s.sqlite") as store:
        drain = Drainer(store, cfg.respond, SmtpSender(cfg.respond.smtp), clients(session, "wrong"))
        rev, review = await _reviewed(store, patchwork_server, cfg)
        await on_reviewed(store, cfg, rev, review)
        await drain.once()
        assert await drain.once() == 0  # failed for good: not retried
        rows = [r for r in await outbox.all_rows(store) if r.kind == "check"]
    assert patchwork_server.fake.received_checks == []
    assert all(r.state is OutboxState.FAILED for r in rows)
    assert all("403" in (r.last_error or "") and "maintainer" in (r.last_error or "") for r in rows)
    assert "403 forbidden" in caplog.text


async def test_http_5xx_and_timeouts_retried_posted_once(
    tmp_path: Path, aiohttp_server: Any, session: aiohttp.ClientSession
) -> None:
    faults = ["503", "timeout", "500"]

    @web.middleware
    async def flaky(request: web.Request, handler: Any) -> web.StreamResponse:
        if request.method == "POST" and faults:
            fault = faults.pop(0)
            if fault == "timeout":
                await asyncio.sleep(3)
            return web.Response(status=int(fault) if fault.isdigit() else 504)
        response: web.StreamResponse = await handler(request)
        return response

    fake = PatchworkFake()
    fake.app.middlewares.append(flaky)  # inside the validating one: every request checked
    server = await aiohttp_server(fake.app)
    pw = PatchworkServer(fake, str(server.make_url("/")))
    cfg = config(tmp_path, closed_port(), 'mode = "checks-only"')
    async with await Store.open(tmp_path / "s.sqlite") as store:
        clock = [1_800_000_000.0]
        store.clock = lambda: clock[0]
        drain = Drainer(
            store,
            cfg.respond,
            SmtpSender(cfg.respond.smtp),
            clients(session, "fake-token", timeout=1),
            backoff=10,
        )
        rev, review = await _reviewed(store, pw, cfg)
        await on_reviewed(store, cfg, rev, review)
        for _ in range(6):
            await drain.once()
            clock[0] += 3600
        rows = [r for r in await outbox.all_rows(store) if r.kind == "check"]
    assert fake.violations == []
    assert sorted(_posted(pw)) == [("reviewbot-kconfig", "fail"), ("reviewbot-static", "fail")]
    assert all(r.state is OutboxState.SENT for r in rows)
    assert sum(r.attempts for r in rows) == 2 + 3


async def test_patch_filed_on_patchwork_later_gets_its_check(
    tmp_path: Path, patchwork_server: PatchworkServer, session: aiohttp.ClientSession
) -> None:
    cfg = config(tmp_path, closed_port(), 'mode = "checks-only"')
    async with await Store.open(tmp_path / "s.sqlite") as store:
        clock = [1_800_000_000.0]
        store.clock = lambda: clock[0]
        drain = Drainer(
            store, cfg.respond, SmtpSender(cfg.respond.smtp), clients(session, "fake-token")
        )
        rev, review = await add_reviewed(store, [SEED.read_bytes()], seed_findings())
        await on_reviewed(store, cfg, rev, review)
        await drain.once()
        rows = [r for r in await outbox.all_rows(store) if r.kind == "check"]
        assert all(r.state is OutboxState.PENDING for r in rows)
        assert all(r.last_error == "not on patchwork yet" for r in rows)
        sid = patchwork_server.fake.add_series(SEED.read_bytes())
        async with store.transaction() as tx:  # what the patchwork source records
            await tx.execute(
                "INSERT INTO patchwork_patches (message_id, base_url, project, patch_id,"
                " checks_url) VALUES (?, ?, 'linux-kbuild', ?, '')",
                ("341b16560dd2@fixture.reviewbot", patchwork_server.base_url,
                 patchwork_server.fake.series[sid].patches[0]),
            )  # fmt: skip
        clock[0] += 601
        await drain.once()
        rows = [r for r in await outbox.all_rows(store) if r.kind == "check"]
    assert all(r.state is OutboxState.SENT for r in rows)
    assert sorted(_posted(patchwork_server)) == [
        ("reviewbot-kconfig", "fail"),
        ("reviewbot-static", "fail"),
    ]


async def test_patch_never_on_patchwork_is_given_up(tmp_path: Path) -> None:
    cfg = config(tmp_path, closed_port(), 'mode = "checks-only"')
    async with await Store.open(tmp_path / "s.sqlite") as store:
        clock = [1_800_000_000.0]
        store.clock = lambda: clock[0]
        drain = Drainer(store, cfg.respond, SmtpSender(cfg.respond.smtp))
        rev, review = await add_reviewed(store, [SEED.read_bytes()], seed_findings())
        await on_reviewed(store, cfg, rev, review)
        for _ in range(4):
            await drain.once()
            clock[0] += 601
        rows = [r for r in await outbox.all_rows(store) if r.kind == "check"]
    assert all(r.state is OutboxState.CANCELLED for r in rows)
    assert all(r.last_error == "the patch is not on patchwork" for r in rows)
