"""The web application factory: routes, middlewares (errors, rate limits, metrics), loops.

`create_app(config, store)` builds the app and does no I/O; rule docs and the MAINTAINERS
file are read, and the touched-files indexer started, in the app's cleanup context (and
the indexer cancelled there at shutdown). The service mounts the app in its own runner;
`reviewbot web` runs it alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import aiohttp_jinja2
import jinja2
import markupsafe
from aiohttp import web

from reviewbot.errors import InfrastructureError
from reviewbot.rules.registry import RULES
from reviewbot.store.store import Store
from reviewbot.web import api, pages
from reviewbot.web.indexer import index_once
from reviewbot.web.maintainers import parse_maintainers
from reviewbot.web.params import ApiError
from reviewbot.web.ruledocs import find_rules_dir, load_docs
from reviewbot.web.settings import WebSettings
from reviewbot.web.state import STATE, WebState, authenticated

if TYPE_CHECKING:
    from reviewbot.config import Config

log = logging.getLogger(__name__)

MAX_MAINTAINERS_BYTES = 8 * 1024 * 1024
SECURITY_HEADERS: Final = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
CSP: Final = (
    "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none';"
    " form-action 'self'; frame-ancestors 'none'"
)
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _route(request: web.Request) -> str:
    info = request.match_info
    resource = info.route.resource if info.http_exception is None else None
    return resource.canonical if resource is not None else "unmatched"


def _wants_html(request: web.Request) -> bool:
    return not request.path.startswith("/api/") and "text/html" in request.headers.get("Accept", "")


def error_response(request: web.Request, status: int, message: str) -> web.Response:
    """JSON {"error": {"status", "message"}}; an HTML page for browsers on page routes."""
    if _wants_html(request):
        return aiohttp_jinja2.render_template(
            "error.html", request, {"status": status, "message": message}, status=status
        )
    return web.json_response({"error": {"status": status, "message": message}}, status=status)


def client_key(request: web.Request, settings: WebSettings) -> str:
    if settings.trust_forwarded:
        forwarded = request.headers.get("X-Forwarded-For", "")
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if hops:
            return hops[-1]
    return request.remote or "unknown"


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Rate limits for anonymous clients, errors as JSON, security headers, metrics."""
    state = request.app[STATE]
    started = time.perf_counter()
    route = _route(request)
    try:
        response = await _limited(request, handler, state)
    except ApiError as exc:
        response = error_response(request, exc.status, exc.message)
        response.headers.update(exc.headers)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        message = exc.text if exc.text and not exc.text.startswith(str(exc.status)) else None
        response = error_response(request, exc.status, message or exc.reason)
        if exc.status == 405:
            response.headers["Allow"] = exc.headers.get("Allow", "")
    except InfrastructureError as exc:
        log.error("%s %s: %s", request.method, request.path, exc)
        response = error_response(request, 503, "the store is unavailable; try again shortly")
    except Exception:
        log.exception("%s %s failed", request.method, request.path)
        response = error_response(request, 500, "internal error; it has been logged")
    response.headers.update(SECURITY_HEADERS)
    if response.content_type == "text/html":
        response.headers["Content-Security-Policy"] = CSP
    state.metrics.requests.labels(route, request.method, str(response.status)).inc()
    state.metrics.latency.labels(route).observe(time.perf_counter() - started)
    return response


async def _limited(request: web.Request, handler: Handler, state: WebState) -> web.StreamResponse:
    if request.path != "/healthz" and await authenticated(request) is None:
        wait = state.limiter.check(client_key(request, state.settings), state.clock())
        if wait > 0:
            state.metrics.rate_limited.inc()
            retry = str(max(1, int(wait + 0.999)))
            raise ApiError(
                429,
                f"too many requests from this address; retry in {retry} s or use an API token",
                {"Retry-After": retry},
            )
    return await handler(request)


def _printable(value: Any) -> Any:
    """Every value a template prints: control and bidi characters shown as \\xNN."""
    if isinstance(value, markupsafe.Markup):
        return value  # already safe HTML (the rendered rule docs)
    if isinstance(value, str) and _CONTROL.search(value):
        return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", value)
    return value


def duration(seconds: float | None) -> str:
    """3.2 s, 4.0 min, 2.1 h, 3.0 d."""
    if seconds is None:
        return "-"
    for unit, size in (("d", 86400.0), ("h", 3600.0), ("min", 60.0)):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds:.1f} s"


def _tree_of(config: Config) -> Path | None:
    if config.web.maintainers is not None:
        return config.web.maintainers.parent
    if config.tree is not None:
        return config.tree
    return config.cache_dir / "trees" / "linux-source-6.12"


def _load_files(state: WebState) -> None:
    rule_ids = [rule.id for rule in RULES]
    state.docs = load_docs(find_rules_dir(state.settings.rules_dir, rule_ids), rule_ids)
    path = state.settings.maintainers or (state.tree / "MAINTAINERS" if state.tree else None)
    if path is None:
        return
    try:
        with path.open("rb") as handle:
            text = handle.read(MAX_MAINTAINERS_BYTES).decode("utf-8", "replace")
    except OSError as exc:
        log.warning("MAINTAINERS %s: %s (the maintainers filter is off)", path, exc)
        return
    state.maintainers = parse_maintainers(text)


async def _index_loop(state: WebState) -> None:
    """Index new patches' files; back off after an error, never spin."""
    while True:
        try:
            while await index_once(state.store):
                pass
            state.limiter.prune(state.clock())
            delay = state.settings.index_interval
        except InfrastructureError as exc:
            log.warning("touched-files indexer: %s", exc)
            delay = state.settings.index_interval * 4
        await asyncio.sleep(delay)


async def _background(app: web.Application) -> AsyncIterator[None]:
    state = app[STATE]
    await asyncio.to_thread(_load_files, state)
    task = asyncio.create_task(_index_loop(state), name="reviewbot-web-indexer")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def create_app(
    config: Config,
    store: Store,
    *,
    workers: int | None = None,
    clock: Callable[[], float] = time.time,
) -> web.Application:
    """The web app on an open store. `workers`: the service's review concurrency (status)."""
    settings = config.web
    app = web.Application(middlewares=[guard], client_max_size=settings.max_submission_bytes)
    app[STATE] = WebState(store, settings, _tree_of(config), workers, clock)
    env = aiohttp_jinja2.setup(
        app,
        loader=jinja2.PackageLoader("reviewbot.web", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        finalize=_printable,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["base"] = settings.base_url
    env.filters["dur"] = duration
    app.cleanup_ctx.append(_background)
    api.add_routes(app.router)
    pages.add_routes(app.router)
    return app
