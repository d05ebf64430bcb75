"""Families 1-3 through conf, kconfiglib and make on the real tree (slow).

A patched Kconfig or Makefile tries to read canary secrets planted in /etc and /root (and
/etc/shadow), to fill the disk, or to hang; the review must show none of the secrets,
report the disk fill as the patch's fault and the hang as an incomplete review (RB004,
a warning: never a clean exit 0).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from bench import hostile_inputs as h
from reviewbot.build.diagnostics import step_failure
from reviewbot.build.matrix import load_matrix
from reviewbot.build.model import BuildConfig, BuildJob, BuildStep, StepKind
from reviewbot.build.planner import NO_WERROR
from reviewbot.build.prepare import CompilerMissingError, check_compiler
from reviewbot.build.runner import STEP_LIMITS, JobRequest, run_job
from reviewbot.config import default_cache_dir
from reviewbot.limits import ReviewLimits, sandbox_limits
from reviewbot.tree.index import TreeIndex
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


def test_makefile_leak_and_disk_fill_under_build(
    real_tree: Path, real_index: TreeIndex, canary: Canary
) -> None:
    """A patched Makefile prints a host secret as a compiler warning and fills the disk."""
    arch = load_matrix()["x86_64"]
    try:
        check_compiler(arch)
    except CompilerMissingError as exc:
        pytest.skip(str(exc))
    makefile = (real_tree / "lib/Makefile").read_text()
    recipe = (
        f'\t-echo "lib/cmdline.c:1:1: warning: $$(cat {canary.paths[0]} /etc/shadow)" 1>&2\n'
        "\tfor i in 1 2 3 4 5 6 7 8; do head -c 48M /dev/zero > $(obj)/big$$i; done\n"
    )
    overlay = {
        "lib/Makefile": makefile + "\n$(obj)/cmdline.o: $(obj)/hostile\n$(obj)/hostile:\n" + recipe
    }
    job = BuildJob(
        arch,
        BuildConfig(arch.defconfig, (NO_WERROR,)),
        (BuildStep(StepKind.OBJECTS, ("lib/cmdline.o",)),),
    )
    limits = sandbox_limits(
        ReviewLimits(file_bytes=32 << 20, disk_bytes=128 << 20), STEP_LIMITS, 600.0
    )
    request = JobRequest(
        job, str(real_tree), real_index.key, str(default_cache_dir()), tuple(overlay.items())
    )
    outcome = run_job(replace(request, limits=limits))
    patched = outcome.patched[0]
    shown = " ".join(d.text for d in patched.diagnostics) + patched.tail
    canary.assert_absent(shown)
    assert outcome.base[0].ok and patched.disk_full
    failure = step_failure(outcome.base[0], patched)
    assert failure is not None and "ran out of disk" in failure.text
