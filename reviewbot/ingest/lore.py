"""The lore / public-inbox v2 source: mirror the git epochs over HTTP, one message per commit.

`LoreGitSource(url, mirror_dir, session)` reads `<url>manifest.js.gz` to learn the
epochs (`/<inbox>/git/<N>.git`), clones each one it needs (`git clone --mirror`) and
then fetches it; every commit of an epoch holds one message (the blob `m`; a commit
with `d`, or the emptied `m` public-inbox-purge leaves, deletes one and is skipped).
The cursor is `{"epoch": N, "commit": <sha>}`, the last commit stored, moved in the
transaction that stores the batch it ends. Older epochs are never re-read; the next
epoch is started once the current one is read to its end.

A rewritten epoch (the cursor's commit is gone or no longer an ancestor of the head,
as after a public-inbox-purge or -edit) is read again from its first commit: the store
drops what it already has by Message-ID (and keeps a changed copy aside as a
conflict), so nothing is skipped and nothing is stored twice; an event says so.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import logging
import os
import re
import shutil
import zlib
from pathlib import Path

import aiohttp

from reviewbot.errors import RemoteError
from reviewbot.ingest.http import USER_AGENT, Http, Policy
from reviewbot.ingest.source import Backoff, cursor_state, guarded, incoming, store_batch, too_big
from reviewbot.store.store import Incoming, Store

log = logging.getLogger(__name__)

BATCH = 500
GIT_TIMEOUT = 1800.0
MANIFEST_MAX_BYTES = 8 * 1024 * 1024
_EPOCH = re.compile(r"/git/(\d+)\.git$")


def parse_manifest(data: bytes, url: str) -> dict[int, str]:
    """Epoch number -> its fingerprint, from a gzipped manifest.js; garbage is a RemoteError."""
    try:
        text = gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data
        manifest = json.loads(text)
    except (OSError, EOFError, zlib.error, ValueError) as exc:
        raise RemoteError(f"{url}: not a gzipped JSON manifest: {data[:60]!r}") from exc
    if not isinstance(manifest, dict):
        raise RemoteError(f"{url}: the manifest is not a JSON object")
    epochs: dict[int, str] = {}
    for key, value in manifest.items():
        found = _EPOCH.search(str(key))
        if found:
            fingerprint = value.get("fingerprint") if isinstance(value, dict) else None
            epochs[int(found.group(1))] = str(fingerprint or "")
    if not epochs:
        raise RemoteError(f"{url}: the manifest lists no v2 epochs")
    return epochs


class LoreGitSource:
    """One public-inbox v2 inbox, read through its git epochs."""

    def __init__(
        self,
        url: str,
        mirror_dir: Path,
        session: aiohttp.ClientSession,
        list_id: str = "",
        name: str | None = None,
        policy: Policy | None = None,
        backoff: Backoff | None = None,
    ) -> None:
        self.url = url.rstrip("/") + "/"
        self.inbox = self.url.rstrip("/").rsplit("/", 1)[-1]
        self.name = name or f"lore:{self.inbox}/git"
        self.mirror_dir = mirror_dir
        self.list_id = list_id
        self.http = Http(session, policy)
        self.backoff = backoff or Backoff()
        self._new = 0

    async def poll(self, store: Store) -> int:
        self._new = 0  # what a poll stored before it failed still counts
        return await guarded(self.name, store, self.backoff, lambda: self._poll(store)) or self._new

    async def _poll(self, store: Store) -> int:
        response = await self.http.get(self.url + "manifest.js.gz", max_bytes=MANIFEST_MAX_BYTES)
        if response.status != 200:
            raise RemoteError(f"{response.url}: HTTP {response.status}", response.status)
        epochs = parse_manifest(response.body, response.url)
        cursor = await store.cursor(self.name)
        state = cursor_state(cursor)
        start = int(state.get("epoch", min(epochs)))
        for epoch in sorted(e for e in epochs if e >= start):
            since = str(state.get("commit", "")) if epoch == start else ""
            await self._read_epoch(store, epoch, since)
        return self._new

    def _git_dir(self, epoch: int) -> Path:
        return self.mirror_dir / f"{epoch}.git"

    async def _mirror(self, epoch: int) -> Path:
        git_dir = self._git_dir(epoch)
        remote = f"{self.url}git/{epoch}.git"
        if not (git_dir / "HEAD").exists():
            self.mirror_dir.mkdir(parents=True, exist_ok=True)
            partial = git_dir.with_suffix(".partial")
            shutil.rmtree(partial, ignore_errors=True)
            await _git(None, "clone", "--quiet", "--mirror", remote, str(partial))
            partial.rename(git_dir)
        else:
            await _git(git_dir, "fetch", "--quiet", "--prune", "--force", remote,
                       "+refs/heads/*:refs/heads/*")  # fmt: skip
        return git_dir

    async def _read_epoch(self, store: Store, epoch: int, since: str) -> None:
        git_dir = await self._mirror(epoch)
        head = (
            await _git(git_dir, "for-each-ref", "--format=%(objectname)", "refs/heads/")
        ).split()
        if not head:
            return  # an empty epoch: nothing yet
        if since and not await self._is_ancestor(git_dir, since, head[0]):
            text = (
                f"epoch {epoch} was rewritten (commit {since[:12]} is gone from its history):"
                " reading it again from the start; mail already stored is kept once"
            )
            log.warning("source %s: %s", self.name, text)
            await store.event(self.name, "warning", text)
            since = ""
        spec = f"{since}..{head[0]}" if since else head[0]
        commits = (await _git(git_dir, "rev-list", "--reverse", spec)).split()
        for start in range(0, len(commits), BATCH):
            chunk = commits[start : start + BATCH]
            items = await self._messages(git_dir, epoch, chunk)
            cursor = json.dumps({"epoch": epoch, "commit": chunk[-1]})
            self._new += await store_batch(store, self.name, items, cursor)
        if not commits and not since:
            await store.set_cursor(self.name, json.dumps({"epoch": epoch, "commit": head[0]}))

    async def _is_ancestor(self, git_dir: Path, commit: str, head: str) -> bool:
        proc = await asyncio.create_subprocess_exec(
            "git", "--git-dir", str(git_dir), "merge-base", "--is-ancestor", commit, head,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL, env=_env(),
        )  # fmt: skip
        return await proc.wait() == 0

    async def _messages(self, git_dir: Path, epoch: int, commits: list[str]) -> list[Incoming]:
        query = "".join(f"{c}:m\n" for c in commits).encode()
        out = await _git_bytes(git_dir, query, "cat-file", "--batch")
        items: list[Incoming] = []
        pos = 0
        for commit in commits:
            end = out.index(b"\n", pos)
            header = out[pos:end].split()
            pos = end + 1
            if len(header) < 3 or header[1] != b"blob":
                continue  # no `m`: a deletion commit
            size = int(header[2])
            raw = out[pos : pos + size]
            pos += size + 1
            if not raw.strip():
                continue  # an emptied `m`: public-inbox-purge's replacement
            if too_big(raw):
                log.warning(
                    "source %s: commit %s: a %d byte mail, skipped", self.name, commit, size
                )
                continue
            items.append(incoming(raw, f"{self.name}/{epoch}:{commit}", self.list_id))
        return items


def _env() -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/nonexistent"),
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_CONFIG_NOSYSTEM": "1",
        "LANG": "C",
    }


_GIT_OPTIONS = (
    "-c", f"http.userAgent={USER_AGENT}",
    "-c", "http.lowSpeedLimit=1000",
    "-c", "http.lowSpeedTime=60",
    "-c", "protocol.allow=never",
    "-c", "protocol.http.allow=always",
    "-c", "protocol.https.allow=always",
)  # fmt: skip


async def _git(git_dir: Path | None, *args: str) -> str:
    return (await _git_bytes(git_dir, None, *args)).decode("utf-8", "replace")


async def _git_bytes(git_dir: Path | None, stdin: bytes | None, *args: str) -> bytes:
    where = ("--git-dir", str(git_dir)) if git_dir is not None else ()
    proc = await asyncio.create_subprocess_exec(
        "git", *_GIT_OPTIONS, *where, *args,
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=_env(),
    )  # fmt: skip
    try:
        out, err = await asyncio.wait_for(proc.communicate(stdin), GIT_TIMEOUT)
    except TimeoutError as exc:
        proc.kill()
        await proc.wait()
        raise RemoteError(f"git {args[0]} timed out after {GIT_TIMEOUT:.0f} s") from exc
    if proc.returncode != 0:
        text = err.decode("utf-8", "replace").strip()[-500:]
        raise RemoteError(f"git {args[0]} failed ({proc.returncode}): {text}")
    return out
