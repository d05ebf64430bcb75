"""What the web app's handlers share: the store, settings, caches (one WebState per app)."""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from aiohttp import web

from reviewbot.analysis.diff import FileChange, parse_diff
from reviewbot.errors import ReviewbotError
from reviewbot.mail.parse import parse_mail
from reviewbot.model import RawMail
from reviewbot.store import webq
from reviewbot.store.store import Store
from reviewbot.web.auth import RateLimiter, bearer, match_token
from reviewbot.web.maintainers import Entry, Matcher
from reviewbot.web.metrics import Metrics
from reviewbot.web.params import ApiError
from reviewbot.web.ruledocs import RuleDoc
from reviewbot.web.settings import WebSettings

STATUS_TTL = 1.0  # seconds a computed status is reused
DIFF_CACHE = 512  # parsed patches kept


@dataclass
class WebState:
    """Everything the handlers share; one per app."""

    store: Store
    settings: WebSettings
    tree: Path | None
    workers: int | None
    clock: Callable[[], float]
    metrics: Metrics = field(default_factory=Metrics)
    limiter: RateLimiter = field(init=False)
    docs: dict[str, RuleDoc] = field(default_factory=dict)
    maintainers: dict[str, Entry] = field(default_factory=dict)
    maintainer_paths: dict[tuple[str, int], frozenset[str]] = field(default_factory=dict)
    diffs: OrderedDict[str, tuple[FileChange, ...]] = field(default_factory=OrderedDict)
    status: tuple[float, webq.Status] | None = None

    def __post_init__(self) -> None:
        self.limiter = RateLimiter(self.settings.anonymous_rate, self.settings.anonymous_burst)

    async def current_status(self) -> webq.Status:
        now = self.clock()
        if self.status is None or now - self.status[0] > STATUS_TTL:
            self.status = (now, await webq.status(self.store, self.clock))
        return self.status[1]

    async def entry_paths(self, title: str) -> frozenset[str]:
        """The touched paths a MAINTAINERS entry covers (cached until more are indexed)."""
        entry = self.maintainers.get(title.upper())
        if entry is None:
            if not self.maintainers:
                raise ApiError(503, "maintainers: no MAINTAINERS file is loaded on this server")
            raise ApiError(400, f"maintainers: no MAINTAINERS entry is titled {title!r}")
        count, _ = await webq.touched_watermark(self.store)
        key = (entry.title, count)
        if key not in self.maintainer_paths:
            paths = await webq.touched_paths(self.store)
            if len(self.maintainer_paths) > 64:
                self.maintainer_paths.clear()
            self.maintainer_paths[key] = Matcher(entry).select(paths)
        return self.maintainer_paths[key]

    @staticmethod
    def diff_key(message_id: str, raw: bytes) -> str:
        return message_id + ":" + hashlib.sha256(raw).hexdigest()

    def changes_of(self, message_id: str, raw: bytes) -> tuple[FileChange, ...]:
        """A patch mail's parsed diff (kept in a small LRU: the series page is hot)."""
        key = self.diff_key(message_id, raw)
        cached = self.diffs.get(key)
        if cached is not None:
            self.diffs.move_to_end(key)
            return cached
        try:
            message = parse_mail(RawMail(raw, message_id))
            changes = parse_diff(message.diff) if message.diff is not None else ()
        except ReviewbotError:
            changes = ()
        self.diffs[key] = changes
        while len(self.diffs) > DIFF_CACHE:
            self.diffs.popitem(last=False)
        return changes


STATE: Final = web.AppKey("reviewbot_web", WebState)


def base_url(request: web.Request) -> str:
    """The public URL prefix links use: the configured one, else none (relative links)."""
    return request.app[STATE].settings.base_url


async def authenticated(request: web.Request) -> webq.TokenRecord | None:
    """The token record of a valid `Authorization: Bearer` header (cached per request)."""
    if "token" in request:
        return request["token"]  # type: ignore[no-any-return]
    token = bearer(request.headers.get("Authorization"))
    found = None
    if token is not None:
        found = match_token(token, await webq.tokens(request.app[STATE].store))
    request["token"] = found
    return found
