"""The routing worker at shutdown: a job already running finishes; none is left running."""

from __future__ import annotations

import asyncio

from resolvers.safeguarding.dispatch import AlertDispatch
from tests.waiting import wait_until


async def no_sweep() -> None:
    return None


async def test_a_running_job_finishes_before_the_dispatch_stops() -> None:
    # given a job that is half-way through (say, inside a transaction) when shutdown begins
    started, release, finished = asyncio.Event(), asyncio.Event(), asyncio.Event()

    async def job() -> None:
        started.set()
        await release.wait()
        finished.set()

    dispatch = AlertDispatch(no_sweep, workers=1)
    async with dispatch:
        assert dispatch.submit(job)
        await started.wait()
        # when the dispatch stops while the job still waits, and the job's work then completes
        asyncio.get_running_loop().call_soon(release.set)
    # then the exit waited for it: the job ran to its end rather than being cancelled mid-way
    assert finished.is_set()


async def test_a_job_past_the_grace_period_is_cancelled_and_nothing_stays_running() -> None:
    # given a job that never ends by itself
    started = asyncio.Event()
    cancelled = asyncio.Event()

    async def stuck() -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    dispatch = AlertDispatch(no_sweep, workers=1, shutdown_grace=0.05)
    # when the dispatch stops
    async with dispatch:
        assert dispatch.submit(stuck)
        await started.wait()
    # then the job was cancelled once the grace period ran out, and the exit waited for that
    assert cancelled.is_set()
    await wait_until(lambda: not dispatch.running)
