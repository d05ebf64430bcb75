"""Build jobs and outcomes survive JSON (the job store, process pools, Dask)."""

from __future__ import annotations

import json

import pytest

from reviewbot.build.codec import dump, load_as
from reviewbot.build.matrix import load_matrix
from reviewbot.build.model import (
    BuildConfig,
    BuildJob,
    BuildOutcome,
    BuildStep,
    DiagKind,
    Diagnostic,
    StepKind,
    StepResult,
)
from reviewbot.build.runner import JobRequest
from reviewbot.sandbox import Limits

JOB = BuildJob(
    load_matrix()["sparc64"],
    BuildConfig("defconfig", (("MODVERSIONS", "y"), ("WERROR", "n"))),
    (BuildStep(StepKind.OBJECTS, ("a/b.o",), "touched"), BuildStep(StepKind.MODVERSIONS)),
)


def _through_json(value: object) -> object:
    return json.loads(json.dumps(dump(value)))


def test_a_request_comes_back_equal() -> None:
    request = JobRequest(
        JOB,
        "/tree",
        "key",
        "/cache",
        overlay=(("a/b.c", "int x;\n"), ("gone.c", None)),
        limits=Limits(cpu_seconds=5, wall_seconds=2.5),
    )
    assert load_as(JobRequest, _through_json(request)) == request


def test_an_outcome_comes_back_equal() -> None:
    diag = Diagnostic(DiagKind.WARNING, "a/b.c", 3, "unused variable 'x'", "cc")
    step = StepResult(JOB.steps[0], True, (diag,), ("make O=build a/b.o",), 1.25, False, 0, "")
    outcome = BuildOutcome(JOB, (step,), (step,), "", ("FOO",), 3.0, True, {"k": "v"})
    back = load_as(BuildOutcome, _through_json(outcome))
    assert back == outcome and back.extra == {"k": "v"}
    assert back.patched[0].diagnostics[0].kind is DiagKind.WARNING


def test_damaged_data_is_refused() -> None:
    data = dump(JOB)
    with pytest.raises(ValueError, match="unknown fields"):
        load_as(BuildJob, {**data, "surprise": 1})
    with pytest.raises(TypeError):
        load_as(BuildJob, {**data, "steps": "not a list"})
    with pytest.raises(ValueError):
        load_as(BuildJob, {**data, "steps": [{"kind": "no-such-step"}]})
