"""Hunks that apply away from their header: real numbers after applying, and fast locating."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reviewbot.analysis.apply import ApplyError, apply_change, apply_located
from reviewbot.analysis.diff import parse_diff

BASE = "".join(f"line {n}\n" for n in range(1, 41))

TWO_HUNKS = """--- a/f.c
+++ b/f.c
@@ -4,3 +4,4 @@
 line 4
 line 5
+added after five
 line 6
@@ -20,4 +21,3 @@
 line 20
-line 21
 line 22
 line 23
"""


def _numbers(lines: tuple[object, ...]) -> list[tuple[int, str]]:
    return [(line.number, line.text) for line in lines]  # type: ignore[attr-defined]


def _shift(diff: str, by: int) -> str:
    """The same diff with every hunk header moved by `by` lines (context unchanged)."""
    out = []
    for row in diff.splitlines(keepends=True):
        if row.startswith("@@ "):
            old, new = row.split()[1:3]
            start, _, count = old[1:].partition(",")
            tstart, _, tcount = new[1:].partition(",")
            old = f"-{int(start) + by}" + (f",{count}" if count else "")
            new = f"+{int(tstart) + by}" + (f",{tcount}" if tcount else "")
            row = f"@@ {old} {new} @@\n"
        out.append(row)
    return "".join(out)


def test_no_offset_keeps_the_change_as_parsed() -> None:
    (change,) = parse_diff(TWO_HUNKS)
    applied = apply_located(BASE, change)
    assert applied.change == change
    assert applied.offsets == ()


@pytest.mark.parametrize("by", [-3, 5])
def test_hunks_applied_at_an_offset_carry_real_numbers(by: int) -> None:
    (change,) = parse_diff(_shift(TWO_HUNKS, by))
    applied = apply_located(BASE, change)
    assert applied.text is not None
    patched = applied.text.split("\n")
    # The header said 4 + by; the context is at 4: the real numbers are the parsed ones.
    assert _numbers(applied.change.added) == [(6, "added after five")]
    assert patched[6 - 1] == "added after five"
    assert _numbers(applied.change.removed) == [(21, "line 21")]
    assert BASE.split("\n")[21 - 1] == "line 21"
    assert [(h.source_start, h.target_start) for h in applied.change.hunks] == [(4, 4), (20, 21)]
    assert [(o.hunk, o.header, o.line, o.target, o.offset) for o in applied.offsets] == [
        (1, 4 + by, 4, 4, -by),
        (2, 20 + by, 20, 21, -by),
    ]


def test_only_the_moved_hunk_is_reported() -> None:
    # Seven lines inserted between the two hunks of the author's base are missing here.
    base = BASE.replace("line 10\n", "")
    (change,) = parse_diff(TWO_HUNKS)
    applied = apply_located(base, change)
    assert [(o.hunk, o.offset) for o in applied.offsets] == [(2, -1)]
    assert _numbers(applied.change.removed) == [(20, "line 21")]


def test_previous_offset_guides_an_ambiguous_hunk() -> None:
    # "x y" repeats from line 15 on; the second hunk's header says 15, but the first
    # hunk applied 12 lines lower, so the copy the author meant is the one at 27 (as
    # GNU patch reads it).
    base = "".join(["pad\n"] * 12 + ["a\n", "b\n"] + ["x\n", "y\n"] * 10)
    diff = "--- a/f\n+++ b/f\n@@ -1,2 +1,3 @@\n a\n+new\n b\n@@ -15,2 +16,3 @@\n x\n+mid\n y\n"
    (change,) = parse_diff(diff)
    applied = apply_located(base, change)
    assert [(o.hunk, o.offset) for o in applied.offsets] == [(1, 12), (2, 12)]


def test_forward_before_backward_at_equal_distance() -> None:
    base = "ctx\nother\n" * 2 + "ctx\n"  # ctx at lines 1, 3, 5
    (change,) = parse_diff("--- a/f\n+++ b/f\n@@ -2 +2,2 @@\n ctx\n+new\n")
    assert apply_change(base, change) == "ctx\nother\nctx\nnew\nother\nctx\n"


def test_huge_header_still_applies_at_the_context() -> None:
    """Locating costs the file's size, not the header's numbers (issue 11)."""
    base = "".join(f"static int v{n};\n" for n in range(5000))
    diff = (
        "--- a/f.c\n+++ b/f.c\n@@ -999999999,3 +999999999,4 @@\n"
        " static int v4000;\n static int v4001;\n+static int added;\n static int v4002;\n"
    )
    (change,) = parse_diff(diff)
    applied = apply_located(base, change)
    assert _numbers(applied.change.added) == [(4003, "static int added;")]
    assert applied.text is not None
    assert applied.text.split("\n")[4002] == "static int added;"
    assert [(o.header, o.line) for o in applied.offsets] == [(999999999, 4001)]


def test_huge_header_without_a_match_is_refused() -> None:
    base = "a\n" * 1000
    (change,) = parse_diff("--- a/f\n+++ b/f\n@@ -999999999,2 +999999999,3 @@\n a\n+b\n c\n")
    with pytest.raises(ApplyError):
        apply_change(base, change)


def test_repetitive_file_picks_the_nearest_copy() -> None:
    base = "}\n\n" * 3000
    (change,) = parse_diff("--- a/f\n+++ b/f\n@@ -2001,2 +2001,3 @@\n }\n+x\n \n")
    applied = apply_located(base, change)
    assert _numbers(applied.change.added) == [(2002, "x")]
    assert applied.offsets == ()


@settings(max_examples=60, deadline=None)
@given(
    lines=st.lists(st.sampled_from(["a", "b", "c", "", "}"]), min_size=3, max_size=60),
    data=st.data(),
)
def test_relocated_numbers_point_at_their_text(lines: list[str], data: st.DataObject) -> None:
    """Whatever the header says, added lines sit at their numbers in the result and
    removed ones at theirs in the base."""
    base = "".join(f"{text}\n" for text in lines)
    start = data.draw(st.integers(0, len(lines) - 2))
    size = data.draw(st.integers(1, min(4, len(lines) - start)))
    old = lines[start : start + size]
    drop = data.draw(st.integers(0, size - 1))
    body = (
        "".join((f"-{text}\n" if i == drop else f" {text}\n") for i, text in enumerate(old))
        + "+inserted\n"
    )
    header = data.draw(st.integers(1, 10**9))
    diff = f"--- a/f\n+++ b/f\n@@ -{header},{size} +{header},{size} @@\n{body}"
    (change,) = parse_diff(diff)
    applied = apply_located(base, change)
    assert applied.text is not None
    after = applied.text.split("\n")
    for line in applied.change.added:
        assert after[line.number - 1] == line.text
    for line in applied.change.removed:
        assert lines[line.number - 1] == line.text
    (hunk,) = applied.change.hunks
    assert lines[hunk.source_start - 1 : hunk.source_start - 1 + size] == old
