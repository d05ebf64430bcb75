"""The sandbox bounds what a hostile command can do to the host (no tree needed)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from reviewbot import sandbox

FORK_BOMB = """
import os, time
started = 0
for _ in range(400):
    try:
        pid = os.fork()
    except OSError:
        break
    if pid == 0:
        time.sleep(60)
        os._exit(0)
    started += 1
print(started, flush=True)
"""


@pytest.fixture
def box(tmp_path: Path) -> sandbox.Sandbox:
    if not sandbox.bwrap_available():
        pytest.skip("bubblewrap cannot run here")
    limits = sandbox.Limits(cpu_seconds=30, processes=40, wall_seconds=30.0)
    return sandbox.Sandbox(writable=tmp_path, limits=limits, cwd=tmp_path)


def test_a_fork_bomb_stops_at_the_process_limit(box: sandbox.Sandbox) -> None:
    # RLIMIT_NPROC does not apply to root: as root, only the pids cgroup holds the line.
    parent = sandbox.pids_parent()
    before = set(parent.glob("reviewbot-*")) if parent is not None else set()
    result = sandbox.run(box, [sys.executable, "-c", FORK_BOMB])
    assert not result.timed_out
    started = int(result.stdout.split()[0])
    assert started < 40, f"{started} processes started in a box limited to 40"
    if parent is not None:
        # other sandboxed commands of this process (warm Kconfig workers) keep theirs
        left = set(parent.glob("reviewbot-*")) - before
        assert not left, "the command's pids group is removed"


def test_children_do_not_outlive_the_command(box: sandbox.Sandbox, tmp_path: Path) -> None:
    marker = tmp_path / "late"
    script = (
        f"import os, time\nif os.fork() == 0:\n    time.sleep(2)\n    open({str(marker)!r}, 'w')\n"
    )
    result = sandbox.run(box, [sys.executable, "-c", script])
    assert result.returncode == 0
    time.sleep(3)
    assert not marker.exists(), "a background child survived its sandbox"
