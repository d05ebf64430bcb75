"""Plan the kbuild steps a change to kbuild itself feeds: host tools, probes, checkers (pure).

Which steps a changed path needs:

- host tools (`scripts/**.c|h|l|y`, `scripts/*/Makefile`, `scripts/Makefile.host`): a
  HOSTTOOLS step, `make HOSTCFLAGS=-Werror -k olddefconfig` then `... modules_prepare`
  (or `prepare`), base vs patched. The extra HOSTCFLAGS changes the recorded command
  line of every host program, so kbuild rebuilds all of them on both sides (conf,
  fixdep, modpost, kallsyms, sorttable, dtc where the arch needs it) and runs conf and
  modpost's build; new host diagnostics are compared by file, line and text.
- toolchain probes (`scripts/Kconfig.include`, `scripts/Makefile.compiler`, the
  `*-version.sh` probes, a Kconfig hunk calling `$(...)`, an arch Makefile hunk calling
  `cc-option` and friends): a TOOLCHAIN step, `make defconfig` then `make W=1 prepare`
  afresh, for each default arch (or the arch whose files changed); its .config is kept
  so the rules can see which toolchain symbols a probe turned off. The first of those
  arches also runs it with each other toolchain the matrix has for its ARCH (clang with
  the LLVM binutils, matrix.probe_toolchains): a probe must accept every supported
  compiler, and one gcc is not all of them.
- checkers run on every object (`tools/objtool/`, `scripts/recordmcount*`,
  `scripts/Makefile.build|lib|extrawarn`, `scripts/Kbuild.include`): an OBJECTS step
  over a small fixed set of real objects (CHECKED_OBJECTS), base vs patched.
- kconfig itself (`scripts/kconfig/`): also a TOOLCHAIN-style defconfig run, so a conf
  that builds but resolves configs differently is seen.

Each step names its cause (the changed files) so findings can point at their hunks.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from reviewbot.analysis.diff import ChangeKind, FileChange
from reviewbot.build.matrix import by_srcarch, probe_toolchains
from reviewbot.build.model import Arch, BuildConfig, BuildJob, BuildStep, StepKind

NO_WERROR = ("WERROR", "n")
HOST_GOALS = ("olddefconfig", "modules_prepare")
_DTC_ARCHES = ("arm64", "arm", "riscv64", "powerpc64le")
HOST_SOURCE = re.compile(
    r"^scripts/(?!gcc-plugins/|dummy-tools/)(?:[\w.+-]+/)*[\w.+-]+\.(c|h|l|y)$"
    r"|^scripts/[\w-]+/Makefile$|^scripts/Makefile\.host$"
)
PROBES = re.compile(
    r"^scripts/(Kconfig\.include|Makefile\.compiler|min-tool-version\.sh|[\w-]*-version\.sh"
    r"|cc-can-link\.sh|tools-support-relr\.sh|as-version\.sh|dummy-tools/.*"
    r"|rust_is_available\.sh|check-git)$"
)
_KCONFIG = re.compile(r"(^|/)Kconfig(\.[\w.-]+)?$")
_ARCH_MAKEFILE = re.compile(r"^arch/([^/]+)/Makefile(\.\w+)?$")
_KCONFIG_CALL = re.compile(
    r"\$\((shell|success|failure|cc-option|ld-option|as-instr|as-option|"
    r"cc-option-bit|ld-version|rustc-option|cc-version|[\w-]+-option)\b"
)
_MAKE_PROBE = re.compile(
    r"\b(cc-option|as-option|ld-option|cc-disable-warning|as-instr|cc-ifversion|ld-ifversion"
    r"|cc-option-yn|cc-cross-prefix|rustc-option|try-run)\b"
)
CHECKERS = re.compile(
    r"^(tools/objtool/.*|tools/include/.*|tools/lib/subcmd/.*|scripts/recordmcount\.\w+"
    r"|scripts/Makefile\.(build|lib|extrawarn|kasan|ubsan|kcov|kcsan|kmsan|propeller|autofdo)"
    r"|scripts/Kbuild\.include|scripts/basic/fixdep\.c)$"
)
# Real objects every arch builds in defconfig, C and asm, with exports and init code.
CHECKED_OBJECTS: Mapping[str, tuple[str, ...]] = {
    "x86": (
        "kernel/fork.o",
        "lib/string.o",
        "mm/filemap.o",
        "fs/open.o",
        "arch/x86/kernel/traps.o",
        "arch/x86/lib/memcpy_64.o",
    ),
    "arm64": (
        "kernel/fork.o",
        "lib/string.o",
        "mm/filemap.o",
        "fs/open.o",
        "arch/arm64/kernel/traps.o",
        "arch/arm64/lib/memcpy.o",
    ),
}
DEFAULT_CHECKED = ("kernel/fork.o", "lib/string.o", "mm/filemap.o", "fs/open.o")
# The smallest config that still links a real kernel (printk on, so code that reports
# is kept); the warm full build per arch is of this config (reviewbot.build.warm).
WARM_CONFIG = BuildConfig("tinyconfig", (("PRINTK", "y"),))
LINK_GOALS = ("vmlinux",)
_KBUILD_FILE = re.compile(r"(^|/)(Makefile|Kbuild)[\w.-]*$")
_OBJ_LINE = re.compile(r"\b(obj|lib)-(y|m|\$\()")
# A part of a composite object (`foo-y += bar.o`, `foo-objs := ...`,
# `foo-$(CONFIG_X) += bar.o`) is linked only through foo.o: moving it in or out, or under
# another CONFIG symbol, changes what is linked as much as an obj- line does. Flags and
# host or user program lists are not objects of the kernel.
_PART_LINE = re.compile(
    r"^\s*(?!(?:subdir-)?(?:cc|as|ld|rust)flags-|hostprogs-|userprogs-|always-|extra-)"
    r"[\w.-]+-(?:y|m|objs|\$\([^)]*\))\s*[:+]?=.*\.o\b"
)
_LINK_CODE = re.compile(
    r"EXPORT_SYMBOL|\b__(init|exit|initdata|ro_after_init|section|visible|weak|used)\b"
    r"|\bextern\b|\basmlinkage\b|\bSYM_(FUNC|CODE|DATA)_|\.section\b"
)
_LINKER = re.compile(
    r"(\.lds\.S$|^include/asm-generic/vmlinux\.lds\.h$|^scripts/link-vmlinux\.sh$"
    r"|^scripts/Makefile\.(vmlinux\w*|modpost|modfinal)$|^scripts/mod/)"
)


def _made_static(change: FileChange) -> bool:
    """Whether a hunk turns a file-scope definition static (`-int f(...)` / `+static int
    f(...)`): the symbol leaves the link, and its callers elsewhere lose it."""
    for hunk in change.hunks:
        removed = {
            " ".join(text.split()) for op, text in hunk.lines if op == "-" and text[:1].isalpha()
        }
        for op, text in hunk.lines:
            made = op == "+" and text.startswith("static ")
            if made and " ".join(text.split()[1:]) in removed:
                return True
    return False


def _objects_moved(path: str, text: str) -> bool:
    """Whether changed Makefile lines add, drop or move kernel objects: obj-/lib- lines,
    or the parts of a composite object (not under scripts/ or tools/: host programs)."""
    if _OBJ_LINE.search(text):
        return True
    host = path.startswith(("scripts/", "tools/"))
    return not host and any(_PART_LINE.match(line) for line in text.splitlines())


def _hunk_text(change: FileChange) -> str:
    return "\n".join(text for hunk in change.hunks for op, text in hunk.lines if op in "+-")


def _live(changes: Sequence[FileChange]) -> list[FileChange]:
    return [c for c in changes if not c.binary]


def host_tool_paths(changes: Sequence[FileChange]) -> list[str]:
    return [c.path for c in _live(changes) if HOST_SOURCE.match(c.path)]


def probe_paths(changes: Sequence[FileChange]) -> dict[str | None, list[str]]:
    """Changed probe files per srcarch (None: every default arch)."""
    out: dict[str | None, list[str]] = {}
    for change in _live(changes):
        path = change.path
        arch_make = _ARCH_MAKEFILE.match(path)
        if PROBES.match(path) or path.startswith("scripts/kconfig/"):
            out.setdefault(None, []).append(path)
        elif _KCONFIG.search(path) and change.kind is not ChangeKind.DELETED:
            if _KCONFIG_CALL.search(_hunk_text(change)):
                match = re.match(r"^arch/([^/]+)/", path)
                out.setdefault(match.group(1) if match else None, []).append(path)
        elif arch_make and _MAKE_PROBE.search(_hunk_text(change)):
            out.setdefault(arch_make.group(1), []).append(path)
    return out


def link_paths(changes: Sequence[FileChange]) -> list[str]:
    """Changes a link can break: objects moving between obj-/lib- lines or in and out of
    composite objects, exports, section and visibility attributes, externs, definitions
    made static, linker scripts and the link steps themselves."""
    out = []
    for change in _live(changes):
        path, text = change.path, _hunk_text(change)
        if (
            _LINKER.search(path)
            or (_KBUILD_FILE.search(path) and _objects_moved(path, text))
            or (
                path.endswith((".c", ".S", ".h"))
                and any(_LINK_CODE.search(line) for line in text.splitlines())
            )
            or (path.endswith(".c") and _made_static(change))
        ):
            out.append(path)
    return out


def link_job(
    changes: Sequence[FileChange], matrix: Mapping[str, Arch], defaults: Sequence[str]
) -> BuildJob | None:
    """The incremental relink of the warm full build, on the first default arch."""
    paths = link_paths(changes)
    names = [n for n in defaults if n in matrix]
    if not paths or not names:
        return None
    step = BuildStep(StepKind.LINK, LINK_GOALS, _reason("link-level change", paths), tuple(paths))
    return BuildJob(matrix[names[0]], WARM_CONFIG, (step,))


def checker_paths(changes: Sequence[FileChange]) -> list[str]:
    return [c.path for c in _live(changes) if CHECKERS.match(c.path)]


def _reason(prefix: str, paths: Sequence[str]) -> str:
    more = f" (+{len(paths) - 3} more)" if len(paths) > 3 else ""
    return f"{prefix}: {', '.join(paths[:3])}{more}"


def kbuild_jobs(
    changes: Sequence[FileChange], matrix: Mapping[str, Arch], defaults: Sequence[str]
) -> list[BuildJob]:
    """The host-tool, probe and checker jobs a kbuild change needs (one per arch)."""
    names = [n for n in defaults if n in matrix]
    steps: dict[str, list[BuildStep]] = {}
    hosts = host_tool_paths(changes)
    if hosts and names:
        reason = _reason("host tools changed", hosts)
        step = BuildStep(StepKind.HOSTTOOLS, HOST_GOALS, reason, tuple(hosts))
        # dtc is only built for arches with device trees.
        dtc = [n for n in names if n in _DTC_ARCHES]
        home = dtc[0] if dtc and any(p.startswith("scripts/dtc/") for p in hosts) else names[0]
        steps.setdefault(home, []).append(step)
    for srcarch, paths in probe_paths(changes).items():
        if srcarch is None:
            targets = names
        else:
            arch = by_srcarch(matrix, srcarch)
            targets = [arch.name] if arch else []
        reason = _reason("toolchain probes or kconfig changed", paths)
        # kconfig alone feeds the .config; probes also feed the Makefiles' prepare.
        kconfig_only = all(p.startswith("scripts/kconfig/") for p in paths)
        goals = ("defconfig",) if kconfig_only else ("defconfig", "prepare")
        # The other toolchains (LLVM=1) on the first target's ARCH only: one more
        # defconfig + prepare per toolchain, not per arch.
        extra = [a.name for a in probe_toolchains(matrix, targets[0])] if targets else []
        for name in [*targets, *extra]:
            steps.setdefault(name, []).append(
                BuildStep(StepKind.TOOLCHAIN, goals, reason, tuple(paths))
            )
    checked = checker_paths(changes)
    if checked and names:
        arch = matrix[names[0]]
        objects = CHECKED_OBJECTS.get(arch.srcarch, DEFAULT_CHECKED)
        reason = _reason("per-object build steps or checkers changed", checked)
        steps.setdefault(names[0], []).append(
            BuildStep(StepKind.OBJECTS, objects, reason, tuple(checked))
        )
    return [
        BuildJob(matrix[name], BuildConfig(matrix[name].defconfig, (NO_WERROR,)), tuple(found))
        for name, found in steps.items()
    ]
