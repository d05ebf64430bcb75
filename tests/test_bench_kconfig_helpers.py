"""The Kconfig benchmark's pure helpers: reversed diffs, /proc parsing, verdicts, summaries."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bench._kconfig_common import (
    Case,
    Result,
    Sources,
    Verdict,
    busiest,
    conf_verdict,
    cpu_ticks,
    descendants,
    disagreements,
    fixture_verdict,
    is_kconfig_worker,
    latest_versions,
    render_findings,
    reverse_diff,
    reviewbot_verdict,
    rule_counts,
    spread,
    status_kib,
    subject_key,
)
from reviewbot.analysis.apply import ApplyError, apply_change
from reviewbot.analysis.diff import ChangeKind, parse_diff
from reviewbot.model import Finding, Message, Series, Severity, SubjectTags
from reviewbot.rules.fixtures import Expectation

BEFORE = """\
config CERTS
\tbool "certs"
\tdepends on KEYS
\tdepends on X509_CERTIFICATE_PARSER
\thelp
\t  Text.
-- old dashes
"""

AFTER = """\
config CERTS
\tbool "certs"
\tdepends on KEYS
\tdepends on X509_CERTIFICATE_PARSER = y
\thelp
\t  Text.
++ new pluses
"""

FIX = """\
diff --git a/certs/Kconfig b/certs/Kconfig
index bf9b511573d7..1f109b070877 100644
--- a/certs/Kconfig
+++ b/certs/Kconfig
@@ -2,6 +2,6 @@ config CERTS
 \tbool "certs"
 \tdepends on KEYS
-\tdepends on X509_CERTIFICATE_PARSER
+\tdepends on X509_CERTIFICATE_PARSER = y
 \thelp
 \t  Text.
--- old dashes
+++ new pluses
"""

NEW_FILE = """\
diff --git a/drivers/foo/Kconfig b/drivers/foo/Kconfig
new file mode 100644
index 000000000000..1f109b070877
--- /dev/null
+++ b/drivers/foo/Kconfig
@@ -0,0 +1,2 @@
+config FOO
+\tbool
"""


def test_reverse_diff_undoes_the_patch() -> None:
    (forward,) = parse_diff(FIX)
    assert apply_change(BEFORE, forward) == AFTER
    (backward,) = parse_diff(reverse_diff(FIX))
    assert apply_change(AFTER, backward) == BEFORE
    with pytest.raises(ApplyError):
        apply_change(BEFORE, backward)


def test_reverse_diff_reads_hunks_by_count_not_by_dashes() -> None:
    reversed_text = reverse_diff(FIX)
    assert "+-- old dashes" in reversed_text
    assert "-++ new pluses" in reversed_text
    assert reversed_text.count("--- a/certs/Kconfig") == 1
    assert "index 1f109b070877..bf9b511573d7 100644" in reversed_text
    assert "@@ -2,6 +2,6 @@ config CERTS" in reversed_text


def test_reverse_diff_twice_is_the_original() -> None:
    assert reverse_diff(reverse_diff(FIX)) == FIX
    assert reverse_diff(reverse_diff(NEW_FILE)) == NEW_FILE


def test_reverse_diff_of_a_new_file_deletes_it() -> None:
    text = reverse_diff(NEW_FILE)
    assert "deleted file mode 100644" in text
    assert "--- a/drivers/foo/Kconfig\n+++ /dev/null" in text
    assert "@@ -1,2 +0,0 @@" in text
    (change,) = parse_diff(text)
    assert change.kind is ChangeKind.DELETED


def test_reverse_diff_keeps_no_newline_markers_with_their_line() -> None:
    text = "@@ -1 +1 @@\n-old\n\\ No newline at end of file\n+new\n\\ No newline at end of file"
    assert reverse_diff(text) == (
        "@@ -1 +1 @@\n-new\n\\ No newline at end of file\n+old\n\\ No newline at end of file"
    )


def test_reverse_diff_refuses_binary() -> None:
    with pytest.raises(ValueError, match="binary"):
        reverse_diff("diff --git a/x b/x\nGIT binary patch\nliteral 0\n")


def test_latest_versions_keeps_the_highest_version_per_subject() -> None:
    items = [
        ("[PATCH] kconfig: add warnings", 1, "a"),
        ("[PATCH v2 1/3] init/Kconfig: fix", 2, "b"),
        ("[PATCH v3] kconfig: add  warnings", 3, "c"),
        ("[RFC PATCH v2] kconfig: add warnings", 2, "d"),
    ]
    assert latest_versions(items) == ["c", "b"]
    assert subject_key("[PATCH v3 2/4] Foo:  Bar") == "foo: bar"


def test_status_kib_reads_proc_status() -> None:
    status = "Name:\tpython\nVmHWM:\t  58168 kB\nVmRSS:\t   1892 kB\n"
    assert status_kib(status, "VmRSS") == 1892
    assert status_kib(status, "VmHWM") == 58168
    assert status_kib(status, "VmSwap") is None


def test_descendants_walks_the_whole_tree_once() -> None:
    children = {1: [2, 5], 2: [3], 3: [4], 5: [], 4: [2]}
    assert descendants(children, 1) == [2, 3, 4, 5]
    assert descendants(children, 5) == []


def test_is_kconfig_worker_skips_the_sandbox_wrappers() -> None:
    argv = ["/usr/bin/python3.11", "-m", "reviewbot.kconfig.worker", ""]
    assert is_kconfig_worker(argv, "python3.11")
    assert not is_kconfig_worker(["bwrap", "--ro-bind", "/", "/", "--", *argv], "bwrap")
    assert not is_kconfig_worker(["prlimit", "--cpu=1", "--", "bwrap"], "prlimit")
    assert not is_kconfig_worker(["/usr/bin/python3", "-m", "bench.bench_kconfig"], "python3")


def test_conf_verdict() -> None:
    assert conf_verdict(True, False, 0, 0, 0) == Verdict(error=True)
    assert conf_verdict(False, False, 0, 0, 0) == Verdict()
    assert conf_verdict(True, True, 0, 1, 0) == Verdict(recursion=True)
    assert conf_verdict(True, False, 0, 1, 0) == Verdict(recursion=True), "conf exits 1 on a loop"
    assert conf_verdict(True, True, 0, 0, 0, witness_unmet=True) == Verdict(unmet=True)
    assert conf_verdict(True, True, 2, 0, 1).flags() == "E-U"


def test_reviewbot_verdict_and_disagreements() -> None:
    bot = reviewbot_verdict([("KC010", "error"), ("KC011", "info"), ("KC013", "warning")])
    assert bot == Verdict(recursion=True)
    assert reviewbot_verdict([("KC018", "warning")]) == Verdict()
    assert reviewbot_verdict([("KC018", "error"), ("KC011", "warning")]) == Verdict(
        error=True, unmet=True
    )
    conf = Verdict(recursion=True, unmet=True)
    assert disagreements(conf, bot) == ["unmet: conf yes, bot no"]
    assert disagreements(conf | Verdict(error=False), conf) == []


def test_rule_counts_and_spread() -> None:
    assert rule_counts(["KC011", "RB002", "KC018", "KC011", "KC001"]) == "KC011:2 KC018:1"
    assert rule_counts(["EX001"]) == "-"
    assert spread([3.0, 1.0, 2.0, 10.0]) == (2.5, 10.0)
    with pytest.raises(ValueError):
        spread([])


def test_cpu_ticks_counts_from_the_last_parenthesis() -> None:
    stat = "42 (py (odd) name) S 1 42 42 0 -1 4194304 10 0 0 0 7 3 20 5 20 0 1 0 9 0 0"
    assert cpu_ticks(stat) == 7 + 3 + 20 + 5


def _case(source: str, ident: str) -> Case:
    message = Message(
        message_id=ident,
        subject="[PATCH] x: fix",
        sender="a@example.org",
        date=None,
        in_reply_to=None,
        references=(),
        tags=SubjectTags("x: fix", is_patch=True),
        body="",
        diff="",
        source="test",
    )
    return Case("x: fix", source, Series(ident, message.subject, 1, 1, (message,)))


def _finding(rule: str, severity: Severity, ident: str) -> Finding:
    return Finding(rule, "name", severity, "init/Kconfig", 3, "text", patch=ident)


def test_render_findings_fails_acceptance_on_a_warning_from_a_fix() -> None:
    cases = [_case("fix", "fix@x"), _case("lore", "lore@x")]
    quiet = [
        Result(findings=[_finding("KC011", Severity.INFO, "fix@x")]),
        Result(findings=[_finding("KC013", Severity.WARNING, "lore@x")]),
    ]
    text, ok = render_findings(cases, quiet, Sources(), "fixes.mbox")
    assert ok, text
    assert "<lore@x> KC013 warning init/Kconfig:3" in text
    noisy = [Result(findings=[_finding("KC018", Severity.ERROR, "fix@x")]), Result()]
    text, ok = render_findings(cases, noisy, Sources(), "fixes.mbox")
    assert not ok
    assert "<fix@x> KC018 error init/Kconfig:3" in text
    assert "1 warning-level findings: MISS" in text
    _, ok = render_findings([_case("lore", "lore@x")], [Result()], Sources(), "fixes.mbox")
    assert not ok, "no fix checked is not a pass"


def test_fixture_verdict_compares_declared_findings() -> None:
    case = replace(
        _case("fixture", "f@x"),
        expected=frozenset({Expectation("KC011", "init/Kconfig", 3)}),
        checked=frozenset({"KC011"}),
    )
    assert fixture_verdict(case, [_finding("KC011", Severity.WARNING, "f@x")]) == "ok"
    assert fixture_verdict(case, []) == "MISMATCH"
    extra = [_finding("KC011", Severity.WARNING, "f@x"), _finding("KC010", Severity.ERROR, "")]
    assert fixture_verdict(case, extra) == "ok", "rules the fixture does not check are ignored"


def test_busiest_worker() -> None:
    assert busiest({1: 10.0, 2: 5.0}, {1: 12.5, 2: 9.0}) == 4.0
    assert busiest({1: 10.0}, {1: 10.5, 3: 2.0}) == 2.0, "a new worker counts in full"
    assert busiest({1: 1.0}, {}) == 0.0


def test_solver_section_figures() -> None:
    from bench._kconfig_solver import SolverFigures, mean, p95, render_solver

    assert p95([1.0] * 19 + [9.0]) == 1.0 and p95([1.0] * 18 + [9.0, 9.0]) == 9.0
    assert mean([]) == 0.0 and mean([1.0, 3.0]) == 2.0
    figures = SolverFigures(formula={"x86_64": (10.5, 880000, 200 * 1024)})
    figures.solver_seconds = [0.1, 0.3]
    figures.greedy_seconds = [0.2, 0.4]
    text, ok = render_solver(figures, [0.5, 0.9], (3, 1, 0), [300 * 1024])
    assert ok
    assert "3 confirmed, 1 rejected" in text and "880000 clauses" in text
    _, slow = render_solver(figures, [0.5, 6.0], (0, 0, 0), [300 * 1024])
    assert not slow
