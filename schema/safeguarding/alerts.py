"""The DSL's alerts: the list, the resumable feed, triage, and concerns raised by staff."""

from __future__ import annotations

import datetime
from collections.abc import AsyncGenerator
from contextlib import aclosing

import strawberry

from resolvers.safeguarding import concerns, feed, lifecycle
from schema.common import (
    Connection,
    Edge,
    Info,
    PageInfo,
    attempt,
    parse_int_id,
    parse_uuid_id,
)
from schema.safeguarding.types import Alert, AlertEvent, AlertPayload, AlertStatus


@strawberry.input(description="Narrows `alerts`; every given condition must hold.")
class AlertFilter:
    status: AlertStatus | None = strawberry.field(default=None, description="Only this status.")
    category: str | None = strawberry.field(default=None, description="Only this category.")
    severity: int | None = strawberry.field(default=None, description="Only this severity.")
    min_severity: int | None = strawberry.field(
        default=None, description="Only this severity or higher."
    )
    learner_id: strawberry.ID | None = strawberry.field(
        default=None, description="Only about this learner (their chronology)."
    )
    from_: datetime.datetime | None = strawberry.field(
        default=None, name="from", description="Only alerts with a match at or after this time."
    )
    to: datetime.datetime | None = strawberry.field(
        default=None, description="Only alerts first raised before this time."
    )


def _where(value: AlertFilter | None) -> feed.AlertFilter:
    if value is None:
        return feed.AlertFilter()
    return feed.AlertFilter(
        status=value.status,
        category=value.category,
        severity=value.severity,
        min_severity=value.min_severity,
        learner_id=(
            parse_uuid_id(value.learner_id, "Learner", "filter.learnerId")
            if value.learner_id is not None
            else None
        ),
        from_=value.from_,
        to=value.to,
    )


async def alert_connection(
    info: Info, where: feed.AlertFilter, first: int | None, after: str | None
) -> Connection[Alert]:
    page = await feed.list_alerts(
        info.context,
        where,
        first=first,
        after=after,
        maximum=info.context.services.settings.limits.max_page_size,
    )
    edges = [
        Edge(node=Alert.from_model(r), _cursor=feed.encode_feed_cursor(r.cursor)) for r in page.rows
    ]
    return Connection(
        edges=edges,
        _query=page.query,
        page_info=PageInfo(
            has_next_page=page.has_next_page,
            has_previous_page=page.has_previous_page,
            start_cursor=edges[0].cursor_text() if edges else None,
            end_cursor=edges[-1].cursor_text() if edges else None,
        ),
    )


@strawberry.input(description="Changes to an alert; fields left out stay as they are.")
class UpdateAlertInput:
    id: strawberry.ID
    status: AlertStatus | None = strawberry.field(
        default=None, description="RESOLVED and FALSE_POSITIVE need a `note` with the reason."
    )
    severity: int | None = strawberry.field(default=None, description="Regrade, 1 to 5.")
    note: str | None = strawberry.field(default=None, description="Kept on the chronology.")
    assignee_id: strawberry.ID | None = strawberry.field(
        default=None, description="A safeguarding lead of the school."
    )


@strawberry.input(description="A concern about a learner, for the safeguarding leads.")
class RaiseConcernInput:
    learner_id: strawberry.ID
    category: str = strawberry.field(description="A UK monitoring category, e.g. BULLYING.")
    description: str = strawberry.field(description="What you saw or heard; encrypted at rest.")
    severity: int | None = strawberry.field(default=None, description="1 to 5; 3 if not given.")


def _payload(row: object | None, errors: list) -> AlertPayload:  # type: ignore[type-arg]
    return AlertPayload(
        alert=Alert.from_model(row) if row is not None else None,  # type: ignore[arg-type]
        errors=errors,
    )


@strawberry.type
class AlertQuery:
    @strawberry.field(
        description="The school's safeguarding alerts, most recent first (safeguarding leads)."
    )
    async def alerts(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        filter: AlertFilter | None = None,
    ) -> Connection[Alert]:
        return await alert_connection(info, _where(filter), first, after)

    @strawberry.field(description="The concerns the viewer raised, newest first.")
    async def my_concerns(self, info: Info) -> list[Alert]:
        return [Alert.from_model(r) for r in await concerns.my_concerns(info.context)]


@strawberry.type
class AlertMutation:
    @strawberry.mutation(description="Take an alert: NEW becomes ACKNOWLEDGED.")
    async def acknowledge_alert(self, info: Info, id: strawberry.ID) -> AlertPayload:
        row, errors = await attempt(
            lambda: lifecycle.acknowledge_alert(info.context, parse_uuid_id(id, "Alert"))
        )
        return _payload(row, errors)

    @strawberry.mutation(description="Change an alert's status, severity, note or assignee.")
    async def update_alert(self, info: Info, input: UpdateAlertInput) -> AlertPayload:
        changes = lifecycle.AlertChanges(
            status=input.status,
            severity=input.severity,
            note=input.note,
            assignee_id=(
                parse_int_id(input.assignee_id, "StaffMember", "assigneeId")
                if input.assignee_id is not None
                else None
            ),
        )
        row, errors = await attempt(
            lambda: lifecycle.update_alert(info.context, parse_uuid_id(input.id, "Alert"), changes)
        )
        return _payload(row, errors)

    @strawberry.mutation(description="Tell the safeguarding leads about a concern.")
    async def raise_concern(self, info: Info, input: RaiseConcernInput) -> AlertPayload:
        row, errors = await attempt(
            lambda: concerns.raise_concern(
                info.context,
                parse_uuid_id(input.learner_id, "Learner", "learnerId"),
                input.category,
                input.description,
                input.severity,
            )
        )
        return _payload(row, errors)


@strawberry.type
class AlertSubscription:
    @strawberry.subscription(
        description="Alerts as they are raised or merged. With `after` (a cursor), first "
        "every later alert in order, then live, with no gap and no repeat. Ends with "
        "FORBIDDEN when the viewer stops being a safeguarding lead, and with UNAVAILABLE "
        "when live delivery is interrupted: resubscribe with the last cursor."
    )
    async def alert_feed(
        self, info: Info, after: str | None = None
    ) -> AsyncGenerator[AlertEvent, None]:
        async with aclosing(feed.stream_feed(info.context, after)) as stream:
            async for row in stream:
                yield AlertEvent.from_model(row)


__all__ = ["AlertMutation", "AlertQuery", "AlertSubscription"]
