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
from pathlib import Path

import reviewbot
from reviewbot.errors import InfrastructureError
from reviewbot.kconfig.facts import KconfigDelta, KconfigFacts
from reviewbot.sandbox import Limits, Sandbox, bwrap_available, popen

log = logging.getLogger(__name__)


class KconfigWorkerError(InfrastructureError):
    """The worker died, timed out or answered nonsense."""


class KconfigClient:
    """A warm worker process for one tree; sandboxed with bubblewrap when available."""

    def __init__(self, srctree: Path, sandboxed: bool | None = None, timeout: float = 180.0):
        self.srctree = srctree.resolve()
        self.sandboxed = bwrap_available() if sandboxed is None else sandboxed
        self.timeout = timeout
        self._proc: subprocess.Popen[bytes] | None = None
        self._scratch = tempfile.TemporaryDirectory(prefix="reviewbot-kconfig-")

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
                writable=Path(self._scratch.name),
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
        self._scratch.cleanup()

    def _ask(self, request: Mapping[str, object]) -> dict[str, object]:
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
                    raise KconfigWorkerError(
                        f"Kconfig evaluation took over {self.timeout:.0f}s (killed)"
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
            }
        )
        if not answer.get("ok"):
            raise KconfigWorkerError(f"Kconfig worker failed: {answer.get('error')}")
        base = KconfigFacts.from_json(answer["base"])  # type: ignore[arg-type]
        patched = KconfigFacts.from_json(answer["patched"])  # type: ignore[arg-type]
        return KconfigDelta(arch, base, patched, float(answer.get("seconds", 0.0)))  # type: ignore[arg-type]


def worker_rss_kb(client: KconfigClient) -> int | None:
    """Resident memory of the worker (for benchmarks)."""
    proc = client._proc
    if proc is None:
        return None
    try:
        status = Path(f"/proc/{proc.pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return None
