"""Family 1 and 2 at the sandbox itself: nothing private readable, disk bounded."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from reviewbot import sandbox
from tests.hostile.conftest import Canary

pytestmark = pytest.mark.skipif(not sandbox.bwrap_available(), reason="bubblewrap cannot run")


def _box(tmp_path: Path, **limits: int) -> sandbox.Sandbox:
    out = tmp_path / "out"
    out.mkdir(parents=True)
    shape = sandbox.Limits(cpu_seconds=60, processes=64, wall_seconds=60.0, **limits)  # type: ignore[arg-type]
    return sandbox.Sandbox(writable=out, limits=shape, cwd=out)


def test_host_secrets_are_not_readable(tmp_path: Path, canary: Canary) -> None:
    names = " ".join(str(p) for p in canary.paths)
    script = f"cat {names} /etc/shadow /etc/gshadow /root/.bash_history /home/*/.ssh/* 2>&1"
    result = sandbox.run(_box(tmp_path), ["sh", "-c", script])
    canary.assert_absent(result.stdout + result.stderr)
    listing = sandbox.run(_box(tmp_path / "2"), ["ls", "-1", "/", "/etc"]).stdout.split()
    assert "shadow" not in listing and "home" not in listing and "var" not in listing
    assert "passwd" in listing, "a synthetic /etc is there"


def test_the_command_runs_unprivileged(tmp_path: Path) -> None:
    result = sandbox.run(_box(tmp_path), ["sh", "-c", "id -u; grep CapEff /proc/self/status"])
    uid, caps = result.stdout.split("\n", 1)
    assert int(uid) != 0
    if os.geteuid() == 0:
        assert int(uid) == sandbox.SANDBOX_UID
    assert caps.split()[-1] == "0000000000000000", "no capabilities"


def test_root_only_files_in_a_bound_tree_stay_unreadable(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to plant a root-only file")
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "secret").write_text("TREE-SECRET\n")
    (tree / "secret").chmod(0o600)
    box = sandbox.Sandbox(readonly=(tree,), limits=sandbox.Limits(wall_seconds=30.0))
    result = sandbox.run(box, ["cat", str(tree / "secret")])
    assert "TREE-SECRET" not in result.stdout
    assert result.returncode != 0


def test_one_huge_file_stops_at_the_file_size_limit(tmp_path: Path) -> None:
    box = _box(tmp_path, file_bytes=8 << 20)
    result = sandbox.run(box, ["sh", "-c", "head -c 100M /dev/zero > big"])
    assert result.disk_full
    assert (tmp_path / "out" / "big").stat().st_size <= 8 << 20


def test_many_files_stop_at_the_disk_limit(tmp_path: Path) -> None:
    box = _box(tmp_path, file_bytes=16 << 20, disk_bytes=48 << 20)
    script = "i=0; while [ $i -lt 400 ]; do head -c 15M /dev/zero > f$i; i=$((i+1)); sync; done"
    result = sandbox.run(box, ["sh", "-c", script])
    assert result.disk_full
    written = sum(p.stat().st_size for p in (tmp_path / "out").iterdir())
    assert written < 1 << 30, f"{written >> 20} MB written past a 48 MB limit"


def test_private_tmp_is_size_capped(tmp_path: Path) -> None:
    box = _box(tmp_path, tmp_bytes=4 << 20)
    result = sandbox.run(box, ["sh", "-c", "head -c 64M /dev/zero > /tmp/fill"])
    assert result.disk_full
