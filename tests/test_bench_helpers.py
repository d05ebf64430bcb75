"""The benchmark's helpers: checkpatch output, patch line maps, overlap, tables, crashes."""

from __future__ import annotations

import base64
from collections.abc import Iterable
from pathlib import Path

import pytest

from bench.checkpatch import run_checkpatch
from bench.common import (
    PAIRS,
    CheckpatchHit,
    checkpatch_input,
    diff_files_by_line,
    file_at_line,
    format_table,
    overlap,
    pair_overlaps,
    parse_checkpatch_terse,
    prefix_within,
    verdict,
)
from bench.static_stage import run_static
from reviewbot.model import Finding, RawMail, Severity
from reviewbot.rules.base import PatchContext, Rule
from reviewbot.tree.index import build_index

TERSE = """\
00001.patch:261: WARNING:FILE_PATH_CHANGES: added, moved or deleted file(s)
substr outside of string at scripts/checkpatch.pl line 1672.
00001.patch:12: WARNING:DEPRECATED_VARIABLE: Use of EXTRA_CFLAGS is deprecated, \
please use `ccflags-y instead.
00002.patch: ERROR:MISSING_SIGN_OFF: Missing Signed-off-by: line(s)
00002.patch:40: CHECK:PARENTHESIS_ALIGNMENT: Alignment should match open parenthesis
total: 1 errors, 2 warnings, 0 checks, 10 lines checked
"""

MAIL = """\
From: A <a@example.org>
Subject: [PATCH] two files

Text.
---
 drivers/foo/Makefile | 1 +
 lib/gone.c           | 2 --
diff --git a/drivers/foo/Makefile b/drivers/foo/Makefile
index 1111111..2222222 100644
--- a/drivers/foo/Makefile
+++ b/drivers/foo/Makefile
@@ -1,1 +1,3 @@
 obj-y += foo.o
+EXTRA_CFLAGS += -DFOO
++++ not a header
diff --git a/lib/gone.c b/lib/gone.c
deleted file mode 100644
--- a/lib/gone.c
+++ /dev/null
@@ -1,2 +0,0 @@
-int gone;
-EXPORT_SYMBOL(gone);
"""


def test_terse_lines_are_read_and_noise_is_skipped() -> None:
    hits = parse_checkpatch_terse(TERSE)
    assert [(h.source, h.line, h.level, h.type) for h in hits] == [
        ("00001.patch", 261, "WARNING", "FILE_PATH_CHANGES"),
        ("00001.patch", 12, "WARNING", "DEPRECATED_VARIABLE"),
        ("00002.patch", None, "ERROR", "MISSING_SIGN_OFF"),
        ("00002.patch", 40, "CHECK", "PARENTHESIS_ALIGNMENT"),
    ]
    assert hits[1].message.startswith("Use of EXTRA_CFLAGS is deprecated")


def test_lines_map_to_the_file_of_their_diff() -> None:
    files = diff_files_by_line(MAIL)
    lines = MAIL.split("\n")
    extra = lines.index("+EXTRA_CFLAGS += -DFOO") + 1
    fake = lines.index("++++ not a header") + 1
    export = lines.index("-EXPORT_SYMBOL(gone);") + 1
    assert file_at_line(files, 4) is None  # the commit message
    assert file_at_line(files, extra) == "drivers/foo/Makefile"
    assert file_at_line(files, fake) == "drivers/foo/Makefile"
    assert file_at_line(files, export) == "lib/gone.c"  # a deletion keeps its old path
    assert file_at_line(files, 0) is None
    assert file_at_line(files, len(lines) + 1) is None
    assert file_at_line(files, None) is None


def test_diffs_without_git_headers_map_too() -> None:
    plain = "--- a/x/Makefile\n+++ b/x/Makefile\n@@ -1 +1 @@\n-a\n+b\n"
    plain += "--- a/y.c\t2020-01-01\n+++ /dev/null\n@@ -1 +0,0 @@\n-int y;\n"
    assert diff_files_by_line(plain) == [
        *["x/Makefile"] * 5,
        *["y.c"] * 4,
        "y.c",  # the empty string after the last newline
    ]


def test_plain_mail_is_given_to_checkpatch_unchanged() -> None:
    raw = MAIL.encode()
    assert checkpatch_input(raw) == raw


def test_encoded_mails_are_decoded_for_checkpatch() -> None:
    head = "From: A <a@example.org>\nSubject: [PATCH] x\nMessage-ID: <q@x>\n"
    quoted = (
        head + "Content-Transfer-Encoding: quoted-printable\n\n+obj-$(CONFIG_FOO) +=3D foo.o\n"
    ).encode()
    out = checkpatch_input(quoted).decode()
    assert "+obj-$(CONFIG_FOO) += foo.o" in out
    assert "Subject: [PATCH] x" in out and "Message-ID: <q@x>" in out
    encoded = base64.b64encode(b"+EXTRA_CFLAGS += -DFOO\n").decode()
    b64 = (head + "Content-Transfer-Encoding: base64\n\n" + encoded + "\n").encode()
    assert "+EXTRA_CFLAGS += -DFOO" in checkpatch_input(b64).decode()


def test_overlap_counts_pairs_once_and_hits_each_time() -> None:
    cp = [("p1", "a/Makefile"), ("p1", "a/Makefile"), ("p2", "b/Makefile")]
    rb = [("p1", "a/Makefile"), ("p3", "c/Kbuild")]
    found = overlap(cp, rb)
    assert (found.both, found.only_checkpatch, found.only_reviewbot) == (1, 1, 1)
    assert (found.checkpatch_hits, found.reviewbot_hits) == (3, 2)


def test_pair_overlaps_merge_the_checkpatch_types_of_a_pair() -> None:
    kc004 = next(p for p in PAIRS if p.rule_id == "KC004")
    by_type = {
        "PREFER_IS_ENABLED": [("p1", "x.c")],
        "IS_ENABLED_CONFIG": [("p2", "y.c")],
        "DEPRECATED_VARIABLE": [("p1", "x.c")],
    }
    [(pair, found)] = pair_overlaps([kc004], by_type, {"KC004": [("p2", "y.c")]})
    assert pair is kc004
    assert (found.both, found.only_checkpatch, found.only_reviewbot) == (1, 1, 0)


@pytest.mark.parametrize(
    ("sizes", "limit", "expected"),
    [([3, 2, 5], 5, 2), ([3, 2, 5], 10, 3), ([7, 1], 5, 1), ([3], 0, 0), ([], 5, 0)],
)
def test_prefix_within(sizes: list[int], limit: int, expected: int) -> None:
    assert prefix_within(sizes, limit) == expected


def test_verdicts() -> None:
    assert verdict(59.9, 60, at_least=False) == "PASS"
    assert verdict(60.0, 60, at_least=False) == "MISS"
    assert verdict(50.0, 50, at_least=True) == "PASS"
    assert verdict(49.9, 50, at_least=True) == "MISS"


def test_table_aligns_numbers_right_and_text_left() -> None:
    text = format_table(["id", "count"], [["MK001", 3], ["EX003", 12.5]])
    assert text.splitlines() == [
        "id     count",
        "-----  -----",
        "MK001      3",
        "EX003  12.50",
    ]


def _crashing(rule: Rule, ctx: PatchContext) -> Iterable[Finding]:
    raise ZeroDivisionError("boom in a bench test")


def test_a_crashing_rule_is_reported_with_its_traceback(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    (tree / "drivers" / "foo").mkdir(parents=True)
    (tree / "Kconfig").write_text('source "drivers/foo/Kconfig"\n')
    (tree / "drivers" / "foo" / "Kconfig").write_text('config FOO\n\ttristate "foo"\n')
    (tree / "drivers" / "foo" / "Makefile").write_text("obj-y += foo.o\n")
    index = build_index(tree, tmp_path / "cache")
    crashing = Rule("ZZ999", "bench-test-crash", Severity.WARNING, "crashes", _crashing)
    mail = MAIL.replace("Subject:", "Message-ID: <crash@example.org>\nSubject:")
    run = run_static([RawMail(mail.encode(), "test#0")], tree, index, [crashing], ())
    assert run.patches == 1
    [crash] = run.crashes
    assert crash.where == "crash@example.org"
    assert "ZeroDivisionError" in crash.what
    assert "boom in a bench test" in crash.detail and "_crashing" in crash.detail


@pytest.mark.realtree
def test_checkpatch_hits_land_on_the_file_and_patch(real_tree: Path) -> None:
    script = real_tree / "scripts" / "checkpatch.pl"
    run = run_checkpatch(script, [("m1@example.org", MAIL.encode())], workers=1)
    located = [h for h in run.hits if h.hit.type == "DEPRECATED_VARIABLE"]
    assert [(h.patch, h.path) for h in located] == [("m1@example.org", "drivers/foo/Makefile")]
    assert isinstance(located[0].hit, CheckpatchHit)
    assert run.failures == ()
