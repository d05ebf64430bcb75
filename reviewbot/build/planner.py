"""Plan the builds a patch needs: objects, arches, configs and extra steps (pure).

Each touched .c/.S file becomes an object; reviewbot.kconfig.links.controlling_config
names the CONFIG symbol that builds it, and the job's config is the arch's defconfig with
those symbols enabled (the runner settles dependencies with olddefconfig and checks they
stayed on: `make path/file.o` with the symbol off compiles dead code and reports false
errors). Arches: the arch's own for arch/<A>/ files or symbols only one arch defines,
otherwise the configured defaults (x86_64 + arm64). Headers:

- a local header: the sources beside it that include it (the provider reads them)
- a shared header (include/, arch/*/include/): the users of what the hunk changed, chosen
  by the provider (reviewbot.build.users / usersearch), one job per arch and per side of
  the CONFIG branch the changed lines sit in (header_jobs)

Extra steps:

- extmod: kbuild scripts or the top Makefile change -> `make M=<tiny modules>` on the
  first default arch (catches prerequisites only in-tree builds have, like vmlinux)
- modversions: export machinery changes -> each `modversions = true` arch (sparc64,
  alpha) with MODULES=y MODVERSIONS=y; plus a full-vmlinux baseline job per base commit
- host tools, toolchain probes, per-object checkers (reviewbot.build.kbuild_plan)
- link: link-level changes -> an incremental relink of the warm full build (tinyconfig)

witness_job turns a Kconfig witness (a plain symbol assignment) and objects into a job.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Collection, Iterable, Mapping, Sequence

from reviewbot.analysis.diff import ChangeKind, FileChange
from reviewbot.analysis.facts import PatchedIndex
from reviewbot.build.kbuild_plan import kbuild_jobs, link_job
from reviewbot.build.matrix import by_srcarch
from reviewbot.build.model import (
    Arch,
    BuildConfig,
    BuildJob,
    BuildPlan,
    BuildStep,
    Skip,
    StepKind,
)
from reviewbot.build.users import Users
from reviewbot.kconfig.links import controlling_config

DEFAULT_ARCHES = ("x86_64", "arm64")
# Warnings stay warnings (x86_64 defconfig sets WERROR): every one is reported, and the
# first does not hide the rest.
NO_WERROR = ("WERROR", "n")
MAX_OBJECTS = 12
MAX_JOBS = 4
_ARCH_PATH = re.compile(r"^arch/([^/]+)/")
_SYMBOL = re.compile(r"[A-Za-z0-9_]{1,100}")
_HOST_CODE = re.compile(r"^(scripts|tools|usr|Documentation|samples)/")
EXTMOD_TRIGGERS = re.compile(
    r"^(Makefile|scripts/Makefile\.[\w.-]+|scripts/Kbuild\.include|scripts/mod/.*"
    r"|scripts/link-vmlinux\.sh|scripts/modules-check\.sh|scripts/depmod\.sh)$"
)
EXPORT_TRIGGERS = re.compile(
    r"^(include/linux/export[\w-]*\.h|include/asm-generic/export\.h|scripts/mod/.*"
    r"|scripts/genksyms/.*|scripts/Makefile\.(build|modpost|modfinal|vmlinux\w*)"
    r"|scripts/link-vmlinux\.sh|arch/[^/]+/include/asm/asm-prototypes\.h"
    r"|include/linux/module\.h|kernel/module/version\.c)$"
)


def _srcarch(path: str) -> str | None:
    match = _ARCH_PATH.match(path)
    return match.group(1) if match else None


def _arches_for(
    path: str,
    config: str | None,
    index: PatchedIndex,
    matrix: Mapping[str, Arch],
    defaults: Sequence[str],
) -> list[Arch] | str:
    """The arches to build path's object on, or the reason there are none."""
    srcarch = _srcarch(path)
    if srcarch is None and config:
        homes = {_srcarch(d.path) for d in index.symbol_defs(config)}
        if len(homes) == 1 and None not in homes:
            srcarch = homes.pop()
    if srcarch is not None:
        arch = by_srcarch(matrix, srcarch)
        return [arch] if arch else f"no compiler for arch/{srcarch} in the build matrix"
    found = [matrix[name] for name in defaults if name in matrix]
    return found or "no default arch in the build matrix"


_SHARED_HEADER = re.compile(r"^(include|arch/[^/]+/include)/")
MAX_HEADER_USERS = 3


def is_local_header(path: str) -> bool:
    """A header beside the code that uses it (drivers/foo/foo.h), not include/ or uapi."""
    return path.endswith(".h") and "/" in path and not _SHARED_HEADER.match(path)


def touched_objects(
    changes: Iterable[FileChange],
    index: PatchedIndex,
    includers: Mapping[str, Sequence[str]] | None = None,
    planned: Collection[str] = (),
) -> tuple[list[tuple[str, str | None]], list[Skip]]:
    """(object, controlling CONFIG or None when always built) per touched .c/.S file.

    `includers` maps a touched local header to the sources beside it that include it
    (the provider reads them): the first MAX_HEADER_USERS of those are built for it.
    """
    objects: list[tuple[str, str | None]] = []
    skipped: list[Skip] = []
    sources: list[str] = []
    for change in changes:
        path = change.path
        if change.binary or change.kind is ChangeKind.DELETED:
            continue
        if path.endswith(".h"):
            users = list((includers or {}).get(path, ()))
            if not is_local_header(path):
                if path not in planned:
                    skipped.append(Skip(path, "shared header: no changed name to look up"))
            elif not users:
                skipped.append(Skip(path, "header: no built source beside it includes it"))
            sources += [u for u in users[:MAX_HEADER_USERS] if u not in sources]
        elif path.endswith((".c", ".S")) and path not in sources:
            sources.append(path)
    for path in sources:
        if _HOST_CODE.match(path):
            skipped.append(Skip(path, "host or user-space code: not built for the target"))
            continue
        obj = path[:-2] + ".o"
        if not index.builders_of(obj):
            skipped.append(Skip(path, "no Makefile names it (#included, or built another way)"))
            continue
        objects.append((obj, controlling_config(index, obj)))
    return objects, skipped


MAX_SHARED_USERS = 4  # per job: a few users, spread over directories (the budget)
MAX_HEADER_JOBS = 4


def _home(index: PatchedIndex, config: str | None) -> str | None:
    """The one arch whose Kconfig defines config (None: generic, or several)."""
    if not config:
        return None
    homes = {_srcarch(d.path) for d in index.symbol_defs(config)}
    return homes.pop() if len(homes) == 1 else None


def _switched_off(index: PatchedIndex, obj: str, variant: tuple[str, str] | None) -> bool:
    """Whether the variant turns off the symbol that builds obj (its code would be dead:
    compiling it anyway reports errors no configuration has)."""
    return (
        variant is not None and variant[1] == "n" and controlling_config(index, obj) == variant[0]
    )


def header_jobs(
    users: Mapping[str, Users],
    index: PatchedIndex,
    matrix: Mapping[str, Arch],
    defaults: Sequence[str],
) -> tuple[list[BuildJob], list[Skip]]:
    """Jobs compiling the chosen users of each changed shared header.

    One job per arch and per value of the first CONFIG condition the changed lines sit
    under (the branch taken first, then the other), capped at MAX_HEADER_JOBS.
    """
    jobs: list[BuildJob] = []
    skipped: list[Skip] = []
    for path, chosen in users.items():
        change, sources = chosen.change, chosen.sources
        names = ", ".join(change.direct()[:4]) or "nothing named"
        if not sources:
            skipped.append(Skip(path, f"header: no buildable user of {names} found"))
            continue
        srcarch = _srcarch(path)
        arch_list = (
            [by_srcarch(matrix, srcarch)]
            if srcarch
            else [matrix[n] for n in defaults if n in matrix]
        )
        conditions = change.conditions[:1]
        variants: list[tuple[str, str] | None] = list(conditions) or [None]
        if conditions:
            symbol, value = conditions[0]
            variants.append((symbol, "n" if value == "y" else "y"))
        for variant in variants:
            for arch in (a for a in arch_list if a is not None):
                targets = [
                    s[:-2] + ".o"
                    for s in sources
                    if _srcarch(s) in (None, arch.srcarch)
                    and _home(index, controlling_config(index, s[:-2] + ".o"))
                    in (None, arch.srcarch)
                    and not _switched_off(index, s[:-2] + ".o", variant)
                ][:MAX_SHARED_USERS]
                if not targets:
                    continue
                enable = {(c, "y") for t in targets if (c := controlling_config(index, t))}
                enable.add(NO_WERROR)
                where = ""
                if variant is not None:
                    enable = {e for e in enable if e[0] != variant[0]} | {variant}
                    where = f" with {variant[0]}={variant[1]}"
                reason = f"users of {names} (changed in {path}){where}"
                if any(chosen.kinds.get(t[:-2] + ".c") for t in targets):
                    labels = [chosen.label(t[:-2] + ".c") for t in targets]
                    reason += ", with arguments of kind: " + "; ".join(labels)
                governed = tuple((t, c) for t in targets if (c := controlling_config(index, t)))
                step = BuildStep(
                    StepKind.OBJECTS, tuple(targets), reason, (path,), governed=governed
                )
                jobs.append(
                    BuildJob(arch, BuildConfig(arch.defconfig, tuple(sorted(enable))), (step,))
                )
    return jobs[:MAX_HEADER_JOBS], skipped


def plan_builds(
    changes: Sequence[FileChange],
    index: PatchedIndex,
    matrix: Mapping[str, Arch],
    defaults: Sequence[str] = DEFAULT_ARCHES,
    includers: Mapping[str, Sequence[str]] | None = None,
    header_users: Mapping[str, Users] | None = None,
) -> BuildPlan:
    """The build jobs for one patch (empty when nothing it touches is built)."""
    objects, skipped = touched_objects(changes, index, includers, header_users or {})
    wanted: dict[str, tuple[Arch, set[str], list[str]]] = {}
    for obj, config in objects:
        arches = _arches_for(obj, config, index, matrix, defaults)
        if isinstance(arches, str):
            skipped.append(Skip(obj[:-2], arches))
            continue
        for arch in arches:
            _, symbols, targets = wanted.setdefault(arch.name, (arch, set(), []))
            if len(targets) >= MAX_OBJECTS:
                skipped.append(Skip(obj, f"more than {MAX_OBJECTS} objects on {arch.name}"))
                continue
            targets.append(obj)
            if config:
                symbols.add(config)
    jobs = [
        BuildJob(
            arch,
            BuildConfig(arch.defconfig, tuple(sorted({(s, "y") for s in symbols} | {NO_WERROR}))),
            (BuildStep(StepKind.OBJECTS, tuple(targets), "touched objects at W=1"),),
        )
        for arch, symbols, targets in wanted.values()
    ][:MAX_JOBS]
    shared, shared_skips = header_jobs(header_users or {}, index, matrix, defaults)
    jobs = merge_jobs(jobs, shared)
    skipped += shared_skips
    paths = [c.path for c in changes] + [c.old_path for c in changes if c.old_path]
    extmod = sorted(p for p in paths if EXTMOD_TRIGGERS.match(p))
    if extmod:
        jobs = _with_extmod(jobs, matrix, defaults, extmod)
    jobs = merge_jobs(jobs, kbuild_jobs(changes, matrix, defaults))
    link = link_job(changes, matrix, defaults)
    if link is not None:
        jobs.append(link)
    exports = sorted(p for p in paths if EXPORT_TRIGGERS.match(p))
    baseline: list[BuildJob] = []
    if exports:
        for arch in (a for a in matrix.values() if a.modversions):
            crc_config = BuildConfig(
                arch.defconfig, (("MODULES", "y"), ("MODVERSIONS", "y"), NO_WERROR)
            )
            reason = "export machinery changed: " + ", ".join(exports[:3])
            step = BuildStep(StepKind.MODVERSIONS, arch.crc_objects, reason)
            jobs.append(BuildJob(arch, crc_config, (step,)))
            full = BuildStep(StepKind.VMLINUX, (), "vmlinux + modpost CRC reference")
            baseline.append(BuildJob(arch, crc_config, (full,), baseline=True))
    return BuildPlan(tuple(jobs), tuple(baseline), tuple(skipped))


_STEP_ORDER = {
    StepKind.OBJECTS: 0,
    StepKind.WITNESS: 0,
    StepKind.HOSTTOOLS: 1,
    StepKind.EXTMOD: 2,
    StepKind.MODVERSIONS: 3,
    StepKind.LINK: 4,
    StepKind.VMLINUX: 5,
    StepKind.TOOLCHAIN: 6,  # last: it makes the .config afresh
}


def merge_jobs(jobs: Sequence[BuildJob], extra: Sequence[BuildJob]) -> list[BuildJob]:
    """Add extra's steps to the job of the same arch and config (or as new jobs).

    Steps run in a fixed order on one copy of the prepared tree per side; TOOLCHAIN
    comes last because it remakes the .config.
    """
    out = list(jobs)
    for job in extra:
        for number, known in enumerate(out):
            if known.key == job.key and not known.baseline:
                out[number] = BuildJob(known.arch, known.config, (*known.steps, *job.steps))
                break
        else:
            out.append(job)
    return [
        BuildJob(
            j.arch, j.config, tuple(sorted(j.steps, key=lambda s: _STEP_ORDER[s.kind])), j.baseline
        )
        for j in out
    ]


def _with_extmod(
    jobs: list[BuildJob], matrix: Mapping[str, Arch], defaults: Sequence[str], paths: list[str]
) -> list[BuildJob]:
    """Add the external-module step to the first default arch's job (or a new one)."""
    names = [n for n in defaults if n in matrix]
    if not names:
        return jobs
    reason = "kbuild changed: " + ", ".join(posixpath.normpath(p) for p in paths[:3])
    step = BuildStep(StepKind.EXTMOD, (), reason)
    for number, job in enumerate(jobs):
        if job.arch.name == names[0]:
            jobs[number] = BuildJob(job.arch, job.config, (*job.steps, step))
            return jobs
    arch = matrix[names[0]]
    return [*jobs, BuildJob(arch, BuildConfig(arch.defconfig, (NO_WERROR,)), (step,))]


def witness_job(
    arch: Arch,
    assignment: Mapping[str, str],
    objects: Sequence[str],
    reason: str,
    cause: Sequence[str] = (),
) -> BuildJob:
    """A Kconfig witness as a build job, compiling `objects` base vs patched.

    The prepared tree is the arch's defconfig with the symbols the witness turns on (so
    the consumer's prerequisites are made once and cached); the WITNESS step then writes
    the whole assignment (SYMBOL -> "y" | "m" | "n") into each side's .config and settles
    it with that side's own Kconfig (`make olddefconfig`): a `select` the patch removed
    still acts on the base. BuildEvaluator.witness_builds runs it (reviewbot.build.witness
    makes these jobs from the Kconfig stage's confirmed witnesses).
    """
    # Plain symbol names and tristate values only: they become .config lines.
    values = {
        s: v
        for s, v in assignment.items()
        if s != NO_WERROR[0] and _SYMBOL.fullmatch(s) and v in ("y", "m", "n")
    }
    enable = {(s, v) for s, v in values.items() if v != "n"} | {NO_WERROR}
    step = BuildStep(
        StepKind.WITNESS,
        tuple(objects)[:MAX_OBJECTS],
        reason,
        tuple(cause),
        tuple(sorted(values.items())),
    )
    return BuildJob(arch, BuildConfig(arch.defconfig, tuple(sorted(enable))), (step,))
