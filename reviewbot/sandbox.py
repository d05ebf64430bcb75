"""Run untrusted commands (patched Kconfig $(shell), make) under bubblewrap.

The sandbox sees only what the tools need: /usr (and the /bin, /sbin, /lib* links or
directories), a synthetic /etc (passwd and group naming root and nobody, the dynamic
linker's cache, the alternatives links: no shadow, no keys, no host configuration), the
tree and the Python install read-only, the writable output directories it is given, a
private size-capped /tmp, /dev and /proc. Nothing else of the host exists inside: no
/root, /home, /etc/shadow, /var. It has no network, a clean environment, and CPU-time,
address-space, file-size, process-count and wall-clock limits; its writable area is
watched and the command is killed when it grows past the disk limit (Result.disk_full).

The command runs as an unprivileged uid (SANDBOX_UID, nobody) with no capabilities and
no_new_privs. When reviewbot runs as root, bwrap sets up the mounts as root in new
mount, pid, ipc, uts, net and cgroup namespaces and setpriv drops to the uid before the
command starts; a user namespace made by root would map the sandbox uid back onto host
root (the owner of /etc/shadow), so a real host uid is the boundary. As an ordinary
user, bwrap makes a user namespace and the command keeps that user's (unprivileged)
uid. Writable directories are handed to the uid (chown) before the command runs.

The process count is bounded twice: RLIMIT_NPROC (prlimit), which the kernel does not
apply to root, and, where the host lets us, a pids cgroup per sandboxed command
(`pids.max`), which holds for root too: a fork bomb in a patched Makefile stops at the
limit instead of filling the host's process table.
"""

from __future__ import annotations

import atexit
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
from reviewbot.limits import DEFAULT_LIMITS


class SandboxError(InfrastructureError):
    """bubblewrap is missing or cannot start."""


@dataclass(frozen=True)
class Limits:
    cpu_seconds: int = 300
    memory_bytes: int = 4 << 30
    processes: int = 512
    wall_seconds: float = 600.0
    disk_bytes: int = DEFAULT_LIMITS.disk_bytes  # growth of the writable area's file system
    file_bytes: int = DEFAULT_LIMITS.file_bytes  # RLIMIT_FSIZE
    tmp_bytes: int = DEFAULT_LIMITS.tmp_bytes  # the private /tmp (and private dirs) tmpfs


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
    # Writable size-capped tmpfs directories (scratch space nobody reads back).
    private: tuple[Path, ...] = ()


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


SANDBOX_UID = 65534  # nobody
_ROOT_LINKS = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
# What of the host's /etc the tools need, none of it private: the dynamic linker's
# cache and configuration, the alternatives links (awk, cc, ...), openssl's config
# (module signing keys are made with it).
_ETC_KEEP = (
    "alternatives",
    "ld.so.cache",
    "ld.so.conf",
    "ld.so.conf.d",
    "ssl/openssl.cnf",
    "localtime",
)
_ETC_FILES = {
    "passwd": "root:x:0:0:root:/root:/bin/sh\n"
    f"nobody:x:{SANDBOX_UID}:{SANDBOX_UID}:nobody:/tmp:/usr/sbin/nologin\n",
    "group": f"root:x:0:\nnogroup:x:{SANDBOX_UID}:\n",
    "hostname": "reviewbot\n",
    "hosts": "127.0.0.1 localhost reviewbot\n",
    "nsswitch.conf": "passwd: files\ngroup: files\nhosts: files\n",
}


@cache
def _synthetic_etc() -> Path:
    """A private directory holding the sandbox's own /etc files (made once per process)."""
    etc = Path(tempfile.mkdtemp(prefix="reviewbot-etc-"))
    for name, text in _ETC_FILES.items():
        (etc / name).write_text(text)
        (etc / name).chmod(0o644)
    etc.chmod(0o755)
    atexit.register(shutil.rmtree, etc, True)
    return etc


def _privileged() -> bool:
    return os.geteuid() == 0


def _system_mounts(limits: Limits) -> list[str]:
    args = ["bwrap", "--ro-bind", "/usr", "/usr"]
    for name in _ROOT_LINKS:
        path = Path(name)
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), name]
        elif path.is_dir():
            args += ["--ro-bind", name, name]
    args += ["--dev", "/dev", "--proc", "/proc"]
    args += ["--perms", "1777", "--size", str(limits.tmp_bytes), "--tmpfs", "/tmp"]
    args += ["--dir", "/etc"]
    for name in _ETC_KEEP:
        if Path("/etc", name).exists():
            args += ["--ro-bind", f"/etc/{name}", f"/etc/{name}"]
    etc = _synthetic_etc()
    for name in _ETC_FILES:
        args += ["--ro-bind", str(etc / name), f"/etc/{name}"]
    return args


def command(box: Sandbox, argv: Sequence[str]) -> list[str]:
    """The bwrap command line that runs argv inside box."""
    args = _system_mounts(box.limits)
    readonly = [p for p in (*_python_paths(), *box.readonly) if p.exists()]
    readonly = [p for p in readonly if not p.is_relative_to("/usr")]
    targets = [*map(str, readonly), *map(str, box.private), *(t for _, t, _ in box.binds)]
    if box.writable is not None:
        targets.append(str(box.writable))
    args += _parents(targets)
    for path in readonly:
        args += ["--ro-bind", str(path), str(path)]
    if box.writable is not None:
        args += ["--bind", str(box.writable), str(box.writable)]
    for private in box.private:
        args += ["--perms", "1777", "--size", str(box.limits.tmp_bytes), "--tmpfs", str(private)]
    for source, target, rw in box.binds:
        args += ["--bind" if rw else "--ro-bind", str(source), target]
    if _privileged():
        args += ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts"]
        args += ["--unshare-cgroup-try"]
    else:
        args += ["--unshare-all"]
    args += ["--die-with-parent", "--new-session", "--clearenv"]
    for key, value in box.env.items():
        args += ["--setenv", key, value]
    if box.cwd is not None:
        args += ["--chdir", str(box.cwd)]
    return [*args, "--", *_drop(), *argv]


_OWN = ("/usr", "/etc", "/dev", "/proc", *_ROOT_LINKS)  # mounted whole: nothing to make


def _parents(targets: Sequence[str]) -> list[str]:
    """Directories on the way to each mount point, world-traversable (bwrap would make
    them 0700 root, which the unprivileged uid cannot enter)."""
    parents: set[str] = set()
    for target in targets:
        path = Path(target).parent
        while str(path) not in ("/", "/tmp") and not any(path.is_relative_to(o) for o in _OWN):
            parents.add(str(path))
            path = path.parent
    args: list[str] = []
    for parent in sorted(parents, key=lambda p: (p.count("/"), p)):
        args += ["--perms", "0755", "--dir", parent]
    return args


def _drop() -> list[str]:
    """As root: become SANDBOX_UID with no capabilities before the command runs."""
    if not _privileged():
        return []
    return [
        "setpriv",
        f"--reuid={SANDBOX_UID}",
        f"--regid={SANDBOX_UID}",
        "--clear-groups",
        "--inh-caps=-all",
        "--bounding-set=-all",
        "--no-new-privs",
        "--",
    ]


def hand_over(path: Path) -> None:
    """Make a writable directory and what reviewbot wrote into it the sandbox uid's (files
    already its own are left alone; symlinks are never followed). Only root needs this."""
    if not _privileged() or not path.is_dir():
        return
    with contextlib.suppress(OSError):
        os.lchown(path, SANDBOX_UID, SANDBOX_UID)
    for root, dirs, files in os.walk(path):
        for name in (*dirs, *files):
            full = os.path.join(root, name)
            with contextlib.suppress(OSError):
                if os.lstat(full).st_uid != SANDBOX_UID:
                    os.lchown(full, SANDBOX_UID, SANDBOX_UID)


def _prlimit(limits: Limits) -> list[str]:
    """Resource limits set by util-linux prlimit (no preexec_fn: callers use threads)."""
    return [
        "prlimit",
        f"--cpu={limits.cpu_seconds}",
        f"--as={limits.memory_bytes}",
        f"--nproc={limits.processes}",
        f"--fsize={limits.file_bytes}",
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
    for path in (box.writable, *(source for source, _, rw in box.binds if rw)):
        if path is not None:
            hand_over(path)
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
    disk_full: bool = False  # killed by the disk limit, or a write failed for lack of space


_NO_SPACE = ("No space left on device", "File size limit exceeded", "Disk quota exceeded")


def run(box: Sandbox, argv: Sequence[str], stdin: bytes = b"") -> Result:
    """Run argv in the sandbox to completion (or until a limit kills it).

    Output goes to temporary files and only the last MAX_OUTPUT bytes of each are kept,
    so a command that floods its output cannot fill memory. A watcher kills the command
    when the file systems of its writable directories have lost more than
    limits.disk_bytes since it started (RLIMIT_FSIZE bounds each file).
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = popen(box, argv, stdin=subprocess.PIPE, stdout=out, stderr=err)
        watched = [box.writable] if box.writable is not None else []
        watched += [source for source, _, rw in box.binds if rw]
        full = threading.Event()
        done = threading.Event()
        watcher = threading.Thread(
            target=_watch_disk, args=(proc, watched, box.limits.disk_bytes, full, done)
        )
        watcher.start()
        try:
            proc.communicate(stdin, timeout=box.limits.wall_seconds)
            timed_out = False
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            timed_out = True
        finally:
            done.set()
            watcher.join()
        returncode = proc.returncode
        del proc  # removes its pids group now (and kills anything that escaped the wait)
        stderr = _tail(err)
        disk_full = full.is_set() or returncode in (-25, 128 + 25)  # SIGXFSZ
        disk_full = disk_full or any(text in stderr for text in _NO_SPACE)
        return Result(returncode, _tail(out), stderr, timed_out and not full.is_set(), disk_full)


def _free(paths: Sequence[Path]) -> dict[int, int]:
    """Free bytes per file system (by st_dev) of paths."""
    out: dict[int, int] = {}
    for path in paths:
        with contextlib.suppress(OSError):
            info = os.statvfs(path)
            out[os.stat(path).st_dev] = info.f_bavail * info.f_frsize
    return out


def _usage(paths: Sequence[Path]) -> int:
    """Bytes allocated under paths (symlinks not followed)."""
    total = 0
    for path in paths:
        for root, dirs, files in os.walk(path):
            for name in (*dirs, *files):
                with contextlib.suppress(OSError):
                    total += os.lstat(os.path.join(root, name)).st_blocks * 512
    return total


def _watch_disk(
    proc: subprocess.Popen[bytes],
    paths: Sequence[Path],
    limit: int,
    full: threading.Event,
    done: threading.Event,
) -> None:
    """Kill proc once its writable area has grown by more than limit bytes.

    Free space is cheap to poll but shared with every other writer on the file system:
    when it drops past the limit, the area itself is measured, and only its own growth
    counts (the rest is credited and the poll starts again from there).
    """
    if not paths:
        return
    baseline = _usage(paths)
    start = _free(paths)
    credited = 0
    while not done.wait(0.2):
        now = _free(paths)
        dropped = max((start[dev] - now.get(dev, start[dev]) for dev in start), default=0)
        if dropped + credited <= limit:
            continue
        grown = _usage(paths) - baseline
        if grown > limit:
            full.set()
            with contextlib.suppress(OSError):
                proc.kill()
            return
        start, credited = _free(paths), max(grown, 0)


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
