"""Benchmark the static stage on a real list archive, and checkpatch.pl beside it.

    python -m bench.bench_static [--limit N] [--checkpatch-limit M] [--archive PATH]

Prints: tree index times (cold, warm, incremental), the static stage's rate, memory and
findings per rule per 100 patches, crashes (must be none), checkpatch's rate and its
overlap with reviewbot, and the targets with PASS/MISS. Exits 1 only on a crash.
The rules measured are whatever reviewbot.rules.registry.RULES holds when it runs.
See bench/README.md for what each figure means.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import resource
import sys
import time
import tracemalloc
from collections.abc import Sequence
from pathlib import Path

from bench import report
from bench.checkpatch import preflight, run_checkpatch
from bench.common import prefix_within
from bench.index_times import measure_index_in_child
from bench.static_stage import StaticRun, run_static
from reviewbot.config import Config, default_cache_dir
from reviewbot.mail.mbox import read_input
from reviewbot.model import RawMail, Series
from reviewbot.rules.base import Rule
from reviewbot.rules.registry import RULES
from reviewbot.tree.fetch import ensure_default_tree
from reviewbot.tree.index import TreeIndex, build_index

REPO = Path(__file__).resolve().parent.parent
ARCHIVE_NAME = "linux-kbuild-2025-11_2026-07.mbox.gz"
DEFAULT_ARCHIVE = REPO.parent / "shared" / "data" / "lore" / ARCHIVE_NAME
_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


def _note(text: str) -> None:
    """Progress goes to stderr; the figures alone go to stdout."""
    print(text, file=sys.stderr, flush=True)


def _load() -> str:
    try:
        return " ".join(f"{value:.2f}" for value in os.getloadavg())
    except OSError:
        return "unknown"


def _machine() -> str:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = " (" + line.split(":", 1)[1].strip() + ")"
                break
    except OSError:
        pass
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (
        f"{platform.system()} {platform.release()} {platform.machine()}, {cpus} CPUs"
        f"{model}, Python {platform.python_version()}"
    )


def _status_kib(field: str) -> float | None:
    """A 'VmRSS'/'VmHWM' figure of this process in KiB, None off Linux."""
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith(field + ":"):
                return float(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def _reset_peak_rss() -> bool:
    """Reset this process's VmHWM (Linux: write 5 to /proc/self/clear_refs)."""
    try:
        _CLEAR_REFS.write_text("5")
    except OSError:
        return False
    return True


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.bench_static", description=(__doc__ or "").split("\n", 1)[0]
    )
    parser.add_argument(
        "--archive",
        type=Path,
        default=DEFAULT_ARCHIVE,
        help="mbox(.gz) of list mails (default: %(default)s)",
    )
    parser.add_argument(
        "--limit",
        type=int,
        default=0,
        metavar="N",
        help="only the first N mails of the archive (default: all)",
    )
    parser.add_argument(
        "--checkpatch-limit",
        type=int,
        default=300,
        metavar="M",
        help="run checkpatch on the leading whole series holding at most M "
        "patches (default: %(default)s; 0 skips checkpatch)",
    )
    parser.add_argument(
        "--checkpatch-workers",
        type=int,
        default=min(2, os.cpu_count() or 1),
        metavar="W",
        help="checkpatch processes at once (default: %(default)s)",
    )
    parser.add_argument(
        "--tree", type=Path, help="kernel tree (default: reviewbot's linux-source-6.12)"
    )
    parser.add_argument(
        "--scratch",
        type=Path,
        help="where the temporary tree copy goes (the tree's filesystem, for "
        "hard links; default: the system temp dir)",
    )
    parser.add_argument(
        "--no-index-bench", action="store_true", help="skip the cold/warm/incremental index timings"
    )
    parser.add_argument(
        "--tracemalloc",
        action="store_true",
        help="add a pass under tracemalloc for the stage's own peak "
        "allocation (that pass runs ~5x slower)",
    )
    return parser


def _traced_peak(
    raws: Sequence[RawMail],
    root: Path,
    index: TreeIndex,
    rules: Sequence[Rule],
    arches: tuple[str, ...],
) -> float:
    """MiB at the peak of a second pass of the stage under tracemalloc (index excluded)."""
    tracemalloc.start()
    try:
        run_static(raws, root, index, rules, arches)
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def _static(
    args: argparse.Namespace,
    raws: Sequence[RawMail],
    root: Path,
    index: TreeIndex,
    rules: Sequence[Rule],
) -> tuple[StaticRun, report.Memory]:
    arches = Config().arches
    rss_start = _status_kib("VmRSS")
    reset = _reset_peak_rss()
    _note(f"static stage over {len(raws)} mails")
    run = run_static(raws, root, index, rules, arches)
    peak = _status_kib("VmHWM") if reset else None
    traced = None
    if args.tracemalloc:
        _note("extra pass under tracemalloc")
        traced = _traced_peak(raws, root, index, rules, arches)
    memory = report.Memory(
        rss_start=report.mib(rss_start) if rss_start is not None else None,
        rss_peak_stage=report.mib(peak) if peak is not None else None,
        maxrss_process=report.mib(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss),
        traced_peak=traced,
    )
    return run, memory


def _subset(
    run: StaticRun, raws: Sequence[RawMail], limit: int
) -> tuple[list[Series], list[RawMail]]:
    """The leading whole series holding at most `limit` patches, and their raw mails."""
    chosen = run.series[: prefix_within([len(s.patches) for s in run.series], limit)]
    wanted = {m.source for s in chosen for m in (s.cover, *s.patches) if m is not None}
    return chosen, [raw for raw in raws if raw.source in wanted]


def _checkpatch(
    args: argparse.Namespace,
    run: StaticRun,
    raws: Sequence[RawMail],
    root: Path,
    index: TreeIndex,
    rules: Sequence[Rule],
) -> StaticRun | None:
    """Run reviewbot, then checkpatch, on the subset; print both. None when skipped."""
    print("\n== checkpatch.pl on the same patches ==")
    script = root / "scripts" / "checkpatch.pl"
    problem = preflight(script)
    if problem:
        print(f"checkpatch skipped: {problem}")
        return None
    print(f"checkpatch: {script}; self-test (EXTRA_CFLAGS in a Makefile) flagged as expected")
    chosen, subset_raws = _subset(run, raws, args.checkpatch_limit)
    _note(f"reviewbot, then checkpatch, on {sum(len(s.patches) for s in chosen)} patches")
    rb = run_static(subset_raws, root, index, rules, Config().arches)
    by_source = {raw.source: raw.data for raw in subset_raws}
    mails = [(p.message_id, by_source[p.source]) for s in chosen for p in s.patches]
    result = run_checkpatch(script, mails, args.checkpatch_workers)
    report.checkpatch_section(result, rb, rules, len(chosen))
    return rb


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    load_start = _load()
    cache_dir = default_cache_dir()
    root = (args.tree or ensure_default_tree(cache_dir)).resolve()
    rules = list(RULES)
    _note("reading the archive")
    started = time.perf_counter()
    raws = read_input(args.archive.read_bytes(), args.archive.name)
    split_s = time.perf_counter() - started
    print("== reviewbot static benchmark ==")
    print(f"date:    {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC")
    print(f"machine: {_machine()}; load average {load_start}")
    limited = f", first {args.limit} used (--limit)" if args.limit else ""
    print(f"archive: {args.archive} ({len(raws)} mails{limited})")
    print(f"tree:    {root}")
    print(f"rules:   {len(rules)} registered: {' '.join(r.id for r in rules)}")
    if args.limit:
        raws = raws[: args.limit]

    times = None
    if not args.no_index_bench:
        _note("timing the tree index: cold, warm, incremental")
        times = measure_index_in_child(root, args.scratch)
    started = time.perf_counter()
    index = build_index(root, cache_dir)
    warm_here = time.perf_counter() - started
    if times is not None:
        report.index_section(times, warm_here)

    run, memory = _static(args, raws, root, index, rules)
    report.mails_section(run, split_s, memory)
    report.findings_section(rules, run)
    crashes = list(run.crashes)
    if args.checkpatch_limit > 0:
        subset = _checkpatch(args, run, raws, root, index, rules)
        seen = {(c.where, c.what) for c in crashes}  # the subset's mails were in the run
        for crash in subset.crashes if subset else ():
            if (crash.where, crash.what) not in seen:
                crashes.append(crash)
    report.crashes_section(crashes)
    report.targets_section(times, run, len(crashes), (load_start, _load()))
    return 1 if crashes else 0


if __name__ == "__main__":
    sys.exit(main())
