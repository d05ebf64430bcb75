"""robot_replay's helpers: kernel test robot reports, the match rule, the summary, the port."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bench import _robot_common as rc
from bench._robot_port import port
from reviewbot.mail.parse import parse_mail
from reviewbot.model import RawMail

# Trimmed from real kernel test robot replies on linux-kbuild (lore, 2026-04 and 2025-12).
NVRAM = """\
Hi Venkat,

kernel test robot noticed the following build errors:

[auto build test ERROR on char-misc/char-misc-testing]

patch link:    https://lore.kernel.org/r/20260330062201.2581-1-venkat88%40linux.ibm.com
patch subject: [PATCH v3] char: nvram: Remove unused nvram_mutex
config: x86_64-rhel-9.4 (https://download.01.org/0day-ci/archive/20260402/config)
compiler: gcc-14 (Debian 14.2.0-19) 14.2.0

All errors (new ones prefixed by >>):

   drivers/char/nvram.c: In function 'nvram_misc_ioctl':
>> drivers/char/nvram.c:327:37: error: 'nvram_mutex' undeclared (first use in this function)
     327 |                         mutex_lock(&nvram_mutex);
"""
SMATCH = """\
kernel test robot noticed the following build warnings:

patch link:    https://lore.kernel.org/r/20251220-remove_wtype-limits-v3-3-24b170af700e%40kernel.org
config: sparc-randconfig-r072-20251227 (https://download.01.org/0day-ci/archive/config)
compiler: sparc64-linux-gcc (GCC) 15.1.0

smatch warnings:
drivers/block/nbd.c:1612 __nbd_ioctl() warn: unsigned '_a' is never less than zero.

vim +/_a +1612 drivers/block/nbd.c
"""
MINMAX = """\
kernel test robot noticed the following build warnings:

config: x86_64-rhel-9.4-ltp (https://download.01.org/0day-ci/archive/config)

All warnings (new ones prefixed by >>):

   lib/lzo/lzo1x_compress.c: In function 'lzo1x_1_do_compress':
>> include/linux/minmax.h:65:46: warning: ordered comparison of pointer with integer zero [-Wextra]
"""
MAKEFILE = """\
kernel test robot noticed the following build errors:

config: x86_64-kexec (attached as .config)

All errors (new ones prefixed by >>):

>> Makefile:2254: *** extraneous 'endif'.  Stop.
"""
WHEN = datetime(2026, 4, 2, 20, 4, 11, tzinfo=UTC)


def _report(body: str) -> rc.RobotReport:
    return rc.parse_report("r@intel.com", "p@x", WHEN, body)


def _found(path: str, message: str = "", severity: str = "warning", *evidence: str) -> rc.Found:
    return rc.Found("BLD001", severity, path, 1, message, evidence)


def test_a_robot_build_report_and_the_patch_it_answers() -> None:
    assert rc.is_build_report("kernel test robot <lkp@intel.com>", NVRAM)
    assert not rc.is_build_report("Arnd Bergmann <arnd@arndb.de>", NVRAM)
    assert not rc.is_build_report("kernel test robot <lkp@intel.com>", "boot test: PASS\n")
    assert rc.answered_id(NVRAM, "other@id") == "20260330062201.2581-1-venkat88@linux.ibm.com"
    assert rc.answered_id("no link here\n", "parent@id") == "parent@id"


def test_parse_report_reads_config_compiler_and_the_new_lines() -> None:
    report = _report(NVRAM)
    assert (report.kind, report.config) == ("errors", "x86_64-rhel-9.4")
    assert report.compiler == "gcc-14 (Debian 14.2.0-19) 14.2.0"
    assert report.new_lines == (
        "drivers/char/nvram.c:327:37: error: 'nvram_mutex' undeclared (first use in this function)",
    )
    # no ">>" lines: the first lines of the smatch section
    assert _report(SMATCH).new_lines == (
        "drivers/block/nbd.c:1612 __nbd_ioctl() warn: unsigned '_a' is never less than zero.",
    )
    assert _report("kernel test robot noticed the following build errors:\n").config == ""


def test_robot_arches_in_the_matrix_spelling() -> None:
    assert rc.robot_arch("i386-randconfig-141-20251222") == "i386"
    usable = ("x86_64", "arm64", "sparc64", "i386")
    configs = ("sparc-randconfig-r072", "x86_64-rhel-9.4", "nios2-allmodconfig", "x86_64-kexec")
    assert rc.our_arches(configs, usable) == ("sparc64", "x86_64")
    assert rc.our_arches(("m68k-allmodconfig", ""), usable) == ()


def test_diagnostics_of_compilers_smatch_and_make() -> None:
    lines = _report(NVRAM).new_lines + _report(SMATCH).new_lines + _report(MAKEFILE).new_lines
    assert [(d.path, d.text) for d in rc.diagnostics(lines)] == [
        ("drivers/char/nvram.c", "'nvram_mutex' undeclared (first use in this function)"),
        ("drivers/block/nbd.c", "unsigned '_a' is never less than zero."),
        ("Makefile", "extraneous 'endif'.  Stop."),
    ]
    (minmax,) = rc.diagnostics(_report(MINMAX).new_lines)
    assert minmax.text == "ordered comparison of pointer with integer zero"  # flag dropped


def test_the_sources_a_report_names() -> None:
    assert _report(MINMAX).sources == ("lib/lzo/lzo1x_compress.c",)  # from "In function"
    assert _report(NVRAM).sources == ("drivers/char/nvram.c",)
    assert _report(SMATCH).sources == ("drivers/block/nbd.c",)
    assert _report(MAKEFILE).sources == ()


def test_oracle_line_counts_what_the_patch_added_and_what_matches() -> None:
    reports = [_report(MINMAX)]
    old = _found("lib/lzo/lzo1x_compress.c", "unused variable 'x'")
    hit = _found("include/linux/minmax.h", "ordered comparison of pointer with integer zero")
    line = rc.oracle_line(
        "x86_64 defconfig", ["lib/lzo/lzo1x_compress.o"], [old], [old, hit], reports
    )
    assert line == (
        "oracle x86_64 defconfig: lib/lzo/lzo1x_compress.o: 1 new diagnostics, 1 matching "
        "the robot: include/linux/minmax.h: ordered comparison of pointer with integer zero"
    )
    quiet = rc.oracle_line("i386 defconfig", ["fs/libfs.o"], [old], [old], reports)
    assert quiet.endswith(": 0 new diagnostics, none matching the robot")


def test_match_by_file_by_quoted_name_and_by_text() -> None:
    reports = [_report(NVRAM)]
    assert rc.matches(_found("drivers/char/nvram.c"), reports)
    quoted = _found("drivers/char/Makefile", "", "warning", "error: 'nvram_mutex' undeclared")
    assert rc.matches(quoted, reports)
    assert not rc.matches(_found("drivers/char/Makefile", "nvram_mutex_x is odd"), reports)
    assert not rc.matches(_found("drivers/char/random.c", "unused variable 'x'"), reports)
    text = "lib/foo.c:3: warning: ordered comparison of pointer with integer zero [-Wextra]"
    assert rc.matches(_found("lib/foo.c", "new warning", "warning", text), [_report(MINMAX)])
    assert not rc.matches(_found("lib/foo.c", "comparison of"), [_report(MINMAX)])


def test_verdicts() -> None:
    reports = [_report(NVRAM)]
    hit, other = _found("drivers/char/nvram.c"), _found("drivers/char/random.c")
    assert rc.verdict([other, hit], reports) == "caught"
    assert rc.verdict([_found("drivers/char/nvram.c", severity="info")], reports) == "caught-info"
    assert rc.verdict([other], reports) == "other"
    assert rc.verdict([_found("drivers/char/random.c", severity="info")], reports) == "silent"
    assert rc.verdict([], reports) == "silent"


def test_latency_and_summary() -> None:
    posted = datetime(2026, 3, 30, 6, 22, 1, tzinfo=UTC)
    assert rc.latency_hours(posted, WHEN) == pytest.approx(85.7, abs=0.05)
    assert rc.latency_hours(None, WHEN) is None
    rows = [
        rc.Row("a", "yes", "-", "caught", 30.0, 10.0, "x"),
        rc.Row("b", "yes", "-", "silent", 50.0, 20.0, "x"),
        rc.Row("c", "ported", "-", "caught", 100.0, 30.0, "x"),
        rc.Row("d", "no", "-", "-", None, 40.0, "x"),
    ]
    assert rc.summary(rows) == (
        "caught 1 of 2 applicable as posted, 1 of 1 ported (4 answered patches); "
        "median our time 50 s (checked) vs median robot latency 25.0 h (all)"
    )
    table = rc.render(rows).splitlines()
    assert table[0].split()[:2] == ["patch", "applies"] and len(table) == 6


PATCH = """\
From: A <a@example.org>
Subject: [PATCH] lib: change two

diff --git a/lib/x.c b/lib/x.c
--- a/lib/x.c
+++ b/lib/x.c
@@ -10,3 +10,3 @@
 one
-two
+TWO
 three
"""


@pytest.mark.skipif(shutil.which("patch") is None, reason="needs GNU patch")
def test_port_carries_a_hunk_at_an_offset_and_refuses_one_that_does_not_fit(
    tmp_path: Path,
) -> None:
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "x.c").write_text("zero\none\ntwo\nthree\n")
    message = parse_mail(RawMail(PATCH.encode(), "t"))
    ported = port(tmp_path, (message,))
    assert ported is not None and ported.fuzzed == 1 and not ported.dropped
    again = parse_mail(RawMail(ported.mails[0], "t"))
    assert again.subject == message.subject
    assert again.diff is not None and "@@ -1,4 +1,4 @@" in again.diff and "+TWO" in again.diff
    assert (tmp_path / "lib" / "x.c").read_text() == "zero\none\ntwo\nthree\n"  # untouched
    (tmp_path / "lib" / "x.c").write_text("something else entirely\n")
    assert port(tmp_path, (message,)) is None
