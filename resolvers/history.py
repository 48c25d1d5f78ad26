"""Activity history: written in batches off the hot path, deleted after the retention period."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from models.classroom import ActivityRecord
from models.devices import Device

log = logging.getLogger(__name__)
DEFAULT_RETENTION = timedelta(days=30)


class HistoryWriter:
    """Buffers accepted events and writes them every ``interval`` or every ``batch`` rows.

    Events are acknowledged to devices once they are validated, de-duplicated and live; the
    history is their record, so a crash loses at most one interval of it (documented for DPOs:
    unflagged monitoring data is the least sensitive and shortest-lived data we hold).
    """

    def __init__(
        self,
        now: Callable[[], datetime],
        *,
        interval: float = 1.0,
        batch: int = 1000,
        max_pending: int = 50_000,
    ) -> None:
        self._now = now
        self._interval = interval
        self._batch = batch
        self._max_pending = max_pending
        self._pending: list[ActivityRecord] = []
        self._seen_devices: set[int] = set()
        self._wake = asyncio.Event()
        # One writer at a time: a flush on demand must not interleave with the periodic one.
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self.dropped = 0
        self.written = 0

    def add(self, records: list[ActivityRecord]) -> None:
        room = self._max_pending - len(self._pending)
        if room < len(records):
            # The database cannot keep up: keep the live path alive, count what history lost.
            self.dropped += len(records) - max(room, 0)
            log.error("activity history backlog full; %s events not kept", self.dropped)
            records = records[: max(room, 0)]
        self._pending.extend(records)
        self._seen_devices.update(r.device_id for r in records)
        if len(self._pending) >= self._batch:
            self._wake.set()

    async def flush(self) -> int:
        async with self._lock:
            return await self._flush()

    async def _flush(self) -> int:
        rows, self._pending = self._pending, []
        devices, self._seen_devices = self._seen_devices, set()
        if rows:
            await ActivityRecord.bulk_create(rows, batch_size=500, ignore_conflicts=True)
            self.written += len(rows)
        if devices:
            await Device.filter(id__in=sorted(devices)).update(last_seen_at=self._now())
        return len(rows)

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._interval):
                    await self._wake.wait()
            self._wake.clear()
            try:
                await self.flush()
            except Exception:
                # Keep going: a database blip must not stop history for good. Loudly.
                log.exception("writing activity history failed")

    async def __aenter__(self) -> HistoryWriter:
        self._task = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.flush()


async def purge_history(now: datetime, retention: timedelta = DEFAULT_RETENTION) -> int:
    """Delete activity older than the retention period; returns how many rows went."""
    deleted: int = await ActivityRecord.filter(occurred_at__lt=now - retention).delete()
    return deleted


__all__ = ["DEFAULT_RETENTION", "HistoryWriter", "purge_history"]
