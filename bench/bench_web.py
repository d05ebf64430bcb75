"""Load test of the web app on 127.0.0.1: the filtered series query and the series page.

    python -m bench.bench_web [--series 10000] [--findings-per 10] [--requests 1500]
                              [--seconds 15] [--concurrency 4]

A store is filled with N series (one revision each, 1-3 patches whose raw mail carries a
real diff) and their reviews with `findings-per` findings each (10,000 x 10 = 100,000),
and the web app is started on it in a child process (`serve` below) on 127.0.0.1, so the
load generator does not share the server's event loop. Beside it, in the same run, a bare
aiohttp app answering a fixed JSON body of the same size from memory: the floor any
aiohttp handler on this machine pays. Each scenario stops at --requests requests or
--seconds seconds, whichever comes first. Target: p99 <= 50 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from aiohttp import ClientSession, ClientTimeout, TCPConnector, web

from reviewbot.rules.registry import RULES
from reviewbot.store.db import connect

LISTS = ("linux-kbuild.vger.kernel.org", "netdev.vger.kernel.org", "linux-iommu.lists.linux.dev")
TOPS = (
    "drivers/net",
    "drivers/iommu",
    "drivers/gpu/drm",
    "fs",
    "mm",
    "net/core",
    "kernel",
    "arch/x86/kvm",
    "drivers/usb",
    "sound/soc",
    "lib",
    "scripts/kconfig",
)
SEVERITY_WEIGHTS = (("error", 1), ("warning", 3), ("info", 6))
DIFF_LINE = 13  # the added line of each synthetic hunk (findings point at it)


def _diff(paths: Sequence[str]) -> str:
    out = []
    for path in paths:
        out.append(
            f"diff --git a/{path} b/{path}\n--- a/{path}\n+++ b/{path}\n@@ -10,6 +10,7 @@\n"
            " static int a;\n static int b;\n static int c;\n+static int added;\n"
            " static int d;\n static int e;\n static int f;\n"
        )
    return "".join(out)


def _mail(msgid: str, subject: str, sender: str, paths: Sequence[str]) -> bytes:
    return (
        f"From: {sender}\nSubject: {subject}\nMessage-ID: <{msgid}>\n"
        "Date: Mon, 2 Nov 2026 10:00:00 +0000\nContent-Type: text/plain; charset=utf-8\n\n"
        f"A change.\n\nSigned-off-by: {sender}\n---\n{_diff(paths)}"
    ).encode()


def fill(db: Path, series: int, findings_per: int, seed: int = 1) -> dict[str, int]:
    """Fill a fresh store with the synthetic series, reviews and findings (plain SQL)."""
    rng = random.Random(seed)
    rules = [(r.id, r.name) for r in RULES]
    paths = [f"{rng.choice(TOPS)}/sub{rng.randrange(40)}/file{n}.c" for n in range(3000)]
    people = [f"Dev {n} <dev{n}@example.org>" for n in range(400)]
    sev_pool = [s for s, w in SEVERITY_WEIGHTS for _ in range(w)]
    conn: sqlite3.Connection = connect(db)
    totals = {"series": 0, "patches": 0, "findings": 0}
    t0 = 1_790_000_000.0
    with conn:
        conn.execute("BEGIN")
        for n in range(1, series + 1):
            when = time.strftime("%Y-%m-%dT%H:%M:%S.000+00:00", time.gmtime(t0 + n * 60))
            done = time.strftime("%Y-%m-%dT%H:%M:%S.000+00:00", time.gmtime(t0 + n * 60 + 300))
            sender, list_id = rng.choice(people), rng.choice(LISTS)
            subject = f"[PATCH] subsystem: change number {n}"
            conn.execute(
                "INSERT INTO series (id, key, list_id, subject, submitter, created, updated)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (n, f"k{n}", list_id, subject, sender, when, when),
            )
            npatches = rng.choice((1, 1, 2, 3))
            conn.execute(
                "INSERT INTO revisions (id, series_id, version, head_message_id, subject, total,"
                " received, complete, first_seen, updated, deadline, state, generation,"
                " reviewed_generation) VALUES (?, ?, 1, ?, ?, ?, ?, 1, ?, ?, ?, 'reviewed', 0, 0)",
                (n, n, f"{n}.1@bench", subject, npatches, npatches, when, done, when),
            )
            conn.execute(
                "INSERT INTO reviews (id, revision_id, generation, started, finished, state,"
                " tree) VALUES (?, ?, 0, ?, ?, 'done', 'linux-source-6.12')",
                (n, n, when, done),
            )
            touched: list[tuple[str, str]] = []
            for p in range(1, npatches + 1):
                msgid = f"{n}.{p}@bench"
                files = rng.sample(paths, rng.choice((1, 2, 3)))
                raw = _mail(msgid, f"[PATCH {p}/{npatches}] {subject}", sender, files)
                conn.execute(
                    "INSERT INTO messages (message_id, sha256, raw, list_id, source, received,"
                    " subject, sender, kind) VALUES (?, '', ?, ?, 'bench', ?, ?, ?, 'patch')",
                    (msgid, raw, list_id, when, subject, sender),
                )
                cur = conn.execute(
                    "INSERT INTO patches (revision_id, number, message_id, subject)"
                    " VALUES (?, ?, ?, ?)",
                    (n, p, msgid, subject),
                )
                conn.executemany(
                    "INSERT INTO web_touched (patch_id, revision_id, path) VALUES (?, ?, ?)",
                    [(cur.lastrowid, n, f) for f in files],
                )
                touched += [(msgid, f) for f in files]
                totals["patches"] += 1
            rows = []
            for _ in range(findings_per):
                rule, name = rng.choice(rules)
                msgid, path = rng.choice(touched)
                rows.append(
                    (
                        n,
                        msgid,
                        rule,
                        name,
                        rng.choice(sev_pool),
                        path,
                        DIFF_LINE,
                        f"{rule} says something about {path}",
                        "a hint",
                        json.dumps(["CONFIG_FOO=y", "CONFIG_BAR=m"]),
                    )
                )
            conn.executemany(
                "INSERT INTO findings (review_id, patch_message_id, rule, name, severity, path,"
                " line, message, hint, evidence) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            totals["findings"] += len(rows)
            totals["series"] += 1
        conn.execute("COMMIT")
    conn.execute("ANALYZE")
    conn.close()
    return totals


# -- the servers (child processes) ----------------------------------------------------------


async def _serve(kind: str, db: Path, body_size: int) -> None:
    if kind == "app":
        from reviewbot.config import Config
        from reviewbot.store.store import Store
        from reviewbot.web import create_app
        from reviewbot.web.settings import WebSettings

        store = await Store.open(db)
        settings = WebSettings(anonymous_rate=1e9, anonymous_burst=10**9, index_interval=3600)
        app = create_app(Config(cache_dir=db.parent, tree=db.parent, web=settings), store)
    else:
        body = json.dumps({"items": ["x" * 64] * max(1, body_size // 70)}).encode()

        async def static(request: web.Request) -> web.Response:
            return web.Response(body=body, content_type="application/json")

        app = web.Application()
        app.router.add_get("/static", static)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    print(runner.addresses[0][1], flush=True)
    await asyncio.Event().wait()


def start_server(kind: str, db: Path, body_size: int = 0) -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bench.bench_web",
            "--serve",
            kind,
            "--db",
            str(db),
            "--body-size",
            str(body_size),
        ],
        stdout=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
    )
    assert proc.stdout is not None
    port = int(proc.stdout.readline().strip())
    return proc, port


# -- the load -------------------------------------------------------------------------------


async def load(
    base: str, urls: Sequence[str], requests: int, seconds: float, concurrency: int
) -> tuple[list[float], int, float]:
    """Latencies (s) of successful requests, the number of failures, wall seconds."""
    latencies: list[float] = []
    failures = 0
    deadline = time.monotonic() + seconds
    issued = 0
    async with ClientSession(
        connector=TCPConnector(limit=concurrency), timeout=ClientTimeout(total=30)
    ) as session:
        for url in urls[:20]:  # warm-up: caches, connections
            async with session.get(base + url) as response:
                await response.read()

        async def worker() -> None:
            nonlocal issued, failures
            while issued < requests and time.monotonic() < deadline:
                url = urls[issued % len(urls)]
                issued += 1
                started = time.perf_counter()
                async with session.get(base + url) as response:
                    await response.read()
                    ok = response.status == 200
                if ok:
                    latencies.append(time.perf_counter() - started)
                else:
                    failures += 1

        began = time.monotonic()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        wall = time.monotonic() - began
    return latencies, failures, wall


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads) from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def row(
    name: str, latencies: list[float], failures: int, wall: float, cpu: float, warm: int
) -> str:
    if not latencies:
        return f"{name:34s} no successful requests ({failures} failed)"
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
    count = len(ordered) + failures + warm  # CPU time covers the warm-up requests too
    return (
        f"{name:34s} {len(ordered):6d} {len(ordered) / wall:8.0f} "
        f"{statistics.median(ordered) * 1000:8.2f} {p99 * 1000:8.2f} "
        f"{cpu / max(count, 1) * 1000:8.2f} {failures:5d}"
    )


def filtered_urls(series: int, rng: random.Random) -> list[str]:
    rules = [r.id for r in RULES]
    urls = []
    for _ in range(400):
        kind = rng.randrange(7)
        if kind == 0:
            urls.append(f"/api/v1/series?rule={rng.choice(rules)}")
        elif kind == 1:
            urls.append(f"/api/v1/series?severity=error&list={rng.choice(LISTS)}")
        elif kind == 2:
            urls.append(f"/api/v1/series?path={rng.choice(TOPS)}")
        elif kind == 3:
            urls.append(f"/api/v1/series?submitter=dev{rng.randrange(400)}@")
        elif kind == 4:
            urls.append(f"/api/v1/series?path={rng.choice(TOPS)}&rule={rng.choice(rules)}")
        elif kind == 5:
            urls.append("/api/v1/series?state=reviewed&since=2026-09-01&severity=warning")
        else:
            urls.append(f"/api/v1/series?rule={rng.choice(rules)}&severity=warning&limit=20")
    return urls


async def run(args: argparse.Namespace) -> int:
    rng = random.Random(2)
    with tempfile.TemporaryDirectory(prefix="bench-web-") as tmp:
        db = Path(tmp) / "service.sqlite"
        began = time.monotonic()
        totals = fill(db, args.series, args.findings_per)
        print(
            f"store: {totals['series']} series, {totals['patches']} patches, "
            f"{totals['findings']} findings ({time.monotonic() - began:.1f} s to fill, "
            f"{db.stat().st_size / 1e6:.0f} MB)",
            file=sys.stderr,
        )
        app, app_port = start_server("app", db)
        peer, peer_port = start_server("static", db, body_size=20_000)
        try:
            page_ids = [rng.randrange(1, args.series + 1) for _ in range(400)]
            scenarios = [
                ("filtered series query (API)", app_port, filtered_urls(args.series, rng)),
                ("series page (HTML)", app_port, [f"/series/{n}" for n in page_ids]),
                ("series document (API)", app_port, [f"/api/v1/series/{n}" for n in page_ids]),
                ("peer: static aiohttp handler", peer_port, ["/static"]),
            ]
            print(
                f"web load test: {totals['series']} series, {totals['findings']} findings; "
                f"concurrency {args.concurrency}, at most {args.requests} requests or "
                f"{args.seconds:.0f} s per scenario; 127.0.0.1"
            )
            head = ("reqs", "req/s", "p50 ms", "p99 ms", "cpu ms")
            print(
                f"{'scenario':34s} {head[0]:>6s} "
                + " ".join(f"{h:>8s}" for h in head[1:])
                + "  fail"
            )
            worst = 0.0
            for name, port, urls in scenarios:
                pid = (peer if port == peer_port else app).pid
                before = cpu_seconds(pid)
                latencies, failures, wall = await load(
                    f"http://127.0.0.1:{port}",
                    urls,
                    args.requests,
                    args.seconds,
                    args.concurrency,
                )
                cpu = cpu_seconds(pid) - before
                warm = min(20, len(urls))
                print(row(name, latencies, failures, wall, cpu, warm), flush=True)
                if not name.startswith("peer") and latencies:
                    ordered = sorted(latencies)
                    worst = max(worst, ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))])
            print(
                f"target p99 <= 50 ms: {'met' if worst <= 0.050 else 'NOT met'} "
                f"(worst p99 {worst * 1000:.1f} ms); load average now "
                f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; cpu ms = the server's "
                "CPU time per request, all its threads"
            )
        finally:
            for proc in (app, peer):
                proc.terminate()
                proc.wait(timeout=10)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_web", description=__doc__)
    parser.add_argument("--series", type=int, default=10_000)
    parser.add_argument("--findings-per", type=int, default=10)
    parser.add_argument("--requests", type=int, default=1500)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--serve", choices=("app", "static"), help=argparse.SUPPRESS)
    parser.add_argument("--db", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--body-size", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        assert args.db is not None
        asyncio.run(_serve(args.serve, args.db, args.body_size))
        return 0
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
