"""The executor: jobs recorded before submission, resumed after a crash, warm workers.

Every behaviour runs through both backends: a local process pool and a Dask LocalCluster
(two single-threaded worker processes on 127.0.0.1).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from reviewbot.build.executor import (
    DaskExecutor,
    Executor,
    ExecutorError,
    JobError,
    LocalExecutor,
    current_job,
    executor_from_spec,
    job_kind,
    resume,
    run_jobs,
    warm,
    worker_id,
)
from reviewbot.store.jobs import JobState, JobStore

REPO = Path(__file__).resolve().parents[2]
BACKENDS = ["local", "dask"]

# -- job functions: top-level, so both backends pickle them by reference -----------------


def square(payload: dict[str, Any]) -> dict[str, Any]:
    return {"square": payload["n"] ** 2}


def counted(payload: dict[str, Any]) -> dict[str, Any]:
    """Square, and leave a line per run in the job's directory."""
    with (Path(payload["dir"]) / "runs").open("a") as log:
        log.write(f"{payload['n']}\n")
    return square(payload)


def own_row(payload: dict[str, Any]) -> dict[str, Any]:
    """Read this job's row in the store, from inside the worker."""
    with JobStore.open(Path(payload["db"])) as store:
        job = store.require(current_job() or "")
    return {"state": job.state.value, "attempts": job.attempts}


def flaky(payload: dict[str, Any]) -> dict[str, Any]:
    if (Path(payload["dir"]) / "broken").exists():
        raise ValueError(f"broken while running {payload['n']}")
    return square(payload)


def unjsonable(payload: dict[str, Any]) -> dict[str, Any]:
    return {"objs": {"a.o"}}


def dies(payload: dict[str, Any]) -> dict[str, Any]:
    if payload.get("die"):
        os._exit(3)
    return square(payload)


def warmed(payload: dict[str, Any]) -> dict[str, Any]:
    built = []

    def build() -> str:
        built.append(True)
        return f"parsed on {worker_id()}"

    value = warm(f"answer:{payload['token']}", build)
    return {"worker": worker_id(), "built": bool(built), "value": value}


def tick(payload: dict[str, Any]) -> dict[str, Any]:
    """Log the start; jobs from n=2 on wait while the directory holds a 'hold' file."""
    where = Path(payload["dir"])
    with (where / "started").open("a") as log:
        log.write(f"{payload['n']}\n")
    deadline = time.monotonic() + 30
    while payload["n"] >= 2 and (where / "hold").exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    return {"n": payload["n"]}


def coordinate(db: str, where: str, spec: str) -> None:
    """The coordinator process the restart test kills: six ticks on `spec`."""
    with executor_from_spec(spec) as executor, JobStore.open(Path(db)) as store:
        run_jobs(executor, store, [{"dir": where, "n": n} for n in range(6)], tick)


# -- fixtures ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dask_executor() -> Iterator[DaskExecutor]:
    import dask

    # A worker that dies is not retried by the scheduler: run_jobs retries it, once.
    with (
        dask.config.set({"distributed.scheduler.allowed-failures": 0}),
        DaskExecutor.local_cluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as executor,
    ):
        yield executor


@pytest.fixture(scope="module")
def local_executor() -> Iterator[LocalExecutor]:
    with LocalExecutor(max_workers=2) as executor:
        yield executor


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def executor(backend: str, request: pytest.FixtureRequest) -> Executor:
    fixture: Executor = request.getfixturevalue(f"{backend}_executor")
    return fixture


@pytest.fixture
def store(tmp_path: Path) -> Iterator[JobStore]:
    with JobStore.open(tmp_path / "store.sqlite3") as opened:
        yield opened


def _started(where: Path, name: str) -> Counter[int]:
    path = where / name
    return Counter(int(line) for line in path.read_text().split()) if path.exists() else Counter()


# -- behaviour --------------------------------------------------------------------------


def test_jobs_are_recorded_before_they_reach_a_worker(
    executor: Executor, store: JobStore, tmp_path: Path
) -> None:
    db = str(tmp_path / "store.sqlite3")
    jobs = run_jobs(executor, store, [{"db": db, "n": n} for n in range(3)], own_row)
    assert [job.state for job in jobs] == [JobState.DONE] * 3
    assert [job.result for job in jobs] == [{"state": "running", "attempts": 1}] * 3


def test_results_come_back_in_order_and_done_jobs_never_run_again(
    executor: Executor, store: JobStore, tmp_path: Path
) -> None:
    payloads = [{"dir": str(tmp_path), "n": n} for n in (3, 1, 2, 1)]
    first = run_jobs(executor, store, payloads, counted)
    again = run_jobs(executor, store, payloads, counted)
    assert [job.result for job in first] == [{"square": s} for s in (9, 1, 4, 1)]
    assert again == first
    assert first[1].id == first[3].id
    assert _started(tmp_path, "runs") == Counter({3: 1, 1: 1, 2: 1})


def test_a_job_that_raises_fails_alone_and_stays_failed_until_retried(
    executor: Executor, store: JobStore, tmp_path: Path
) -> None:
    (tmp_path / "broken").touch()
    payloads = [{"dir": str(tmp_path), "n": n} for n in range(2)]
    failed = run_jobs(executor, store, payloads, flaky)
    assert [job.state for job in failed] == [JobState.FAILED] * 2
    assert "ValueError: broken while running 1" in (failed[1].error or "")
    (tmp_path / "broken").unlink()
    assert run_jobs(executor, store, payloads, flaky) == failed
    retried = run_jobs(executor, store, payloads, flaky, retry_failed=True)
    assert [(job.state, job.result, job.attempts) for job in retried] == [
        (JobState.DONE, {"square": 0}, 1),
        (JobState.DONE, {"square": 1}, 1),
    ]


def test_a_job_that_kills_its_worker_fails_and_the_others_finish(
    executor: Executor, store: JobStore
) -> None:
    payloads = [{"n": 1}, {"n": 2, "die": True}, {"n": 3}, {"n": 4}]
    jobs = run_jobs(executor, store, payloads, dies, max_attempts=2)
    done, failed = JobState.DONE, JobState.FAILED
    assert [job.state for job in jobs] == [done, failed, done, done]
    assert jobs[1].attempts == 2
    assert (jobs[1].error or "").startswith("gave up after 2 attempts: no reply from the worker")
    assert [job.result for job in jobs if job.result] == [{"square": s} for s in (1, 9, 16)]


def test_a_restart_resubmits_what_did_not_finish(
    backend: str, executor: Executor, tmp_path: Path
) -> None:
    db = tmp_path / "store.sqlite3"
    (tmp_path / "hold").touch()
    spec = executor.address if isinstance(executor, DaskExecutor) else "local:1"
    script = (
        "import sys; from tests.build.test_executor import coordinate; coordinate(*sys.argv[1:])"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", script, str(db), str(tmp_path), spec],
        cwd=REPO,
        start_new_session=True,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        with JobStore.open(db) as watch:  # jobs from n=2 on are held: wait for 0 and 1
            while watch.counts()[JobState.DONE] < 2:
                assert child.poll() is None, child.communicate()[1].decode()
                assert time.monotonic() < deadline, "the coordinator made no progress"
                time.sleep(0.02)
    finally:
        os.killpg(child.pid, signal.SIGKILL)  # the coordinator and its pool: a crash
        child.communicate()
    (tmp_path / "hold").unlink()

    with JobStore.open(db) as store:
        states = {job.payload["n"]: job.state for job in store.of_kind(job_kind(tick))}
        assert states[0] == states[1] == JobState.DONE
        assert all(not states[n].finished for n in range(2, 6))
        resumed = resume(executor, store, tick)
        assert sorted(job.payload["n"] for job in resumed) == [2, 3, 4, 5]
        assert all(job.state is JobState.DONE and job.attempts == 2 for job in resumed)
        assert resume(executor, store, tick) == []
    started = _started(tmp_path, "started")
    assert started[0] == started[1] == 1
    assert all(started[n] >= 1 for n in range(2, 6))


def test_workers_stay_warm_between_jobs(executor: Executor, store: JobStore) -> None:
    token = uuid.uuid4().hex
    jobs = run_jobs(executor, store, [{"token": token, "n": n} for n in range(6)], warmed)
    by_worker: dict[str, list[dict[str, Any]]] = {}
    for job in jobs:
        assert job.result is not None
        by_worker.setdefault(job.result["worker"], []).append(job.result)
    assert max(len(results) for results in by_worker.values()) >= 2
    for worker, results in by_worker.items():
        assert sum(result["built"] for result in results) == 1
        assert {result["value"] for result in results} == {f"parsed on {worker}"}


def test_map_runs_unrecorded_work_and_raises_a_job_error(
    executor: Executor, tmp_path: Path
) -> None:
    assert executor.map(square, [{"n": 2}, {"n": 5}]) == [{"square": 4}, {"square": 25}]
    (tmp_path / "broken").touch()
    with pytest.raises(JobError, match="broken while running 7"):
        executor.map(flaky, [{"dir": str(tmp_path), "n": 7}])
    with pytest.raises(JobError, match="not JSON-able"):
        executor.map(unjsonable, [{}])


def test_executor_specs() -> None:
    assert LocalExecutor().max_workers == os.cpu_count()
    with executor_from_spec("local:3") as executor:
        assert isinstance(executor, LocalExecutor)
        assert executor.max_workers == 3
    with pytest.raises(ExecutorError):
        executor_from_spec("local:0")
    assert current_job() is None
