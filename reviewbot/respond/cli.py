"""`reviewbot outbox`: list the outbox, drain it (once, or with commands until SIGTERM), retry.

Secrets come from the environment variables the config names ([respond.smtp]
password_env, [respond.patchwork] token_env), never from the command line.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
from pathlib import Path

import aiohttp

from reviewbot.config import Config, load_config
from reviewbot.errors import UserInputError
from reviewbot.respond.service import drainer, respond_loop
from reviewbot.store import outbox
from reviewbot.store.store import Store

log = logging.getLogger(__name__)

ONCE_ROUNDS = 100


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("outbox", help="list or drain the mail and check outbox")
    parser.add_argument(
        "--store", type=Path, help="the service store (default: <cache_dir>/service.sqlite)"
    )
    parser.add_argument("action", choices=("list", "drain", "retry"))
    parser.add_argument("key", nargs="?", help="retry: the outbox key of a failed row")
    parser.add_argument("--once", action="store_true", help="drain: send what is due, then exit")
    parser.set_defaults(func=cmd_outbox)


def cmd_outbox(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    path = args.store or config.cache_dir / "service.sqlite"
    if args.action != "drain" and not path.exists():
        raise UserInputError(f"--store {path}: no such store")
    return asyncio.run(_main(args, config, path))


async def _main(args: argparse.Namespace, config: Config, path: Path) -> int:
    async with await Store.open(path) as store:
        if args.action == "list":
            for row in await outbox.all_rows(store):
                note = f"  ({row.last_error})" if row.last_error else ""
                print(f"{row.state:9s} {row.attempts:2d} {row.not_before}  {row.key}{note}")
            return 0
        if args.action == "retry":
            if not args.key or not await outbox.retry_failed(store, args.key):
                raise UserInputError(f"{args.key!r}: no failed outbox row with that key")
            return 0
        return await drain(store, config, once=args.once)


async def drain(store: Store, config: Config, once: bool = False) -> int:
    """Send what is due (once) or run drain and commands until SIGTERM/SIGINT."""
    if once:
        async with aiohttp.ClientSession() as session:
            drainer_ = drainer(store, config, session)
            for _ in range(ONCE_ROUNDS):  # rows retried at once must not loop forever
                if not await drainer_.once():
                    break
        return 0
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signum, stop.set)
    await respond_loop(store, config, stop)
    return 0
