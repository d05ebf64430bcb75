"""A small patchwork (REST API 1.3) fake: an aiohttp app whose every answer follows the schema.

It serves projects, events (category, project, since inclusive, before, page/per_page
with a `Link` header), series, patches, series and patch mboxes (web URLs, as patchwork
has them), and checks (GET; POST with `Authorization: Token ...`). A middleware
validates every API request (query and body) and every API response against
shared/data/patchwork/patchwork-api-v1.3.yaml; a violation becomes a 500 and is kept in
`fake.violations`, which the `patchwork_fake` fixture asserts empty at teardown.

Where the schema and real patchwork disagree the fake follows the schema: a series
without a cover letter has no `cover_letter` key (patchwork sends null, which the
schema's CoverEmbedded does not allow); clients must accept both.

    fake = PatchworkFake()
    sid = fake.add_series(mbox_bytes)            # patches, cover, a series-completed event
    fake.missing_series.add(sid)                 # its API object now answers 404
    server = await aiohttp_server(fake.app)      # base_url: str(server.make_url("/"))
"""

from __future__ import annotations

import email.utils
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from yarl import URL

from reviewbot.mail.mbox import split_mbox
from reviewbot.mail.parse import parse_mail
from tests.fakes.openapi import OpenApi, OpenApiError, load

SPEC = Path(__file__).resolve().parents[1] / "data/patchwork/patchwork-api-v1.3.yaml"
API = "/api/1.3"


@dataclass
class _Patch:
    id: int
    msgid: str
    name: str
    date: str
    raw: bytes
    submitter: tuple[str, str]
    series_id: int
    checks: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class _Series:
    id: int
    name: str
    version: int
    total: int
    date: str
    submitter: tuple[str, str]
    patches: list[int]
    cover_msgid: str | None
    cover_raw: bytes | None


class PatchworkFake:
    """The state of one fake patchwork with one project; `app` serves it."""

    def __init__(
        self,
        spec: Path = SPEC,
        token: str = "fake-token",
        link_name: str = "linux-kbuild",
        list_id: str = "linux-kbuild.vger.kernel.org",
    ) -> None:
        self.openapi: OpenApi = load(spec)
        self.token = token
        self.link_name = link_name
        self.list_id = list_id
        self.series: dict[int, _Series] = {}
        self.patches: dict[int, _Patch] = {}
        self.events: list[dict[str, Any]] = []
        self.missing_series: set[int] = set()
        self.failing_series: set[int] = set()  # their API object answers a plain-text 500
        self.violations: list[str] = []
        self.requests: list[tuple[str, str]] = []  # (method, path_qs), for assertions
        self.received_checks: list[dict[str, Any]] = []
        self._clock = datetime(2026, 1, 1, tzinfo=UTC)
        self.app = web.Application(middlewares=[self._validate])
        r = self.app.router
        for suffix in ("", "/"):
            r.add_get(f"{API}/projects{suffix}", self._projects)
            r.add_get(API + "/projects/{id}" + suffix, self._project)
            r.add_get(f"{API}/events{suffix}", self._events)
            r.add_get(API + "/series/{id}" + suffix, self._series)
            r.add_get(API + "/patches/{id}" + suffix, self._patch)
            r.add_get(API + "/patches/{patch_id}/checks" + suffix, self._checks)
            r.add_post(API + "/patches/{patch_id}/checks" + suffix, self._post_check)
        r.add_get("/series/{id}/mbox/", self._series_mbox)
        r.add_get("/patch/{id}/mbox/", self._patch_mbox)

    # -- filling it ------------------------------------------------------------------

    def tick(self, seconds: float = 1.0) -> str:
        self._clock += timedelta(seconds=seconds)
        return self._clock.strftime("%Y-%m-%dT%H:%M:%S")

    def add_series(self, mbox: bytes, date: str | None = None) -> int:
        """Add a series from an mbox (cover letter 0/n first if any); returns its id."""
        messages = [parse_mail(raw) for raw in split_mbox(mbox, "fake")]
        if not messages:
            raise ValueError("an empty mbox")
        date = date or self.tick()
        sid = len(self.series) + 1
        cover = next((m for m in messages if m.tags.number == 0 and not m.has_patch), None)
        raws = {
            m.message_id: raw.data
            for m, raw in zip(messages, split_mbox(mbox, "fake"), strict=True)
        }
        patches = [m for m in messages if m.has_patch]
        head = cover or patches[0]
        submitter = _person(head.sender)
        series = _Series(
            id=sid,
            name=head.tags.name or head.subject,
            version=head.tags.version,
            total=head.tags.total or len(patches),
            date=date,
            submitter=submitter,
            patches=[],
            cover_msgid=cover.message_id if cover else None,
            cover_raw=raws[cover.message_id] if cover else None,
        )
        self.series[sid] = series
        for message in patches:
            pid = len(self.patches) + 1
            self.patches[pid] = _Patch(
                id=pid,
                msgid=message.message_id,
                name=message.subject,
                date=date,
                raw=raws[message.message_id],
                submitter=_person(message.sender),
                series_id=sid,
            )
            series.patches.append(pid)
        self.events.append(
            {
                "id": len(self.events) + 1,
                "category": "series-completed",
                "date": date,
                "series": sid,
            }
        )
        return sid

    # -- validation ------------------------------------------------------------------

    @web.middleware
    async def _validate(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        self.requests.append((request.method, request.path_qs))
        if not request.path.startswith(API):
            return await handler(request)
        try:
            body = await _request_body(request)
            request["body"] = body
            self.openapi.validate_request(
                request.method, request.path, request.query, body, request.content_type
            )
        except OpenApiError as exc:
            self.violations.append(f"request: {exc}")
            return web.json_response({"detail": str(exc)}, status=400)
        response = await handler(request)
        injected = response.status == 500 and response.content_type != "application/json"
        if isinstance(response, web.Response) and response.body is not None and not injected:
            try:
                data = json.loads(bytes(response.body))  # type: ignore[arg-type]
                self.openapi.validate_response(
                    request.method, request.path, response.status, response.content_type, data
                )
            except (OpenApiError, ValueError) as exc:
                self.violations.append(f"response: {exc}")
                return web.json_response({"detail": "fake broke the schema"}, status=500)
        return response

    # -- rendering -------------------------------------------------------------------

    def _base(self, request: web.Request) -> URL:
        return request.url.origin()

    def _project_json(self, request: web.Request, embedded: bool = True) -> dict[str, Any]:
        base = self._base(request)
        out: dict[str, Any] = {
            "id": 1,
            "url": str(base / "api/1.3/projects/1/"),
            "name": self.link_name,
            "link_name": self.link_name,
            "list_id": self.list_id,
            "list_email": self.list_id.replace(".", "@", 1),
            "web_url": str(base / f"project/{self.link_name}/"),
            "scm_url": "https://git.kernel.org/pub/scm/linux/kernel/git/masahiroy/linux-kbuild.git",
            "webscm_url": "https://git.kernel.org/",
            "list_archive_url": "https://lore.kernel.org/linux-kbuild/",
            "list_archive_url_format": "https://lore.kernel.org/r/{}",
            "commit_url_format": "",
        }
        if not embedded:
            out["maintainers"] = []
            out["subject_match"] = ""
        return out

    def _person_json(self, request: web.Request, person: tuple[str, str]) -> dict[str, Any]:
        name, email = person
        pid = abs(hash(email)) % 10000 + 1
        return {
            "id": pid,
            "url": str(self._base(request) / f"api/1.3/people/{pid}/"),
            "name": name or email,
            "email": email,
        }

    def _series_embedded(self, request: web.Request, series: _Series) -> dict[str, Any]:
        base = self._base(request)
        return {
            "id": series.id,
            "url": str(base / f"api/1.3/series/{series.id}/"),
            "web_url": str((base / f"project/{self.link_name}/list/").with_query(series=series.id)),
            "name": series.name,
            "date": series.date,
            "version": series.version,
            "mbox": str(base / f"series/{series.id}/mbox/"),
        }

    def _patch_embedded(self, request: web.Request, patch: _Patch) -> dict[str, Any]:
        base = self._base(request)
        return {
            "id": patch.id,
            "url": str(base / f"api/1.3/patches/{patch.id}/"),
            "web_url": str(base / f"project/{self.link_name}/patch/{patch.msgid}/"),
            "msgid": f"<{patch.msgid}>",
            "list_archive_url": f"https://lore.kernel.org/r/{patch.msgid}",
            "date": patch.date,
            "name": patch.name,
            "mbox": str(base / f"patch/{patch.id}/mbox/"),
        }

    def _check_json(
        self, request: web.Request, patch_id: int, check: dict[str, Any]
    ) -> dict[str, Any]:
        base = self._base(request)
        return {
            "id": check["id"],
            "url": str(base / f"api/1.3/patches/{patch_id}/checks/{check['id']}/"),
            "user": {
                "id": 1,
                "url": str(base / "api/1.3/users/1/"),
                "username": "reviewbot",
                "first_name": "",
                "last_name": "",
                "email": "reviewbot@example.org",
            },
            "date": check["date"],
            "state": check["state"],
            "target_url": check.get("target_url"),
            "context": check.get("context", "default"),
            "description": check.get("description"),
        }

    # -- handlers ----------------------------------------------------------------------

    async def _projects(self, request: web.Request) -> web.Response:
        return web.json_response([self._project_json(request, embedded=False)])

    async def _project(self, request: web.Request) -> web.Response:
        if request.match_info["id"] not in ("1", self.link_name):
            return _not_found()
        return web.json_response(self._project_json(request, embedded=False))

    async def _events(self, request: web.Request) -> web.Response:
        query = request.query
        items = list(self.events)
        if "project" in query and query["project"] not in ("1", self.link_name):
            items = []
        if "category" in query:
            items = [e for e in items if e["category"] == query["category"]]
        if "since" in query:
            since = _when(query["since"])
            items = [e for e in items if _when(e["date"]) >= since]  # inclusive, as patchwork
        if "before" in query:
            before = _when(query["before"])
            items = [e for e in items if _when(e["date"]) < before]
        reverse = query.get("order", "-date").startswith("-")
        items.sort(key=lambda e: (e["date"], e["id"]), reverse=reverse)
        rows, links = _paginate(request, items)
        body = [self._event_json(request, e) for e in rows]
        return web.json_response(body, headers=links)

    def _event_json(self, request: web.Request, event: dict[str, Any]) -> dict[str, Any]:
        series = self.series[event["series"]]
        return {
            "id": event["id"],
            "category": event["category"],
            "project": self._project_json(request),
            "date": event["date"],
            "actor": None,
            "payload": {"series": self._series_embedded(request, series)},
        }

    async def _series(self, request: web.Request) -> web.Response:
        sid = _int(request.match_info["id"])
        series = self.series.get(sid or -1)
        if series is None or series.id in self.missing_series:
            return _not_found()
        if series.id in self.failing_series:
            return web.Response(status=500, text="Internal Server Error")
        base = self._base(request)
        out = self._series_embedded(request, series)
        out.update(
            {
                "project": self._project_json(request),
                "submitter": self._person_json(request, series.submitter),
                "total": series.total,
                "received_total": len(series.patches),
                "received_all": len(series.patches) >= series.total,
                "patches": [self._patch_embedded(request, self.patches[p]) for p in series.patches],
            }
        )
        if series.cover_msgid:
            out["cover_letter"] = {
                "id": series.id,
                "url": str(base / f"api/1.3/covers/{series.id}/"),
                "web_url": str(base / f"project/{self.link_name}/cover/{series.cover_msgid}/"),
                "msgid": f"<{series.cover_msgid}>",
                "list_archive_url": f"https://lore.kernel.org/r/{series.cover_msgid}",
                "date": series.date,
                "name": series.name,
                "mbox": str(base / f"cover/{series.id}/mbox/"),
            }
        return web.json_response(out)

    async def _patch(self, request: web.Request) -> web.Response:
        patch = self.patches.get(_int(request.match_info["id"]) or -1)
        if patch is None:
            return _not_found()
        base = self._base(request)
        out = self._patch_embedded(request, patch)
        out.update(
            {
                "project": self._project_json(request),
                "commit_ref": None,
                "pull_url": None,
                "state": "new",
                "archived": False,
                "hash": f"{abs(hash(patch.raw)):040x}"[-40:],
                "submitter": self._person_json(request, patch.submitter),
                "delegate": None,
                "series": [self._series_embedded(request, self.series[patch.series_id])],
                "comments": str(base / f"api/1.3/patches/{patch.id}/comments/"),
                "check": _combined([c["state"] for c in patch.checks]),
                "checks": str(base / f"api/1.3/patches/{patch.id}/checks/"),
                "tags": {},
                "related": [],
                "headers": {},
                "content": patch.raw.decode("utf-8", "replace"),
                "diff": patch.raw.decode("utf-8", "replace"),
                "prefixes": [],
            }
        )
        return web.json_response(out)

    async def _checks(self, request: web.Request) -> web.Response:
        pid = _int(request.match_info["patch_id"]) or -1
        patch = self.patches.get(pid)
        if patch is None:
            return _not_found()
        rows, links = _paginate(request, patch.checks)
        return web.json_response([self._check_json(request, pid, c) for c in rows], headers=links)

    async def _post_check(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Token {self.token}":
            return web.json_response(
                {"detail": "You do not have permission to perform this action."}, status=403
            )
        pid = _int(request.match_info["patch_id"]) or -1
        patch = self.patches.get(pid)
        if patch is None:
            return _not_found()
        body = request["body"]
        assert isinstance(body, dict)
        self.received_checks.append({"patch": pid, **body})
        check = {
            "id": sum(len(p.checks) for p in self.patches.values()) + 1,
            "date": self.tick(),
            **body,
        }
        patch.checks.append(check)
        return web.json_response(self._check_json(request, pid, check), status=201)

    async def _series_mbox(self, request: web.Request) -> web.Response:
        series = self.series.get(_int(request.match_info["id"]) or -1)
        if series is None or series.id in self.missing_series:
            return web.Response(
                status=404, text="<html><body>Not found</body></html>", content_type="text/html"
            )
        parts = [series.cover_raw] if series.cover_raw else []
        parts += [self.patches[p].raw for p in series.patches]
        return _mbox_response(parts)

    async def _patch_mbox(self, request: web.Request) -> web.Response:
        patch = self.patches.get(_int(request.match_info["id"]) or -1)
        if patch is None:
            return web.Response(status=404, text="Not found")
        return _mbox_response([patch.raw])


def _mbox_response(parts: list[bytes]) -> web.Response:
    out = bytearray()
    for raw in parts:
        out += b"From patchwork Thu Jan  1 00:00:00 2026\n"
        for line in raw.split(b"\n"):
            stripped = line.lstrip(b">")
            out += (b">" + line if stripped.startswith(b"From ") else line) + b"\n"
        out += b"\n"
    return web.Response(body=bytes(out), content_type="text/plain", charset="utf-8")


def _person(sender: str) -> tuple[str, str]:
    name, addr = email.utils.parseaddr(sender)
    return name, addr or "unknown@example.org"


def _combined(states: list[str]) -> str:
    for state in ("fail", "warning", "success"):
        if state in states:
            return state
    return "pending"


def _int(text: str) -> int | None:
    return int(text) if text.isdigit() else None


def _when(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _not_found() -> web.Response:
    return web.json_response({"detail": "Not found."}, status=404)


async def _request_body(request: web.Request) -> Any | None:
    if not request.can_read_body:
        return None
    if request.content_type == "application/json":
        return await request.json()
    form = await request.post()
    return {k: str(v) for k, v in form.items()}


def _paginate(request: web.Request, items: list[Any]) -> tuple[list[Any], dict[str, str]]:
    page = _int(request.query.get("page", "1")) or 1
    per_page = min(_int(request.query.get("per_page", "30")) or 30, 250)
    start = (page - 1) * per_page
    rows = items[start : start + per_page]
    links = []
    if start + per_page < len(items):
        links.append(f'<{request.url.update_query(page=page + 1)}>; rel="next"')
    if page > 1:
        links.append(f'<{request.url.update_query(page=page - 1)}>; rel="prev"')
    return rows, ({"Link": ", ".join(links)} if links else {})


@dataclass
class PatchworkServer:
    """A running fake: its state and the base URL clients take."""

    fake: PatchworkFake
    base_url: str


@pytest.fixture
async def patchwork_server(aiohttp_server: Any) -> AsyncIterator[PatchworkServer]:
    """A fake patchwork on 127.0.0.1; fails the test if it ever broke the schema."""
    fake = PatchworkFake()
    server = await aiohttp_server(fake.app)
    yield PatchworkServer(fake, str(server.make_url("/")))
    assert fake.violations == [], fake.violations
