"""Families 1-3 through conf, kconfiglib and make on the real tree (slow).

A patched Kconfig or Makefile tries to read canary secrets planted in /etc and /root (and
/etc/shadow), to fill the disk, or to hang; the review must show none of the secrets,
report the disk fill as the patch's fault and the hang as an incomplete review (RB004,
a warning: never a clean exit 0).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bench import hostile_inputs as h
from tests.hostile.conftest import Canary, assert_bounded

pytestmark = pytest.mark.slow
KCONFIG = ("--arch", "x86_64")


def test_kconfig_source_of_a_host_file(real_tree: Path, canary: Canary) -> None:
    for secret in canary.paths:
        run = h.measure(
            h.kconfig_source_leak(real_tree, secret), args=("--tree", str(real_tree), *KCONFIG)
        )
        assert_bounded(run, 900, 3072, (0, 1))
        canary.assert_absent(run.output)
        assert "worker died" not in run.output
        assert "KC018" in run.stdout, "conf ran, and rejects the missing file"


def test_kconfig_shell_cat_of_host_files(real_tree: Path, canary: Canary) -> None:
    run = h.measure(
        h.kconfig_shell_leak(real_tree, canary.paths[0]),
        args=("--tree", str(real_tree), *KCONFIG, "--format", "json"),
    )
    assert_bounded(run, 900, 3072, (0, 1))
    canary.assert_absent(run.output)
    assert "worker died" not in run.output
    assert "not quoted" in run.stdout, "conf ran, and what the command printed is withheld"


def test_kconfig_shell_sleep_is_an_incomplete_review(real_tree: Path) -> None:
    config = "[limits]\nkconfig_seconds = 30\nconf_seconds = 30\n"
    run = h.measure(
        h.kconfig_sleep(real_tree), args=("--tree", str(real_tree), *KCONFIG), config=config
    )
    assert_bounded(run, 600, 3072, (1,))
    assert "RB004" in run.stdout and "review incomplete" in run.stdout


@pytest.mark.skipif(shutil.which("gcc") is None, reason="no host compiler")
def test_makefile_leak_and_disk_fill_under_build(real_tree: Path, canary: Canary) -> None:
    config = "[limits]\nfile_bytes = 33554432\ndisk_bytes = 134217728\n"
    run = h.measure(
        h.make_leak_and_fill(real_tree, canary.paths[0], fill_mb=48),
        args=("--tree", str(real_tree), "--no-kconfig", "--build", "--arch", "x86_64"),
        config=config,
        timeout=3000,
    )
    assert_bounded(run, 3000, 4096, (1,))
    canary.assert_absent(run.output)
    assert "ran out of disk" in run.stdout
