"""The service's sources by kind: their config keys, and how each is built from config.

A source is an object with `name: str` and `async def poll(store) -> int` (store what is
new with its cursor in one transaction, return how many were new, raise nothing on remote
errors). Each kind here names the keys its `[sources.NAME]` table takes (besides `kind`
and `list`), with their types, so the config is validated at start-up, and a factory.

The remote and local readers are reviewbot.ingest's (see docs/ingest.md): `lore` (a
public-inbox v2 inbox's git epochs), `atom` (its new.atom), `threads` (whole threads of
series still missing parts), `patchwork` (series-completed events), `mbox`, `maildir`.
`spool`, here, is a directory of mail files (one message per file), read in name order with the
last name read as its cursor: a drop box for operators without a server (and for tests).
"""

from __future__ import annotations

import asyncio
import logging
import os
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


def _session(spec: SourceSpec, context: SourceContext) -> aiohttp.ClientSession:
    if context.session is None:
        raise InfrastructureError(f"sources.{spec.name}: a remote source needs an HTTP session")
    return context.session


def _lore(spec: SourceSpec, context: SourceContext) -> Source:
    from reviewbot.ingest.lore import LoreGitSource

    mirror = spec.options.get("mirror") or context.cache_dir / "lore" / spec.name
    session = _session(spec, context)
    return LoreGitSource(spec.options["url"], Path(mirror), session, spec.list_id, spec.name)


def _atom(spec: SourceSpec, context: SourceContext) -> Source:
    from reviewbot.ingest.atom import LoreAtomSource

    session = _session(spec, context)
    return LoreAtomSource(spec.options["url"], session, spec.list_id, spec.name)


def _threads(spec: SourceSpec, context: SourceContext) -> Source:
    from reviewbot.ingest.atom import LoreThreadSource

    wait = float(spec.options.get("wait_seconds", 120.0))
    return LoreThreadSource(spec.options["url"], _session(spec, context), wait, spec.name)


def _patchwork(spec: SourceSpec, context: SourceContext) -> Source:
    from reviewbot.ingest.pwsource import PatchworkSource

    token = None
    if spec.options.get("token_env"):
        token = os.environ.get(spec.options["token_env"]) or None
        if token is None:
            log.warning(
                "sources.%s: $%s is not set: read-only", spec.name, spec.options["token_env"]
            )
    return PatchworkSource(
        spec.options["url"],
        spec.options["project"],
        _session(spec, context),
        token=token,
        start=spec.options.get("start"),
        list_id=spec.list_id,
        name=spec.name,
    )


def _mbox(spec: SourceSpec, context: SourceContext) -> Source:
    from reviewbot.ingest.local import MboxSource

    settle = float(spec.options.get("settle_seconds", 2.0))
    return MboxSource(Path(spec.options["path"]), spec.list_id, spec.name, settle)


def _maildir(spec: SourceSpec, context: SourceContext) -> Source:
    from reviewbot.ingest.local import MaildirSource

    return MaildirSource(Path(spec.options["path"]), spec.list_id, spec.name)


URL = (str, True, "the inbox URL, e.g. https://lore.kernel.org/linux-kbuild/")
KINDS: dict[str, Kind] = {
    "lore": Kind(
        keys={"url": URL, "mirror": (str, False, "where its git epochs are mirrored")},
        build=_lore,
    ),
    "atom": Kind(keys={"url": URL}, build=_atom),
    "threads": Kind(
        keys={
            "url": URL,
            "wait_seconds": (float, False, "how long a series waits before its thread is fetched"),
        },
        build=_threads,
    ),
    "patchwork": Kind(
        keys={
            "url": (str, True, "the patchwork instance, e.g. https://patchwork.kernel.org/"),
            "project": (str, True, "the project's link name"),
            "token_env": (str, False, "environment variable holding the API token (checks)"),
            "start": (str, False, "the first poll's `since` (ISO 8601; default: all events)"),
        },
        build=_patchwork,
    ),
    "mbox": Kind(
        keys={
            "path": (str, True, "an mbox file a mail server appends to"),
            "settle_seconds": (float, False, "a growing tail younger than this is left for later"),
        },
        build=_mbox,
    ),
    "maildir": Kind(keys={"path": (str, True, "a maildir (new/ and cur/)")}, build=_maildir),
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
