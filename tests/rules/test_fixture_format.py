"""The fixture format: Expect lines follow their hunk to where it applies."""

from __future__ import annotations

from pathlib import Path

import pytest

from reviewbot.analysis.view import DictTree
from reviewbot.mail.mbox import read_input
from reviewbot.mail.parse import parse_mail
from reviewbot.model import Message
from reviewbot.rules.fixtures import (
    Expectation,
    FixtureError,
    absolute,
    expectations,
    load_fixtures,
    resolve,
)
from tests.helpers import mail

MAKEFILE = "".join(f"obj-$(CONFIG_X{n}) += x{n}.o\n" for n in range(1, 21))
# Written on a base where the Makefile had 4 more lines on top: headers say 14, not 10.
DIFF = (
    "--- a/d/Makefile\n+++ b/d/Makefile\n@@ -14,3 +14,5 @@\n"
    " obj-$(CONFIG_X10) += x10.o\n obj-$(CONFIG_X11) += x11.o\n"
    "+EXTRA_CFLAGS += -DA\n+EXTRA_CFLAGS += -DB\n obj-$(CONFIG_X12) += x12.o\n"
)


def _patch(diff: str) -> Message:
    (raw,) = read_input(mail(diff), "test")
    return parse_mail(raw)


def test_expect_lines_parse_numbers_anchors_and_whole_patch() -> None:
    text = (
        "Expect: MK001 d/Makefile:16\n"
        "Expect: MK001 d/Makefile:+EXTRA_CFLAGS += -DB  \n"
        "Expect: RB002 -\n"
        "Expect: KC002 d/Kconfig\n"
    )
    assert {(e.rule, e.path, e.line, e.text) for e in expectations(text)} == {
        ("MK001", "d/Makefile", 16, ""),
        ("MK001", "d/Makefile", None, "EXTRA_CFLAGS += -DB"),
        ("RB002", "", None, ""),
        ("KC002", "d/Kconfig", None, ""),
    }


def test_numbers_and_anchors_follow_the_hunk() -> None:
    patch = _patch(DIFF)
    declared = expectations(
        "Expect: MK001 d/Makefile:16\nExpect: MK001 d/Makefile:+EXTRA_CFLAGS += -DB\n"
        "Expect: MK002 d/Makefile:3\n",
        patch.message_id,
    )
    got = resolve(declared, [patch], DictTree({"d/Makefile": MAKEFILE}))
    # 16 is the first added line in the patch's numbering; it lands at 12 here. Line 3 is
    # outside every hunk: absolute.
    assert got == {
        Expectation("MK001", "d/Makefile", 12),
        Expectation("MK001", "d/Makefile", 13),
        Expectation("MK002", "d/Makefile", 3),
    }


def test_anchor_must_name_exactly_one_added_line() -> None:
    patch = _patch(DIFF)
    tree = DictTree({"d/Makefile": MAKEFILE})
    with pytest.raises(FixtureError, match="not an added line"):
        resolve(
            expectations("Expect: MK001 d/Makefile:+obj-$(CONFIG_X10) += x10.o\n"), [patch], tree
        )
    twice = _patch(DIFF.replace("-DA", "-DB"))
    with pytest.raises(FixtureError, match="added 2 times"):
        resolve(expectations("Expect: MK001 d/Makefile:+EXTRA_CFLAGS += -DB\n"), [twice], tree)


def test_a_file_that_does_not_apply_keeps_the_header_numbers() -> None:
    patch = _patch(DIFF)
    got = resolve(expectations("Expect: MK001 d/Makefile:16\n"), [patch], DictTree({}))
    assert got == {Expectation("MK001", "d/Makefile", 16)}


def test_repository_fixtures_declare_valid_trees_and_offsets() -> None:
    fixtures = load_fixtures(Path(__file__).resolve().parents[2] / "rules")
    for fixture in fixtures:
        assert not fixture.tree or fixture.tree.startswith("6.12."), fixture.path
        mails = [parse_mail(r) for r in read_input(fixture.path.read_bytes(), str(fixture.path))]
        # A line outside the patch's hunks is a line of one release: say which.
        assert fixture.tree or not absolute(fixture.expected, mails), fixture.path
    assert [f for f in fixtures if f.at_offset], "offset fixtures exist for the rule families"
