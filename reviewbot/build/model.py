"""Plain data of the build stage: arches, configs, jobs, diagnostics and outcomes (pure).

A BuildJob is one (arch, config) with the steps to run on it, base and patched; its
BuildOutcome holds what each step printed, parsed into Diagnostics, plus the commands a
user types in a kernel checkout to see the same thing.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from enum import StrEnum


@dataclass(frozen=True)
class Arch:
    """One row of the architecture matrix (reviewbot/build/arches/<name>.toml)."""

    name: str  # x86_64, arm64-clang, ...
    arch: str  # ARCH= for make
    srcarch: str  # directory under arch/
    cross_compile: str
    package: str  # Debian package(s) providing the compiler, space separated
    compiler: str  # the executable that must exist on PATH
    defconfig: str = "defconfig"
    llvm: bool = False
    modversions: bool = False  # runs the MODVERSIONS checks
    crc_objects: tuple[str, ...] = ()  # objects with C and asm exports for the CRC check

    def make_vars(self) -> tuple[str, ...]:
        """ARCH=, CROSS_COMPILE= and LLVM= as a user passes them to make."""
        out = [f"ARCH={self.arch}"]
        if self.cross_compile:
            out.append(f"CROSS_COMPILE={self.cross_compile}")
        if self.llvm:
            out.append("LLVM=1")
        return tuple(out)


@dataclass(frozen=True)
class BuildConfig:
    """defconfig target plus symbols that must end up enabled (settled by olddefconfig)."""

    defconfig: str
    enable: tuple[tuple[str, str], ...] = ()  # (SYMBOL, "y" | "m" | "n"), sorted

    @property
    def key(self) -> str:
        text = self.defconfig + "\n" + "\n".join(f"{s}={v}" for s, v in self.enable)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def fragment(self) -> str:
        """The .config lines appended after defconfig."""
        return "".join(
            f"# CONFIG_{s} is not set\n" if v == "n" else f"CONFIG_{s}={v}\n"
            for s, v in self.enable
        )


class StepKind(StrEnum):
    OBJECTS = "objects"  # make W=1 path/file.o ...
    EXTMOD = "extmod"  # make M=<tiny module> against a modules_prepare'd tree
    MODVERSIONS = "modversions"  # CRCs of exports: objects + an M= module with an export
    VMLINUX = "vmlinux"  # full build + modpost: a baseline job per base commit
    HOSTTOOLS = "hosttools"  # host programs rebuilt with HOSTCFLAGS=-Werror, then run
    TOOLCHAIN = "toolchain"  # defconfig + prepare afresh: Kconfig.include/Makefile probes
    LINK = "link"  # incremental make of a warm full build: vmlinux, modules, modpost
    # a Kconfig witness: its assignment + olddefconfig on each side's own Kconfig, the
    # consumer's objects compiled, then what they reference but do not define (nm -u)
    WITNESS = "witness"


@dataclass(frozen=True)
class BuildStep:
    kind: StepKind
    targets: tuple[str, ...] = ()  # objects for OBJECTS/MODVERSIONS, make goals otherwise
    reason: str = ""
    cause: tuple[str, ...] = ()  # the changed files this step exercises (report anchor)
    config: tuple[tuple[str, str], ...] = ()  # WITNESS: assignment written before olddefconfig
    # OBJECTS of a header's users: (object, the CONFIG symbol that builds it); the runner
    # leaves out an object whose symbol stayed off in the prepared .config
    governed: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class BuildJob:
    """One arch and config, with the steps to run on the base and the patched tree."""

    arch: Arch
    config: BuildConfig
    steps: tuple[BuildStep, ...]
    baseline: bool = False  # per base commit, not per patch (full vmlinux)

    @property
    def key(self) -> str:
        return f"{self.arch.name}/{self.config.key}"


@dataclass(frozen=True)
class Skip:
    """A touched file the planner will not build, and why."""

    path: str
    reason: str


@dataclass(frozen=True)
class BuildPlan:
    jobs: tuple[BuildJob, ...] = ()
    baseline: tuple[BuildJob, ...] = ()
    skipped: tuple[Skip, ...] = ()


class DiagKind(StrEnum):
    WARNING = "warning"
    ERROR = "error"


@dataclass(frozen=True)
class Diagnostic:
    """One message from a build, with its path relative to the source tree (or '')."""

    kind: DiagKind
    path: str
    line: int | None
    text: str
    tool: str = "cc"  # cc, modpost, make, ld, crc, sandbox
    unit: str = ""  # the source being compiled, when the diagnostic is in another file

    def key(self, line: int | None = None) -> tuple[str, int | None, str, str]:
        return (self.path, self.line if line is None else line, self.tool, self.text)

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}: " if self.path and self.line else ""
        where = where or (f"{self.path}: " if self.path else "")
        return f"{where}{self.kind.value}: {self.text}"


@dataclass(frozen=True)
class StepResult:
    """What one step printed on one tree (base or patched)."""

    step: BuildStep
    ok: bool
    diagnostics: tuple[Diagnostic, ...] = ()
    commands: tuple[str, ...] = ()  # as a user types them in a kernel checkout
    seconds: float = 0.0
    timed_out: bool = False
    status: int = 0
    tail: str = ""  # last lines of output, for messages when nothing parsed
    disk_full: bool = False  # stopped by the sandbox's disk limit (the patch's fault)
    config: tuple[tuple[str, str], ...] = ()  # (SYMBOL, value) of .config (TOOLCHAIN/HOSTTOOLS)
    excerpt: str = ""  # the first relevant lines of the output (errors and warnings first)
    undefined: tuple[str, ...] = ()  # WITNESS: symbols the objects use but do not define


@dataclass(frozen=True)
class BuildOutcome:
    """One job run on both trees; `error` is set when it could not run at all."""

    job: BuildJob
    base: tuple[StepResult, ...] = ()
    patched: tuple[StepResult, ...] = ()
    error: str = ""
    config_missing: tuple[str, ...] = ()  # requested symbols that could not be enabled
    seconds: float = 0.0
    prepared_cached: bool = False
    extra: dict[str, str] = field(default_factory=dict, compare=False)
