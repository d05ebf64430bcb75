"""The HTTP helper every remote source uses: honest User-Agent, timeouts, bounded bodies, backoff.

`Http(session)` wraps an aiohttp session that the caller owns. Each request sends
`User-Agent: reviewbot/<version> (+<project url>)`, has a total timeout, reads at most
`max_bytes` of body, and is retried on connection errors, timeouts, 429 and 5xx with
exponential backoff and full jitter, honouring `Retry-After` (seconds or an HTTP date,
capped). Other statuses are returned to the caller, who decides (a 404 is an answer, not
a failure). When the retries run out, RemoteError says what happened last.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from multidict import CIMultiDict

from reviewbot import __version__
from reviewbot.errors import RemoteError

log = logging.getLogger(__name__)

PROJECT_URL = "https://github.com/reviewbot/reviewbot"
USER_AGENT = f"reviewbot/{__version__} (+{PROJECT_URL})"
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class Response:
    """A whole (bounded) HTTP response."""

    url: str
    status: int
    headers: Mapping[str, str]
    body: bytes
    links: Mapping[str, str] = field(default_factory=dict)  # rel -> absolute URL

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


@dataclass(frozen=True)
class Policy:
    """How hard to try: timeouts, retries and the backoff between them."""

    timeout: float = 60.0
    connect_timeout: float = 15.0
    retries: int = 4
    backoff: float = 1.0  # the first wait; doubles each retry, with full jitter
    max_backoff: float = 120.0
    max_retry_after: float = 600.0
    max_bytes: int = 256 * 1024 * 1024


def retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP date); None if absent."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, when.timestamp() - now)


def backoff_delay(attempt: int, policy: Policy, rng: random.Random) -> float:
    """Full-jitter exponential backoff: uniform in [0, min(max, base * 2**attempt)]."""
    return rng.uniform(0.0, min(policy.max_backoff, policy.backoff * 2**attempt))


class Http:
    """Requests with the project's manners; the session and the clock are passed in."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        policy: Policy | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
        user_agent: str = USER_AGENT,
    ) -> None:
        self.session = session
        self.policy = policy or Policy()
        self.sleep = sleep
        self.rng = rng or random.Random()
        self.user_agent = user_agent

    async def get(
        self,
        url: str,
        *,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        max_bytes: int | None = None,
    ) -> Response:
        return await self.request("GET", url, params=params, headers=headers, max_bytes=max_bytes)

    async def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        json: Any = None,
        max_bytes: int | None = None,
    ) -> Response:
        """One request, retried on errors, 429 and 5xx; other statuses are returned."""
        policy = self.policy
        sent = {"User-Agent": self.user_agent, **(headers or {})}
        limit = max_bytes if max_bytes is not None else policy.max_bytes
        last = ""
        status: int | None = None
        for attempt in range(policy.retries + 1):
            wait: float | None = None
            try:
                response = await self._once(method, url, params, sent, json, limit)
            except RemoteError as exc:  # too large: retrying will not help
                raise RemoteError(f"{method} {url}: {exc}", exc.status) from exc
            except (aiohttp.ClientError, TimeoutError) as exc:
                last = f"{type(exc).__name__}: {exc}"
                status = None
            else:
                if response.status not in RETRY_STATUSES:
                    return response
                status = response.status
                last = f"HTTP {response.status}"
                wait = retry_after(response.headers.get("Retry-After"), time.time())
                if wait is not None:
                    wait = min(wait, policy.max_retry_after)
            if attempt == policy.retries:
                break
            if wait is None:
                wait = backoff_delay(attempt, policy, self.rng)
            log.info("%s %s: %s; retry %d in %.1f s", method, url, last, attempt + 1, wait)
            await self.sleep(wait)
        raise RemoteError(f"{method} {url}: {last} (after {policy.retries + 1} tries)", status)

    async def _once(
        self,
        method: str,
        url: str,
        params: Mapping[str, str] | None,
        headers: Mapping[str, str],
        json: Any,
        limit: int,
    ) -> Response:
        timeout = aiohttp.ClientTimeout(
            total=self.policy.timeout, sock_connect=self.policy.connect_timeout
        )
        async with self.session.request(
            method, url, params=params, headers=headers, json=json, timeout=timeout
        ) as resp:
            declared = resp.content_length
            if declared is not None and declared > limit:
                raise RemoteError(f"body of {declared} bytes is over the {limit} limit")
            chunks: list[bytes] = []
            size = 0
            async for chunk in resp.content.iter_chunked(1 << 16):
                size += len(chunk)
                if size > limit:
                    raise RemoteError(f"body is over the {limit} byte limit")
                chunks.append(chunk)
            links = {
                str(rel): str(link.get("url", ""))
                for rel, link in resp.links.items()
                if link.get("url") is not None
            }
            return Response(
                url=str(resp.url),
                status=resp.status,
                headers=CIMultiDict(resp.headers),
                body=b"".join(chunks),
                links=links,
            )
