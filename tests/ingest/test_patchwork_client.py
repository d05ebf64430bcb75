"""The patchwork client against the schema-validated fake, and the HTTP helper's manners."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from reviewbot.errors import PatchworkForbidden, RemoteError
from reviewbot.ingest.http import USER_AGENT, Http, Policy
from reviewbot.ingest.patchwork import CheckState, NotFound, PatchworkClient
from reviewbot.mail.mbox import split_mbox
from reviewbot.mail.parse import parse_mail
from tests.fakes.openapi import OpenApiError, load
from tests.fakes.patchwork import SPEC, PatchworkServer

SERIES = Path(__file__).resolve().parents[1] / "data" / "series"


def _mbox(name: str) -> bytes:
    return (SERIES / name).read_bytes()


async def test_events_since_is_inclusive_and_pages_are_followed(
    patchwork_server: PatchworkServer,
) -> None:
    fake = patchwork_server.fake
    ids = [
        fake.add_series(_mbox("base-single-patch.mbox"), date=f"2026-01-01T00:00:0{i}")
        for i in range(5)
    ]
    async with aiohttp.ClientSession() as session:
        client = PatchworkClient(patchwork_server.base_url, session)
        events = await client.events("linux-kbuild", since="2026-01-01T00:00:02", per_page=2)
    assert [e.series_id for e in events] == ids[2:]  # inclusive, oldest first
    assert [e.date for e in events] == sorted(e.date for e in events)
    pages = [q for m, q in fake.requests if q.startswith("/api/1.3/events/")]
    assert len(pages) == 2  # 3 events, 2 per page: the Link rel="next" was followed


async def test_series_and_its_mbox(patchwork_server: PatchworkServer) -> None:
    fake = patchwork_server.fake
    sid = fake.add_series(_mbox("base-cover-letter.mbox"))
    async with aiohttp.ClientSession() as session:
        client = PatchworkClient(patchwork_server.base_url, session)
        series = await client.series(sid)
        mbox = await client.mbox(series.mbox)
    assert series.total == len(series.patches) > 1
    assert series.cover_msgid is not None
    ids = [parse_mail(raw).message_id for raw in split_mbox(mbox, "pw")]
    assert ids[0] == series.cover_msgid
    assert ids[1:] == [p.msgid for p in series.patches]


async def test_series_that_is_gone_is_not_found(patchwork_server: PatchworkServer) -> None:
    fake = patchwork_server.fake
    sid = fake.add_series(_mbox("base-single-patch.mbox"))
    fake.missing_series.add(sid)
    async with aiohttp.ClientSession() as session:
        client = PatchworkClient(patchwork_server.base_url, session)
        with pytest.raises(NotFound):
            await client.series(sid)


async def test_post_check_with_token_then_list(patchwork_server: PatchworkServer) -> None:
    fake = patchwork_server.fake
    fake.add_series(_mbox("base-single-patch.mbox"))
    async with aiohttp.ClientSession() as session:
        client = PatchworkClient(patchwork_server.base_url, session, token=fake.token)
        posted = await client.post_check(
            1, "reviewbot-kconfig", CheckState.WARNING, "https://bot.example/series/7", "1 warning"
        )
        checks = await client.checks(1)
    assert posted.state is CheckState.WARNING
    assert [(c.context, c.state, c.target_url) for c in checks] == [
        ("reviewbot-kconfig", CheckState.WARNING, "https://bot.example/series/7")
    ]
    assert fake.received_checks[0]["description"] == "1 warning"


async def test_post_check_read_only_sends_nothing(patchwork_server: PatchworkServer) -> None:
    fake = patchwork_server.fake
    fake.add_series(_mbox("base-single-patch.mbox"))
    async with aiohttp.ClientSession() as session:
        client = PatchworkClient(patchwork_server.base_url, session)
        with pytest.raises(PatchworkForbidden, match="read-only"):
            await client.post_check(1, "reviewbot", "success", None, None)
    assert not any(method == "POST" for method, _ in fake.requests)


async def test_post_check_with_a_wrong_token_is_forbidden(
    patchwork_server: PatchworkServer,
) -> None:
    patchwork_server.fake.add_series(_mbox("base-single-patch.mbox"))
    async with aiohttp.ClientSession() as session:
        client = PatchworkClient(patchwork_server.base_url, session, token="wrong")
        with pytest.raises(PatchworkForbidden, match="403"):
            await client.post_check(1, "reviewbot", "fail", None, "x")
    assert patchwork_server.fake.received_checks == []


def test_the_fake_validator_rejects_what_the_schema_forbids() -> None:
    api = load(SPEC)
    good = {"id": 1, "state": "success", "context": "ok", "target_url": None, "description": None}
    api.validate_response("GET", "/api/1.3/patches/1/checks/", 200, "application/json", [good])
    with pytest.raises(OpenApiError, match="state"):
        bad = {**good, "state": "passed"}
        api.validate_response("GET", "/api/1.3/patches/1/checks/", 200, "application/json", [bad])
    with pytest.raises(OpenApiError, match="context"):
        body = {"state": "success", "context": "has spaces"}
        api.validate_request("POST", "/api/1.3/patches/1/checks/", {}, body, "application/json")
    with pytest.raises(OpenApiError, match="category"):
        api.validate_request("GET", "/api/1.3/events/", {"category": "nope"}, None, "")


async def test_http_backs_off_honours_retry_after_and_says_who_it_is(
    aiohttp_server: object,
) -> None:
    seen: list[str] = []

    async def flaky(request: web.Request) -> web.Response:
        seen.append(request.headers.get("User-Agent", ""))
        if len(seen) == 1:
            return web.Response(status=429, headers={"Retry-After": "7"})
        if len(seen) == 2:
            return web.Response(status=503)
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/", flaky)
    server = await aiohttp_server(app)  # type: ignore[operator]
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    async with aiohttp.ClientSession() as session:
        http = Http(session, Policy(retries=3, backoff=2.0), sleep=sleep)
        response = await http.get(str(server.make_url("/")))
        assert response.text() == "ok"
        assert sleeps[0] == 7.0 and 0.0 <= sleeps[1] <= 4.0
        assert seen == [USER_AGENT] * 3


async def test_http_gives_up_with_the_reason(unused_tcp_port: int) -> None:
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    async with aiohttp.ClientSession() as session:
        http = Http(session, Policy(retries=2), sleep=sleep)
        with pytest.raises(RemoteError, match="after 3 tries"):
            await http.get(f"http://127.0.0.1:{unused_tcp_port}/")
    assert len(sleeps) == 2
