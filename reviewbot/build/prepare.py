"""Prepared output trees, cached per (tree key, arch, config), and make in the sandbox (edge).

`make_in_box` runs one make (or another command) in bubblewrap: the source tree (base, or
a shadow tree for the patched side) read-only at SRC, the job's work directory (holding
out/ and mod/) writable at WORK, no network, a clean environment, and CPU, memory,
process and wall-clock limits. The fixed mount points keep kbuild's recorded command
lines identical between the prepared tree, its copies and the base and patched builds.

`ensure_prepared` makes `<cache>/build/<tree-key>/<arch>/<config-key>/out`: defconfig,
the config's symbols appended and settled by `make olddefconfig` (dependencies found with
kconfiglib when a symbol stayed off), then `make W=1 modules_prepare` (which makes
`prepare` first), or `make W=1 prepare` without MODULES; the per-symbol stamp files
under include/config/ are dropped (see drop_symbol_stamps). The base tree is trusted but
still built in the sandbox.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import re
import shutil
import stat
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import reviewbot
from reviewbot import sandbox
from reviewbot.build.model import Arch, BuildConfig
from reviewbot.errors import InfrastructureError

log = logging.getLogger(__name__)

SRC = "/tmp/reviewbot/src"
WORK = "/tmp/reviewbot/work"
OUT = WORK + "/out"
MOD = WORK + "/mod"
ROOTS = (SRC, OUT, WORK)
PREPARE_LIMITS = sandbox.Limits(
    cpu_seconds=1800, memory_bytes=4 << 30, processes=1024, wall_seconds=900.0
)
_MAX_READ = 32 << 20
_CONFIG_LINE = re.compile(r"^CONFIG_(\w+)=(.*)$|^# CONFIG_(\w+) is not set$")


class CompilerMissingError(InfrastructureError):
    """The arch's compiler is not installed."""


class PrepareError(InfrastructureError):
    """A base tree could not be configured or prepared."""


def check_compiler(arch: Arch) -> None:
    """Raise CompilerMissingError naming the Debian package(s) when a tool is missing."""
    tools = [arch.compiler] + (["ld.lld", "llvm-ar", "llvm-nm"] if arch.llvm else [])
    if not arch.llvm:
        tools.append(f"{arch.cross_compile}ld")
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        raise CompilerMissingError(
            f"{arch.name}: {', '.join(missing)} not found: apt-get install {arch.package}"
        )


def make_argv(arch: Arch, *args: str, jobs: int = 2) -> list[str]:
    """make for arch in the sandbox's layout."""
    return ["make", "-C", SRC, f"O={OUT}", *arch.make_vars(), f"-j{jobs}", *args]


def user_command(arch: Arch, *args: str, jobs: int = 2) -> str:
    """The same make as a user types it in a kernel checkout (output in ./build)."""
    words = ["make", "O=build", *arch.make_vars(), f"-j{jobs}"]
    words += [a.replace(MOD, "../tiny-module").replace(SRC + "/", "") for a in args]
    return " ".join(words)


def config_commands(arch: Arch, config: BuildConfig) -> tuple[str, ...]:
    """How a user makes the job's .config in a kernel checkout."""
    vars_ = " ".join(arch.make_vars())
    out = [f"make O=build {vars_} {config.defconfig}"]
    if config.enable:
        flags = " ".join(f"-d {s}" if v == "n" else f"-e {s}" for s, v in config.enable)
        out.append(f"scripts/config --file build/.config {flags}")
        out.append(f"make O=build {vars_} olddefconfig")
    return tuple(out)


def _env() -> dict[str, str]:
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": "/tmp",
        "TMPDIR": "/tmp",
        "LC_ALL": "C",
        "KBUILD_BUILD_USER": "reviewbot",
        "KBUILD_BUILD_HOST": "reviewbot",
        "KBUILD_BUILD_TIMESTAMP": "Thu Jan  1 00:00:00 UTC 2026",
    }


@dataclass(frozen=True)
class Tree:
    """What a sandboxed run sees: source at SRC, work dir at WORK, base tree readable."""

    source: Path  # base tree or shadow tree
    work: Path  # holds out/ (and mod/)
    base: Path  # the base tree, readable at its own path (shadow symlinks point there)
    mounts: tuple[str, ...] = ()  # top-level dirs of base mounted over the shadow tree

    def binds(self) -> tuple[tuple[Path, str, bool], ...]:
        mounted = tuple((self.base / top, f"{SRC}/{top}", False) for top in self.mounts)
        return ((self.source, SRC, False), *mounted, (self.work, WORK, True))


def make_in_box(
    tree: Tree, argv: Sequence[str], limits: sandbox.Limits, cwd: str = SRC
) -> sandbox.Result:
    package_root = Path(reviewbot.__file__).resolve().parent.parent
    box = sandbox.Sandbox(
        readonly=(tree.base, package_root),
        env={**_env(), "PYTHONPATH": str(package_root)},
        limits=limits,
        cwd=Path(cwd),
        binds=tree.binds(),
    )
    result = sandbox.run(box, list(argv))
    if result.returncode != 0 and result.stderr.startswith("bwrap: "):
        raise sandbox.SandboxError(f"the build sandbox could not start: {result.stderr[:300]}")
    return result


def read_limited(path: Path) -> str:
    """A file the sandboxed build wrote (.config, .cmd, .mod.c): see sandbox.read_limited."""
    return sandbox.read_limited(path, _MAX_READ)


def config_values(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        match = _CONFIG_LINE.match(line)
        if match and match[1]:
            out[match[1]] = match[2]
        elif match and match[3]:
            out[match[3]] = "n"
    return out


def _missing(out: Path, enable: Sequence[tuple[str, str]]) -> list[str]:
    """Symbols wanted on that are off, and symbols wanted off (v == "n") that are on."""
    values = config_values(read_limited(out / ".config"))
    return [s for s, v in enable if (v == "n") == (values.get(s) in ("y", "m"))]


def _checked(result: sandbox.Result, what: str) -> None:
    if result.timed_out or result.returncode != 0:
        tail = (result.stdout + result.stderr).strip().splitlines()[-5:]
        raise PrepareError(f"{what} failed ({result.returncode}): " + " | ".join(tail))


def _settle(
    tree: Tree, arch: Arch, names: Sequence[str], off: Sequence[str] = ()
) -> dict[str, str]:
    """Ask kconfiglib (in the sandbox) which values turn names on and `off` off."""
    request = json.dumps(
        {
            "srctree": SRC,
            "arch": arch.arch,
            "config": OUT + "/.config",
            "names": list(names),
            "off": list(off),
        }
    )
    package_root = Path(reviewbot.__file__).resolve().parent.parent
    box = sandbox.Sandbox(
        readonly=(tree.base, package_root),
        env={**_env(), "PYTHONPATH": str(package_root)},
        limits=sandbox.Limits(cpu_seconds=300, memory_bytes=3 << 30, wall_seconds=300.0),
        cwd=Path(WORK),
        binds=tree.binds(),
    )
    result = sandbox.run(box, [sys.executable, "-m", "reviewbot.build.settle"], request.encode())
    try:
        answer = json.loads(result.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        log.warning("settling %s on %s failed: %s", names, arch.name, result.stderr[-300:])
        return {}
    if "error" in answer:
        log.warning("settling %s on %s failed: %s", names, arch.name, answer["error"])
        return {}
    return {str(k): str(v) for k, v in dict(answer.get("assignments", {})).items()}


def configure(tree: Tree, arch: Arch, config: BuildConfig, limits: sandbox.Limits) -> list[str]:
    """defconfig + the config's symbols, settled; the symbols that stayed off."""
    out = tree.work / "out"
    _checked(make_in_box(tree, make_argv(arch, config.defconfig), limits), config.defconfig)
    if not config.enable:
        return []
    with open(out / ".config", "a", encoding="utf-8") as handle:
        handle.write(config.fragment())
    _checked(make_in_box(tree, make_argv(arch, "olddefconfig"), limits), "olddefconfig")
    missing = _missing(out, config.enable)
    if missing:
        wanted_off = {s for s, v in config.enable if v == "n"}
        on = [s for s in missing if s not in wanted_off]
        off = [s for s in missing if s in wanted_off]
        # Values turned off only count when something must go off.
        extra = {k: v for k, v in _settle(tree, arch, on, off).items() if v != "n" or off}
        if extra:
            with open(out / ".config", "a", encoding="utf-8") as handle:
                handle.write(config_text(extra) + config.fragment())
            _checked(make_in_box(tree, make_argv(arch, "olddefconfig"), limits), "olddefconfig")
        missing = _missing(out, config.enable)
    return missing


def config_text(values: Mapping[str, str]) -> str:
    return "".join(
        f"# CONFIG_{k} is not set\n" if v == "n" else f"CONFIG_{k}={v}\n"
        for k, v in sorted(values.items())
    )


def drop_symbol_stamps(out: Path) -> int:
    """Delete include/config/<SYMBOL>, the empty file syncconfig touches per symbol.

    They are most of a prepared tree (about 4,450 of 4,700 files on arm64 defconfig), and
    every job copies the tree twice: on a filesystem where creating a file costs a
    millisecond, that was most of a warm build. fixdep names them in .cmd files only as
    `$(wildcard include/config/SYMBOL)`, so a missing one is no prerequisite, just like
    an existing older one; a later syncconfig (a patched Kconfig) creates the file of
    each symbol whose value changed, so that symbol's users rebuild as before.
    """
    stamps = out / "include" / "config"
    dropped = 0
    for name in config_values(read_limited(out / ".config")):
        path = stamps / name
        try:
            info = os.lstat(path)
        except OSError:
            continue
        if stat.S_ISREG(info.st_mode) and info.st_size == 0:
            path.unlink()
            dropped += 1
    return dropped


@dataclass(frozen=True)
class Prepared:
    out: Path
    missing: tuple[str, ...]
    cached: bool
    modules: bool
    seconds: float


def prepared_dir(cache_dir: Path, tree_key: str, arch: Arch, config: BuildConfig) -> Path:
    safe_key = re.sub(r"[^A-Za-z0-9_.-]", "_", tree_key)[:80]
    return cache_dir / "build" / safe_key / arch.name / config.key


def ensure_prepared(
    base: Path,
    tree_key: str,
    arch: Arch,
    config: BuildConfig,
    cache_dir: Path,
    limits: sandbox.Limits = PREPARE_LIMITS,
) -> Prepared:
    """The cached prepared output tree for (tree, arch, config); made once, under a lock."""
    home = prepared_dir(cache_dir, tree_key, arch, config)
    home.parent.mkdir(parents=True, exist_ok=True)
    with open(home.parent / f"{config.key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        marker = home / "prepared.json"
        if marker.is_file():
            info = json.loads(marker.read_text())
            return Prepared(home / "out", tuple(info["missing"]), True, info["modules"], 0.0)
        started = time.monotonic()
        work = home.parent / f"{config.key}.tmp"
        shutil.rmtree(work, ignore_errors=True)
        (work / "out").mkdir(parents=True)
        tree = Tree(base.resolve(), work, base.resolve())
        missing = configure(tree, arch, config, limits)
        modules = config_values(read_limited(work / "out" / ".config")).get("MODULES") == "y"
        # modules_prepare depends on prepare: one make instead of two (a second walk of
        # every prepare target costs about a second).
        target = "modules_prepare" if modules else "prepare"
        _checked(make_in_box(tree, make_argv(arch, "W=1", target), limits), f"make {target}")
        drop_symbol_stamps(work / "out")
        seconds = time.monotonic() - started
        info = {"missing": missing, "modules": modules, "seconds": round(seconds, 1)}
        (work / "prepared.json").write_text(json.dumps(info))
        shutil.rmtree(home, ignore_errors=True)
        os.replace(work, home)
        log.info("prepared %s %s in %.1f s (missing: %s)", arch.name, config.key, seconds, missing)
        return Prepared(home / "out", tuple(missing), False, modules, seconds)
