"""Run one BuildJob on the base and the patched tree, sandboxed (edge).

`run_job(request) -> BuildOutcome` is what the executor calls (picklable in, picklable
out). It installs nothing: a missing compiler is a CompilerMissingError naming the Debian
package. The prepared tree of the job's (tree, arch, config) comes from the cache; each
side gets its own copy of it, so base and patched builds start from the same state, and
the patched side's source is a shadow tree mounted where the base was (only changed files
rebuild). The patched side runs first; a job that only compiles objects and whose patched
build prints no diagnostic at all skips its base build (nothing can be new; the base
results then say so in `tail`). Users of a header whose CONFIG symbol stayed off in the
prepared .config (`step.governed`, Prepared.missing) are left out before anything runs:
that config does not build them, so they would fail on both sides and force the base
build; the step's reason names them (`without_switched_off`). Steps:

- objects: `make W=1 -k path/file.o ...` (no targets left: nothing runs)
- extmod: `make modules_prepare`, then `make M=<tiny module> modules` (a hello-world
  module written into the work dir), as an out-of-tree module is built
- modversions: `make modules_prepare`, the arch's CRC objects (C and asm exports), and a
  tiny module with an EXPORT_SYMBOL: every `__export_symbol_X` in an object needs a
  `#SYMVER X` line in its .cmd file (what modpost reads), and the module's .mod.c a
  SYMBOL_CRC(...) line
- vmlinux: full build with modpost (baseline jobs only)
- hosttools: `make HOSTCFLAGS=-Werror -k <goal>` per goal (olddefconfig, modules_prepare):
  every host program is rebuilt with -Werror (the flag changes their command lines) and
  conf runs; the resulting .config is kept
- toolchain: `make defconfig` afresh (Kconfig.include probes run again), the job's
  fragment + olddefconfig, then `make W=1 prepare` (arch Makefile probes); .config kept
- link: see reviewbot.build.warm (an incremental make of a warm full build)
- witness: a Kconfig witness's assignment appended to .config and settled by this side's
  Kconfig (`make olddefconfig`), `make W=1 -k` of the consumer's objects, then `nm -u` of
  them; the .config values and the undefined symbols are kept
"""

from __future__ import annotations

import logging
import re
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import reviewbot
from reviewbot import sandbox
from reviewbot.build.anchor import output_lines
from reviewbot.build.codec import dump, load_as
from reviewbot.build.diagnostics import make_errors, parse_output
from reviewbot.build.model import (
    Arch,
    BuildConfig,
    BuildJob,
    BuildOutcome,
    BuildStep,
    DiagKind,
    Diagnostic,
    StepKind,
    StepResult,
)
from reviewbot.build.prepare import (
    MOD,
    OUT,
    ROOTS,
    Prepared,
    Tree,
    check_compiler,
    config_values,
    ensure_prepared,
    make_argv,
    make_in_box,
    read_limited,
    user_command,
)
from reviewbot.build.warm import find_warm
from reviewbot.errors import InfrastructureError
from reviewbot.kconfig.conf import shadow_tree
from reviewbot.quoting import located_in_tree

log = logging.getLogger(__name__)

STEP_LIMITS = sandbox.Limits(
    cpu_seconds=1200, memory_bytes=4 << 30, processes=1024, wall_seconds=600.0
)
TINY_MODULE = "reviewbot_tiny"
_TINY_C = """\
// SPDX-License-Identifier: GPL-2.0
#include <linux/init.h>
#include <linux/module.h>

int reviewbot_tiny_export(int value);
int reviewbot_tiny_export(int value)
{
	return value + 1;
}
EXPORT_SYMBOL_GPL(reviewbot_tiny_export);

static int __init reviewbot_tiny_init(void)
{
	return reviewbot_tiny_export(0) == 1 ? 0 : -EINVAL;
}
module_init(reviewbot_tiny_init);

static void __exit reviewbot_tiny_exit(void)
{
}
module_exit(reviewbot_tiny_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("reviewbot: smallest external module");
"""
_TINY_USER_C = """\
// SPDX-License-Identifier: GPL-2.0
#include <linux/init.h>
#include <linux/module.h>

int reviewbot_tiny_export(int value);

static int __init reviewbot_tiny_user_init(void)
{
	return reviewbot_tiny_export(1) == 2 ? 0 : -EINVAL;
}
module_init(reviewbot_tiny_user_init);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("reviewbot: a module using another module's export");
"""
_SYMVER = re.compile(r"^#SYMVER (\w+) 0x[0-9a-f]+", re.MULTILINE)
_EXPORTED = re.compile(r" __export_symbol_(\w+)$", re.MULTILINE)


@dataclass(frozen=True)
class JobRequest:
    """Everything run_job needs; plain data so a process pool or Dask can ship it."""

    job: BuildJob
    tree: str
    tree_key: str
    cache_dir: str
    overlay: tuple[tuple[str, str | None], ...] = ()  # the patched tree's changed files
    before: tuple[tuple[str, str | None], ...] = ()  # earlier patches of the series
    limits: sandbox.Limits = field(default_factory=lambda: STEP_LIMITS)
    jobs: int = 2


def run_job(request: JobRequest) -> BuildOutcome:
    """Prepare (or reuse) the job's tree, run its steps on base and patched, return both."""
    job = request.job
    started = time.monotonic()
    check_compiler(job.arch)
    base = Path(request.tree).resolve()
    cache = Path(request.cache_dir)
    warm = None
    if any(step.kind is StepKind.LINK for step in job.steps):
        warm = find_warm(cache, request.tree_key, job.arch, job.config)
        if warm is None:
            raise InfrastructureError(
                f"no warm full build of {job.arch.name} {job.config.defconfig} in the cache"
            )
        prepared = Prepared(warm.out, warm.missing, True, warm.modules, 0.0)
    else:
        prepared = ensure_prepared(base, request.tree_key, job.arch, job.config, cache)
        job = without_switched_off(job, prepared.missing)
    (cache / "build" / "scratch").mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="job-", dir=cache / "build" / "scratch") as tmp:
        scratch = Path(tmp)
        sides: dict[str, tuple[StepResult, ...]] = {}
        # The patched side first: an objects-only job whose patched build is clean cannot
        # show anything new, and its base build is left out (clean_patched).
        for side, overlay in (("patched", request.overlay), ("base", request.before)):
            if side == "base" and clean_patched(sides["patched"]):
                sides[side] = tuple(_not_needed(r.step) for r in sides["patched"])
                continue
            work = scratch / side
            _copy_tree(prepared.out, work / "out")
            tree = _source(base, overlay, scratch / f"{side}-src", work)
            results = tuple(_run_step(tree, job.arch, step, request) for step in job.steps)
            if side == "base" and warm is not None:
                # The base side rebuilds nothing: what the full build printed is its record.
                results = tuple(
                    replace(r, diagnostics=r.diagnostics + warm.known)
                    if r.step.kind is StepKind.LINK
                    else r
                    for r in results
                )
            sides[side] = results
    return BuildOutcome(
        job=job,
        base=sides["base"],
        patched=sides["patched"],
        config_missing=prepared.missing,
        seconds=time.monotonic() - started,
        prepared_cached=prepared.cached,
    )


BASE_NOT_NEEDED = "not built: the patched build of these objects printed nothing"
NO_USER_LEFT = "not built: no user's CONFIG symbol could be enabled on this arch"


def without_switched_off(job: BuildJob, missing: Sequence[str]) -> BuildJob:
    """The job without the users whose CONFIG symbol stayed off after olddefconfig.

    Such a user is not built by this config (the symbol cannot be enabled on this arch,
    or its dependencies are unmet): compiling it anyway shows code no build of it has,
    fails on both sides and forces the base build. The step's reason says who was left
    out and why.
    """
    off = set(missing)
    steps = []
    for step in job.steps:
        dropped = [(t, s) for t, s in step.governed if s in off and t in step.targets]
        if not dropped:
            steps.append(step)
            continue
        gone = {t for t, _ in dropped}
        said = ", ".join(f"{t} ({s} stays off on {job.arch.name})" for t, s in dropped)
        steps.append(
            replace(
                step,
                targets=tuple(t for t in step.targets if t not in gone),
                reason=f"{step.reason}; left out: {said}",
            )
        )
    return replace(job, steps=tuple(steps))


def clean_patched(patched: tuple[StepResult, ...]) -> bool:
    """Whether the base side can be left out: every step compiles objects, and the
    patched build of all of them passed without a single diagnostic (nothing can be new)."""
    return bool(patched) and all(
        r.step.kind is StepKind.OBJECTS and r.ok and not r.diagnostics and not r.timed_out
        for r in patched
    )


def _not_needed(step: BuildStep) -> StepResult:
    return StepResult(step=step, ok=True, tail=BASE_NOT_NEEDED)


def _source(
    base: Path, overlay: tuple[tuple[str, str | None], ...], dest: Path, work: Path
) -> Tree:
    """The tree a side builds: the base, or a shadow tree of the patched files.

    tools/ is mounted rather than symlinked when the patch leaves it alone: its makefiles
    `make -C` into it, and getcwd() would resolve a symlink to the base tree's path, so
    objtool would rebuild on every patched run.
    """
    if not overlay:
        return Tree(base, work, base)
    shadow = shadow_tree(base, dict(overlay), dest)
    mounts = []
    for top in ("tools",):
        if (shadow / top).is_symlink():
            (shadow / top).unlink()
            (shadow / top).mkdir()
            mounts.append(top)
    return Tree(shadow, work, base, tuple(mounts))


def _copy_tree(source: Path, dest: Path) -> None:
    """A private copy of a prepared tree (cp -a: real copies, since make rewrites files)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["cp", "-a", "--reflink=auto", str(source), str(dest)], check=True)


def _make(
    tree: Tree, arch: Arch, request: JobRequest, step: BuildStep, *args: str, jobs: int = 0
) -> tuple[sandbox.Result, str, float]:
    started = time.monotonic()
    argv = make_argv(arch, *args, jobs=jobs or request.jobs)
    result = make_in_box(tree, argv, request.limits)
    return result, user_command(arch, *args, jobs=jobs or request.jobs), time.monotonic() - started


def _result(
    step: BuildStep, runs: list[tuple[sandbox.Result, str, float]], extra: list[Diagnostic]
) -> StepResult:
    """Fold the make runs of one step into a StepResult (stops at the first failure)."""
    diagnostics: list[Diagnostic] = []
    for result, _command, _seconds in runs:
        diagnostics += parse_output(result.stdout + "\n" + result.stderr, ROOTS)
    last = runs[-1][0]
    ok = all(r.returncode == 0 and not r.timed_out for r, _, _ in runs)
    output = (last.stdout + "\n" + last.stderr).strip()
    # Only make's own located errors: raw output may be anything a patched Makefile
    # printed, and only what names the tree or the output directory is ever quoted.
    tail = "\n".join(make_errors(output, ROOTS)[-3:])
    everything = "\n".join(r.stdout + "\n" + r.stderr for r, _, _ in runs)
    # The excerpt, too, quotes only lines located in the tree or the output directory.
    excerpt = "\n".join(
        line for line in output_lines(_strip_roots(everything)) if located_in_tree(line)
    )
    return StepResult(
        step=step,
        ok=ok,
        diagnostics=tuple(diagnostics + extra),
        commands=tuple(command for _, command, _ in runs),
        seconds=sum(seconds for _, _, seconds in runs),
        timed_out=any(r.timed_out for r, _, _ in runs),
        status=last.returncode,
        tail=tail[-1000:],
        disk_full=any(r.disk_full for r, _, _ in runs),
        excerpt=excerpt[:2000],
    )


def _strip_roots(text: str) -> str:
    for root in ROOTS:
        text = text.replace(root.rstrip("/") + "/", "")
    return text


def _run_step(tree: Tree, arch: Arch, step: BuildStep, request: JobRequest) -> StepResult:
    runs: list[tuple[sandbox.Result, str, float]] = []
    extra: list[Diagnostic] = []
    if step.kind is StepKind.OBJECTS:
        if not step.targets:  # every user left out: a bare make would build everything
            return StepResult(step=step, ok=True, tail=NO_USER_LEFT)
        runs.append(_make(tree, arch, request, step, "W=1", "-k", *step.targets))
    elif step.kind is StepKind.EXTMOD:
        _write_module(tree.work / "mod")
        for args in (("W=1", "modules_prepare"), (f"M={MOD}", "KBUILD_MODPOST_WARN=1", "modules")):
            runs.append(_make(tree, arch, request, step, *args))
            if not _ok(runs[-1][0]):
                break
    elif step.kind is StepKind.MODVERSIONS:
        runs, extra = _modversions(tree, arch, step, request)
    elif step.kind is StepKind.VMLINUX:
        runs.append(_make(tree, arch, request, step, "W=1", "all"))
    elif step.kind is StepKind.LINK:
        runs.append(_make(tree, arch, request, step, "W=1", "-k", *step.targets))
    elif step.kind is StepKind.HOSTTOOLS:
        for goal in step.targets:
            runs.append(_make(tree, arch, request, step, "HOSTCFLAGS=-Werror", "-k", goal))
        return replace(_result(step, runs, extra), config=_config_of(tree))
    elif step.kind is StepKind.TOOLCHAIN:
        runs = _toolchain(tree, arch, step, request)
        return replace(_result(step, runs, extra), config=_config_of(tree))
    elif step.kind is StepKind.WITNESS:
        return _witness(tree, arch, step, request)
    return _result(step, runs, extra)


def _witness(tree: Tree, arch: Arch, step: BuildStep, request: JobRequest) -> StepResult:
    """The witness assignment settled by this side's Kconfig, the objects compiled, and
    the symbols they reference without defining (what the link must find elsewhere)."""
    with open(tree.work / "out" / ".config", "a", encoding="utf-8") as handle:
        handle.write(BuildConfig("", step.config).fragment())
    runs = [_make(tree, arch, request, step, "olddefconfig")]
    undefined: tuple[str, ...] = ()
    if _ok(runs[-1][0]):
        runs.append(_make(tree, arch, request, step, "W=1", "-k", *step.targets))
        undefined = _undefined(tree, arch, step.targets, request.limits)
    return replace(_result(step, runs, []), config=_config_of(tree), undefined=undefined)


def _undefined(
    tree: Tree, arch: Arch, objects: tuple[str, ...], limits: sandbox.Limits
) -> tuple[str, ...]:
    """`nm -u` of the objects that were built: the symbols they need from elsewhere."""
    nm = "llvm-nm" if arch.llvm else f"{arch.cross_compile}nm"
    script = 'for o; do [ -f "$o" ] && ' + nm + ' -u "$o" 2>/dev/null; done; true'
    result = make_in_box(tree, ["sh", "-c", script, "sh", *objects], limits, cwd=OUT)
    names = {line.split()[-1] for line in result.stdout.splitlines()[:20000] if line.strip()}
    return tuple(sorted(n for n in names if re.fullmatch(r"[\w.$]{1,200}", n)))


def _config_of(tree: Tree) -> tuple[tuple[str, str], ...]:
    """The symbols a .config sets (y, m or a value), sorted."""
    values = config_values(read_limited(tree.work / "out" / ".config"))
    return tuple(sorted((k, v) for k, v in values.items() if v != "n"))


def _toolchain(
    tree: Tree, arch: Arch, step: BuildStep, request: JobRequest
) -> list[tuple[sandbox.Result, str, float]]:
    """defconfig afresh (probes run again), the job's fragment, then prepare."""
    runs = [_make(tree, arch, request, step, request.job.config.defconfig)]
    if not _ok(runs[-1][0]):
        return runs
    fragment = request.job.config.fragment()
    if fragment:
        with open(tree.work / "out" / ".config", "a", encoding="utf-8") as handle:
            handle.write(fragment)
        runs.append(_make(tree, arch, request, step, "olddefconfig"))
        if not _ok(runs[-1][0]):
            return runs
    if "prepare" in step.targets:
        runs.append(_make(tree, arch, request, step, "W=1", "prepare"))
    return runs


def _ok(result: sandbox.Result) -> bool:
    return result.returncode == 0 and not result.timed_out


def _write_module(directory: Path) -> None:
    """The tiny module set modpost checks: one module with an export, one that uses it."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{TINY_MODULE}.c").write_text(_TINY_C)
    (directory / f"{TINY_MODULE}_user.c").write_text(_TINY_USER_C)
    (directory / "Kbuild").write_text(f"obj-m += {TINY_MODULE}.o {TINY_MODULE}_user.o\n")


def _modversions(
    tree: Tree, arch: Arch, step: BuildStep, request: JobRequest
) -> tuple[list[tuple[sandbox.Result, str, float]], list[Diagnostic]]:
    """CRCs of the arch's export objects and of a tiny module's export."""
    runs = [_make(tree, arch, request, step, "W=1", "modules_prepare")]
    if not _ok(runs[-1][0]):
        return runs, []
    extra: list[Diagnostic] = []
    if step.targets:
        # One serial make per object: arch/*/lib objects are reachable from two
        # directories, and a parallel make builds them twice at once (fixdep fails).
        for target in step.targets:
            runs.append(_make(tree, arch, request, step, "W=1", target, jobs=1))
        extra += _object_crcs(tree, arch, step.targets, request.limits)
    _write_module(tree.work / "mod")
    runs.append(_make(tree, arch, request, step, f"M={MOD}", "KBUILD_MODPOST_WARN=1", "modules"))
    mod_c = read_limited(tree.work / "mod" / f"{TINY_MODULE}.mod.c")
    if _ok(runs[-1][0]) and "SYMBOL_CRC(reviewbot_tiny_export," not in mod_c:
        extra.append(
            Diagnostic(
                DiagKind.ERROR,
                "",
                None,
                f"{TINY_MODULE}.mod.c has no SYMBOL_CRC() for the module's export "
                "reviewbot_tiny_export: its __crc_ entry is missing",
                "crc",
            )
        )
    return runs, extra


def _object_crcs(
    tree: Tree, arch: Arch, objects: tuple[str, ...], limits: sandbox.Limits
) -> list[Diagnostic]:
    """modpost's CRC check on single objects: each export needs a #SYMVER in its .cmd."""
    nm = "llvm-nm" if arch.llvm else f"{arch.cross_compile}nm"
    script = 'for o; do echo "== $o"; ' + nm + ' "$o" 2>/dev/null; done'
    result = make_in_box(tree, ["sh", "-c", script, "sh", *objects], limits, cwd=OUT)
    out: list[Diagnostic] = []
    for chunk in result.stdout.split("== ")[1:]:
        name, _, symbols = chunk.partition("\n")
        exported = sorted(set(_EXPORTED.findall(symbols)))
        directory, _, base_name = name.strip().rpartition("/")
        cmd = read_limited(tree.work / "out" / directory / f".{base_name}.cmd")
        versioned = set(_SYMVER.findall(cmd))
        for symbol in exported:
            if symbol not in versioned:
                out.append(
                    Diagnostic(
                        DiagKind.WARNING,
                        "",
                        None,
                        f'EXPORT symbol "{symbol}" [vmlinux] version generation failed, '
                        f"symbol will not be versioned (no #SYMVER in {name.strip()}'s .cmd)",
                        "crc",
                    )
                )
    return out


def build_job(payload: dict[str, Any]) -> dict[str, Any]:
    """The executor's job function: a JobRequest's JSON in, its BuildOutcome's JSON out.

    The payload also names the reviewbot version (`code`), so a stored result is reused
    only by the code that made it (job ids hash the payload).
    """
    request = load_as(JobRequest, payload["request"])
    return {"outcome": dump(run_job(request))}


def job_payload(request: JobRequest) -> dict[str, Any]:
    return {"code": reviewbot.__version__, "request": dump(request)}
