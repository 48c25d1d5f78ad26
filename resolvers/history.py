"""Activity history: written in batches off the hot path, deleted after the retention period."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from tortoise.models import Model

from models.classroom import ActivityRecord
from models.devices import Device

log = logging.getLogger(__name__)
DEFAULT_RETENTION = timedelta(days=30)
#: Rows per INSERT statement.
INSERT_BATCH = 500
#: A field's conversion to the database's value (``Field.to_db_value``).
_Convert = Callable[[Any, type[Model] | Model], Any]


class HistoryRow(NamedTuple):
    """One accepted event as the ``activity_record`` row it becomes; text already sealed.

    A plain tuple, not an ``ActivityRecord``: building a model object per event (defaults,
    validation, conversions) cost more than sealing its three fields.
    """

    id: uuid.UUID
    school_id: int
    device_id: int
    learner_id: uuid.UUID | None
    event_id: str
    kind: str
    occurred_at: datetime
    received_at: datetime
    app: str | None
    url_enc: bytes | None
    title_enc: bytes | None
    text_enc: bytes | None
    blocked: bool


def _insert_statement() -> tuple[str, list[tuple[int, _Convert]]]:
    """The ORM's own bulk INSERT for the current database (ignoring conflicts: a resend after
    a crash), and for each of its columns the row's index and the field's conversion."""
    now = datetime.now().astimezone()
    template = ActivityRecord(
        id=uuid.uuid4(),
        school_id=0,
        device_id=0,
        event_id="",
        kind="",
        occurred_at=now,
        received_at=now,
    )
    query = ActivityRecord.bulk_create([template], ignore_conflicts=True)
    sql = query.sql()
    db = ActivityRecord._meta.db
    fields = ActivityRecord._meta.fields_map
    columns = db.executor_class(model=ActivityRecord, db=db).regular_columns
    converters: list[tuple[int, _Convert]] = [
        (HistoryRow._fields.index(name), fields[name].to_db_value) for name in columns
    ]
    return sql, converters


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
        self._pending: list[HistoryRow] = []
        self._seen_devices: set[int] = set()
        self._wake = asyncio.Event()
        # One writer at a time: a flush on demand must not interleave with the periodic one.
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._full = False
        self.dropped = 0
        self.written = 0

    def add(self, records: Sequence[HistoryRow]) -> None:
        room = self._max_pending - len(self._pending)
        if room < len(records):
            # The database cannot keep up: keep the live path alive, count what history lost.
            # Logged once until a write succeeds: not once per report on the hot path.
            self.dropped += len(records) - max(room, 0)
            if not self._full:
                self._full = True
                log.error("activity history backlog full; %s events not kept", self.dropped)
            records = records[: max(room, 0)]
            if not records:
                return
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
            await _insert(rows)
            self.written += len(rows)
        if self._full:
            self._full = False
            log.error("activity history caught up; %s events not kept so far", self.dropped)
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


async def _insert(rows: list[HistoryRow]) -> None:
    """What ``bulk_create(ignore_conflicts=True)`` does, from tuples instead of models."""
    sql, converters = _insert_statement()
    db = ActivityRecord._meta.db
    for start in range(0, len(rows), INSERT_BATCH):
        values = [
            [convert(row[index], ActivityRecord) for index, convert in converters]
            for row in rows[start : start + INSERT_BATCH]
        ]
        await db.execute_many(sql, values)


async def purge_history(now: datetime, retention: timedelta = DEFAULT_RETENTION) -> int:
    """Delete activity older than the retention period; returns how many rows went."""
    deleted: int = await ActivityRecord.filter(occurred_at__lt=now - retention).delete()
    return deleted


__all__ = ["DEFAULT_RETENTION", "HistoryRow", "HistoryWriter", "purge_history"]
