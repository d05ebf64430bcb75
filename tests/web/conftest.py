"""Fixtures for the web tests: a store, the app, and a client that validates every response
against reviewbot/web/openapi.yaml with openapi-core."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from openapi_core import OpenAPI
from openapi_core.testing import MockRequest, MockResponse

from reviewbot.config import Config
from reviewbot.store.store import Store
from reviewbot.web import create_app
from reviewbot.web.indexer import index_all
from reviewbot.web.settings import WebSettings

SPEC_PATH = Path(__file__).resolve().parents[2] / "reviewbot" / "web" / "openapi.yaml"
SPEC = OpenAPI.from_file_path(str(SPEC_PATH))


@dataclass(frozen=True)
class Reply:
    status: int
    headers: Mapping[str, str]
    content_type: str
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode()

    def json(self) -> Any:
        return json.loads(self.body)


class CheckedClient:
    """Every response is validated against the OpenAPI file (and the request too, unless
    the test sends a deliberately invalid one)."""

    def __init__(self, client: TestClient[Any, Any]):
        self.client = client
        self.seen: list[tuple[str, str, int]] = []

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        data: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        valid_request: bool = True,
    ) -> Reply:
        response = await self.client.request(
            method, path, params=params, data=data, headers=headers
        )
        body = await response.read()
        reply = Reply(response.status, dict(response.headers), response.content_type, body)
        request_headers = dict(headers or {})
        request = MockRequest(
            "http://127.0.0.1",
            method.lower(),
            response.url.path,
            args=dict(response.url.query),
            headers=request_headers,
            data=data,
            content_type=request_headers.get("Content-Type", "application/json"),
        )
        SPEC.validate_response(
            request,
            MockResponse(body, response.status, dict(response.headers), response.content_type),
        )
        if valid_request:
            SPEC.validate_request(request)
        self.seen.append((method, response.url.path, response.status))
        return reply

    async def get(self, path: str, **kwargs: Any) -> Reply:
        return await self.request("GET", path, **kwargs)

    async def post(self, path: str, **kwargs: Any) -> Reply:
        return await self.request("POST", path, **kwargs)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await Store.open(tmp_path / "service.sqlite")
    yield opened
    await opened.close()


MakeClient = Callable[..., Awaitable[CheckedClient]]


@pytest.fixture
def make_client(
    aiohttp_client: Callable[..., Awaitable[TestClient[Any, Any]]], store: Store, tmp_path: Path
) -> MakeClient:
    async def make(**settings: Any) -> CheckedClient:
        await index_all(store)
        web = replace(WebSettings(anonymous_burst=10_000, anonymous_rate=1000.0), **settings)
        config = Config(cache_dir=tmp_path / "cache", tree=tmp_path / "no-tree", web=web)
        return CheckedClient(await aiohttp_client(create_app(config, store, workers=2)))

    return make
