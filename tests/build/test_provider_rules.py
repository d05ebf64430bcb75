"""The build provider and the BLD rules on canned outcomes (no compiler needed)."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from reviewbot.analysis.view import DictTree
from reviewbot.build.codec import dump, load_as
from reviewbot.build.executor import LocalExecutor
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
from reviewbot.build.provider import BuildEvaluator, executor_runner
from reviewbot.build.runner import JobRequest
from reviewbot.mail.mbox import read_input
from reviewbot.mail.parse import parse_mail
from reviewbot.mail.series import assemble
from reviewbot.model import Finding, Severity
from reviewbot.rules import build
from reviewbot.rules.engine import review_series
from reviewbot.store.jobs import JobState, JobStore
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


def _provider(cache: Path = CACHE, **kwargs: Any) -> BuildEvaluator:
    """The build provider on the gcc-only matrix, with canned or pooled runs."""
    return BuildEvaluator(FAKE, "k", cache, matrix=_gcc_only_matrix(), **kwargs)


def test_new_warning_reported_once_with_commands_and_moved_one_ignored() -> None:
    results = {
        StepKind.OBJECTS: (
            _step(StepKind.OBJECTS, True, _warning(3, "old")),
            _step(StepKind.OBJECTS, True, _warning(4, "old"), _warning(2, "new [-Wx]")),
        )
    }
    provider = _provider(
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
    provider = _provider(
        run=_fake_run(results),
        arches=("x86_64",),
    )
    found = [f for f in _review(MODFINAL_DIFF, provider) if f.rule == "BLD002"]
    assert [(f.path, f.line, f.severity) for f in found] == [
        ("scripts/Makefile.modfinal", 3, Severity.ERROR)
    ]
    assert "vmlinux" in found[0].message and "M=../tiny-module" not in found[0].message
    # no output line names a file of the tree: the parsed error is quoted instead
    assert "No rule to make target 'vmlinux'" in found[0].evidence[0]


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
    provider = _provider(
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


# -- the recorded executor path: JSON through the job store and a process pool ----------

CALLS_DIR_KEY = "REVIEWBOT_TEST_CALLS"


def fake_build_job(payload: dict[str, Any]) -> dict[str, Any]:
    """A job function for the pool: the canned new-warning outcome, each call noted."""
    request = load_as(JobRequest, payload["request"])
    calls = Path(request.cache_dir)
    (calls / f"{os.getpid()}-{time.monotonic_ns()}").touch()
    if request.job.arch.name == "sparc64":
        raise RuntimeError("compiler exploded")
    step = request.job.steps[0]
    base = StepResult(step, True, (_warning(3, "old"),), ("make O=build x.o",))
    patched = StepResult(
        step, True, (_warning(4, "old"), _warning(2, "new [-Wx]")), ("make O=build x.o",)
    )
    return {"outcome": dump(BuildOutcome(request.job, (base,), (patched,), seconds=1.0))}


def test_jobs_go_through_the_store_and_the_pool_once(tmp_path: Path) -> None:
    calls = tmp_path / "calls"
    calls.mkdir()
    with LocalExecutor(2) as executor, JobStore.open(tmp_path / "jobs.sqlite") as store:
        provider = _provider(
            cache=calls,
            arches=("x86_64",),
            run_many=executor_runner(executor, store, fake_build_job),
        )
        first = _review(DRIVER_DIFF, provider)
        again = _review(DRIVER_DIFF, provider)
        assert store.counts()[JobState.DONE] == 1
    assert [(f.rule, f.line) for f in first] == [("BLD001", 2)] == [(f.rule, f.line) for f in again]
    assert "new [-Wx]" in first[0].message
    assert len(list(calls.iterdir())) == 1, "a done job comes back from the store"


def test_a_job_that_fails_is_reported_to_the_log_not_as_a_finding(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    calls = tmp_path / "calls"
    calls.mkdir()
    with (
        LocalExecutor(1) as executor,
        JobStore.open(tmp_path / "jobs.sqlite") as store,
        caplog.at_level(logging.WARNING),
    ):
        provider = _provider(
            cache=calls,
            only=("sparc64",),
            run_many=executor_runner(executor, store, fake_build_job),
        )
        found = _review(EXPORT_DIFF, provider)
        _review(EXPORT_DIFF, provider)
    assert found == []
    assert "compiler exploded" in caplog.text
    assert len(list(calls.iterdir())) == 2, "a failed job is tried again on the next review"


def test_an_extmod_breakage_is_not_reported_again_as_lost_crcs() -> None:
    failure = Diagnostic(
        DiagKind.ERROR, "", None, "No rule to make target 'mod/reviewbot_tiny.ko'", "make"
    )
    results = {
        StepKind.EXTMOD: (_step(StepKind.EXTMOD, True), _step(StepKind.EXTMOD, False, failure)),
        StepKind.MODVERSIONS: (
            _step(StepKind.MODVERSIONS, True),
            _step(StepKind.MODVERSIONS, False, failure),
        ),
    }
    provider = _provider(
        run=_fake_run(results),
        arches=("x86_64", "sparc64"),
    )
    found = [f.rule for f in _review(MODFINAL_DIFF, provider) if f.rule.startswith("BLD")]
    assert found == ["BLD002"]


def _missing_run(
    results: Mapping[StepKind, tuple[StepResult, StepResult]], missing: tuple[str, ...]
) -> Callable[[JobRequest], BuildOutcome]:
    canned = _fake_run(results)

    def run(request: JobRequest) -> BuildOutcome:
        outcome = canned(request)
        return BuildOutcome(outcome.job, outcome.base, outcome.patched, config_missing=missing)

    return run


@pytest.mark.parametrize(
    ("missing", "severity"),
    [(("DUMMY_IRQ",), Severity.INFO), (("SOMETHING_ELSE",), Severity.WARNING)],
)
def test_a_warning_is_lowered_only_when_its_object_may_be_configured_out(
    missing: tuple[str, ...], severity: Severity
) -> None:
    results = {
        StepKind.OBJECTS: (
            _step(StepKind.OBJECTS, True),
            _step(StepKind.OBJECTS, True, _warning(2, "new [-Wx]")),
        )
    }
    provider = _provider(
        run=_missing_run(results, missing),
        arches=("x86_64",),
    )
    (found,) = _review(DRIVER_DIFF, provider)
    assert found.severity is severity
    if severity is Severity.INFO:
        assert "DUMMY_IRQ could not be enabled on x86_64" in " ".join(found.evidence)
