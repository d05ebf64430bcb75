"""The service loop: sources -> assembly -> review queue -> hooks (respond, web).

`Service.run()` starts one task per source (poll, then sleep; a source records its own
errors and backs off), an assembler (ingest's assemble_pending: complete series, and
incomplete ones whose hold expired, are queued) and a dispatcher that claims queued
revisions from the store, at most `concurrency` at a time, and reviews each in a thread
(the loop stays responsive; builds go to the reviewer's executor). The queue lives in the
store, so it is bounded in memory by `concurrency` and survives a restart.

After a review is written (whole, in one transaction: reviewbot.store.reviews) every
hook runs with (revision id, review id); a review is marked hooked only when all hooks
returned, and the hooks of unhooked reviews run again at the next start, so respond's
outbox (whose keys are unique) never misses a review after a kill -9.

`stop()` (SIGTERM) is graceful: no new polls or claims; reviews in flight get
`shutdown_grace` seconds, then the ones still running are put back in the queue.
`run(once=True)` polls every source until it has nothing new, assembles, reviews every
queued revision and returns (cron, tests).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from reviewbot.errors import InfrastructureError, UserInputError
from reviewbot.ingest.source import Source
from reviewbot.model import Series, Severity
from reviewbot.review import Base, Reviewer
from reviewbot.rules.engine import SeriesResult
from reviewbot.service_config import ServiceConfig
from reviewbot.store import reviews
from reviewbot.store.series import assemble_pending, load_series
from reviewbot.store.store import Store

log = logging.getLogger(__name__)

Hook = Callable[[int, int], Awaitable[None]]  # (revision id, review id)
ChooseBase = Callable[[Series, str], Base]  # (series, list id) -> base; runs in a thread
MAX_ONCE_POLLS = 10_000  # --once: polls of one source before it is considered drained


@dataclass
class _Flight:
    claim: reviews.Claim
    task: asyncio.Task[None]


class Service:
    """Wires the loops; constructed with everything it uses (no I/O in the constructor)."""

    def __init__(
        self,
        config: ServiceConfig,
        store: Store,
        reviewer: Reviewer,
        sources: Sequence[Source],
        choose_base: ChooseBase | None = None,
        hooks: Sequence[Hook] = (),
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.store = store
        self.reviewer = reviewer
        self.sources = tuple(sources)
        self.choose_base = choose_base
        self.hooks = tuple(hooks)
        self.clock = clock
        self._stopping = asyncio.Event()
        self._wake = asyncio.Event()
        self._flights: dict[int, _Flight] = {}
        self._retry_at: dict[int, float] = {}
        self._hook_retry_at: dict[int, float] = {}
        self._pool = ThreadPoolExecutor(max(1, config.concurrency), "review")
        self.left_running = 0  # reviews still running in threads when run() returned

    @property
    def stop_event(self) -> asyncio.Event:
        """Set once stop() was called: other loops (fetches) end with the service."""
        return self._stopping

    def stop(self) -> None:
        """Graceful stop (SIGTERM): no new work; reviews in flight get the grace period."""
        if not self._stopping.is_set():
            log.info("stopping: %d review(s) in flight", len(self._flights))
        self._stopping.set()
        self._wake.set()

    # -- run -------------------------------------------------------------------------

    async def run(self, once: bool = False) -> None:
        requeued = await reviews.requeue_interrupted(self.store)
        if requeued:
            log.info("re-queued %d review(s) interrupted by the last stop", requeued)
        await asyncio.to_thread(self.reviewer.default_base)  # warm before the first series
        await self._run_hooks()
        try:
            if once:
                await self._run_once()
            else:
                await self._run_forever()
        finally:
            await self._settle()
            self._pool.shutdown(wait=False, cancel_futures=True)

    async def _run_once(self) -> None:
        for source in self.sources:
            for _ in range(MAX_ONCE_POLLS):
                if self._stopping.is_set() or await self._poll(source) <= 0:
                    break
        await self._assemble()
        while not self._stopping.is_set():
            await self._dispatch()
            if not self._flights:
                break
            await asyncio.wait([f.task for f in self._flights.values()], timeout=self.config.tick)
        await self._run_hooks()

    async def _run_forever(self) -> None:
        tasks = [asyncio.create_task(self._poll_loop(s), name=s.name) for s in self.sources]
        tasks.append(asyncio.create_task(self._assemble_loop(), name="assemble"))
        try:
            while not self._stopping.is_set():
                await self._dispatch()
                await self._run_hooks()
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=self.config.tick)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _settle(self) -> None:
        """Let reviews in flight finish within the grace period; re-queue the others."""
        if self._flights:
            tasks = [f.task for f in self._flights.values()]
            await asyncio.wait(tasks, timeout=self.config.shutdown_grace)
        for flight in list(self._flights.values()):
            flight.task.cancel()
            await reviews.release(self.store, flight.claim)
            log.info("revision %d put back in the queue", flight.claim.revision_id)
            self.left_running += 1
        self._flights.clear()
        await self._run_hooks()

    # -- sources and assembly --------------------------------------------------------

    async def _poll(self, source: Source) -> int:
        try:
            found = await source.poll(self.store)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a source must not raise; if it does, keep the loop alive
            log.exception("source %s failed", source.name)
            await self.store.source_error(source.name, f"{type(exc).__name__}: {exc}")
            return -1
        if found:
            log.info("source %s: %d new message(s)", source.name, found)
        return found

    async def _poll_loop(self, source: Source) -> None:
        failures = 0
        while not self._stopping.is_set():
            found = await self._poll(source)
            failures = failures + 1 if found < 0 else 0
            if found > 0:
                self._wake.set()
                continue  # more may be waiting
            delay = self.config.poll_interval * (2 ** min(failures, 6))
            await self._sleep(delay * random.uniform(0.9, 1.1))

    async def _assemble(self) -> list[int]:
        try:
            queued = await assemble_pending(
                self.store, self.clock(), self.config.hold_seconds, self.config.own_addresses
            )
        except (InfrastructureError, UserInputError) as exc:
            log.error("assembly failed: %s", exc)
            await self.store.event("assembly", "error", str(exc))
            return []
        if queued:
            log.info("queued %d revision(s) for review", len(queued))
            self._wake.set()
        return queued

    async def _assemble_loop(self) -> None:
        while not self._stopping.is_set():
            await self._assemble()
            await self._sleep(self.config.tick)

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)

    # -- reviews ---------------------------------------------------------------------

    async def _dispatch(self) -> None:
        """Claim queued revisions while there is room."""
        free = self.config.concurrency - len(self._flights)
        if free <= 0 or self._stopping.is_set():
            return
        now = time.monotonic()
        for revision_id, _, attempts in await reviews.queued(self.store, free + 50):
            if free <= 0:
                break
            if revision_id in self._flights or self._retry_at.get(revision_id, 0) > now:
                continue
            claim = await reviews.claim(self.store, revision_id)
            if claim is None:
                continue
            if attempts >= self.config.max_attempts:
                await self._give_up(claim, attempts)
                continue
            task = asyncio.create_task(self._review(claim), name=f"review-{revision_id}")
            self._flights[revision_id] = _Flight(claim, task)
            free -= 1

    async def _give_up(self, claim: reviews.Claim, attempts: int) -> None:
        text = f"gave up after {attempts} attempts: the review never finished"
        log.error("revision %d: %s", claim.revision_id, text)
        record = reviews.ReviewRecord(state="failed", error=text)
        await reviews.write_review(self.store, claim, record)
        await self.store.event("review", "error", f"revision {claim.revision_id}: {text}")

    async def _review(self, claim: reviews.Claim) -> None:
        loop = asyncio.get_running_loop()
        try:
            series = await load_series(self.store, claim.revision_id)
            list_id = await reviews.list_of(self.store, claim.revision_id)
            record = await loop.run_in_executor(self._pool, self._review_sync, series, list_id)
        except UserInputError as exc:
            record = reviews.ReviewRecord(state="failed", error=str(exc))
        except Exception as exc:  # our side failed: retry later, up to max_attempts
            log.exception("review of revision %d failed", claim.revision_id)
            await self.store.event("review", "error", f"revision {claim.revision_id}: {exc}")
            self._retry_at[claim.revision_id] = time.monotonic() + self.config.retry_delay
            await reviews.retry_later(self.store, claim)
            self._flights.pop(claim.revision_id, None)
            return
        review_id = await reviews.write_review(self.store, claim, record)
        self._flights.pop(claim.revision_id, None)
        log.info(
            "revision %d generation %d reviewed (review %s): %d finding(s) on %s",
            claim.revision_id,
            claim.generation,
            review_id,
            len(record.findings),
            record.base_ref or record.base_kind,
        )
        self._wake.set()

    def _review_sync(self, series: Series, list_id: str) -> reviews.ReviewRecord:
        """In a review thread: choose the base, review, shape the record."""
        started = time.monotonic()
        base = (
            self.choose_base(series, list_id)
            if self.choose_base is not None
            else self.reviewer.default_base()
        )
        result = self.reviewer.review(series, base, list_id or None)
        return record_of(result, base, time.monotonic() - started)

    # -- hooks -----------------------------------------------------------------------

    async def _run_hooks(self) -> None:
        now = time.monotonic()
        for review_id, revision_id in await reviews.unhooked(self.store):
            if self._hook_retry_at.get(review_id, 0) > now:
                continue
            try:
                for hook in self.hooks:
                    await hook(revision_id, review_id)
            except Exception as exc:
                log.exception("hook failed for review %d", review_id)
                await self.store.event("hooks", "error", f"review {review_id}: {exc}")
                self._hook_retry_at[review_id] = now + self.config.retry_delay
                continue
            await reviews.mark_hooked(self.store, review_id)


def record_of(result: SeriesResult, base: Base, seconds: float) -> reviews.ReviewRecord:
    """The stored form of a review: its base, its findings and a summary (pure)."""
    series = result.series
    counts = {s.value: 0 for s in Severity}
    for finding in result.findings:
        counts[finding.severity.value] += 1
    summary = {
        "base": base.describe(),
        "findings": counts,
        "patches": len(series.patches),
        "total": series.total,
        "missing": list(series.missing),
        "seconds": round(seconds, 3),
    }
    return reviews.ReviewRecord(
        state="done",
        partial=bool(series.missing),
        base_kind=base.kind.value,
        base_ref=base.ref,
        base_commit=base.commit,
        tree=base.key,
        summary=summary,
        findings=result.findings,
    )
