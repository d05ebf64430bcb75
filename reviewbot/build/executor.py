"""Run jobs on a local process pool or a Dask cluster through one recorded code path.

    with LocalExecutor() as ex, JobStore.open(path) as store:        # or DaskExecutor.connect
        resume(ex, store, build_one)                                  # after a restart
        jobs = run_jobs(ex, store, [job.to_json() for job in plan], build_one)

`run_jobs` records every job (pending) in the store before anything is submitted, marks
it running (one attempt) just before handing it over, and stores its result or error
text once it finishes. A job id is a hash of the job's kind and payload, so the same work
is one row: a done job is never rerun and its result is returned from the store. If the
coordinator dies, `resume` submits again what is still pending or running.

Job functions are top-level importable functions `fn(payload: dict) -> dict`, where
both dicts are JSON-able; `fn` sees the payload as it comes back from JSON (lists, not
tuples), on the first run and on a resume alike. An exception in `fn` fails the job (its
traceback is the error text; not retried unless asked). A lost worker (a crashed pool
process, a Dask KilledWorker) is not the job's fault: the attempt is noted and the job is
resubmitted, up to `max_attempts` hand-overs in all.

Warm workers: pool processes and Dask workers live as long as the executor, so a job can
keep expensive state between jobs with `warm(key, factory)` (or the raw `worker_cache()`
mapping): prepared trees, Kconfig clients. The cache is per worker process (per Dask
worker object when several share a process), so a job must still work on a cold worker.
`current_job()` names the job a worker is running, for log lines.

A job's kind defaults to fn's dotted name (`job_kind`); `resume` finds unfinished jobs by
kind, so a renamed job function resumes its old jobs with `resume(..., kind=old_name)`.
The store connection is used by one thread at a time: open the JobStore in, or hand it
to, the thread that runs `run_jobs` (e.g. inside `asyncio.to_thread`).
"""

from __future__ import annotations

import concurrent.futures
import contextvars
import hashlib
import json
import logging
import multiprocessing
import os
import socket
import sys
import threading
import traceback
import uuid
import weakref
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterable, Iterator, MutableMapping
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, Self, TypeVar

from reviewbot.errors import InfrastructureError
from reviewbot.store.jobs import Job, JobStore, JSONDict, canonical_json

if TYPE_CHECKING:
    import distributed

log = logging.getLogger(__name__)

JobFn = Callable[[JSONDict], JSONDict]
T = TypeVar("T")

DEFAULT_MAX_ATTEMPTS = 3


class ExecutorError(InfrastructureError):
    """The executor could not run a job: a lost worker, an unreachable cluster."""


class JobError(ExecutorError):
    """A job function raised; `error` is the worker's traceback text."""

    def __init__(self, job_id: str, error: str):
        last = (error.strip().splitlines() or ["no error text"])[-1]
        super().__init__(f"job {job_id} failed: {last}")
        self.job_id = job_id
        self.error = error


# -- job identity ---------------------------------------------------------------------


def job_kind(fn: JobFn) -> str:
    """The default kind of the jobs `fn` runs: its importable dotted name."""
    return f"{fn.__module__}:{fn.__qualname__}"


def job_id(kind: str, payload: JSONDict) -> str:
    """The stable key of one job: sha256 of its kind and canonical JSON payload."""
    text = f"{kind}\0{canonical_json(payload)}"
    return hashlib.sha256(text.encode()).hexdigest()


# -- the worker side --------------------------------------------------------------------

_CURRENT_JOB: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "reviewbot_current_job", default=None
)
_PROCESS_CACHE: dict[str, Any] = {}
_DASK_CACHES: weakref.WeakKeyDictionary[Any, dict[str, Any]] = weakref.WeakKeyDictionary()
_WARM_LOCK = threading.RLock()
_WARM_ORDER = "__reviewbot_warm_order__"


@dataclass(frozen=True)
class JobReply:
    """What a worker sends back: the result as JSON text, or the error text."""

    job_id: str
    ok: bool
    result: str | None
    error: str | None
    worker: str


def current_job() -> str | None:
    """The id of the job this worker thread is running (None outside a job)."""
    return _CURRENT_JOB.get()


def _dask_worker() -> Any:
    dist = sys.modules.get("distributed")  # never import distributed just to ask
    if dist is None:
        return None
    try:
        return dist.get_worker()
    except ValueError:
        return None


def worker_id() -> str:
    """Which worker this is: the Dask worker address, or host:pid for a pool process."""
    worker = _dask_worker()
    if worker is not None:
        return str(worker.address)
    return f"{socket.gethostname()}:{os.getpid()}"


def worker_cache() -> MutableMapping[str, Any]:
    """The mapping that lives as long as this worker: keep warm state here between jobs."""
    worker = _dask_worker()
    if worker is None:
        return _PROCESS_CACHE
    with _WARM_LOCK:
        return _DASK_CACHES.setdefault(worker, {})


def warm(key: str, factory: Callable[[], T], *, limit: int = 8) -> T:
    """Get `key` from this worker's cache, building it with `factory` on a miss.

    At most `limit` values are kept (least recently used goes first); an evicted value
    with a `close()` method is closed. Keys name what was built, e.g.
    f"kconfig:{tree_key}:{arch}". Factories run one at a time per process (under a
    lock), so two threads of one Dask worker never build the same thing twice; run Dask
    workers with one thread anyway: kconfiglib reads os.environ, which threads share.
    """
    cache = worker_cache()
    with _WARM_LOCK:
        order: OrderedDict[str, Any] = cache.setdefault(_WARM_ORDER, OrderedDict())
        if key in order:
            order.move_to_end(key)
            return order[key]  # type: ignore[no-any-return]
        value = factory()
        order[key] = value
        while len(order) > limit:
            _, old = order.popitem(last=False)
            close = getattr(old, "close", None)
            if callable(close):
                try:
                    close()
                except Exception:
                    log.warning("closing an evicted warm value failed", exc_info=True)
        return value


def invoke(fn: JobFn, ident: str, payload_json: str) -> JobReply:
    """Run one job in a worker; an exception in `fn` becomes the reply's error text."""
    token = _CURRENT_JOB.set(ident)
    try:
        result = fn(json.loads(payload_json))
        if not isinstance(result, dict):
            raise TypeError(f"a job must return a dict, {job_kind(fn)} gave {type(result)}")
        return JobReply(ident, True, canonical_json(result), None, worker_id())
    except (Exception, SystemExit):
        return JobReply(ident, False, None, traceback.format_exc(), worker_id())
    finally:
        _CURRENT_JOB.reset(token)


# -- executors -------------------------------------------------------------------------


class JobFuture(Protocol):
    """What both backends' futures offer: a concurrent.futures.Future or a Dask Future."""

    def result(self, timeout: float | None = None) -> Any: ...

    def done(self) -> bool: ...


class Executor(ABC):
    """Somewhere to run job functions; long-lived workers, closed with `close()`."""

    @abstractmethod
    def submit(self, job_id: str, fn: JobFn, payload: JSONDict) -> JobFuture:
        """Start `fn(payload)` on a worker; the future's result is a JobReply."""

    @abstractmethod
    def as_completed(self, futures: Collection[JobFuture]) -> Iterator[JobFuture]:
        """Yield the futures as they finish."""

    @abstractmethod
    def close(self) -> None:
        """Stop the workers this executor started (an external cluster stays up)."""

    def gather(self, futures: Iterable[JobFuture]) -> list[JSONDict]:
        """The results of `futures` in order; JobError if a job function raised."""
        results = []
        for future in futures:
            try:
                reply: JobReply = future.result()
            except Exception as exc:
                raise ExecutorError(f"a worker was lost: {exc!r}") from exc
            if not reply.ok:
                raise JobError(reply.job_id, reply.error or "no error text")
            results.append(json.loads(reply.result or "{}"))
        return results

    def map(self, fn: JobFn, payloads: Iterable[JSONDict]) -> list[JSONDict]:
        """Run `fn` over payloads without recording them: for work that is cheap to redo."""
        kind = job_kind(fn)
        futures = [self.submit(job_id(kind, p), fn, p) for p in payloads]
        return self.gather(futures)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _default_context() -> str:
    # fork from a process with threads (the service, a Dask client) can deadlock.
    methods = multiprocessing.get_all_start_methods()
    return "forkserver" if "forkserver" in methods else "spawn"


class LocalExecutor(Executor):
    """A pool of long-lived worker processes on this machine (default: one per core)."""

    def __init__(self, max_workers: int | None = None, start_method: str | None = None):
        self.max_workers = max_workers or os.cpu_count() or 1
        self.start_method = start_method or _default_context()
        self._pool: concurrent.futures.ProcessPoolExecutor | None = None

    def _fresh_pool(self) -> concurrent.futures.ProcessPoolExecutor:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
        context = multiprocessing.get_context(self.start_method)
        self._pool = concurrent.futures.ProcessPoolExecutor(self.max_workers, context)
        return self._pool

    def submit(self, job_id: str, fn: JobFn, payload: JSONDict) -> JobFuture:
        pool = self._pool or self._fresh_pool()
        text = canonical_json(payload)
        try:
            return pool.submit(invoke, fn, job_id, text)
        except BrokenProcessPool:
            log.warning("the process pool lost a worker; starting a new pool")
            return self._fresh_pool().submit(invoke, fn, job_id, text)

    def as_completed(self, futures: Collection[JobFuture]) -> Iterator[JobFuture]:
        return concurrent.futures.as_completed(futures)  # type: ignore[arg-type]

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


class DaskExecutor(Executor):
    """A Dask (distributed) cluster: the same jobs, on workers on other hosts."""

    def __init__(self, client: distributed.Client, owned: Iterable[Any] = ()):
        self.client = client
        self._owned = list(owned)  # closed with the executor, last first

    @classmethod
    def connect(cls, address: str, timeout: float = 30.0) -> DaskExecutor:
        """Connect to a running scheduler, e.g. tcp://build-sched:8786."""
        import distributed

        try:
            client = distributed.Client(  # type: ignore[no-untyped-call]
                address, timeout=timeout, set_as_default=False
            )
        except (OSError, TimeoutError) as exc:
            raise ExecutorError(f"cannot reach the Dask scheduler at {address}: {exc}") from exc
        return cls(client, owned=[client])

    @classmethod
    def local_cluster(cls, n_workers: int = 2, **kwargs: Any) -> DaskExecutor:
        """A LocalCluster on 127.0.0.1 (tests, or one big machine): one thread per worker."""
        import distributed

        options: dict[str, Any] = {
            "n_workers": n_workers,
            "threads_per_worker": 1,
            "processes": True,
            "host": "127.0.0.1",
            "dashboard_address": None,
        }
        options.update(kwargs)
        cluster = distributed.LocalCluster(**options)  # type: ignore[no-untyped-call]
        client = distributed.Client(cluster, set_as_default=False)  # type: ignore[no-untyped-call]
        return cls(client, owned=[cluster, client])

    @property
    def address(self) -> str:
        """The scheduler's address: what another coordinator passes to `connect`."""
        scheduler = self.client.scheduler
        if scheduler is None:
            raise ExecutorError("the Dask client is closed")
        return str(scheduler.address)

    def submit(self, job_id: str, fn: JobFn, payload: JSONDict) -> JobFuture:
        # A fresh key per hand-over: Dask would hand back an old (maybe erred) future.
        key = f"reviewbot-job-{job_id[:16]}-{uuid.uuid4().hex[:12]}"
        return self.client.submit(invoke, fn, job_id, canonical_json(payload), key=key, pure=False)

    def as_completed(self, futures: Collection[JobFuture]) -> Iterator[JobFuture]:
        import distributed

        return iter(distributed.as_completed(futures, loop=self.client.loop))  # type: ignore[no-untyped-call]

    def close(self) -> None:
        for thing in reversed(self._owned):
            thing.close()
        self._owned = []


SPEC_HELP = "use inline, local, local:N or a Dask scheduler address (tcp://host:8786)"


@dataclass(frozen=True)
class ExecutorSpec:
    """Where jobs run, as a config value names it."""

    kind: str  # "inline" (in the caller), "local" (a process pool) or "dask"
    workers: int | None = None  # local:N
    address: str = ""  # dask


def parse_spec(spec: str | None) -> ExecutorSpec:
    """None, "" or "local" -> a pool with one worker per core; "local:N" -> N workers;
    "inline" -> no executor; "tcp://host:port" (any Dask scheduler address: tcp, tls, ucx,
    inproc) -> Dask. ExecutorError for anything else."""
    if not spec or spec == "local":
        return ExecutorSpec("local")
    if spec == "inline":
        return ExecutorSpec("inline")
    if spec.startswith("local:") and spec[6:].isdigit() and int(spec[6:]) > 0:
        return ExecutorSpec("local", workers=int(spec[6:]))
    if "://" in spec:
        return ExecutorSpec("dask", address=spec)
    raise ExecutorError(f"unknown executor {spec!r}: {SPEC_HELP}")


def executor_from_spec(spec: str | None) -> Executor:
    """The executor a config value names (see parse_spec; "inline" has none)."""
    parsed = parse_spec(spec)
    if parsed.kind == "dask":
        return DaskExecutor.connect(parsed.address)
    if parsed.kind == "inline":
        raise ExecutorError("'inline' runs jobs in the caller: there is no executor to start")
    return LocalExecutor(parsed.workers)


# -- the one recorded code path ----------------------------------------------------------


def run_jobs(
    executor: Executor,
    store: JobStore,
    jobs: Iterable[JSONDict],
    fn: JobFn,
    *,
    kind: str | None = None,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    retry_failed: bool = False,
) -> list[Job]:
    """Record, submit and finish `jobs`; return their rows in the order given.

    Done jobs come back from the store without running; failed ones too unless
    `retry_failed`. Every job comes back finished (done or failed); ExecutorError if the
    executor itself fails (the jobs stay recorded for `resume`).
    """
    kind = kind or job_kind(fn)
    payloads = [dict(p) for p in jobs]
    ids = [job_id(kind, p) for p in payloads]
    store.record(zip(ids, [kind] * len(ids), payloads, strict=True))
    wanted = list(dict.fromkeys(ids))
    if retry_failed:
        for ident in wanted:
            store.retry(ident)
    _drive(executor, store, fn, [store.require(i) for i in wanted], max_attempts)
    rows = {ident: store.require(ident) for ident in wanted}
    return [rows[ident] for ident in ids]


def resume(
    executor: Executor,
    store: JobStore,
    fn: JobFn,
    *,
    kind: str | None = None,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
) -> list[Job]:
    """Submit again the jobs of `kind` that a dead coordinator left pending or running."""
    kind = kind or job_kind(fn)
    left = store.unfinished(kind)
    if left:
        log.info("resuming %d unfinished %s jobs", len(left), kind)
        _drive(executor, store, fn, left, max_attempts)
    return [store.require(job.id) for job in left]


def _drive(
    executor: Executor, store: JobStore, fn: JobFn, jobs: list[Job], max_attempts: int
) -> None:
    """Submit the unfinished `jobs` and record how each ends; lost attempts go again.

    A dead pool process breaks every job in flight with it, and nobody can tell which job
    killed it; so after a round with losses the lost jobs go again one at a time, and only
    the one that kills its worker uses up its attempts.
    """
    queue = [job for job in jobs if not job.state.finished]
    alone = False
    while queue:
        batches = [[job] for job in queue] if alone else [queue]
        lost = [
            ident for batch in batches for ident in _round(executor, store, fn, batch, max_attempts)
        ]
        queue = [store.require(ident) for ident in lost]
        alone = True


def _round(
    executor: Executor, store: JobStore, fn: JobFn, jobs: list[Job], max_attempts: int
) -> list[str]:
    """Submit `jobs` together, record how each ends; return the ids of lost attempts."""
    futures: dict[JobFuture, str] = {}
    for job in jobs:
        if job.attempts >= max_attempts:
            store.mark_failed(job.id, _gave_up(job, max_attempts))
            continue
        if not store.mark_running(job.id):
            continue  # finished meanwhile (another coordinator)
        try:
            futures[executor.submit(job.id, fn, job.payload)] = job.id
        except Exception as exc:
            store.note_error(job.id, f"submit failed: {exc!r}")
            raise ExecutorError(f"submitting job {job.id} failed: {exc!r}") from exc
        log.debug("job %s: submitted", job.id)
    lost = []
    for future in executor.as_completed(futures):
        ident = futures[future]
        try:
            reply: JobReply = future.result()
        except Exception as exc:  # the worker, not the job: try again
            log.warning("job %s: attempt lost: %r", ident, exc)
            store.note_error(ident, f"no reply from the worker: {exc!r}")
            lost.append(ident)
            continue
        if reply.ok:
            store.mark_done(ident, reply.result or "{}")
        else:
            log.warning("job %s failed on %s", ident, reply.worker)
            store.mark_failed(ident, reply.error or "no error text")
    return lost


def _gave_up(job: Job, max_attempts: int) -> str:
    last = f": {job.error}" if job.error else ""
    return f"gave up after {max_attempts} attempts{last}"
