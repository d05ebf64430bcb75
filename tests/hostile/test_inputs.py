"""Families 3, 4 and 5 end to end: `reviewbot check` on hostile mail, in a subprocess.

Each run asserts the exit code, a generous wall-time bound, a peak-RSS bound (wait4's
rusage of the child) and that no host secret reaches the output.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import hostile_inputs as h
from tests.hostile.conftest import Canary, assert_bounded

RSS_MB = 1024  # a normal review peaks near 150 MB; the unbounded runs took 2-3 GB


def test_gzip_bomb_is_refused_while_streaming(canary: Canary) -> None:
    for size in (1, 10):
        run = h.measure(h.gzip_bomb(size), name="bomb.mbox.gz")
        assert_bounded(run, 120, 600, (2,))
        assert "decompresses to more than" in run.stderr
        canary.assert_absent(run.output)


def test_short_line_flood_over_the_mail_limit(canary: Canary) -> None:
    run = h.measure(h.short_line_flood(35 << 20))
    assert_bounded(run, 120, RSS_MB, (2,))
    assert "limits.mail_bytes" in run.stderr


def test_short_line_flood_under_the_mail_limit_is_bounded(canary: Canary) -> None:
    # 8 M lines just under the 16 MB limit: parsed (or stopped by the parse budget).
    run = h.measure(h.short_line_flood(15 << 20), config="[limits]\nparse_seconds = 20\n")
    assert_bounded(run, 400, RSS_MB, (0, 1, 2))
    if run.returncode == 2:
        assert "review incomplete" in run.stderr or "budget" in run.stderr


def test_huge_series_total_is_capped() -> None:
    run = h.measure(h.huge_total(20_000_000), args=("--no-kconfig", "--format", "json"))
    assert_bounded(run, 60, 300, (2,))
    assert "limits.series_total" in run.stderr
    assert len(run.stdout) < 10_000


def test_huge_series_total_beside_a_reviewable_patch(real_tree: Path) -> None:
    mails = (h.huge_total(20_000_000), h.redos_c(1).replace(b"<h1@x>", b"<h2@x>"))
    mbox = b"\n".join(b"From x@y Thu Jan  1 00:00:00 1970\n" + mail for mail in mails)
    run = h.measure(mbox, args=("--no-kconfig", "--tree", str(real_tree)))
    assert_bounded(run, 300, RSS_MB, (1,))
    assert "review incomplete: part 1 of 20000000" in run.stderr


def test_redos_shaped_c_is_linear(real_tree: Path) -> None:
    run = h.measure(h.redos_c(64), args=("--no-kconfig", "--tree", str(real_tree)))
    assert_bounded(run, 300, RSS_MB, (0, 1))


def test_huge_makefile_patch_is_bounded(real_tree: Path) -> None:
    # 200,000 added lines: reviewed, or stopped by the rules budget with RB004.
    config = "[limits]\nrules_seconds = 60\n"
    run = h.measure(
        h.huge_makefile(200_000),
        args=("--no-kconfig", "--tree", str(real_tree), "--format", "json"),
        config=config,
    )
    assert_bounded(run, 900, 2048, (0, 1))


def test_hunk_start_beyond_any_file_applies_at_its_context(real_tree: Path) -> None:
    """The issue's reproducer (@@ -999999999 over real context) cost 5 minutes: the header
    number is only a hint, the hunk is found by its context in time linear in the file."""
    run = h.measure(
        h.huge_hunk_start(real_tree, 999_999_999), args=("--no-kconfig", "--tree", str(real_tree))
    )
    assert_bounded(run, 60, RSS_MB, (0, 1))
    assert "applied at an offset" in run.stdout


def test_hunk_start_far_past_the_end_fails_fast(real_tree: Path) -> None:
    run = h.measure(
        h.huge_hunk_start(real_tree, 9_999_999), args=("--no-kconfig", "--tree", str(real_tree))
    )
    assert_bounded(run, 60, RSS_MB, (0, 1))
    # The context is real: the hunk applies where it is found, as git apply would, and
    # the report says it moved.
    assert "applied at an offset" in run.stdout


def test_five_thousand_digit_hunk_number(real_tree: Path) -> None:
    run = h.measure(h.huge_hunk_digits(5000), args=("--no-kconfig", "--tree", str(real_tree)))
    assert_bounded(run, 300, RSS_MB, (1,))
    assert "RB001" in run.stdout


def test_path_component_over_255_bytes(real_tree: Path) -> None:
    run = h.measure(h.long_component(300), args=("--no-kconfig", "--tree", str(real_tree)))
    assert_bounded(run, 300, RSS_MB, (1,))
    assert "RB001" in run.stdout


@pytest.mark.slow
def test_file_and_directory_at_one_path(real_tree: Path) -> None:
    run = h.measure(
        h.file_and_directory(real_tree), args=("--tree", str(real_tree), "--arch", "x86_64")
    )
    assert_bounded(run, 900, 3072, (0, 1))
    assert "is a file, not a directory" in run.stdout
