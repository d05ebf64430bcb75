"""Run untrusted commands (patched Kconfig $(shell), make) under bubblewrap.

The sandbox has no network, sees the host read-only with /tmp, /root, /home and the
cache replaced by empty tmpfs (so nothing private is readable), the tree and the Python
install bound read-only, one private writable output directory, a clean environment, and
CPU-time, address-space, process-count and wall-clock limits.

The process count is bounded twice: RLIMIT_NPROC (prlimit), which the kernel does not
apply to root, and, where the host lets us, a pids cgroup per sandboxed command
(`pids.max`), which holds for root too: a fork bomb in a patched Makefile stops at the
limit instead of filling the host's process table.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import stat
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import IO

from reviewbot.errors import InfrastructureError


class SandboxError(InfrastructureError):
    """bubblewrap is missing or cannot start."""


@dataclass(frozen=True)
class Limits:
    cpu_seconds: int = 300
    memory_bytes: int = 4 << 30
    processes: int = 512
    wall_seconds: float = 600.0


@dataclass(frozen=True)
class Sandbox:
    """What the sandboxed command may see: read-only paths, one writable dir, env, limits."""

    readonly: tuple[Path, ...] = ()
    writable: Path | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    limits: Limits = field(default_factory=Limits)
    cwd: Path | None = None
    # Extra mounts at other paths: (host path, sandbox path, writable); the sandbox path
    # must lie under a hidden (tmpfs) directory such as /tmp.
    binds: tuple[tuple[Path, str, bool], ...] = ()


def child_pids(pid: int) -> list[int]:
    """The children of every thread of pid (sandboxed commands sit below prlimit/bwrap)."""
    out: list[int] = []
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return out
    for task in tasks:
        try:
            out += [int(x) for x in (task / "children").read_text().split()]
        except OSError:
            continue
    return out


def bwrap_available() -> bool:
    if shutil.which("bwrap") is None:
        return False
    probe = subprocess.run(
        ["bwrap", "--ro-bind", "/", "/", "--unshare-all", "--die-with-parent", "true"],
        capture_output=True,
        check=False,
        timeout=30,
    )
    return probe.returncode == 0


def _python_paths() -> list[Path]:
    paths = {Path(sys.prefix), Path(sys.base_prefix), Path(sys.executable).resolve().parent}
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        value = sysconfig.get_paths().get(key)
        if value:
            paths.add(Path(value))
    paths.update(Path(p) for p in sys.path if p and Path(p).is_dir())
    return sorted(paths)


_HIDDEN = ("/tmp", "/root", "/home", "/var/tmp", "/run", "/srv", "/mnt", "/media")


def command(box: Sandbox, argv: Sequence[str]) -> list[str]:
    """The bwrap command line that runs argv inside box."""
    args = ["bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
    for hidden in _HIDDEN:
        if Path(hidden).exists():
            args += ["--tmpfs", hidden]
    for path in (*_python_paths(), *box.readonly):
        if path.exists():
            args += ["--ro-bind", str(path), str(path)]
    if box.writable is not None:
        args += ["--bind", str(box.writable), str(box.writable)]
    for source, target, rw in box.binds:
        args += ["--bind" if rw else "--ro-bind", str(source), target]
    args += ["--unshare-all", "--die-with-parent", "--new-session", "--clearenv"]
    for key, value in box.env.items():
        args += ["--setenv", key, value]
    if box.cwd is not None:
        args += ["--chdir", str(box.cwd)]
    return [*args, "--", *argv]


def _prlimit(limits: Limits) -> list[str]:
    """Resource limits set by util-linux prlimit (no preexec_fn: callers use threads)."""
    return [
        "prlimit",
        f"--cpu={limits.cpu_seconds}",
        f"--as={limits.memory_bytes}",
        f"--nproc={limits.processes}",
        "--core=0",
        "--",
    ]


_CGROUP_ROOTS = (
    Path("/sys/fs/cgroup/pids"),
    Path("/sys/fs/cgroup"),
    Path("/sys/fs/cgroup/unified"),
)
_JOIN = 'echo $$ > "$0/cgroup.procs" && exec "$@"'
_serial = itertools.count()
_lock = threading.Lock()


def _own_group(root: Path) -> Path:
    """This process's group under a cgroup mount (v1 'pids:' line, or the v2 '0::' one)."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return root
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if (root.name == "pids" and "pids" in controllers.split(",")) or (
            root.name != "pids" and controllers == ""
        ):
            return root / path.lstrip("/")
    return root


@cache
def pids_parent() -> Path | None:
    """A cgroup directory where sandboxed commands can get their own pids.max, or None."""
    for root in _CGROUP_ROOTS:
        for parent in (_own_group(root), root):
            probe = parent / f"reviewbot-probe-{os.getpid()}"
            try:
                probe.mkdir()
            except OSError:
                continue
            try:
                usable = (probe / "pids.max").exists()
            finally:
                probe.rmdir()
            if usable:
                _remove_stale(parent)
                return parent
    return None


def _remove_stale(parent: Path) -> None:
    """Groups left by reviewbot processes that died without cleaning up."""
    for group in parent.glob("reviewbot-*-*"):
        owner = group.name.split("-")[1]
        if owner.isdigit() and not Path(f"/proc/{owner}").exists():
            _remove_group(group)


def _remove_group(group: Path) -> None:
    """Kill what is left in a command's group, then remove it."""
    for _ in range(50):
        try:
            pids = (group / "cgroup.procs").read_text().split()
        except OSError:
            return
        for pid in pids:
            with contextlib.suppress(OSError, ValueError):
                os.kill(int(pid), 9)
        try:
            group.rmdir()
            return
        except OSError:
            time.sleep(0.05)


def _pids_group(limits: Limits) -> Path | None:
    parent = pids_parent()
    if parent is None:
        return None
    with _lock:
        group = parent / f"reviewbot-{os.getpid()}-{next(_serial)}"
    try:
        group.mkdir()
        (group / "pids.max").write_text(str(limits.processes))
    except OSError:
        return None
    return group


def popen(box: Sandbox, argv: Sequence[str], **kwargs: object) -> subprocess.Popen[bytes]:
    """Start argv in the sandbox (stdin/stdout as the caller asks).

    With a pids cgroup, the command joins its own group (removed, after killing what is
    left in it, once the Popen object is gone or the interpreter exits).
    """
    if shutil.which("bwrap") is None:
        raise SandboxError("bubblewrap (bwrap) is not installed: apt-get install bubblewrap")
    full = [*_prlimit(box.limits), *command(box, argv)]
    group = _pids_group(box.limits)
    if group is not None:
        full = ["sh", "-c", _JOIN, str(group), *full]
    proc: subprocess.Popen[bytes] = subprocess.Popen(full, **kwargs)  # type: ignore[call-overload]
    if group is not None:
        weakref.finalize(proc, _remove_group, group)
    return proc


@dataclass(frozen=True)
class Result:
    returncode: int
    stdout: str
    stderr: str
    timed_out: bool


def run(box: Sandbox, argv: Sequence[str], stdin: bytes = b"") -> Result:
    """Run argv in the sandbox to completion (or until the wall-clock limit kills it).

    Output goes to temporary files and only the last MAX_OUTPUT bytes of each are kept,
    so a command that floods its output cannot fill memory.
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = popen(box, argv, stdin=subprocess.PIPE, stdout=out, stderr=err)
        try:
            proc.communicate(stdin, timeout=box.limits.wall_seconds)
            timed_out = False
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            timed_out = True
        returncode = proc.returncode
        del proc  # removes its pids group now (and kills anything that escaped the wait)
        return Result(returncode, _tail(out), _tail(err), timed_out)


MAX_OUTPUT = 1 << 20


def read_limited(path: Path, limit: int = 32 << 20) -> str:
    """A file a sandboxed command wrote: never follows a symlink it may have planted,
    reads only regular files and at most `limit` bytes ('' when there is none)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return ""
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            return ""
        return handle.read(limit).decode("utf-8", errors="replace")


def _tail(handle: IO[bytes]) -> str:
    size = handle.seek(0, os.SEEK_END)
    handle.seek(max(0, size - MAX_OUTPUT))
    return handle.read().decode("utf-8", errors="replace")
