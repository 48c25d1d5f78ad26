"""Reading alerts: the DSL's list, one alert, and the resumable live feed.

Every read is audited (ids and field names, never values). The feed replays from the database
and uses the broker only as a wake-up: after each notification it reads every alert with a
larger cursor than the last one delivered. So a lost or reordered notification costs nothing,
and a resumed feed gets each alert it missed exactly once, with its latest count (a merge gives
the alert a new cursor, so the live feed delivers it again, updated).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass
from datetime import datetime

from tortoise.queryset import QuerySet

from app.errors import Forbidden, InvalidInput, NotFound, Unavailable
from models.safeguarding import Alert, AlertStatus
from models.staff import User
from realtime import channels
from realtime.broker import BrokerError
from resolvers import access
from resolvers.access import Op
from resolvers.audit import entry_for
from resolvers.context import Context, Viewer
from resolvers.pagination import decode_cursor, encode_cursor, page_size

#: What a read of an alert can expose, as the audit trail names it.
ALERT_FIELDS = ("category", "severity", "status", "learner", "excerpt", "url", "title")
REPLAY_BATCH = 100


def encode_feed_cursor(cursor: int) -> str:
    return encode_cursor([cursor])


def decode_feed_cursor(text: str, field: str = "after") -> int:
    try:
        (value,) = decode_cursor(text, 1)
    except InvalidInput:
        raise InvalidInput(field, "The cursor is malformed.") from None
    if not isinstance(value, int) or not 0 <= value < 2**62:
        raise InvalidInput(field, "The cursor is malformed.")
    return value


async def audit_reads(ctx: Context, viewer: Viewer, action: str, alerts: Sequence[Alert]) -> None:
    if alerts:
        await ctx.services.audit.record(
            entry_for(
                viewer,
                ctx.request,
                action,
                target_type="alert",
                target_ids=[str(a.id) for a in alerts],
                fields=ALERT_FIELDS,
            )
        )


def lead(ctx: Context, op: Op = Op.READ_SAFEGUARDING) -> Viewer:
    return access.school_scoped(ctx, op)


@dataclass(frozen=True, slots=True)
class AlertFilter:
    status: AlertStatus | None = None
    category: str | None = None
    severity: int | None = None
    min_severity: int | None = None
    learner_id: uuid.UUID | None = None
    from_: datetime | None = None
    to: datetime | None = None


def filtered(school_id: int, where: AlertFilter) -> QuerySet[Alert]:
    rows = Alert.filter(school_id=school_id)
    if where.status is not None:
        rows = rows.filter(status=where.status)
    if where.category is not None:
        rows = rows.filter(category=where.category)
    if where.severity is not None:
        rows = rows.filter(severity=where.severity)
    if where.min_severity is not None:
        rows = rows.filter(severity__gte=where.min_severity)
    if where.learner_id is not None:
        rows = rows.filter(learner_id=where.learner_id)
    if where.from_ is not None:
        rows = rows.filter(last_at__gte=where.from_)
    if where.to is not None:
        rows = rows.filter(first_at__lt=where.to)
    return rows


@dataclass(frozen=True, slots=True)
class AlertPage:
    rows: list[Alert]
    has_next_page: bool
    has_previous_page: bool
    query: QuerySet[Alert]


async def list_alerts(
    ctx: Context, where: AlertFilter, *, first: int | None, after: str | None, maximum: int
) -> AlertPage:
    """The school's alerts, most recently raised (or merged) first."""
    viewer = lead(ctx)
    query = filtered(viewer.school_id, where)
    size = page_size(first, maximum)
    window = query
    if after is not None:
        window = window.filter(cursor__lt=decode_feed_cursor(after))
    rows = list(await window.order_by("-cursor").limit(size + 1))
    page = AlertPage(rows[:size], len(rows) > size, after is not None, query)
    await audit_reads(ctx, viewer, "safeguarding.alert.list", page.rows)
    return page


async def get_alert(ctx: Context, alert_id: uuid.UUID, op: Op = Op.READ_SAFEGUARDING) -> Alert:
    """One alert of the viewer's school; NOT_FOUND like a random id otherwise."""
    viewer = lead(ctx, op)
    row = await Alert.get_or_none(id=alert_id, school_id=viewer.school_id)
    if row is None:
        raise NotFound("Alert not found.")
    if op is Op.READ_SAFEGUARDING:
        await audit_reads(ctx, viewer, "safeguarding.alert.read", [row])
    return row


async def _after(school_id: int, cursor: int) -> list[Alert]:
    return list(
        await Alert.filter(school_id=school_id, cursor__gt=cursor)
        .order_by("cursor")
        .limit(REPLAY_BATCH)
    )


async def stream_feed(ctx: Context, after: str | None) -> AsyncGenerator[Alert, None]:
    """Every alert after ``after`` in cursor order, then each new or merged one, live.

    Without ``after`` the feed starts from now. Ends with FORBIDDEN when the viewer stops being
    a safeguarding lead, and with UNAVAILABLE when the broker is lost (resume with the last
    cursor received).
    """
    viewer = lead(ctx)
    last = decode_feed_cursor(after) if after is not None else None
    try:
        # Subscribe before reading: an alert committed meanwhile is then either read by the
        # replay or announced on the channel, and the cursor check drops the second copy.
        async with ctx.services.broker.subscribe(channels.alerts(viewer.school_id)) as messages:
            if last is None:
                newest = await Alert.filter(school_id=viewer.school_id).order_by("-cursor").first()
                last = newest.cursor if newest is not None else 0
            while True:
                batch = await _after(viewer.school_id, last)
                for alert in batch:
                    if not await access.still_allowed(viewer, Op.READ_SAFEGUARDING):
                        raise Forbidden("You are no longer a safeguarding lead.")
                    await audit_reads(ctx, viewer, "safeguarding.alert.feed", [alert])
                    last = alert.cursor
                    yield alert
                if len(batch) == REPLAY_BATCH:
                    continue
                # Wait for the next notification; what it names is read from the database.
                await anext(messages)
    except (BrokerError, StopAsyncIteration) as error:
        raise Unavailable() from error


async def staff_of_school(school_id: int, user_id: int) -> User:
    row = await User.filter(id=user_id, memberships__school_id=school_id).first()
    if row is None:
        raise NotFound("Staff member not found.")
    return row


__all__ = [
    "ALERT_FIELDS",
    "AlertFilter",
    "AlertPage",
    "audit_reads",
    "decode_feed_cursor",
    "encode_feed_cursor",
    "filtered",
    "get_alert",
    "lead",
    "list_alerts",
    "staff_of_school",
    "stream_feed",
]
