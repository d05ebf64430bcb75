"""Talk to the sandboxed Kconfig worker: start it, send requests, restart it on failure."""

from __future__ import annotations

import json
import logging
import selectors
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import reviewbot
from reviewbot.budget import BudgetExceeded
from reviewbot.errors import InfrastructureError
from reviewbot.kconfig.facts import KconfigDelta, KconfigFacts
from reviewbot.sandbox import Limits, Sandbox, bwrap_available, child_pids, popen

log = logging.getLogger(__name__)


class KconfigWorkerError(InfrastructureError):
    """The worker died, timed out or answered nonsense."""


class KconfigClient:
    """A warm worker process for one tree; sandboxed with bubblewrap when available.

    The worker is started and spoken to from one thread the client owns: bwrap's
    --die-with-parent is PR_SET_PDEATHSIG, which fires when the *thread* that forked it
    exits, so a worker started from a caller's short-lived pool thread would be killed
    (and its warm base parses lost) as soon as that pool shut down.
    """

    def __init__(self, srctree: Path, sandboxed: bool | None = None, timeout: float = 180.0):
        self.srctree = srctree.resolve()
        self.sandboxed = bwrap_available() if sandboxed is None else sandboxed
        self.timeout = timeout
        self._proc: subprocess.Popen[bytes] | None = None
        self._scratch = tempfile.TemporaryDirectory(prefix="reviewbot-kconfig-")
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kconfig-client")

    def _start(self) -> subprocess.Popen[bytes]:
        package_root = Path(reviewbot.__file__).resolve().parent.parent
        argv = [sys.executable, "-m", "reviewbot.kconfig.worker"]
        env = {
            "PYTHONPATH": str(package_root),
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "HOME": self._scratch.name,
            "LC_ALL": "C",
        }
        pipes = {"stdin": subprocess.PIPE, "stdout": subprocess.PIPE, "stderr": subprocess.DEVNULL}
        if self.sandboxed:
            box = Sandbox(
                readonly=(self.srctree, package_root),
                private=(Path(self._scratch.name),),  # a size-capped tmpfs: no host disk
                env=env,
                limits=Limits(cpu_seconds=3600, memory_bytes=3 << 30, wall_seconds=1e9),
                cwd=Path(self._scratch.name),
            )
            return popen(box, argv, **pipes)
        log.warning("bubblewrap unavailable: Kconfig $(shell) runs unsandboxed")
        return subprocess.Popen(argv, env=env, cwd=self._scratch.name, **pipes)  # type: ignore[call-overload, no-any-return]

    def close(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait()
            self._proc = None

    def __enter__(self) -> KconfigClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
        self._thread.shutdown(wait=True)
        self._scratch.cleanup()

    @property
    def pid(self) -> int | None:
        """The pid of the process the client started (bwrap when sandboxed)."""
        return self._proc.pid if self._proc is not None and self._proc.poll() is None else None

    def _ask(self, request: Mapping[str, object]) -> dict[str, object]:
        return self._thread.submit(self._ask_here, request).result()

    def _ask_here(self, request: Mapping[str, object]) -> dict[str, object]:
        if self._proc is None or self._proc.poll() is not None:
            self._proc = self._start()
        proc = self._proc
        assert proc.stdin is not None and proc.stdout is not None
        try:
            proc.stdin.write(json.dumps(request).encode() + b"\n")
            proc.stdin.flush()
        except BrokenPipeError as exc:
            self.close()
            raise KconfigWorkerError("Kconfig worker exited") from exc
        deadline = time.monotonic() + self.timeout
        with selectors.DefaultSelector() as selector:
            selector.register(proc.stdout, selectors.EVENT_READ)
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not selector.select(remaining):
                    self.close()
                    # The patch's fault (a $(shell,...) that hangs, a huge Kconfig): the
                    # engine reports the patch's review as incomplete.
                    raise BudgetExceeded(
                        "Kconfig evaluation (kconfiglib; a Kconfig $(shell,...) may hang)",
                        self.timeout,
                    )
                line = proc.stdout.readline()
                if not line:
                    self.close()
                    raise KconfigWorkerError("Kconfig worker died (limits or a crash)")
                answer: dict[str, object] = json.loads(line)
                return answer

    def evaluate(
        self,
        arch: str,
        base_key: str,
        overlay: Mapping[str, str | None],
        names: Sequence[str],
        witnesses: Sequence[tuple[str, str, str]] = (),
        before: Mapping[str, str | None] | None = None,
        compare: bool = False,
    ) -> KconfigDelta:
        answer = self._ask(
            {
                "srctree": str(self.srctree),
                "arch": arch,
                "base_key": base_key,
                "before": dict(before or {}),
                "overlay": dict(overlay),
                "names": sorted(set(names)),
                "witnesses": [list(w) for w in witnesses],
                "compare": compare,
            }
        )
        if not answer.get("ok"):
            raise KconfigWorkerError(f"Kconfig worker failed: {answer.get('error')}")
        base = KconfigFacts.from_json(answer["base"])  # type: ignore[arg-type]
        patched = KconfigFacts.from_json(answer["patched"])  # type: ignore[arg-type]
        stats = {k: float(v) for k, v in dict(answer.get("stats") or {}).items()}  # type: ignore[call-overload]
        return KconfigDelta(arch, base, patched, float(answer.get("seconds", 0.0)), stats=stats)  # type: ignore[arg-type]


def worker_pid(client: KconfigClient) -> int | None:
    """The python worker's pid: below prlimit/bwrap when sandboxed, the child otherwise."""
    root = client.pid
    if root is None:
        return None
    stack, seen = [root], set()
    while stack:
        pid = stack.pop()
        if pid in seen:
            continue
        seen.add(pid)
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        argv0 = cmdline.split(b"\0")[0].rsplit(b"/", 1)[-1]
        if b"reviewbot.kconfig.worker" in cmdline and argv0.startswith(b"python"):
            return pid
        stack += child_pids(pid)
    return None


def worker_rss_kb(client: KconfigClient) -> int | None:
    """Resident memory of the python worker (for benchmarks and the service's health page)."""
    pid = worker_pid(client)
    if pid is None:
        return None
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return None
