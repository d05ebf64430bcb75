"""What the service runs of respond: the on_reviewed hook and one loop for drain and commands.

    hook = reviewed_hook(store, config)        # await hook(revision_id, review_id)
    task = asyncio.create_task(respond_loop(store, config, stop))

The loop drains the outbox and obeys maintainers' commands every `interval` seconds until
`stop` is set; an error backs off instead of spinning. MAINTAINERS is read from the
configured tree (else the default one); without it only configured commanders may
command, and that is logged once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp

from reviewbot.config import Config
from reviewbot.errors import ReviewbotError
from reviewbot.ingest.http import Policy
from reviewbot.ingest.patchwork import PatchworkClient
from reviewbot.respond.drain import CheckClient, Drainer
from reviewbot.respond.hook import on_reviewed
from reviewbot.respond.intake import process_commands
from reviewbot.respond.maintainers import Entry, parse_maintainers
from reviewbot.respond.smtp import SmtpSender
from reviewbot.store.store import Store

log = logging.getLogger(__name__)

MAX_MAINTAINERS_BYTES = 16 * 1024 * 1024


def reviewed_hook(store: Store, config: Config) -> Callable[[int, int], Awaitable[None]]:
    async def hook(revision_id: int, review_id: int) -> None:
        await on_reviewed(store, config, revision_id, review_id)

    return hook


def load_maintainers(config: Config) -> tuple[Entry, ...]:
    root = config.tree or config.cache_dir / "trees" / "linux-source-6.12"
    path = Path(root) / "MAINTAINERS"
    try:
        with path.open("rb") as handle:
            text = handle.read(MAX_MAINTAINERS_BYTES).decode("utf-8", "replace")
    except OSError as exc:
        log.warning("%s: %s; only configured commanders may command", path, exc.strerror or exc)
        return ()
    return parse_maintainers(text)


def patchwork_clients(
    config: Config, session: aiohttp.ClientSession
) -> Callable[[str], CheckClient | None]:
    """One client per patchwork instance, with the token from the configured variable."""
    token = os.environ.get(config.respond.token_env) or None
    made: dict[str, CheckClient] = {}

    def client(base_url: str) -> CheckClient | None:
        if base_url not in made:
            policy = Policy(retries=1, timeout=60)
            made[base_url] = PatchworkClient(base_url, session, token=token, policy=policy)
        return made[base_url]

    return client


def drainer(store: Store, config: Config, session: aiohttp.ClientSession) -> Drainer:
    smtp = config.respond.smtp
    password = os.environ.get(smtp.password_env) if smtp.password_env else None
    return Drainer(
        store, config.respond, SmtpSender(smtp, password), patchwork_clients(config, session)
    )


async def respond_loop(
    store: Store, config: Config, stop: asyncio.Event, interval: float = 5.0
) -> None:
    maintainers = load_maintainers(config)
    async with aiohttp.ClientSession() as session:
        drain = drainer(store, config, session)
        while not stop.is_set():
            wait = interval
            try:
                await process_commands(store, config.respond, maintainers)
                await drain.once()
            except ReviewbotError as exc:
                log.error("respond loop: %s; retrying in %.0fs", exc, 6 * interval)
                wait = 6 * interval
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), wait)
