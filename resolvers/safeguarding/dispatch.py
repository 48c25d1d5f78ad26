"""The background worker that routes alerts and sends their messages, off the ingest path.

A bounded queue of jobs, worked by a few tasks the app's lifespan owns, plus a periodic sweep.
The queue is only a fast path: every job's state is in the database first (an alert without a
:class:`~models.alert_routing.RoutedAlert` row, a delivery due at ``next_attempt_at``), so a job
dropped because the queue was full, or lost in a crash, is found again by the next sweep.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger("pupil_progress.safeguarding.dispatch")

Job = Callable[[], Awaitable[object]]

SWEEP_EVERY = 30.0
MAX_PENDING = 1000
WORKERS = 4
#: At shutdown, how long a job already running may take to finish before it is cancelled.
SHUTDOWN_GRACE = 10.0


class AlertDispatch:
    """Runs routing and delivery jobs in the background; never blocks whoever submits one."""

    def __init__(
        self,
        sweep: Callable[[], Awaitable[object]],
        *,
        workers: int = WORKERS,
        max_pending: int = MAX_PENDING,
        sweep_every: float = SWEEP_EVERY,
        shutdown_grace: float = SHUTDOWN_GRACE,
    ) -> None:
        self._sweep = sweep
        self._workers = workers
        self._sweep_every = sweep_every
        self._shutdown_grace = shutdown_grace
        self._queue: asyncio.Queue[Job] = asyncio.Queue(maxsize=max_pending)
        self._tasks: list[asyncio.Task[None]] = []
        #: Jobs and sweeps running now. They run shielded from their worker's cancellation: a
        #: job cancelled inside a transaction would hold the database connection at shutdown.
        self._running: set[asyncio.Future[object]] = set()
        self.dropped = 0
        self.failed = 0

    @property
    def running(self) -> bool:
        return bool(self._tasks)

    @property
    def pending(self) -> int:
        """Jobs queued and not yet taken by a worker."""
        return self._queue.qsize()

    def submit(self, job: Job) -> bool:
        """Queue ``job``; False when the queue is full (the sweep will find the work later)."""
        if not self._tasks:
            return False
        try:
            self._queue.put_nowait(job)
        except asyncio.QueueFull:
            self.dropped += 1
            log.error(
                "alert dispatch queue full (%s jobs): left for the next sweep", self._queue.qsize()
            )
            return False
        return True

    async def idle(self) -> None:
        """Wait until every queued job has run (tests, and shutdown)."""
        await self._queue.join()

    async def _work(self) -> None:
        while True:
            job = await self._queue.get()
            try:
                await self._shielded(job)
            except Exception:
                # One bad job must not stop the worker: the database still knows it is due.
                self.failed += 1
                log.exception("alert dispatch job failed; the sweep will retry it")
            finally:
                self._queue.task_done()

    async def _keep_sweeping(self) -> None:
        while True:
            await asyncio.sleep(self._sweep_every)
            try:
                await self._shielded(self._sweep)
            except Exception:
                log.exception("alert routing sweep failed; trying again in %ss", self._sweep_every)

    async def _shielded(self, job: Job) -> object:
        running = asyncio.ensure_future(job())
        self._running.add(running)
        running.add_done_callback(self._running.discard)
        return await asyncio.shield(running)

    async def __aenter__(self) -> AlertDispatch:
        self._tasks = [asyncio.create_task(self._work()) for _ in range(self._workers)]
        self._tasks.append(asyncio.create_task(self._keep_sweeping()))
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        # Jobs already running finish (or, past the grace period, are cancelled and retried by
        # the next process's sweep); none is left running after the services stop.
        if self._running:
            _, late = await asyncio.wait(set(self._running), timeout=self._shutdown_grace)
            for job in late:
                job.cancel()
            if late:
                log.error("%s alert dispatch jobs cancelled at shutdown", len(late))
                await asyncio.wait(late)
        # Jobs still queued are not lost: their rows say they are due, for the next process.
        while not self._queue.empty():
            self._queue.get_nowait()
            self._queue.task_done()


__all__ = ["AlertDispatch", "Job"]
