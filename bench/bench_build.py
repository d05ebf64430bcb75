"""Benchmark the build stage (`reviewbot check --build`) on a one-driver patch, and make beside it.

    python -m bench.bench_build [--runs R] [--peer-timeout S] [--no-peer]
                                [--message-id ID | --patch FILE]

Prints, for one patch on x86_64 + arm64: the cold prepare per arch (a prepared output tree
made from nothing, in a fresh temporary cache), the warm time per patch (the patch again
through BuildEvaluator as `reviewbot check --build` wires it, prepared trees cached;
median of R runs), and the peer: `make allmodconfig` and `make W=1 <touched dir>/` on the
base and the patched tree, per arch, as a developer does it. Then (bench/_kbuild_bench.py)
the plans of real header patches (jobs and why), and the link checks: the cold warm full
build per arch, the warm per-patch relink check and a plain make of the same config.
Then memory, load averages and the targets with PASS/MISS (informational). See
bench/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import hashlib
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bench import _build_common as bc
from bench import _header_bench as hb
from bench import _kbuild_bench as kb
from bench._kconfig_common import descendants, status_kib
from bench.bench_static import _load, _machine
from bench.common import format_table
from reviewbot import sandbox
from reviewbot.analysis.diff import FileChange
from reviewbot.analysis.facts import PatchedIndex
from reviewbot.build import prepare
from reviewbot.build.executor import Executor, ExecutorError, executor_from_spec, parse_spec
from reviewbot.build.model import Arch, BuildJob, BuildOutcome, BuildPlan
from reviewbot.build.prepare import CompilerMissingError, check_compiler, ensure_prepared
from reviewbot.build.provider import BuildEvaluator, executor_runner
from reviewbot.build.runner import JobRequest
from reviewbot.config import Config, default_cache_dir
from reviewbot.errors import InfrastructureError, MalformedMailError
from reviewbot.mail.mbox import read_input
from reviewbot.mail.parse import parse_mail
from reviewbot.mail.series import assemble
from reviewbot.model import Message, Series
from reviewbot.rules.engine import review_series
from reviewbot.rules.registry import select_rules
from reviewbot.store.jobs import JobStore
from reviewbot.tree.fetch import ensure_default_tree
from reviewbot.tree.fs import FsTree
from reviewbot.tree.index import TreeIndex, build_index

REPO = Path(__file__).resolve().parent.parent
ARCHIVE_NAME = "linux-kbuild-2025-11_2026-07.mbox.gz"
DEFAULT_ARCHIVE = REPO.parent / "shared" / "data" / "lore" / ARCHIVE_NAME
# "[PATCH v7 3/8] serdev: Do not return -ENODEV from of_serdev_register_devices() if
# external connector is used": one driver file (drivers/tty/serdev/core.c), applies to 6.12.
DEFAULT_MESSAGE_ID = "20260326-pci-m2-e-v7-3-43324a7866e6@oss.qualcomm.com"
SAMPLE_SECONDS = 0.25


def _note(text: str) -> None:
    """Progress goes to stderr; the figures alone go to stdout."""
    print(text, file=sys.stderr, flush=True)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.bench_build", description=(__doc__ or "").split("\n", 1)[0]
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "--message-id",
        default=DEFAULT_MESSAGE_ID,
        help="the patch mail to take from --archive (default: %(default)s)",
    )
    source.add_argument(
        "--patch", type=Path, help="a patch file (mail, format-patch output or diff) instead"
    )
    parser.add_argument(
        "--archive",
        type=Path,
        default=DEFAULT_ARCHIVE,
        help="mbox(.gz) holding --message-id (default: %(default)s)",
    )
    parser.add_argument(
        "--arch",
        action="append",
        metavar="ARCH",
        help="arch to build on (repeatable; default: x86_64 and arm64, the CLI's default)",
    )
    parser.add_argument(
        "--runs", type=int, default=3, metavar="R", help="warm runs (default: %(default)s)"
    )
    parser.add_argument(
        "--peer-timeout",
        type=float,
        default=1500.0,
        metavar="S",
        help="wall-clock cap of the peer per arch (default: %(default)s s)",
    )
    parser.add_argument("--no-peer", action="store_true", help="skip the make allmodconfig peer")
    parser.add_argument(
        "--no-cold",
        action="store_true",
        help="skip the cold prepare: warm runs use the default cache (a priming run "
        "prepares what is missing and is not counted)",
    )
    parser.add_argument(
        "--keep-stamps",
        action="store_true",
        help="prepare as before drop_symbol_stamps (the prepared trees keep the "
        "include/config/<SYMBOL> files), to compare; not with --no-cold",
    )
    parser.add_argument(
        "--executor",
        help="where the warm runs' jobs run, as `reviewbot check --executor`: inline, "
        "local, local:N (default: the config's, local: a process pool, one worker per core)",
    )
    parser.add_argument(
        "--jobs", type=int, default=2, metavar="N", help="make -j of the peer (default: 2)"
    )
    parser.add_argument(
        "--tree", type=Path, help="kernel tree (default: reviewbot's linux-source-6.12)"
    )
    parser.add_argument(
        "--no-kbuild", action="store_true", help="skip sections 4 and 5 (headers, link checks)"
    )
    parser.add_argument(
        "--no-link", action="store_true", help="skip section 5 (warm full builds, relinks)"
    )
    parser.add_argument(
        "--kbuild-only", action="store_true", help="only sections 4 and 5 (skip 1 to 3)"
    )
    parser.add_argument(
        "--header-builds",
        action="store_true",
        help="also build the header fixtures for real (section 4b; primes their configs)",
    )
    parser.add_argument(
        "--no-link-peer",
        action="store_true",
        help="skip the plain make of the warm config on the patched tree (section 5)",
    )
    parser.add_argument(
        "--cold-warm",
        action="store_true",
        help="measure the cold warm-full-build now, in a temporary cache (minutes per arch)",
    )
    parser.add_argument(
        "--scratch",
        type=Path,
        help="where the temporary cache and the peer's tree copy go; on the tree's "
        "filesystem, for hard links (default: the system temp dir)",
    )
    return parser


# ---------------------------------------------------------------------------
# The patch and its plan


def _messages(args: argparse.Namespace) -> tuple[list[Message], str]:
    if args.patch is not None:
        raws = read_input(args.patch.read_bytes(), args.patch.name)
        return [parse_mail(raw) for raw in raws], str(args.patch)
    wanted = args.message_id.strip("<>")
    for raw in read_input(args.archive.read_bytes(), args.archive.name):
        if wanted.encode() not in raw.data:
            continue
        try:
            message = parse_mail(raw)
        except MalformedMailError:
            continue
        if message.message_id == wanted:
            return [message], f"{args.archive.name}, <{wanted}>"
    raise SystemExit(f"bench_build: <{wanted}> is not in {args.archive}")


@dataclass
class _Capture:
    """A `run` for BuildEvaluator that only records the requests (the plan's jobs)."""

    requests: list[JobRequest] = field(default_factory=list)

    def __call__(self, request: JobRequest) -> BuildOutcome:
        self.requests.append(request)
        return BuildOutcome(request.job)


@dataclass(frozen=True)
class Planned:
    series: Series
    plan: BuildPlan
    jobs: tuple[BuildJob, ...]  # the plan's jobs on the chosen arches
    after: Mapping[str, str | None]  # the patched files
    applied: bool


def _plan(
    series: Series, root: Path, index: TreeIndex, cache_dir: Path, arches: tuple[str, ...]
) -> Planned:
    """The engine's own path to the builds: review_series with a recording provider."""
    capture = _Capture()
    probe = BuildEvaluator(root, index.key, cache_dir, arches, run=capture)
    result = review_series(series, FsTree(root), index, (), arches, None, probe)
    applied = not any(f.rule == "RB002" for f in result.findings)
    plan = probe.last_plan or BuildPlan()
    after = dict(capture.requests[0].overlay) if capture.requests else {}
    jobs = tuple(j for j in plan.jobs if j.arch.name in arches)
    return Planned(series, plan, jobs, after, applied)


# ---------------------------------------------------------------------------
# /proc sampling: the sandboxed builds' rusage never reaches this process


def _tree_rss() -> tuple[int, int]:
    """(largest VmRSS, sum of VmRSS) in KiB over every process below this one."""
    tree: dict[int, list[int]] = {}
    todo = [os.getpid()]
    while todo:
        pid = todo.pop()
        tree[pid] = sandbox.child_pids(pid)
        todo += [c for c in tree[pid] if c not in tree]
    sizes = []
    for pid in descendants(tree, os.getpid()):
        try:
            sizes.append(status_kib(Path(f"/proc/{pid}/status").read_text(), "VmRSS") or 0)
        except OSError:
            continue
    return max(sizes, default=0), sum(sizes)


def _children_usage() -> tuple[float, int]:
    """(CPU seconds, ru_maxrss KiB) of the waited-for children so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime, usage.ru_maxrss


@dataclass
class Usage:
    phases: list[bc.PhaseMemory] = field(default_factory=list)
    cpu: list[tuple[str, float, int]] = field(default_factory=list)  # phase, s, maxrss

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        stop = threading.Event()
        peak = [0, 0, 0]

        def sample() -> None:
            while not stop.is_set():
                largest, total = _tree_rss()
                peak[0] = max(peak[0], largest)
                peak[1] = max(peak[1], total)
                peak[2] += 1
                stop.wait(SAMPLE_SECONDS)

        cpu_before, _ = _children_usage()
        thread = threading.Thread(target=sample, daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()
            cpu_after, maxrss = _children_usage()
            self.phases.append(bc.PhaseMemory(name, peak[0], peak[1], peak[2]))
            self.cpu.append((name, cpu_after - cpu_before, maxrss))

    def snapshot(self, name: str) -> None:
        """The children's rusage so far, before any phase (the index's workers)."""
        cpu, maxrss = _children_usage()
        self.cpu.append((name, cpu, maxrss))


# ---------------------------------------------------------------------------
# 1. cold prepare


@contextlib.contextmanager
def _timed_prepare() -> Iterator[list[bc.StepTime]]:
    """Time each make (and the kconfiglib settle) ensure_prepared runs; nothing else changes."""
    steps: list[bc.StepTime] = []
    real_make = prepare.make_in_box
    real_settle = prepare._settle

    def make(
        tree: prepare.Tree, argv: Sequence[str], limits: sandbox.Limits, cwd: str = prepare.SRC
    ) -> sandbox.Result:
        started = time.monotonic()
        result = real_make(tree, argv, limits, cwd)
        ok = result.returncode == 0 and not result.timed_out
        steps.append(bc.StepTime(bc.make_label(argv), time.monotonic() - started, ok))
        return result

    def settle(
        tree: prepare.Tree, arch: Arch, names: Sequence[str], off: Sequence[str] = ()
    ) -> dict[str, str]:
        started = time.monotonic()
        answer = real_settle(tree, arch, names, off)
        steps.append(bc.StepTime("settle (kconfiglib)", time.monotonic() - started, True))
        return answer

    prepare.make_in_box = make
    prepare._settle = settle
    try:
        yield steps
    finally:
        prepare.make_in_box = real_make
        prepare._settle = real_settle


def _keep_stamps(out: Path) -> int:
    """drop_symbol_stamps for --keep-stamps: drop nothing (the code before it)."""
    return 0


def _size(path: Path) -> tuple[float, int]:
    """(MiB, files) of a directory tree."""
    total = count = 0
    for directory, _dirs, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(directory, name)).st_size
                count += 1
    return total / 2**20, count


def _cold(
    planned: Planned, root: Path, index: TreeIndex, cache: Path, usage: Usage
) -> list[bc.ColdPrepare]:
    rows = []
    for job in planned.jobs:
        _note(f"cold prepare: {job.arch.name} {bc.config_label(job.config)}")
        with usage.phase(f"cold prepare {job.arch.name}"), _timed_prepare() as steps:
            started = time.monotonic()
            try:
                done = ensure_prepared(root.resolve(), index.key, job.arch, job.config, cache)
                error, missing, size = "", done.missing, _size(done.out)
            except InfrastructureError as exc:
                error, missing, size = str(exc), (), (0.0, 0)
            seconds = time.monotonic() - started
        rows.append(
            bc.ColdPrepare(
                job.arch.name,
                bc.config_label(job.config),
                seconds,
                tuple(steps),
                tuple(missing),
                size[0],
                size[1],
                error,
            )
        )
    return rows


# ---------------------------------------------------------------------------
# 2. warm runs, as `reviewbot check --build` wires the provider


@dataclass
class _Timed:
    """The CLI's BuildEvaluator, with the time spent inside it and its last outcomes."""

    inner: BuildEvaluator
    seconds: float = 0.0
    outcomes: tuple[BuildOutcome, ...] = ()

    def __call__(
        self,
        changes: tuple[FileChange, ...],
        index: PatchedIndex,
        before: Mapping[str, str | None],
        after: Mapping[str, str | None],
    ) -> tuple[BuildOutcome, ...]:
        started = time.monotonic()
        self.outcomes = self.inner(changes, index, before, after)
        self.seconds += time.monotonic() - started
        return self.outcomes


def _job_time(outcome: BuildOutcome) -> bc.JobTime:
    steps = (*outcome.base, *outcome.patched)
    return bc.JobTime(
        outcome.job.arch.name,
        outcome.seconds,
        sum(s.seconds for s in outcome.base),
        sum(s.seconds for s in outcome.patched),
        not outcome.error and bool(steps) and all(s.ok for s in steps),
        outcome.prepared_cached,
        outcome.error,
    )


def _evaluator(
    root: Path,
    index: TreeIndex,
    cache: Path,
    arches: tuple[str, ...],
    executor: Executor | None,
    store: JobStore | None,
) -> BuildEvaluator:
    """The CLI's _builder: inline, or executor_runner(executor, store)."""
    if executor is None or store is None:
        return BuildEvaluator(root, index.key, cache, arches)
    run_many = executor_runner(executor, store)
    return BuildEvaluator(root, index.key, cache, arches, run_many=run_many)


@dataclass
class Warm:
    runs: list[bc.WarmRun] = field(default_factory=list)
    tails: list[str] = field(default_factory=list)
    store_hit: float | None = None  # the same patch again through the same job store


def _review_once(
    planned: Planned, base: FsTree, index: TreeIndex, arches: tuple[str, ...], timed: _Timed
) -> tuple[float, tuple[str, ...]]:
    rules = select_rules(Config().policy_for(None))
    started = time.monotonic()
    result = review_series(planned.series, base, index, rules, arches, None, timed)
    seconds = time.monotonic() - started
    findings = tuple(
        f"{f.rule} {f.path}:{f.line}: {f.message}"
        for f in result.findings
        if f.rule.startswith("BLD")
    )
    return seconds, findings


def _warm(
    planned: Planned,
    root: Path,
    index: TreeIndex,
    cache: Path,
    arches: tuple[str, ...],
    runs: int,
    spec: str,
    scratch: Path,
    usage: Usage,
) -> Warm:
    """R runs of review_series with the build provider, each with a fresh job store (the
    store answers a patch it has seen without building), then one store hit."""
    out = Warm()
    base = FsTree(root)
    number = 0
    store: JobStore | None = None
    with contextlib.ExitStack() as stack, usage.phase("warm runs"):
        inline = parse_spec(spec).kind == "inline"
        executor = None if inline else stack.enter_context(executor_from_spec(spec))
        while len([r for r in out.runs if r.warm]) < runs and number < runs + 1:
            number += 1
            _note(f"warm run {number}")
            if executor is not None:
                store = stack.enter_context(JobStore.open(scratch / f"jobs-{number}.sqlite"))
            timed = _Timed(_evaluator(root, index, cache, arches, executor, store))
            seconds, findings = _review_once(planned, base, index, arches, timed)
            jobs = tuple(_job_time(o) for o in timed.outcomes)
            out.runs.append(bc.WarmRun(number, seconds, timed.seconds, jobs, findings))
            for outcome in timed.outcomes:
                for side, results in (("base", outcome.base), ("patched", outcome.patched)):
                    for step in results:
                        if not step.ok:
                            out.tails.append(f"{outcome.job.arch.name} {side}: {step.tail}")
                if outcome.error:
                    out.tails.append(f"{outcome.job.arch.name}: {outcome.error}")
        if executor is not None and store is not None:
            _note("the same patch through the last run's job store")
            timed = _Timed(_evaluator(root, index, cache, arches, executor, store))
            out.store_hit, _ = _review_once(planned, base, index, arches, timed)
    return out


# ---------------------------------------------------------------------------
# 3. the peer: allmodconfig and the touched directories, the usual way


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "absent"


def _replace_files(root: Path, files: Mapping[str, str | None]) -> None:
    """Write files as new inodes (renamed over the name): hard-linked originals stay."""
    for rel, text in files.items():
        dest = root / rel
        if text is None:
            dest.unlink(missing_ok=True)
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(dest.name + ".bench-tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, dest)


def _copy_tree(root: Path, dest: Path) -> str:
    """A copy of the tree to patch: hard links when the filesystem allows, else a copy."""
    linked = subprocess.run(["cp", "-al", str(root), str(dest)], capture_output=True, check=False)
    if linked.returncode == 0:
        return "cp -al (hard links)"
    shutil.rmtree(dest, ignore_errors=True)
    subprocess.run(["cp", "-a", "--reflink=auto", str(root), str(dest)], check=True)
    return "cp -a (full copy: --scratch is on another filesystem)"


def _run_make(
    label: str, argv: list[str], command: str, seconds_left: float, touched: Sequence[str]
) -> tuple[bc.PeerStep, str]:
    """One make outside the sandbox, killed (with its process group) at the time limit."""
    if seconds_left <= 0:
        return bc.PeerStep(label, command, 0.0, None, bc.count_output("")), ""
    env = {**os.environ, "LC_ALL": "C"}
    with tempfile.TemporaryFile() as output:
        started = time.monotonic()
        proc = subprocess.Popen(
            argv, stdout=output, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
        status: int | None
        try:
            status = proc.wait(timeout=seconds_left)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            status = None
        seconds = time.monotonic() - started
        output.seek(0)
        text = output.read().decode("utf-8", errors="replace")
    tail = "\n".join(text.strip().splitlines()[-5:])
    return bc.PeerStep(label, command, seconds, status, bc.count_output(text, touched)), tail


def _peer_arch(
    arch: Arch,
    copy: Path,
    out: Path,
    planned: Planned,
    base_files: Mapping[str, str | None],
    jobs: int,
    budget: float,
) -> bc.PeerRun:
    touched = [p for p in planned.after if p.endswith((".c", ".S"))]
    # A header-only patch: the directories of the objects the plan compiles for it.
    objects = [t[:-2] + ".c" for job in planned.jobs for st in job.steps for t in st.targets]
    dirs = bc.touched_dirs(touched) or bc.touched_dirs(objects)
    if not dirs:
        return bc.PeerRun(arch.name, (), budget, "no directory to build (no .c/.S touched)")
    _replace_files(copy, base_files)
    # allmodconfig sets WERROR, and the first W=1 warning would stop the build: turned off
    # as reviewbot turns it off (KCONFIG_ALLCONFIG is allmodconfig's own way to pin values).
    allconfig = out.parent / bc.NO_WERROR_FILE
    allconfig.write_text(bc.NO_WERROR_TEXT)
    steps: list[bc.PeerStep] = []
    started = time.monotonic()
    plan: list[tuple[str, list[str], list[str], Mapping[str, str | None]]] = [
        (
            "allmodconfig",
            [f"KCONFIG_ALLCONFIG={allconfig}", "allmodconfig"],
            [f"KCONFIG_ALLCONFIG={bc.NO_WERROR_FILE}", "allmodconfig"],
            {},
        ),
        ("base build", ["W=1", *dirs], ["W=1", *dirs], {}),
        ("patched build", ["W=1", *dirs], ["W=1", *dirs], planned.after),
    ]
    for label, targets, shown, files in plan:
        _replace_files(copy, files)
        left = bc.time_left(budget, time.monotonic() - started)
        _note(f"peer {arch.name}: {label} ({left:.0f} s left)")
        step, tail = _run_make(
            label,
            bc.peer_argv(arch, str(copy), str(out), jobs, *targets),
            bc.peer_command(arch, jobs, *shown),
            left,
            sorted(planned.after),
        )
        steps.append(step)
        if step.status is None:
            break
        if step.status != 0:
            return bc.PeerRun(arch.name, tuple(steps), budget, f"{label} failed: {tail}")
        if label == "allmodconfig" and "CONFIG_WERROR=y" in (_read(out / ".config") or ""):
            return bc.PeerRun(arch.name, tuple(steps), budget, "allmodconfig kept WERROR=y")
    return bc.PeerRun(arch.name, tuple(steps), budget)


def _peer(
    planned: Planned,
    root: Path,
    scratch: Path,
    jobs: int,
    budget: float,
    usage: Usage,
) -> tuple[list[bc.PeerRun], str, bool]:
    """The peer per arch; how the tree was copied; whether the real tree stayed untouched."""
    originals = {rel: _sha256(root / rel) for rel in planned.after}
    base_files = {rel: _read(root / rel) for rel in planned.after}
    copy = scratch / "peer-src"
    _note(f"copying the tree for the peer into {copy}")
    started = time.monotonic()
    method = _copy_tree(root, copy)
    method += f" in {time.monotonic() - started:.1f} s (not counted)"
    runs = []
    try:
        for job in planned.jobs:
            out = scratch / f"peer-out-{job.arch.name}"
            with usage.phase(f"peer {job.arch.name}"):
                runs.append(_peer_arch(job.arch, copy, out, planned, base_files, jobs, budget))
            shutil.rmtree(out, ignore_errors=True)
    finally:
        shutil.rmtree(copy, ignore_errors=True)
    untouched = all(_sha256(root / rel) == digest for rel, digest in originals.items())
    return runs, method, untouched


def _read(path: Path) -> str | None:
    return path.read_text(encoding="utf-8") if path.is_file() else None


# ---------------------------------------------------------------------------
# Report


def _tool_version(name: str) -> str:
    try:
        done = subprocess.run([name, "--version"], capture_output=True, text=True, check=False)
    except OSError:
        return f"{name}: missing"
    return (done.stdout.splitlines() or [f"{name}: ?"])[0]


def _header(
    root: Path, source: str, planned: Planned, arches: Sequence[str], load_start: str
) -> None:
    patch = planned.series.patches[-1]
    print("== reviewbot build benchmark ==")
    print(f"date:    {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC")
    print(f"machine: {_machine()}; load average {load_start}")
    print(f"tree:    {root}")
    print(f"patch:   {source}")
    print(f"         {patch.subject}")
    files = ", ".join(sorted(planned.after))
    print(f"         touches {files}; applies to the tree: {'yes' if planned.applied else 'NO'}")
    for job in planned.jobs:
        steps = "; ".join(f"{s.kind.value} {' '.join(s.targets)}" for s in job.steps)
        compiler = job.arch.compiler
        print(f"plan:    {job.arch.name}: {bc.config_label(job.config)}: {steps}  [{compiler}]")
        print(f"         {_tool_version(compiler)}")
    for skip in planned.plan.skipped:
        print(f"         not built: {skip.path}: {skip.reason}")
    print(f"arches:  {' '.join(arches)} (make -j2 in the sandbox)")
    if prepare.drop_symbol_stamps is _keep_stamps:
        print("--keep-stamps: prepared trees keep include/config/<SYMBOL> (as before)")


def _print_cold(rows: Sequence[bc.ColdPrepare], cache: Path) -> None:
    print("\n== 1. cold prepare (empty cache: defconfig + symbols, olddefconfig, prepare) ==")
    print(f"cache: {cache} (temporary, deleted at the end)")
    print(bc.render_cold(rows))


def _print_warm(warm: Warm, arches: Sequence[str], cache: Path, spec: str) -> float | None:
    print("\n== 2. warm: the same patch again, prepared trees cached ==")
    wiring = (
        "BuildEvaluator(tree, index.key, cache, arches) in this process"
        if spec == "inline"
        else f"BuildEvaluator(..., run_many=executor_runner(executor, store)), executor {spec!r} "
        f"({os.cpu_count()} CPUs), a fresh job store per run (a stored job is not rebuilt)"
    )
    print(f"review_series with {wiring}, as `reviewbot check --build --no-kconfig` wires it")
    print(f"all rules; cache: {cache}")
    print(bc.render_warm(warm.runs, arches))
    per_patch, per_arch = bc.warm_medians(warm.runs, arches)
    counted = sum(1 for r in warm.runs if r.warm)
    arch_text = ", ".join(f"{a} {'-' if s is None else f'{s:.1f} s'}" for a, s in per_arch.items())
    shown = "-" if per_patch is None else f"{per_patch:.1f} s"
    print(f"median of {counted} warm runs: per patch {shown}; per job: {arch_text}")
    if warm.store_hit is not None:
        print(
            f"the same patch once more through the last run's job store: {warm.store_hit:.3f} s "
            "(answered from jobs.sqlite, nothing built)"
        )
    findings = warm.runs[-1].findings if warm.runs else ()
    print("build findings: " + ("; ".join(findings) if findings else "none"))
    for tail in warm.tails[:6]:
        print(f"failed: {tail}")
    return per_patch


def _print_peer(runs: Sequence[bc.PeerRun], method: str, untouched: bool, jobs: int) -> None:
    print("\n== 3. peer: make allmodconfig + the touched directory, base then patched ==")
    print(
        f"make -j{jobs} W=1 outside the sandbox, in a copy of the tree ({method}); one output "
        "dir per arch: allmodconfig (with no-werror.config = '# CONFIG_WERROR is not set'), "
        "the directory on the base, then the patched file written in and the same make "
        "again (incremental)"
    )
    print(bc.render_peer(runs))
    print(f"the real tree's touched files unchanged afterwards: {'yes' if untouched else 'NO'}")


def _print_usage(usage: Usage) -> None:
    print("\n== memory and CPU ==")
    print(
        f"sampled every {SAMPLE_SECONDS:g} s over the processes below the benchmark "
        "(bwrap does not pass its children's rusage on, so this is the only view of the "
        "sandboxed builds):"
    )
    print(bc.render_memory(usage.phases))
    rows = [[name, round(cpu, 1), round(maxrss / 1024, 1)] for name, cpu, maxrss in usage.cpu]
    print(
        "rusage of waited-for children (the peer's make; not the sandboxed builds, nor the "
        "executor's pool workers, which the forkserver waits for):"
    )
    print(format_table(["phase", "CPU s", "ru_maxrss MiB so far"], rows))
    self_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"ru_maxrss: benchmark process {self_mib:.0f} MiB, children {children_mib:.0f} MiB")


def _kbuild_only(
    args: argparse.Namespace,
    root: Path,
    index: TreeIndex,
    arches: tuple[str, ...],
    load_start: str,
) -> int:
    """Sections 4 and 5 alone (--kbuild-only)."""
    print("== reviewbot build benchmark: kbuild and header changes ==")
    print(f"date:    {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC")
    print(f"tree:    {root}; arches: {', '.join(arches)}; load average {load_start}")
    kb.header_plans(args.archive, root, index, arches)
    spec = args.executor or Config().build_executor
    quick = hb.header_budget(root, index, arches, args.runs, spec) if args.header_builds else []
    runs: list[float] = []
    if not args.no_link:
        runs = kb.link_checks(root, index, arches, args.runs, args.cold_warm, not args.no_link_peer)
    print("\n== targets (informational) ==")
    hb.print_header_target(quick, arches)
    kb.print_link_target(runs, arches)
    print(f"load average at start: {load_start}; at end: {_load()}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    load_start = _load()
    config = Config()
    arches = tuple(args.arch or config.arches)
    spec = args.executor or config.build_executor
    if args.keep_stamps:
        if args.no_cold:
            print("bench_build: --keep-stamps needs the cold prepare", file=sys.stderr)
            return 2
        prepare.drop_symbol_stamps = _keep_stamps
    try:
        local = parse_spec(spec).kind != "dask"
    except ExecutorError:
        local = False
    if not local:
        print(f"bench_build: --executor {spec!r}: use inline, local or local:N", file=sys.stderr)
        return 2
    root = args.tree or ensure_default_tree(default_cache_dir())
    if not sandbox.bwrap_available():
        print("bench_build: bubblewrap cannot run here", file=sys.stderr)
        return 2
    messages, source = _messages(args)
    series_list, _ = assemble(messages)
    if len(series_list) != 1 or len(series_list[0].patches) != 1:
        print("bench_build: the input must hold exactly one patch", file=sys.stderr)
        return 2
    _note("loading the tree index")
    index = build_index(root, config.cache_dir)
    if args.kbuild_only:
        return _kbuild_only(args, root, index, arches, load_start)
    planned = _plan(series_list[0], root, index, config.cache_dir, arches)
    usage = Usage()
    usage.snapshot("before: index load, planning")
    _header(root, source, planned, arches, load_start)
    problems = [a for a in arches if a not in {j.arch.name for j in planned.jobs}]
    for job in planned.jobs:
        try:
            check_compiler(job.arch)
        except CompilerMissingError as exc:
            problems.append(str(exc))
    if not planned.applied or problems:
        print(f"bench_build: nothing to measure: applies={planned.applied}, no job: {problems}")
        return 2

    failed = False
    scratch_parent = args.scratch or Path(tempfile.gettempdir())
    scratch_parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bench-build-", dir=scratch_parent) as tmp:
        scratch = Path(tmp)
        cold: list[bc.ColdPrepare] = []
        if args.no_cold:
            cache = config.cache_dir
        else:
            cache = scratch / "cache"
            cold = _cold(planned, root, index, cache, usage)
            _print_cold(cold, cache)
            failed |= any(row.error for row in cold)
        warm = _warm(planned, root, index, cache, arches, args.runs, spec, scratch, usage)
        warm_median = _print_warm(warm, arches, cache, spec)
        failed |= bool(warm.tails)
        if args.no_peer:
            print("\n== 3. peer: skipped (--no-peer) ==")
        else:
            peers, method, untouched = _peer(
                planned, root.resolve(), scratch, args.jobs, args.peer_timeout, usage
            )
            _print_peer(peers, method, untouched, args.jobs)
            failed |= not untouched
    link_runs: list[float] = []
    quick: list[float] = []
    if not args.no_kbuild:
        kb.header_plans(args.archive, root, index, arches)
        if args.header_builds:
            quick = hb.header_budget(root, index, arches, args.runs, spec)
        if not args.no_link:
            link_runs = kb.link_checks(
                root, index, arches, args.runs, args.cold_warm, not args.no_link_peer
            )
    _print_usage(usage)
    print("\n== targets (informational) ==")
    print(bc.render_targets(bc.target_rows(cold, warm_median)))
    hb.print_header_target(quick, arches)
    if link_runs:
        p95 = sorted(link_runs)[max(0, -(-len(link_runs) * 95 // 100) - 1)]
        verdict = "PASS" if p95 <= 300 else "MISS"
        print(
            f"link check warm per patch p95 <= 300 s ({len(arches)} arches): {p95:.0f} s {verdict}"
        )
    print(
        f"load average (1, 5, 15 min) at start: {load_start}; at end: {_load()} "
        "(other work on the machine slows the wall figures)"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
