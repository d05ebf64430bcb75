"""The build benchmark's data, helpers and report text (pure).

Make output counts, the peer's command lines, step labels, medians, and the report's
sections as text. Nothing here reads files, runs processes or looks at the clock;
bench_build does that and hands the results in.
"""

from __future__ import annotations

import posixpath
import re
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from bench.common import format_table, verdict
from reviewbot.build.model import Arch, BuildConfig

COLD_TARGET_S = 20.0
WARM_TARGET_S = 60.0
NO_WERROR_FILE = "no-werror.config"  # the peer's KCONFIG_ALLCONFIG
NO_WERROR_TEXT = "# CONFIG_WERROR is not set\n"

# kbuild's short log: "  CC      drivers/x.o", "  CC [M]  drivers/x.o", "  HOSTCC  scripts/..."
_COMPILED = re.compile(r"^\s+(?:CC|AS|HOSTCC|HOSTCXX)(?: \[M\])?\s+\S", re.MULTILINE)
_DIAG = re.compile(r"^(?P<path>[^\s:][^:]*):\d+(?::\d+)?: (?P<kind>warning|error): ", re.MULTILINE)


# ---------------------------------------------------------------------------
# Make output and command lines


@dataclass(frozen=True)
class OutputCounts:
    """What one make printed: compiler runs in kbuild's short log, diagnostics."""

    compiled: int
    warnings: int
    errors: int
    touched_warnings: int  # warnings in the files the patch touches


def _in_paths(path: str, paths: Sequence[str]) -> bool:
    path = posixpath.normpath(path)
    return any(path == p or path.endswith("/" + p) for p in paths)


def count_output(text: str, touched: Sequence[str] = ()) -> OutputCounts:
    """Count compiles (CC/AS/HOSTCC lines) and compiler warnings/errors in make output."""
    warnings = errors = touched_warnings = 0
    for match in _DIAG.finditer(text):
        if match["kind"] == "error":
            errors += 1
            continue
        warnings += 1
        if _in_paths(match["path"], touched):
            touched_warnings += 1
    return OutputCounts(len(_COMPILED.findall(text)), warnings, errors, touched_warnings)


def touched_dirs(paths: Iterable[str]) -> list[str]:
    """The directories (with a trailing '/', as make takes them) of touched .c/.S files."""
    return sorted({posixpath.dirname(p) + "/" for p in paths if p.endswith((".c", ".S"))})


def make_label(argv: Sequence[str]) -> str:
    """The target of a make command line ('defconfig', 'prepare'); its last word else."""
    if argv and posixpath.basename(argv[0]) != "make":
        return posixpath.basename(argv[0])
    targets: list[str] = []
    skip = False
    for word in argv[1:]:
        if skip:
            skip = False
            continue
        if word in ("-C", "-f", "-I"):
            skip = True
            continue
        if word.startswith("-") or "=" in word:
            continue
        targets.append(word)
    return " ".join(targets) or "make"


def peer_argv(arch: Arch, source: str, out: str, jobs: int, *targets: str) -> list[str]:
    """The usual developer's make: in the source tree, output in out."""
    return ["make", "-C", source, f"O={out}", *arch.make_vars(), f"-j{jobs}", *targets]


def peer_command(arch: Arch, jobs: int, *targets: str) -> str:
    """The same make as typed in a kernel checkout (output in ./build)."""
    return " ".join(["make", "O=build", *arch.make_vars(), f"-j{jobs}", *targets])


def config_label(config: BuildConfig) -> str:
    """'defconfig +SERIAL_DEV_BUS=y WERROR=n'."""
    extra = " ".join(f"{s}={v}" for s, v in config.enable)
    return f"{config.defconfig} {extra}".strip()


def time_left(budget: float, spent: float) -> float:
    """Seconds left of a budget (never negative)."""
    return max(0.0, budget - spent)


def median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


# ---------------------------------------------------------------------------
# What is measured


@dataclass(frozen=True)
class StepTime:
    """One command of a phase: what it was, its wall time, whether it worked."""

    label: str
    seconds: float
    ok: bool


@dataclass(frozen=True)
class ColdPrepare:
    """ensure_prepared of one (arch, config) into an empty cache."""

    arch: str
    config: str
    seconds: float
    steps: tuple[StepTime, ...] = ()
    missing: tuple[str, ...] = ()
    out_mib: float = 0.0
    out_files: int = 0  # every job copies the prepared tree twice: files cost, not bytes
    error: str = ""


@dataclass(frozen=True)
class JobTime:
    """One BuildOutcome of a warm run."""

    arch: str
    seconds: float
    base: float  # step seconds on the base tree
    patched: float
    ok: bool
    cached: bool  # the prepared tree came from the cache
    error: str = ""


@dataclass(frozen=True)
class WarmRun:
    number: int
    seconds: float  # review_series, the whole patch
    build: float  # inside the build provider
    jobs: tuple[JobTime, ...]
    findings: tuple[str, ...] = ()  # BLD findings as 'RULE path:line'

    @property
    def warm(self) -> bool:
        return all(job.cached for job in self.jobs)


@dataclass(frozen=True)
class PeerStep:
    label: str  # allmodconfig, base build, patched build
    command: str  # as a user types it
    seconds: float
    status: int | None  # None: killed at the time limit
    counts: OutputCounts


@dataclass(frozen=True)
class PeerRun:
    arch: str
    steps: tuple[PeerStep, ...]
    budget: float
    error: str = ""

    @property
    def finished(self) -> bool:
        return not self.error and all(s.status is not None for s in self.steps)

    @property
    def seconds(self) -> float:
        return sum(step.seconds for step in self.steps)


@dataclass(frozen=True)
class PhaseMemory:
    """Peak RSS sampled over the process tree below the benchmark during a phase (KiB)."""

    phase: str
    largest_kib: int  # the largest single process
    total_kib: int  # the largest sum over the tree at one sample
    samples: int


# ---------------------------------------------------------------------------
# Report text


def _s(value: float | None) -> object:
    return "-" if value is None else round(value, 1)


def render_cold(rows: Sequence[ColdPrepare], target: float = COLD_TARGET_S) -> str:
    header = ["arch", "config", "total s", "steps (s)", "out MiB", "files", f"< {target:g} s"]
    table = []
    for row in rows:
        steps = ", ".join(
            f"{s.label} {s.seconds:.1f}" + ("" if s.ok else " FAILED") for s in row.steps
        )
        result = "ERROR" if row.error else verdict(row.seconds, target, at_least=False)
        table.append(
            [
                row.arch,
                row.config,
                round(row.seconds, 1),
                steps,
                round(row.out_mib, 1),
                row.out_files,
                result,
            ]
        )
    out = [format_table(header, table)]
    for row in rows:
        if row.error:
            out.append(f"{row.arch}: {row.error}")
        if row.missing:
            out.append(f"{row.arch}: could not enable {', '.join(row.missing)}")
    return "\n".join(out)


def render_warm(runs: Sequence[WarmRun], arches: Sequence[str]) -> str:
    header = ["run", "patch s", "build s", *[f"{a} job s (base+patched)" for a in arches], "note"]
    table = []
    for run in runs:
        cells: list[object] = [run.number, round(run.seconds, 1), round(run.build, 1)]
        for arch in arches:
            job = next((j for j in run.jobs if j.arch == arch), None)
            if job is None:
                cells.append("-")
                continue
            state = "" if job.ok else (" ERROR" if job.error else " FAILED")
            cells.append(f"{job.seconds:.1f} ({job.base:.1f}+{job.patched:.1f}){state}")
        cells.append("" if run.warm else "prepared tree made in this run: not counted")
        table.append(cells)
    return format_table(header, table)


def warm_medians(
    runs: Sequence[WarmRun], arches: Sequence[str]
) -> tuple[float | None, dict[str, float | None]]:
    """Median per patch, and per arch job, of the runs whose prepared trees were cached."""
    counted = [run for run in runs if run.warm]
    per_arch = {
        arch: median([j.seconds for run in counted for j in run.jobs if j.arch == arch])
        for arch in arches
    }
    return median([run.seconds for run in counted]), per_arch


def render_peer(runs: Sequence[PeerRun]) -> str:
    header = ["arch", "step", "s", "status", "compiled", "warnings", "in touched files", "command"]
    table: list[list[object]] = []
    for run in runs:
        for step in run.steps:
            status = "killed (time limit)" if step.status is None else str(step.status)
            c = step.counts
            table.append(
                [
                    run.arch,
                    step.label,
                    round(step.seconds, 1),
                    status,
                    c.compiled,
                    c.warnings,
                    c.touched_warnings,
                    step.command,
                ]
            )
    out = [format_table(header, table)]
    for run in runs:
        if run.error:
            out.append(f"{run.arch}: {run.error}")
        elif run.finished:
            out.append(f"{run.arch}: {run.seconds:.1f} s in all (allmodconfig + base + patched)")
        else:
            out.append(f"{run.arch}: did not finish in {run.budget:.0f} s (--peer-timeout)")
    return "\n".join(out)


def render_memory(phases: Sequence[PhaseMemory]) -> str:
    header = ["phase", "largest process MiB", "whole tree MiB", "samples"]
    rows = [
        [p.phase, round(p.largest_kib / 1024, 1), round(p.total_kib / 1024, 1), p.samples]
        for p in phases
    ]
    return format_table(header, rows)


def target_rows(
    cold: Sequence[ColdPrepare], warm_median: float | None
) -> list[tuple[str, str, str, str]]:
    """(target, wanted, measured, verdict) rows."""
    rows = []
    for row in cold:
        measured = "error" if row.error else f"{row.seconds:.1f} s"
        result = "MISS" if row.error else verdict(row.seconds, COLD_TARGET_S, at_least=False)
        rows.append((f"cold prepare, {row.arch}", f"< {COLD_TARGET_S:g} s", measured, result))
    if warm_median is None:
        rows.append(("warm, per patch (median)", f"< {WARM_TARGET_S:g} s", "not measured", "MISS"))
    else:
        rows.append(
            (
                "warm, per patch (median)",
                f"< {WARM_TARGET_S:g} s",
                f"{warm_median:.1f} s",
                verdict(warm_median, WARM_TARGET_S, at_least=False),
            )
        )
    return rows


def render_targets(rows: Sequence[tuple[str, str, str, str]]) -> str:
    return format_table(["target", "wanted", "measured", "verdict"], rows)
