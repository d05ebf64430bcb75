"""Run the kernel's checkpatch.pl over patch mails: one perl process per patch, N at once.

One process per patch is how CI bots run it (patchwork checks, NIPA), so its rate here
includes perl's start-up and compile of the 7,000-line script for every patch.
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from bench.common import (
    CheckpatchHit,
    checkpatch_input,
    diff_files_by_line,
    file_at_line,
    parse_checkpatch_terse,
)

FLAGS = ("--no-tree", "--show-types", "--terse", "--no-summary")
_HELPERS = ("spelling.txt", "const_structs.checkpatch")

# A Makefile hunk checkpatch must flag as DEPRECATED_VARIABLE: the self-test.
_SELF_TEST = """\
From: Bench <bench@example.org>
Subject: [PATCH] foo: build it

Build foo.

Signed-off-by: Bench <bench@example.org>
---
diff --git a/drivers/foo/Makefile b/drivers/foo/Makefile
index 1111111..2222222 100644
--- a/drivers/foo/Makefile
+++ b/drivers/foo/Makefile
@@ -1,1 +1,2 @@
 obj-y += foo.o
+EXTRA_CFLAGS += -DFOO
"""


@dataclass(frozen=True)
class LocatedHit:
    """A checkpatch hit tied to the patch (Message-ID) and the file of the diff it is in."""

    patch: str
    path: str | None
    hit: CheckpatchHit


@dataclass(frozen=True)
class CheckpatchRun:
    """All hits of one run over a set of patches, and what it cost."""

    hits: tuple[LocatedHit, ...]
    patches: int
    seconds: float
    workers: int
    failures: tuple[tuple[str, str], ...]  # (Message-ID, what went wrong)
    cpu_s: float = 0.0  # user + system time of the perl processes
    per_patch_s: tuple[tuple[str, float], ...] = ()  # (Message-ID, wall seconds)


def _environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env["LANG"] = env["LC_ALL"] = "C.UTF-8"
    return env


def preflight(script: Path) -> str | None:
    """Why checkpatch cannot run here, or None when its self-test flags what it should."""
    if shutil.which("perl") is None:
        return "perl is not installed"
    if not script.is_file():
        return f"{script} does not exist"
    missing = [name for name in _HELPERS if not (script.parent / name).is_file()]
    if missing:
        return f"{', '.join(missing)} missing next to {script}"
    with tempfile.TemporaryDirectory(prefix="rb-checkpatch-") as tmp:
        Path(tmp, "self-test.patch").write_text(_SELF_TEST)
        result = subprocess.run(
            ["perl", str(script), *FLAGS, "self-test.patch"],
            cwd=tmp,
            capture_output=True,
            text=True,
            env=_environment(),
            timeout=120,
            check=False,
        )
    types = {hit.type for hit in parse_checkpatch_terse(result.stdout)}
    if "DEPRECATED_VARIABLE" not in types:
        return f"self-test not flagged (exit {result.returncode}): {result.stderr[-300:]!r}"
    return None


def _run_one(
    script: Path, workdir: Path, name: str, timeout: float
) -> tuple[list[CheckpatchHit], str | None, float]:
    started = time.perf_counter()
    try:
        result = subprocess.run(
            ["perl", str(script), *FLAGS, name],
            cwd=workdir,
            capture_output=True,
            env=_environment(),
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return [], f"timed out after {timeout:.0f} s", time.perf_counter() - started
    seconds = time.perf_counter() - started
    output = result.stdout.decode("utf-8", errors="replace")
    if result.returncode not in (0, 1):
        return parse_checkpatch_terse(output), f"exit {result.returncode}", seconds
    return parse_checkpatch_terse(output), None, seconds


def _children_cpu() -> float:
    """User + system seconds of the finished child processes so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_checkpatch(
    script: Path,
    mails: Sequence[tuple[str, bytes]],
    workers: int,
    timeout: float = 300.0,
) -> CheckpatchRun:
    """Run checkpatch on each (Message-ID, raw mail); time the runs only (not file writes)."""
    with tempfile.TemporaryDirectory(prefix="rb-checkpatch-") as tmp:
        workdir = Path(tmp)
        names: list[str] = []
        line_maps: list[list[str | None]] = []
        for number, (_, raw) in enumerate(mails):
            name = f"{number:05d}.patch"
            data = checkpatch_input(raw)
            Path(workdir, name).write_bytes(data)
            names.append(name)
            line_maps.append(diff_files_by_line(data.decode("utf-8", errors="replace")))
        cpu_started = _children_cpu()
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=workers) as pool:
            results = list(pool.map(lambda name: _run_one(script, workdir, name, timeout), names))
        seconds = time.perf_counter() - started
        cpu = _children_cpu() - cpu_started
    hits: list[LocatedHit] = []
    failures: list[tuple[str, str]] = []
    timings: list[tuple[str, float]] = []
    for (message_id, _), line_map, (found, problem, spent) in zip(
        mails, line_maps, results, strict=True
    ):
        timings.append((message_id, spent))
        if problem:
            failures.append((message_id, problem))
        hits.extend(LocatedHit(message_id, file_at_line(line_map, hit.line), hit) for hit in found)
    return CheckpatchRun(
        tuple(hits), len(mails), seconds, workers, tuple(failures), cpu, tuple(timings)
    )
