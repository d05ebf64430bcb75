"""`reviewbot web`: run the web app alone on a store, and manage its API tokens.

    reviewbot --config FILE web [--store PATH] [--host H] [--port N]
    reviewbot --config FILE web token add NAME [--scope submit]...
    reviewbot --config FILE web token list
    reviewbot --config FILE web token revoke NAME

The store defaults to `[web] store`, else `<cache_dir>/service.sqlite` (the service's).
A new token is printed once; only its SHA-256 is stored.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import re
import signal
from pathlib import Path

from aiohttp import web

from reviewbot.config import Config, load_config
from reviewbot.errors import UserInputError
from reviewbot.store import webq
from reviewbot.store.store import Store
from reviewbot.web.auth import SCOPES, new_token, token_hash

log = logging.getLogger(__name__)

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def store_path(config: Config, explicit: Path | None) -> Path:
    return explicit or config.web.store or config.cache_dir / "service.sqlite"


async def _serve(config: Config, path: Path, host: str, port: int) -> None:
    from reviewbot.web.app import create_app

    async with await Store.open(path) as store:
        runner = web.AppRunner(create_app(config, store), access_log=log)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound = runner.addresses[0][1] if runner.addresses else port
        print(f"reviewbot web: serving {path} on http://{host}:{bound}/", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        await runner.cleanup()


async def _token(args: argparse.Namespace, path: Path) -> int:
    async with await Store.open(path) as store:
        if args.token_command == "add":
            if not _NAME.fullmatch(args.name):
                raise UserInputError(f"token name {args.name!r}: use letters, digits, . _ -")
            scopes = tuple(args.scope or ("submit",))
            token = new_token()
            if not await webq.add_token(store, args.name, token_hash(token), scopes):
                raise UserInputError(f"a token named {args.name!r} exists; revoke it first")
            print(token)
        elif args.token_command == "list":
            for name, scopes, created in await webq.token_list(store):
                print(f"{name}\t{','.join(scopes)}\t{created}")
        elif not await webq.delete_token(store, args.name):
            raise UserInputError(f"no token named {args.name!r}")
    return 0


def cmd_web(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    path = store_path(config, args.store)
    if getattr(args, "token_command", None):
        return asyncio.run(_token(args, path))
    host = args.host or config.web.host
    port = args.port if args.port is not None else config.web.port
    asyncio.run(_serve(config, path, host, port))
    return 0


def add_web_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("web", help="run the web API and pages; manage API tokens")
    parser.add_argument("--store", type=Path, help="store file (default: the service's)")
    parser.add_argument("--host", help="address to listen on (default: [web] host)")
    parser.add_argument("--port", type=int, help="port (default: [web] port)")
    parser.set_defaults(func=cmd_web, token_command=None)
    tokens = parser.add_subparsers(dest="what")
    token = tokens.add_parser("token", help="API tokens for write endpoints")
    actions = token.add_subparsers(dest="token_command", required=True)
    add = actions.add_parser("add", help="make a token (printed once)")
    add.add_argument("name")
    add.add_argument("--scope", action="append", choices=SCOPES, help="default: submit")
    actions.add_parser("list", help="names, scopes and dates (never the tokens)")
    revoke = actions.add_parser("revoke", help="delete a token")
    revoke.add_argument("name")
