"""Per-process caches that drop entries when a school's invalidation channel says so."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from realtime.broker import Broker, BrokerError

log = logging.getLogger(__name__)


class SchoolListeners:
    """One broker subscription per school per process, started on first use.

    ``on_message(school_id, data)`` runs for each message; ``on_lost(school_id)`` when the
    subscription ends, so the cache can stop trusting itself (it is re-established on next use).
    """

    def __init__(
        self,
        broker: Broker,
        channel: Callable[[int], str],
        on_message: Callable[[int, bytes], None],
        on_lost: Callable[[int], None],
    ) -> None:
        self._broker = broker
        self._channel = channel
        self._on_message = on_message
        self._on_lost = on_lost
        self._tasks: dict[int, asyncio.Task[None]] = {}

    def watch(self, school_id: int) -> None:
        if school_id not in self._tasks:
            self._tasks[school_id] = asyncio.create_task(self._listen(school_id))

    async def _listen(self, school_id: int) -> None:
        try:
            async with self._broker.subscribe(self._channel(school_id)) as messages:
                async for message in messages:
                    self._on_message(school_id, message.data)
        except BrokerError as error:
            log.warning("invalidations for school %s stopped: %s", school_id, error)
        finally:
            self._tasks.pop(school_id, None)
            self._on_lost(school_id)

    async def aclose(self) -> None:
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task


__all__ = ["SchoolListeners"]
