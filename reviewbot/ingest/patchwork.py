"""A patchwork REST API 1.3 client: events, series, patches, mboxes, and checks (read and post).

`PatchworkClient(base_url, session, token=None)`: base_url is the site root
(https://patchwork.kernel.org); the API lives under /api/1.3/. Without a token the client
is read-only: `post_check` raises PatchworkForbidden without sending anything, as it does
when patchwork answers 403. Lists follow `Link: <...>; rel="next"` to the end (bounded).
Everything patchwork answers is checked for shape; HTML or garbage is a RemoteError, a
404 is NotFound (a RemoteError with status 404), and the caller decides what that means.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from urllib.parse import urljoin

import aiohttp

from reviewbot.errors import PatchworkForbidden, RemoteError
from reviewbot.ingest.http import Http, Policy, Response

log = logging.getLogger(__name__)

API = "api/1.3/"
MAX_PAGES = 200
MBOX_MAX_BYTES = 64 * 1024 * 1024


class CheckState(StrEnum):
    """A patchwork check's state."""

    PENDING = "pending"
    SUCCESS = "success"
    WARNING = "warning"
    FAIL = "fail"


class NotFound(RemoteError):
    """Patchwork answered 404 for an object it announced (deleted, private, or wrong id)."""


@dataclass(frozen=True)
class Project:
    id: int
    link_name: str
    list_id: str
    name: str


@dataclass(frozen=True)
class Event:
    """One series-completed event: which series, and when."""

    id: int
    category: str
    date: str
    series_id: int | None
    series_url: str | None


@dataclass(frozen=True)
class PatchRef:
    """A patch as a series lists it."""

    id: int
    msgid: str
    name: str
    mbox: str


@dataclass(frozen=True)
class Series:
    """A patchwork series: its patches, cover letter and mbox URL."""

    id: int
    name: str
    version: int
    total: int
    received_all: bool
    mbox: str
    web_url: str
    patches: tuple[PatchRef, ...]
    cover_msgid: str | None
    project_link_name: str


@dataclass(frozen=True)
class Check:
    id: int
    context: str
    state: CheckState
    target_url: str | None
    description: str | None
    date: str
    user: str | None


def _msgid(value: str) -> str:
    return value.strip().strip("<>")


def _obj(data: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(data, dict):
        raise RemoteError(f"patchwork {what}: expected an object, got {type(data).__name__}")
    return data


def _int(data: Mapping[str, Any], key: str, what: str) -> int:
    value = data.get(key)
    if not isinstance(value, int) or isinstance(value, bool):
        raise RemoteError(f"patchwork {what}: {key!r} is not an integer: {value!r}")
    return value


def _str(data: Mapping[str, Any], key: str, what: str, default: str | None = None) -> str:
    value = data.get(key, default)
    if not isinstance(value, str):
        raise RemoteError(f"patchwork {what}: {key!r} is not a string: {value!r}")
    return value


def parse_event(data: Any) -> Event:
    item = _obj(data, "event")
    payload = item.get("payload") or {}
    series = payload.get("series") if isinstance(payload, dict) else None
    series_id = series.get("id") if isinstance(series, dict) else None
    series_url = series.get("url") if isinstance(series, dict) else None
    return Event(
        id=_int(item, "id", "event"),
        category=_str(item, "category", "event"),
        date=_str(item, "date", "event"),
        series_id=series_id if isinstance(series_id, int) else None,
        series_url=series_url if isinstance(series_url, str) else None,
    )


def parse_series(data: Any) -> Series:
    item = _obj(data, "series")
    what = f"series {item.get('id')!r}"
    patches = []
    for raw in item.get("patches") or []:
        patch = _obj(raw, what)
        patches.append(
            PatchRef(
                id=_int(patch, "id", what),
                msgid=_msgid(_str(patch, "msgid", what)),
                name=_str(patch, "name", what, ""),
                mbox=_str(patch, "mbox", what, ""),
            )
        )
    cover = item.get("cover_letter")
    cover_msgid = _msgid(cover["msgid"]) if isinstance(cover, dict) and cover.get("msgid") else None
    project = item.get("project")
    return Series(
        id=_int(item, "id", what),
        name=item.get("name") or "",
        version=_int(item, "version", what) if isinstance(item.get("version"), int) else 1,
        total=_int(item, "total", what) if isinstance(item.get("total"), int) else len(patches),
        received_all=bool(item.get("received_all")),
        mbox=_str(item, "mbox", what),
        web_url=_str(item, "web_url", what, ""),
        patches=tuple(patches),
        cover_msgid=cover_msgid,
        project_link_name=str(project.get("link_name", "")) if isinstance(project, dict) else "",
    )


def parse_check(data: Any) -> Check:
    item = _obj(data, "check")
    user = item.get("user")
    try:
        state = CheckState(_str(item, "state", "check"))
    except ValueError as exc:
        raise RemoteError(f"patchwork check: unknown state {item.get('state')!r}") from exc
    return Check(
        id=_int(item, "id", "check"),
        context=_str(item, "context", "check", ""),
        state=state,
        target_url=item.get("target_url") if isinstance(item.get("target_url"), str) else None,
        description=item.get("description") if isinstance(item.get("description"), str) else None,
        date=_str(item, "date", "check", ""),
        user=str(user.get("username")) if isinstance(user, dict) else None,
    )


class PatchworkClient:
    """Reads and (with a token) writes one patchwork instance."""

    def __init__(
        self,
        base_url: str,
        session: aiohttp.ClientSession,
        token: str | None = None,
        policy: Policy | None = None,
        http: Http | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/") + "/"
        self.api = urljoin(self.base_url, API)
        self.token = token
        self.http = http or Http(session, policy)

    @property
    def read_only(self) -> bool:
        return not self.token

    def _headers(self) -> dict[str, str]:
        headers = {"Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Token {self.token}"
        return headers

    async def _json(
        self, url: str, params: Mapping[str, str] | None = None
    ) -> tuple[Any, Response]:
        response = await self.http.get(url, params=params, headers=self._headers())
        return _decode(response), response

    async def _list(self, path: str, params: Mapping[str, str]) -> list[Any]:
        url: str | None = urljoin(self.api, path)
        query: Mapping[str, str] | None = params
        out: list[Any] = []
        for _ in range(MAX_PAGES):
            if url is None:
                return out
            data, response = await self._json(url, query)
            if not isinstance(data, list):
                raise RemoteError(f"patchwork {url}: expected a list, got {type(data).__name__}")
            out.extend(data)
            url = response.links.get("next")
            query = None  # the next link carries the whole query
        raise RemoteError(f"patchwork {path}: more than {MAX_PAGES} pages")

    async def project(self, link_name: str) -> Project:
        data, _ = await self._json(urljoin(self.api, f"projects/{link_name}/"))
        item = _obj(data, "project")
        return Project(
            id=_int(item, "id", "project"),
            link_name=_str(item, "link_name", "project"),
            list_id=_str(item, "list_id", "project", ""),
            name=_str(item, "name", "project", ""),
        )

    async def events(
        self,
        project: str,
        since: str | None = None,
        category: str = "series-completed",
        per_page: int = 100,
    ) -> list[Event]:
        """Events of a category since a date (inclusive), oldest first, all pages."""
        params = {"project": project, "category": category, "per_page": str(per_page)}
        if since:
            params["since"] = since
        events = [parse_event(item) for item in await self._list("events/", params)]
        return sorted(events, key=lambda e: (e.date, e.id))

    async def series(self, series_id: int) -> Series:
        data, _ = await self._json(urljoin(self.api, f"series/{series_id}/"))
        return parse_series(data)

    async def mbox(self, url: str) -> bytes:
        """A series or patch mbox (a web URL patchwork gave us, not under the API)."""
        response = await self.http.get(url, max_bytes=MBOX_MAX_BYTES)
        _raise_for(response)
        head = response.body.lstrip()[:200].lower()
        if head.startswith((b"<!doctype", b"<html")):
            raise RemoteError(f"patchwork {url}: an HTML page, not an mbox")
        return response.body

    async def checks(self, patch_id: int) -> list[Check]:
        items = await self._list(f"patches/{patch_id}/checks/", {"per_page": "100"})
        return [parse_check(item) for item in items]

    async def post_check(
        self,
        patch_id: int,
        context: str,
        state: CheckState | str,
        target_url: str | None,
        description: str | None,
    ) -> Check:
        """Create a check on a patch; PatchworkForbidden without a token or on 403."""
        if self.read_only:
            raise PatchworkForbidden(
                f"patchwork {self.base_url}: read-only (no token): check {context!r} not posted"
            )
        body = {
            "state": CheckState(state).value,
            "context": context,
            "target_url": target_url,
            "description": description,
        }
        url = urljoin(self.api, f"patches/{patch_id}/checks/")
        response = await self.http.request(
            "POST", url, headers={**self._headers(), "Content-Type": "application/json"}, json=body
        )
        if response.status == 403:
            raise PatchworkForbidden(
                f"patchwork {url}: 403 forbidden: {_detail(response)}"
                " (the token's user must be a maintainer of the project)"
            )
        return parse_check(_decode(response))


def _detail(response: Response) -> str:
    try:
        data = json.loads(response.body)
    except ValueError:
        return response.text()[:200]
    return str(data.get("detail", data)) if isinstance(data, dict) else str(data)[:200]


def _raise_for(response: Response) -> None:
    if response.status == 404:
        raise NotFound(f"patchwork {response.url}: 404 not found", 404)
    if not response.ok:
        raise RemoteError(
            f"patchwork {response.url}: HTTP {response.status}: {_detail(response)}",
            response.status,
        )


def _decode(response: Response) -> Any:
    _raise_for(response)
    try:
        return json.loads(response.body)
    except ValueError as exc:
        kind = response.headers.get("Content-Type", "?")
        raise RemoteError(
            f"patchwork {response.url}: not JSON ({kind}): {response.text()[:80]!r}"
        ) from exc
