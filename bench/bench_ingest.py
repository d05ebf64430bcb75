"""Benchmark intake: public-inbox git epochs -> store + assembly, beside public-inbox-index.

    python -m bench.bench_ingest [--archive PATH] [--limit N] [--hold S] [--keep DIR]

Builds a real v2 public-inbox from the archive (public-inbox-init -V2, the package's
import_mbox; untimed setup), serves it with public-inbox-httpd on 127.0.0.1, then times:

- ours: LoreGitSource.poll (manifest.js.gz, git clone over HTTP, one message per commit
  into a fresh store, cursor with every batch) and assemble_pending (every message parsed,
  classified, linked into series/revisions/patches) — messages/s, target under 30 s for
  the whole archive;
- the peer: `public-inbox-index --reindex` on the same inbox (it reads the same git
  epochs and rebuilds its own overview index, indexlevel basic), in the same run.

Then the arrival -> review latency, when the service (branch `serve`) is present: see
bench/README.md. See bench/README.md for what each figure means.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

from bench import ingest_latency
from bench.bench_static import DEFAULT_ARCHIVE, _load, _machine, _note
from bench.common import format_table, rate, verdict
from reviewbot.ingest.lore import LoreGitSource
from reviewbot.mail.mbox import split_mbox
from reviewbot.store.series import assemble_pending
from reviewbot.store.store import Store
from tests.lore import PublicInbox, available

TARGET_SECONDS = 30.0
LATENCY_TARGET = 120.0


def _mboxrd(archive: Path, limit: int | None) -> tuple[bytes, int]:
    """The archive as mboxrd (first `limit` mails), and how many mails it holds."""
    data = archive.read_bytes()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    if limit is None:
        return data, sum(1 for _ in split_mbox(data, str(archive)))
    out = bytearray()
    count = 0
    for raw in split_mbox(data, str(archive)):
        if count == limit:
            break
        body = b"\n".join(
            b">" + line if line.lstrip(b">").startswith(b"From ") else line
            for line in raw.data.split(b"\n")
        )
        out += b"From mboxrd@z Thu Jan  1 00:00:00 1970\n" + body + b"\n"
        count += 1
    return bytes(out), count


def _messages_in_epochs(inbox: PublicInbox) -> int:
    """Commits that hold a message (`m`) in every epoch of the inbox."""
    total = 0
    for epoch in inbox.epochs():
        out = subprocess.run(
            ["git", "--git-dir", str(epoch), "log", "--all", "--format=", "--name-only"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        total += sum(1 for line in out.splitlines() if line == "m")
    return total


def _cpu() -> float:
    """CPU seconds of this process and its waited-for children (git, public-inbox)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _timed_reindex(inbox: PublicInbox) -> tuple[float, float]:
    start, cpu = time.perf_counter(), _cpu()
    subprocess.run(
        ["public-inbox-index", "--reindex", str(inbox.inboxdir)],
        env=inbox.env,
        check=True,
        capture_output=True,
        timeout=3600,
    )
    return time.perf_counter() - start, _cpu() - cpu


async def _ours(url: str, work: Path, hold: float) -> tuple[int, float, float, dict[str, int]]:
    store = await Store.open(work / "bench-store.db")
    try:
        async with aiohttp.ClientSession() as session:
            source = LoreGitSource(url, work / "mirror", session)
            start = time.perf_counter()
            new = await source.poll(store)
            fetched = time.perf_counter() - start
            cursor = await store.cursor(source.name)
            if cursor is not None and cursor.last_error:
                raise RuntimeError(f"the git source failed: {cursor.last_error}")
        start = time.perf_counter()
        await assemble_pending(store, time.time(), hold)
        assembled = time.perf_counter() - start
        counts = await store.message_counts()
        revisions = await store.fetchone("SELECT count(*) FROM revisions")
        series = await store.fetchone("SELECT count(*) FROM series")
        counts = {**counts, "revisions": int(revisions[0]), "series": int(series[0])}
    finally:
        await store.close()
    return new, fetched, assembled, counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_ingest")
    parser.add_argument("--archive", type=Path, default=DEFAULT_ARCHIVE)
    parser.add_argument("--limit", type=int, default=None, help="only the first N mails")
    parser.add_argument("--hold", type=float, default=600.0, help="assembly hold seconds")
    parser.add_argument("--keep", type=Path, default=None, help="work here, keep it after")
    parser.add_argument("--latency", type=int, default=20, help="patches timed (0: skip)")
    parser.add_argument("--no-throughput", action="store_true", help="only the latency")
    args = parser.parse_args(argv)
    if not available():
        print("public-inbox is not installed (run .ci/setup)", file=sys.stderr)
        return 2
    work = args.keep or Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    work.mkdir(parents=True, exist_ok=True)
    data, count = _mboxrd(args.archive, args.limit)
    ok = True
    if not args.no_throughput:
        ok = _throughput(args, work, data, count)
    if args.latency <= 0:
        print("arrival -> review latency: skipped (--latency 0)")
    elif not ingest_latency.service_present():
        print("arrival -> review latency: not measured (the service is not in this tree)")
    else:
        _note(f"latency: {args.latency} real single patches through reviewbot serve")
        patches = ingest_latency.single_patches(
            [raw.data for raw in split_mbox(data, "archive")], args.latency + 1
        )
        latencies = ingest_latency.measure(work, patches)
        median, p95 = ingest_latency.summary(latencies)
        print(
            f"arrival -> review latency over {len(latencies)} patches (Kconfig stage on,"
            f" warm): median {median:.1f} s, p95 {p95:.1f} s, max {max(latencies):.1f} s;"
            f" target p95 under {LATENCY_TARGET:.0f} s:"
            f" {verdict(p95, LATENCY_TARGET, at_least=False)}"
        )
    print(f"load average: {_load()} (pid {os.getpid()})")
    if args.keep is None:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if ok else 1


def _throughput(args: argparse.Namespace, work: Path, data: bytes, count: int) -> bool:
    """Time ours and public-inbox-index on the archive; print the table; True if all came."""
    _note(f"setup: public-inbox-init -V2 and import of {count} mails (untimed) in {work}")
    inbox = PublicInbox.create(work / "public-inbox")
    start = time.perf_counter()
    inbox.import_mbox(data)
    setup = time.perf_counter() - start
    _note(f"setup: imported in {setup:.1f} s; timing public-inbox-index --reindex")
    commits = _messages_in_epochs(inbox)
    _note(f"setup: {commits} messages in the epochs (public-inbox drops repeated Message-IDs)")
    peer, peer_cpu = _timed_reindex(inbox)
    _note("timing ours: git clone over HTTP -> store -> assembly")
    with inbox.serve() as url:
        cpu = _cpu()
        new, fetched, assembled, counts = asyncio.run(_ours(url, work, args.hold))
        ours_cpu = _cpu() - cpu  # the server's CPU is not ours: it runs in its own process
    ours = fetched + assembled
    rows: list[tuple[str, int, float, float | None]] = [
        ("reviewbot: git epochs -> store (clone over HTTP)", new, fetched, None),
        ("reviewbot: series assembly (parse + link)", new, assembled, None),
        ("reviewbot: total", new, ours, ours_cpu),
        ("public-inbox-index --reindex (basic)", commits, peer, peer_cpu),
    ]
    table = [
        [name, n, f"{wall:.1f}", "" if cpu is None else f"{cpu:.1f}", f"{rate(n, wall):.0f}"]
        for name, n, wall, cpu in rows
    ]
    print(f"bench_ingest: {args.archive.name}, {count} mails, {commits} in the git epochs")
    print(f"machine: {_machine()}")
    print(format_table(["step", "messages", "wall s", "CPU s", "messages/s (wall)"], table))
    print("store: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    print(
        f"target: the whole archive under {TARGET_SECONDS:.0f} s: {ours:.1f} s"
        f" {verdict(ours, TARGET_SECONDS, at_least=False)}"
        + ("" if args.limit is None else " (a --limit run: not the whole archive)")
    )
    return new == commits


if __name__ == "__main__":
    sys.exit(main())
