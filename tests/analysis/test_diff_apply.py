from __future__ import annotations

import pytest

from reviewbot.analysis.apply import ApplyError, apply_change
from reviewbot.analysis.diff import ChangeKind, parse_diff, safe_path
from reviewbot.analysis.view import DictTree, Overlay
from reviewbot.errors import BadDiffError

MODIFY = """diff --git a/d/f.c b/d/f.c
--- a/d/f.c
+++ b/d/f.c
@@ -2,3 +2,4 @@
 two
 three
+three and a half
 four
"""


def test_added_lines_carry_post_image_numbers() -> None:
    (change,) = parse_diff(MODIFY)
    assert change.kind is ChangeKind.MODIFIED
    assert [(line.number, line.text) for line in change.added] == [(4, "three and a half")]


def test_new_deleted_renamed_binary() -> None:
    diff = (
        "diff --git a/n.c b/n.c\nnew file mode 100644\n--- /dev/null\n+++ b/n.c\n"
        "@@ -0,0 +1 @@\n+int x;\n"
        "diff --git a/old.c b/old.c\ndeleted file mode 100644\n--- a/old.c\n+++ /dev/null\n"
        "@@ -1 +0,0 @@\n-int y;\n"
        "diff --git a/a.c b/b.c\nsimilarity index 100%\nrename from a.c\nrename to b.c\n"
        "diff --git a/img.png b/img.png\nnew file mode 100644\n"
        "Binary files /dev/null and b/img.png differ\n"
    )
    kinds = {c.path: (c.kind, c.old_path, c.binary) for c in parse_diff(diff)}
    assert kinds["n.c"][0] is ChangeKind.ADDED
    assert kinds["old.c"][0] is ChangeKind.DELETED
    assert kinds["b.c"] == (ChangeKind.RENAMED, "a.c", False)
    assert kinds["img.png"][2] is True


@pytest.mark.parametrize(
    "path", ["/etc/passwd", "a/../../etc/passwd", "../x", "a//b", "~/x", "a\\b"]
)
def test_hostile_paths_are_refused(path: str) -> None:
    with pytest.raises(BadDiffError):
        safe_path(path)
    with pytest.raises(BadDiffError):
        parse_diff(f"--- {path}\n+++ {path}\n@@ -1 +1 @@\n-a\n+b\n")


def test_broken_hunk_is_bad_diff() -> None:
    with pytest.raises(BadDiffError):
        parse_diff("--- a/x\n+++ b/x\n@@ -1,3 +1,3 @@\n a\n")


def test_apply_with_offset() -> None:
    (change,) = parse_diff(MODIFY)
    text = "zero\none\ntwo\nthree\nfour\nfive\n"
    assert apply_change(text, change) == "zero\none\ntwo\nthree\nthree and a half\nfour\nfive\n"


def test_apply_refuses_mismatch() -> None:
    (change,) = parse_diff(MODIFY)
    with pytest.raises(ApplyError):
        apply_change("one\nTWO\nthree\nfour\n", change)


def test_apply_new_and_deleted_file() -> None:
    new, gone = parse_diff(
        "--- /dev/null\n+++ b/n.c\n@@ -0,0 +1,2 @@\n+a\n+b\n"
        "--- a/o.c\n+++ /dev/null\n@@ -1 +0,0 @@\n-x\n"
    )
    assert apply_change(None, new) == "a\nb\n"
    assert apply_change("x\n", gone) is None


def test_overlay_reads_changes_over_base() -> None:
    base = DictTree({"a/x.c": "1", "a/y.c": "2"})
    view = Overlay(base, {"a/x.c": None, "a/z/n.c": "3"})
    assert view.read("a/x.c") is None and view.read("a/y.c") == "2"
    assert view.listdir("a") == ("y.c", "z")
    assert view.exists("a/z") and not view.exists("a/x.c")
