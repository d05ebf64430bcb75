"""Whether a toolchain of the arch matrix can try a probe change here (edge: runs tools).

A probe change (kbuild_plan's TOOLCHAIN step) is run with the arch's gcc row of the
matrix and with every other toolchain row of the same ARCH (matrix.probe_toolchains): today
clang with the LLVM binutils (x86_64-clang, arm64-clang: `LLVM=1`). Each row carries its
make variables (Arch.make_vars) and its tools (prepare.check_compiler). `unusable` says
why one cannot run here: a tool is not installed, or the compiler is older than what the
tree supports (`scripts/min-tool-version.sh gcc|llvm` of the base tree, with SRCARCH
set, as kbuild's own scripts/cc-version.sh checks it). The provider turns such a
toolchain into an outcome that says so, and BLD005 names it in its evidence.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from reviewbot.build.model import Arch
from reviewbot.build.prepare import CompilerMissingError, check_compiler

_VERSION = re.compile(r"(\d+)\.(\d+)(?:\.(\d+))?")
_TIMEOUT = 20.0


def parse_version(text: str) -> tuple[int, int, int] | None:
    """The last x.y[.z] of a `--version` first line ("Debian clang version 14.0.6",
    "gcc (Debian 12.2.0-14+deb12u1) 12.2.0"), pure."""
    found = _VERSION.findall(text.splitlines()[0] if text.strip() else "")
    if not found:
        return None
    major, minor, patch = found[-1]
    return int(major), int(minor), int(patch or 0)


def _show(version: tuple[int, int, int]) -> str:
    return ".".join(map(str, version))


def _run(argv: list[str], cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    try:
        result = subprocess.run(
            argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=_TIMEOUT, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return result.stdout if result.returncode == 0 else ""


def minimum(tree: Path, arch: Arch) -> tuple[int, int, int] | None:
    """The tree's minimum version of the arch's compiler (None: the tree does not say)."""
    script = tree / "scripts" / "min-tool-version.sh"
    if not script.is_file():
        return None
    env = {"PATH": "/usr/bin:/bin", "SRCARCH": arch.srcarch, "LC_ALL": "C"}
    return parse_version(_run(["sh", str(script), "llvm" if arch.llvm else "gcc"], tree, env))


def unusable(arch: Arch, tree: Path) -> str:
    """Why the arch's toolchain cannot try a probe here ('' when it can)."""
    try:
        check_compiler(arch)
    except CompilerMissingError as exc:
        return f"not installed ({exc})"
    found = parse_version(_run([arch.compiler, "--version"]))
    if found is None:
        return f"{arch.compiler} --version names no version"
    least = minimum(tree, arch)
    if least is not None and found < least:
        return (
            f"{arch.compiler} {_show(found)} is older than this tree supports "
            f"({_show(least)}, scripts/min-tool-version.sh)"
        )
    return ""
