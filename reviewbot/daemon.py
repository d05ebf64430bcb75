"""Start the service from its config (store, reviewer, sources, bases, hooks, web, signals).

`serve(path, once)` is what `reviewbot serve --config FILE [--once]` runs; `status(path)`
is `reviewbot status`: the queue, each source's cursor and lag, and the last errors.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

import aiohttp
import aiohttp.web

from reviewbot.bases.manager import BaseManager
from reviewbot.review import Reviewer, ReviewSettings
from reviewbot.service import Hook, Service
from reviewbot.service_config import ServiceConfig, load_service_config
from reviewbot.sources import SourceContext, build_source
from reviewbot.store import reviews
from reviewbot.store.db import parse_iso
from reviewbot.store.store import Store

log = logging.getLogger(__name__)


def _optional(module: str, name: str) -> Any | None:
    """An entry point of another area (respond, web), or None when it is not installed."""
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as exc:
        log.info("%s.%s not available (%s)", module, name, exc)
        return None


def hooks_for(config: ServiceConfig, store: Store) -> list[Hook]:
    """The on_reviewed hooks: respond's outbox when reviewbot.respond is there.

    Without it the reviews are stored (status, web) and nothing is sent.
    """
    reviewed_hook = _optional("reviewbot.respond.service", "reviewed_hook")
    if reviewed_hook is None:
        log.info("no respond hook: reviews are stored only")
        return []
    return [reviewed_hook(store, config.review)]


def _start_respond(
    config: ServiceConfig, store: Store, stop: asyncio.Event
) -> asyncio.Task[None] | None:
    """respond's loop (outbox drain, maintainers' commands) until the service stops."""
    respond_loop = _optional("reviewbot.respond.service", "respond_loop")
    if respond_loop is None:
        return None
    return asyncio.create_task(respond_loop(store, config.review, stop), name="respond")


async def _start_web(config: ServiceConfig, store: Store) -> Callable[[], Any] | None:
    """The web app (reviewbot.web) on the service's store, where its [web] table says."""
    if not config.web:
        return None
    create_app = _optional("reviewbot.web", "create_app")
    settings = getattr(config.review, "web", None)
    if create_app is None or settings is None:
        log.warning("[service] web = true but the web app is not installed")
        return None
    app = create_app(config.review, store, workers=config.concurrency)
    runner = aiohttp.web.AppRunner(app)
    await runner.setup()
    await aiohttp.web.TCPSite(runner, settings.host, settings.port).start()
    log.info("web on http://%s:%d/", settings.host, settings.port)
    return runner.cleanup


async def _serve(config: ServiceConfig, once: bool) -> int:
    settings = ReviewSettings(
        kconfig=config.kconfig, build=config.build, warm_bases=config.warm_bases
    )
    config.store.parent.mkdir(parents=True, exist_ok=True)
    store = await Store.open(config.store)
    reviewer = Reviewer(config.review, settings)
    session = aiohttp.ClientSession()
    context = SourceContext(config.review.cache_dir, session)
    bases = BaseManager(config.repos, config.review.cache_dir, reviewer, config.worktrees)
    service = Service(
        config,
        store,
        reviewer,
        [build_source(spec, context) for spec in config.sources],
        choose_base=bases.choose,
        hooks=hooks_for(config, store),
    )
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, service.stop)
    stop_web = None if once else await _start_web(config, store)
    fetcher = None if once else asyncio.create_task(bases.fetch_loop(service.stop_event))
    respond = None if once else _start_respond(config, store, service.stop_event)
    try:
        if once:
            await asyncio.to_thread(bases.fetch_all)
        await service.run(once=once)
    finally:
        if fetcher is not None:
            fetcher.cancel()
        if respond is not None:  # it ends on the stop event; give it a moment
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(respond, timeout=30)
        if stop_web is not None:
            await stop_web()
        await session.close()
        await store.close()
        reviewer.close()
        bases.close()
    if service.left_running:
        # Reviews still running in threads were put back in the queue: do not wait for them.
        logging.shutdown()
        sys.stdout.flush()
        os._exit(0)
    return 0


def serve(path: Path, once: bool) -> int:
    """Run the service until SIGTERM (or, with once, until the queue is drained)."""
    config = load_service_config(path)
    return asyncio.run(_serve(config, once))


def _lag(newest: str | None, now: float) -> str:
    if not newest:
        return "-"
    try:
        seconds = now - parse_iso(newest)
    except ValueError:
        return "-"
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m"
    return f"{seconds / 3600:.1f}h"


async def _status(config: ServiceConfig, out: TextIO) -> int:
    if not config.store.exists():
        out.write(f"no store at {config.store}: the service has not run yet\n")
        return 0
    async with await Store.open(config.store) as store:
        counts = await reviews.revision_counts(store)
        messages = await store.message_counts()
        cursors = await store.cursors()
        recent = await reviews.recent_reviews(store, 5)
        events = await store.recent_events(limit=10)
        now = store.clock()
    queue = ", ".join(
        f"{state} {counts.get(state, 0)}"
        for state in ("assembling", "queued", "reviewing", "reviewed", "failed")
    )
    out.write(f"store: {config.store}\n")
    out.write(f"queue: {queue}\n")
    out.write(
        "messages: " + ", ".join(f"{k} {v}" for k, v in sorted(messages.items())) + "\n"
        if messages
        else "messages: none\n"
    )
    out.write("sources:\n")
    known = {c.source: c for c in cursors}
    for name in [s.name for s in config.sources] + sorted(
        set(known) - {s.name for s in config.sources}
    ):
        cursor = known.get(name)
        if cursor is None:
            out.write(f"  {name}: not polled yet\n")
            continue
        line = f"  {name}: cursor {cursor.value[:40]!r} updated {cursor.updated}"
        if cursor.newest:  # the newest item the source has read: how far behind it is
            line += f", lag {_lag(cursor.newest, now)}"
        else:
            line += f", last advanced {_lag(cursor.updated, now)} ago"
        if cursor.last_error:
            line += f"\n    last error at {cursor.last_error_at}: {cursor.last_error[:200]}"
        out.write(line + "\n")
    out.write("recent reviews:\n" if recent else "recent reviews: none\n")
    for row in recent:
        base = row.summary.get("base", row.base_kind)
        out.write(
            f"  #{row.id} revision {row.revision_id} v{row.version} {row.state}"
            f"{' partial' if row.partial else ''} on {base}: {row.subject[:60]}\n"
        )
    out.write("last errors:\n" if events else "last errors: none\n")
    for event in events:
        mid = f" <{event.message_id}>" if event.message_id else ""
        out.write(f"  {event.at} {event.level} {event.source}{mid}: {event.text[:200]}\n")
    return 0


def status(path: Path, out: TextIO | None = None) -> int:
    """Print the queue, each source's cursor and lag, and the last errors (to stdout as it
    is at the call, not as it was when this module was imported)."""
    config = load_service_config(path)
    return asyncio.run(_status(config, out or sys.stdout))
