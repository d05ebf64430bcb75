from __future__ import annotations

from collections.abc import Iterable

from reviewbot.model import Finding, Severity
from reviewbot.rules.base import PatchContext, Rule, rule
from reviewbot.rules.registry import RulePolicy, select_rules
from tests.helpers import mail, review

TREE = {"Kconfig": "config A\n\tbool\n", "d/Makefile": "obj-y += a.o\n", "d/a.c": "int a;\n"}
DIFF = "--- a/d/Makefile\n+++ b/d/Makefile\n@@ -1 +1,2 @@\n obj-y += a.o\n+obj-y += b.o\n"


@rule("ZZ001", "test-boom", Severity.ERROR, "always crashes")
def boom(rule: Rule, ctx: PatchContext) -> Iterable[Finding]:
    raise RuntimeError("kaput")


@rule("ZZ002", "test-every-added-line", Severity.WARNING, "one finding per added line")
def every_line(rule: Rule, ctx: PatchContext) -> Iterable[Finding]:
    for change, line in ctx.added():
        yield rule.finding(change.path, line.number, line.text)


def test_crashing_rule_does_not_lose_the_report() -> None:
    findings = review(TREE, mail(DIFF), [boom, every_line])
    rules = sorted(f.rule for f in findings)
    assert rules == ["RB000", "ZZ002"]
    crash = next(f for f in findings if f.rule == "RB000")
    assert "ZZ001" in crash.message and "kaput" in crash.message
    assert crash.patch == "t1@example.org"


def test_patch_that_does_not_apply_lowers_base_findings_to_info() -> None:
    tree = {**TREE, "d/Makefile": "obj-y += other.o\n"}
    findings = review(tree, mail(DIFF), [every_line])
    assert [f.rule for f in findings] == ["RB002", "ZZ002"]
    lowered = findings[1]
    assert lowered.severity is Severity.INFO and "does not apply" in lowered.evidence[0]


def test_series_patches_see_earlier_patches() -> None:
    first = mail(
        "--- /dev/null\n+++ b/d/b.c\n@@ -0,0 +1 @@\n+int b;\n", "[PATCH 1/2] add b", "p1@x"
    )
    second = mail(
        "--- a/d/b.c\n+++ b/d/b.c\n@@ -1 +1,2 @@\n int b;\n+int c;\n",
        "[PATCH 2/2] extend b",
        "p2@x",
        "In-Reply-To: <p1@x>\n",
    )
    findings = review(TREE, [first, second], [every_line])
    assert [(f.patch, f.path, f.line) for f in findings] == [
        ("p1@x", "d/b.c", 1),
        ("p2@x", "d/b.c", 2),
    ]


def test_unreadable_diff_is_reported_and_named() -> None:
    data = mail("--- a/d/a.c\n+++ b/d/a.c\n@@ -1,3 +1,3 @@\n\u00a0int a;\n-x\n+y\n")
    findings = review(TREE, data, [every_line])
    assert [f.rule for f in findings] == ["RB001"]
    assert findings[0].severity is Severity.ERROR


def test_policy_selects_by_id_name_and_prefix() -> None:
    rules = [boom, every_line]
    assert select_rules(RulePolicy(disable=("ZZ",)), rules) == []
    assert select_rules(RulePolicy(disable=("ZZ",), enable=("ZZ002",)), rules) == [every_line]
    graded = select_rules(RulePolicy(severity={"test-boom": Severity.INFO}), rules)
    assert graded[0].severity is Severity.INFO and graded[1].severity is Severity.WARNING
    assert select_rules(RulePolicy(disable=("test-",)), rules) == []


@rule("ZZ003", "test-every-removed-line", Severity.WARNING, "one finding per removed line")
def every_removed(rule: Rule, ctx: PatchContext) -> Iterable[Finding]:
    for change in ctx.files():
        for line in change.removed:
            text = ctx.text_before(change) or ""
            assert text.split("\n")[line.number - 1] == line.text
            yield rule.finding(change.path, line.number, "-" + line.text)


def test_rules_see_the_lines_where_a_later_patch_applied() -> None:
    """Patch 2 was made on the base without patch 1's two lines: it applies 2 lines
    lower, and rules see its real numbers (after patch 1) in both files."""
    tree = {**TREE, "d/Makefile": "".join(f"obj-y += o{n}.o\n" for n in range(1, 9))}
    first = "--- a/d/Makefile\n+++ b/d/Makefile\n@@ -1 +1,3 @@\n obj-y += o1.o\n+x1\n+x2\n"
    second = (
        "--- a/d/Makefile\n+++ b/d/Makefile\n@@ -5,3 +5,3 @@\n obj-y += o5.o\n"
        "-obj-y += o6.o\n+obj-y += six.o\n obj-y += o7.o\n"
    )
    series = [
        mail(first, "[PATCH 1/2] d: one", "s1@example.org"),
        mail(second, "[PATCH 2/2] d: two", "s2@example.org", "In-Reply-To: <s1@example.org>\n"),
    ]
    findings = review(tree, series, [every_line, every_removed])
    seen = sorted((f.patch, f.rule, f.line, f.message) for f in findings)
    assert seen == [
        ("s1@example.org", "ZZ002", 2, "x1"),
        ("s1@example.org", "ZZ002", 3, "x2"),
        ("s2@example.org", "ZZ002", 8, "obj-y += six.o"),
        ("s2@example.org", "ZZ003", 8, "-obj-y += o6.o"),
    ]
