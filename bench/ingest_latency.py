"""Arrival -> review latency: a patch delivered into public-inbox until serve stored its review.

Used by bench_ingest. A fresh v2 inbox is served by public-inbox-httpd; `reviewbot serve`
runs in a child process with one lore source on it (poll interval 1 s), the default 6.12
tree and the Kconfig stage on (builds off). A warm-up patch is delivered and reviewed
first (tree index loaded, Kconfig workers started); then each of N single real patches
from the archive is delivered with public-inbox-mda, one at a time, and the time from
the end of the delivery to its review row in the store is taken.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from reviewbot.config import default_cache_dir
from reviewbot.errors import MalformedMailError
from reviewbot.mail.parse import parse_mail
from reviewbot.model import RawMail
from tests.lore import PublicInbox

REPO = Path(__file__).resolve().parent.parent


def service_present() -> bool:
    return importlib.util.find_spec("reviewbot.service") is not None


def single_patches(mails: Sequence[bytes], count: int) -> list[tuple[str, bytes]]:
    """The first `count` real single patches ([PATCH] without n/m, with a diff) of the archive."""
    out: list[tuple[str, bytes]] = []
    for raw in mails:
        try:
            message = parse_mail(RawMail(raw, "archive"))
        except MalformedMailError:
            continue
        tags = message.tags
        if message.has_patch and not tags.is_reply and tags.total is None and tags.is_patch:
            out.append((message.message_id, raw))
            if len(out) == count:
                break
    return out


def _config(work: Path, url: str) -> Path:
    config = work / "latency.toml"
    config.write_text(
        f'cache_dir = "{default_cache_dir()}"\n'
        "[service]\n"
        f'store = "{work / "latency.sqlite"}"\n'
        "kconfig = true\nbuild = false\nhold_seconds = 600\npoll_interval = 1.0\ntick = 0.1\n"
        "concurrency = 1\n"
        f'[sources.lore]\nkind = "lore"\nlist = "linux-kbuild"\nurl = "{url}"\n'
        f'mirror = "{work / "latency-mirror"}"\n'
    )
    return config


def _reviewed(store: Path, message_id: str) -> bool:
    if not store.exists():
        return False
    try:
        with sqlite3.connect(store, timeout=30) as conn:
            row = conn.execute(
                "SELECT count(*) FROM reviews r JOIN patches p ON p.revision_id = r.revision_id"
                " WHERE p.message_id = ?",
                (message_id,),
            ).fetchone()
    except sqlite3.OperationalError:  # not migrated yet
        return False
    return bool(row and row[0])


def _wait(store: Path, message_id: str, proc: subprocess.Popen[bytes], timeout: float) -> float:
    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        if _reviewed(store, message_id):
            return time.perf_counter() - start
        if proc.poll() is not None:
            raise RuntimeError(f"reviewbot serve exited with {proc.returncode}")
        time.sleep(0.05)
    raise TimeoutError(f"<{message_id}> not reviewed in {timeout:.0f} s")


def measure(work: Path, patches: list[tuple[str, bytes]], timeout: float = 900) -> list[float]:
    """Latencies (seconds) of patches[1:], patches[0] being the warm-up."""
    inbox = PublicInbox.create(work / "latency-inbox")
    warm_id, warm_raw = patches[0]
    inbox.deliver(warm_raw)  # an inbox with mail in it: the source clones at start
    log = work / "latency-serve.log"
    store = work / "latency.sqlite"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    with inbox.serve() as url, log.open("ab") as out:
        config = _config(work, url)
        proc = subprocess.Popen(
            [sys.executable, "-m", "reviewbot", "-v", "serve", "--config", str(config)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            _wait(store, warm_id, proc, timeout)
            latencies = []
            for message_id, raw in patches[1:]:
                inbox.deliver(raw)
                latencies.append(_wait(store, message_id, proc, timeout))
                print(f"latency: <{message_id}> {latencies[-1]:.1f} s", file=sys.stderr)
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    return latencies


def summary(latencies: list[float]) -> tuple[float, float]:
    """(median, p95) of the latencies (p95 by the nearest-rank method)."""
    ordered = sorted(latencies)
    rank = max(1, -(-95 * len(ordered) // 100))
    return statistics.median(ordered), ordered[rank - 1]
