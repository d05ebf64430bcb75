"""robot_replay --oracle: build the files kernel test robot named, in our own job configs.

When `check --build` is silent on a patch the robot answered, this tells the two causes
apart: the robot's .c files, built W=1 base vs patched in the configs the planner chose
for the answered patch (one job per arch, link jobs left out; the runner and sandbox of
`check --build`, in this process at nice 19), either show the robot's diagnostic (the
break reproduces here: the planner built other files) or do not (not with our compiler
and config).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from bench import _robot_common as rc
from bench._kbuild_bench import _Record
from reviewbot import sandbox
from reviewbot.build.model import BuildJob, BuildOutcome, BuildStep, StepKind, StepResult
from reviewbot.build.provider import BuildEvaluator
from reviewbot.build.runner import JobRequest, run_job
from reviewbot.config import Config
from reviewbot.errors import InfrastructureError
from reviewbot.model import Series
from reviewbot.rules.engine import review_series
from reviewbot.tree.fs import FsTree
from reviewbot.tree.index import TreeIndex

MAX_ORACLE = 6  # the robot's files built per arch


class _LastPatch(_Record):
    """Keeps the job requests of the last patch planned (the answered one)."""

    def __call__(self, requests: Sequence[JobRequest]) -> list[BuildOutcome]:
        self.requests = []
        return super().__call__(requests)


def _found_of(result: StepResult) -> list[rc.Found]:
    return [rc.Found("oracle", d.kind.value, d.path, d.line, d.text) for d in result.diagnostics]


def oracle(
    series: Series,
    root: Path,
    index: TreeIndex,
    arches: Sequence[str],
    reports: Sequence[rc.RobotReport],
) -> tuple[str, ...]:
    """Build the .c files the robot names, in the answered patch's own job configs (base
    and patched, as the runner does): tells 'planned, other files' from 'no repro here'."""
    os.nice(max(0, 19 - os.nice(0)))  # these builds run here: at the lowest priority
    probe = _LastPatch()
    evaluator = BuildEvaluator(root, index.key, Config().cache_dir, tuple(arches), run_many=probe)
    review_series(series, FsTree(root), index, (), tuple(arches), None, evaluator)
    sources = list(dict.fromkeys(s for r in reports for s in r.sources))
    out = []
    done: set[str] = set()
    for request in probe.requests:
        job = request.job
        if job.arch.name in done or any(s.kind is StepKind.LINK for s in job.steps):
            continue
        overlay = dict(request.overlay)
        objects = tuple(s[:-2] + ".o" for s in sources if s in overlay or (root / s).is_file())[
            :MAX_ORACLE
        ]
        if not objects:
            return ("oracle: none of the robot's .c files is in this tree",)
        done.add(job.arch.name)
        step = BuildStep(StepKind.OBJECTS, objects, "the robot's files")
        label = f"{job.arch.name} {job.config.defconfig}" + "".join(
            f" {s}={v}" for s, v in job.config.enable if s != "WERROR"
        )
        try:
            run = run_job(replace(request, job=BuildJob(job.arch, job.config, (step,))))
        except (InfrastructureError, sandbox.SandboxError) as exc:
            out.append(f"oracle {label}: could not run: {exc}"[:240])
            continue
        if run.error or not run.patched:
            out.append(f"oracle {label}: could not run: {run.error}"[:240])
            continue
        base = [f for r in run.base for f in _found_of(r)]
        patched = [f for r in run.patched for f in _found_of(r)]
        out.append(
            rc.oracle_line(label, objects, base, patched, reports) + f" ({run.seconds:.0f} s)"
        )
    return tuple(out) or ("oracle: the answered patch planned no job to borrow a config from",)
