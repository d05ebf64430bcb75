"""The build provider and the BLD rules on canned outcomes (no compiler needed)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from reviewbot.analysis.view import DictTree
from reviewbot.build.matrix import load_matrix
from reviewbot.build.model import (
    Arch,
    BuildOutcome,
    BuildStep,
    DiagKind,
    Diagnostic,
    StepKind,
    StepResult,
)
from reviewbot.build.provider import BuildEvaluator
from reviewbot.build.runner import JobRequest
from reviewbot.mail.mbox import read_input
from reviewbot.mail.parse import parse_mail
from reviewbot.mail.series import assemble
from reviewbot.model import Finding, Severity
from reviewbot.rules import build
from reviewbot.rules.engine import review_series
from tests.helpers import index_of, mail

FILES = {
    "drivers/misc/Makefile": "obj-$(CONFIG_DUMMY_IRQ) += dummy-irq.o\n",
    "drivers/misc/Kconfig": 'config DUMMY_IRQ\n\ttristate "Dummy"\n',
    "drivers/misc/dummy-irq.c": "static int irq = -1;\n\nint x;\n",
    "scripts/Makefile.modfinal": "a\nb\n%.ko: %.o vmlinux-if-builtin\nc\n",
    "include/linux/export.h": "one\ntwo\n",
}
DRIVER_DIFF = """\
--- a/drivers/misc/dummy-irq.c
+++ b/drivers/misc/dummy-irq.c
@@ -1,3 +1,4 @@
 static int irq = -1;
+int f(void) { return irq; }
"""
DRIVER_DIFF += " \n int x;\n"
MODFINAL_DIFF = """\
--- a/scripts/Makefile.modfinal
+++ b/scripts/Makefile.modfinal
@@ -2,3 +2,3 @@
 b
-%.ko: %.o vmlinux-if-builtin
+%.ko: %.o vmlinux
 c
"""
EXPORT_DIFF = """\
--- a/include/linux/export.h
+++ b/include/linux/export.h
@@ -1,2 +1,2 @@
-one
+ONE
 two
"""


def _warning(line: int, text: str) -> Diagnostic:
    return Diagnostic(DiagKind.WARNING, "drivers/misc/dummy-irq.c", line, text)


FAKE, CACHE = Path("/fake"), Path("/nonexistent-cache")


def _fake_run(
    results: Mapping[StepKind, tuple[StepResult, StepResult]],
) -> Callable[[JobRequest], BuildOutcome]:
    def run(request: JobRequest) -> BuildOutcome:
        pairs = [results[s.kind] for s in request.job.steps if s.kind in results]
        base = tuple(p[0] for p in pairs)
        patched = tuple(p[1] for p in pairs)
        return BuildOutcome(request.job, base, patched, seconds=1.0)

    return run


def _step(kind: StepKind, ok: bool, *diags: Diagnostic) -> StepResult:
    return StepResult(
        BuildStep(kind), ok, diags, commands=("make O=build x.o",), status=0 if ok else 2
    )


def _review(diff: str, provider: BuildEvaluator) -> list[Finding]:
    messages = [parse_mail(raw) for raw in read_input(mail(diff), "test")]
    series_list, _ = assemble(messages)
    return [
        f
        for s in series_list
        for f in review_series(
            s, DictTree(FILES), index_of(FILES), build.RULES, (), None, provider
        ).findings
    ]


def _gcc_only_matrix() -> Mapping[str, Arch]:
    matrix = dict(load_matrix())
    return {n: a for n, a in matrix.items() if n in ("x86_64", "sparc64", "alpha")}


def test_new_warning_reported_once_with_commands_and_moved_one_ignored() -> None:
    results = {
        StepKind.OBJECTS: (
            _step(StepKind.OBJECTS, True, _warning(3, "old")),
            _step(StepKind.OBJECTS, True, _warning(4, "old"), _warning(2, "new [-Wx]")),
        )
    }
    provider = BuildEvaluator(
        FAKE,
        "k",
        CACHE,
        matrix=_gcc_only_matrix(),
        run=_fake_run(results),
        arches=("x86_64",),
    )
    found = _review(DRIVER_DIFF, provider)
    assert [(f.rule, f.path, f.line, f.severity) for f in found] == [
        ("BLD001", "drivers/misc/dummy-irq.c", 2, Severity.WARNING)
    ]
    assert "new [-Wx]" in found[0].message and "Reproduce: make O=build ARCH=x86_64 defconfig" in (
        found[0].message
    )
    assert "-e DUMMY_IRQ -d WERROR" in found[0].message


def test_extmod_failure_after_the_patch_is_an_error_at_the_changed_line() -> None:
    failure = Diagnostic(DiagKind.ERROR, "", None, "No rule to make target 'vmlinux'", "make")
    results = {
        StepKind.EXTMOD: (_step(StepKind.EXTMOD, True), _step(StepKind.EXTMOD, False, failure))
    }
    provider = BuildEvaluator(
        FAKE,
        "k",
        CACHE,
        matrix=_gcc_only_matrix(),
        run=_fake_run(results),
        arches=("x86_64",),
    )
    found = [f for f in _review(MODFINAL_DIFF, provider) if f.rule == "BLD002"]
    assert [(f.path, f.line, f.severity) for f in found] == [
        ("scripts/Makefile.modfinal", 3, Severity.ERROR)
    ]
    assert "vmlinux" in found[0].message and "M=../tiny-module" not in found[0].message


def test_lost_crc_is_reported_and_base_noise_is_not() -> None:
    noise = Diagnostic(DiagKind.WARNING, "<stdin>", 1519, "#warning syscall clone3")
    lost = Diagnostic(
        DiagKind.WARNING,
        "",
        None,
        'EXPORT symbol "strlen" [vmlinux] version generation failed, symbol will not be versioned',
        "crc",
    )
    results = {
        StepKind.MODVERSIONS: (
            _step(StepKind.MODVERSIONS, True, noise),
            _step(StepKind.MODVERSIONS, True, noise, lost),
        )
    }
    provider = BuildEvaluator(
        FAKE,
        "k",
        CACHE,
        matrix=_gcc_only_matrix(),
        run=_fake_run(results),
        only=("sparc64",),
    )
    found = [f for f in _review(EXPORT_DIFF, provider) if f.rule == "BLD003"]
    assert [(f.path, f.line) for f in found] == [("include/linux/export.h", 1)]
    assert "strlen" in found[0].message and "sparc64" in found[0].message


def test_missing_compiler_skips_the_job_and_logs_the_package(
    caplog: pytest.LogCaptureFixture,
) -> None:
    matrix = dict(load_matrix())
    broken = {"x86_64": Arch("x86_64", "x86_64", "x86", "nope-", "gcc-nope", "nope-gcc")}
    provider = BuildEvaluator(
        FAKE,
        "k",
        CACHE,
        matrix={**matrix, **broken},
        run=_fake_run({}),
        arches=("x86_64",),
    )
    with caplog.at_level(logging.WARNING):
        found = _review(DRIVER_DIFF, provider)
    assert found == []
    assert "apt-get install gcc-nope" in caplog.text
