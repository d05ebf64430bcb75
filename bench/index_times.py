"""Time the tree index: cold, warm, and incremental on a hard-linked copy of the tree.

The real tree is never written to. The incremental case copies it with `cp -al` (hard
links: a second and no extra space), gives the copy the cold run's cache, then
*replaces* a few files of the copy (a new file renamed over the old name, so the
shared inode of the original is untouched), adds one and removes one, and re-indexes.
The originals' digests are checked before and after. Everything runs in a child
process so that the index builds do not weigh on the static stage's memory figures.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import resource
import shutil
import subprocess
import tempfile
import time
import traceback
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path

from reviewbot.tree.index import build_index, cache_file

_PROBE = "BENCH_INCREMENTAL_PROBE"
# path -> text appended to the copy's version of the file (a new file replaces it)
_REPLACED: dict[str, str] = {
    "init/Kconfig": f'\nconfig {_PROBE}\n\tbool "reviewbot bench probe"\n',
    "drivers/Makefile": f"obj-$(CONFIG_{_PROBE})\t\t+= bench_probe/\n",
    "lib/string.c": "\nint bench_probe_export(void) { return 0; }\n"
    "EXPORT_SYMBOL(bench_probe_export);\n",
}
_ADDED = ("drivers/bench_probe/Makefile", f"obj-$(CONFIG_{_PROBE}) += probe.o\n")
_REMOVED = "lib/bsearch.c"  # the only definition of EXPORT_SYMBOL(bsearch)


@dataclass(frozen=True)
class IndexTimes:
    """What the index benchmark measured (seconds, counts) and how."""

    cold: float
    warm: float
    incremental: float | None
    copy_seconds: float | None
    copy_method: str
    changed: tuple[str, ...]
    incremental_ok: bool
    incremental_problems: tuple[str, ...]
    kconfig_files: int
    kbuild_files: int
    symbols: int
    exports: int
    objects: int
    workers: int
    peak_rss_kib: int


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _copy_tree(src: Path, dest: Path) -> str:
    """Copy with hard links; a reflink/plain copy when links cannot cross filesystems."""
    try:
        subprocess.run(["cp", "-al", str(src), str(dest)], check=True, capture_output=True)
    except subprocess.CalledProcessError:
        shutil.rmtree(dest, ignore_errors=True)
        subprocess.run(
            ["cp", "-a", "--reflink=auto", str(src), str(dest)], check=True, capture_output=True
        )
        return "cp -a --reflink=auto (hard links failed)"
    return "cp -al (hard links)"


def _replace(path: Path, text: str) -> None:
    """Write text to a new file and rename it over path: a hard-linked original stays."""
    fresh = path.with_name(path.name + ".bench-new")
    fresh.write_text(text)
    fresh.replace(path)


def _differ(copy: Path) -> tuple[str, ...]:
    """Make the copy look like a base commit a few files away; return what changed."""
    for name, extra in _REPLACED.items():
        target = copy / name
        _replace(target, target.read_text(errors="replace") + extra)
    added = copy / _ADDED[0]
    added.parent.mkdir(parents=True, exist_ok=True)
    added.write_text(_ADDED[1])
    (copy / _REMOVED).unlink()
    return (*(f"M {n}" for n in _REPLACED), f"A {_ADDED[0]}", f"D {_REMOVED}")


def measure_index(root: Path, scratch: Path | None = None) -> IndexTimes:
    """Cold, warm and incremental index builds of root, in fresh temporary caches."""
    root = root.resolve()
    with tempfile.TemporaryDirectory(prefix="rb-bench-", dir=scratch) as tmp:
        cache = Path(tmp, "cache")
        started = time.perf_counter()
        build_index(root, cache)
        cold = time.perf_counter() - started
        started = time.perf_counter()
        index = build_index(root, cache)
        warm = time.perf_counter() - started

        originals = {name: _digest(root / name) for name in (*_REPLACED, _REMOVED)}
        copy = Path(tmp, "tree")
        started = time.perf_counter()
        method = _copy_tree(root, copy)
        copy_seconds = time.perf_counter() - started
        store = cache_file(cache, copy)
        store.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(cache_file(cache, root), store)
        changed = _differ(copy)
        started = time.perf_counter()
        patched = build_index(copy, cache)
        incremental = time.perf_counter() - started

        problems: list[str] = []
        if _PROBE not in patched.symbols:
            problems.append(f"new symbol {_PROBE} not indexed")
        if "bench_probe_export" not in patched.exports:
            problems.append("new export bench_probe_export not indexed")
        if not patched.builders_of("drivers/bench_probe/"):
            problems.append("new Makefile line drivers/bench_probe/ not indexed")
        if not patched.builders_of("drivers/bench_probe/probe.o"):
            problems.append("added drivers/bench_probe/Makefile not indexed")
        if any(d.path == _REMOVED for d in patched.exports.get("bsearch", [])):
            problems.append(f"removed {_REMOVED} still exports bsearch")
        changed_originals = [n for n, d in originals.items() if _digest(root / n) != d]
        if changed_originals:  # cannot happen with rename-over; checked all the same
            raise RuntimeError(f"the real tree changed: {changed_originals}")
    return IndexTimes(
        cold=cold,
        warm=warm,
        incremental=incremental,
        copy_seconds=copy_seconds,
        copy_method=method,
        changed=changed,
        incremental_ok=not problems,
        incremental_problems=tuple(problems),
        kconfig_files=len(index.kconfig_files),
        kbuild_files=len(index.kbuild_files),
        symbols=len(index.symbols),
        exports=len(index.exports),
        objects=len(index.objects),
        workers=min(os.cpu_count() or 1, 4),
        peak_rss_kib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    )


def _child(root: str, scratch: str | None, conn: Connection) -> None:
    try:
        conn.send(("ok", measure_index(Path(root), Path(scratch) if scratch else None)))
    except BaseException:  # reported to the parent, which decides
        conn.send(("error", traceback.format_exc()))
    finally:
        conn.close()


def measure_index_in_child(root: Path, scratch: Path | None = None) -> IndexTimes:
    """measure_index in a spawned process; its traceback is raised here on failure."""
    context = multiprocessing.get_context("spawn")
    receive, send = context.Pipe(duplex=False)
    process = context.Process(
        target=_child, args=(str(root), str(scratch) if scratch else None, send)
    )
    process.start()
    send.close()
    try:
        status, payload = receive.recv()
    except EOFError as exc:
        process.join()
        raise RuntimeError(f"index benchmark died (exit {process.exitcode})") from exc
    process.join()
    if status != "ok":
        raise RuntimeError(f"index benchmark failed:\n{payload}")
    if not isinstance(payload, IndexTimes):
        raise TypeError(f"unexpected index benchmark result {payload!r}")
    return payload
