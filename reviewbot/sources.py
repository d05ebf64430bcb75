"""The service's sources by kind: their config keys, and how each is built from config.

A source is an object with `name: str` and `async def poll(store) -> int` (store what is
new with its cursor in one transaction, return how many were new, raise nothing on remote
errors). Each kind here names the keys its `[sources.NAME]` table takes (besides `kind`
and `list`), with their types, so the config is validated at start-up, and a factory.

`lore` reads a public-inbox v2 inbox through its git epochs (reviewbot.ingest.lore).
`spool` is a directory of mail files (one message per file), read in name order with the
last name read as its cursor: a drop box for operators without a server (and for tests).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from reviewbot.errors import InfrastructureError
from reviewbot.ingest.source import MAX_MESSAGE_BYTES, Source, incoming
from reviewbot.store.store import Incoming, Store

log = logging.getLogger(__name__)

BATCH = 200


@dataclass(frozen=True)
class SourceSpec:
    """One `[sources.NAME]` table, validated: its kind, list and kind-specific options."""

    name: str
    kind: str
    list_id: str
    options: Mapping[str, Any]


@dataclass(frozen=True)
class SourceContext:
    """What sources share: the cache (mirrors) and one HTTP session (remote sources)."""

    cache_dir: Path
    session: aiohttp.ClientSession | None = None


@dataclass(frozen=True)
class Kind:
    """A source kind: its keys (name -> (type, required, help)) and its factory."""

    keys: Mapping[str, tuple[type, bool, str]]
    build: Callable[[SourceSpec, SourceContext], Source]


class SpoolSource:
    """A directory of mail files, one message each, read in name order."""

    def __init__(self, name: str, directory: Path, list_id: str = "", batch: int = BATCH) -> None:
        self.name = name
        self.directory = directory
        self.list_id = list_id
        self.batch = max(1, batch)

    def _read(self, after: str) -> tuple[list[Incoming], str]:
        try:
            names = sorted(
                p.name for p in self.directory.iterdir() if p.is_file() and p.name > after
            )
        except OSError as exc:
            raise OSError(f"{self.directory}: {exc.strerror or exc}") from exc
        out: list[Incoming] = []
        last = after
        for name in names[: self.batch]:
            path = self.directory / name
            last = name
            if path.stat().st_size > MAX_MESSAGE_BYTES:
                log.warning("%s: larger than %d bytes, skipped", path, MAX_MESSAGE_BYTES)
                continue
            out.append(incoming(path.read_bytes(), f"{self.name}:{name}", self.list_id))
        return out, last

    async def poll(self, store: Store) -> int:
        cursor = await store.cursor(self.name)
        after = cursor.value if cursor else ""
        try:
            found, last = await asyncio.to_thread(self._read, after)
        except OSError as exc:
            await store.source_error(self.name, str(exc))
            return 0
        if last == after:
            return 0
        added = await store.add_messages(found, cursor=(self.name, last))
        return sum(1 for a in added if a == "new")


def _spool(spec: SourceSpec, context: SourceContext) -> Source:
    del context
    batch = int(spec.options.get("batch", BATCH))
    return SpoolSource(spec.name, Path(spec.options["path"]), spec.list_id, batch)


def _lore(spec: SourceSpec, context: SourceContext) -> Source:
    from reviewbot.ingest.lore import LoreGitSource

    if context.session is None:
        raise InfrastructureError(f"sources.{spec.name}: a lore source needs an HTTP session")
    mirror = spec.options.get("mirror") or context.cache_dir / "lore" / spec.name
    return LoreGitSource(
        spec.options["url"], Path(mirror), context.session, spec.list_id, name=spec.name
    )


KINDS: dict[str, Kind] = {
    "lore": Kind(
        keys={
            "url": (str, True, "the inbox URL, e.g. https://lore.kernel.org/linux-kbuild/"),
            "mirror": (str, False, "where its git epochs are mirrored"),
        },
        build=_lore,
    ),
    "spool": Kind(
        keys={
            "path": (str, True, "directory of mail files, one message per file"),
            "batch": (int, False, "messages stored per transaction"),
        },
        build=_spool,
    ),
}


def build_source(spec: SourceSpec, context: SourceContext) -> Source:
    return KINDS[spec.kind].build(spec, context)
