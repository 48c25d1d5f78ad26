"""Alert, its history and feed event, as GraphQL types (explicit from_model)."""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from app.errors import NotFound
from models import safeguarding as db
from resolvers import learners
from resolvers.safeguarding import chronology
from resolvers.safeguarding.evidence import open_evidence
from resolvers.safeguarding.feed import encode_feed_cursor
from schema.common import Info, Node, UserError, to_global_id

if TYPE_CHECKING:
    from schema.learners import Learner
    from schema.staff import StaffMember

LearnerRef = Annotated["Learner", strawberry.lazy("schema.learners")]
StaffRef = Annotated["StaffMember", strawberry.lazy("schema.staff")]

strawberry.enum(
    db.AlertStatus, description="Where an alert is in its triage (a string on `Alert.status`)."
)
strawberry.enum(
    db.AlertSource, description="What raised an alert: a part of an activity event, or a person."
)
strawberry.enum(db.AlertActionKind, description="What a history entry records.")

AlertStatus = db.AlertStatus
AlertSource = db.AlertSource
AlertActionKind = db.AlertActionKind


@strawberry.type(description="One entry of an alert's triage history.")
class AlertAction:
    kind: AlertActionKind = strawberry.field(description="What happened.")
    from_status: str | None = strawberry.field(description="The status before, if it changed.")
    to_status: str | None = strawberry.field(description="The status after, if it changed.")
    from_severity: int | None = strawberry.field(description="The severity before a regrade.")
    to_severity: int | None = strawberry.field(description="The severity after a regrade.")
    note: str | None = strawberry.field(description="The lead's note or reason.")
    at: datetime.datetime = strawberry.field(description="When it happened.")
    _actor_id: strawberry.Private[int | None]

    @classmethod
    def from_view(cls, view: chronology.ActionView) -> AlertAction:
        row = view.row
        return cls(
            kind=row.kind,
            from_status=row.from_status,
            to_status=row.to_status,
            from_severity=row.from_severity,
            to_severity=row.to_severity,
            note=view.note,
            at=row.created_at,
            _actor_id=row.actor_id,
        )

    @strawberry.field(description="Who did it; null for the system.")
    async def actor(self, info: Info) -> StaffRef | None:
        return await _staff(self._actor_id)


@strawberry.type(description="A safeguarding alert about one learner, with its evidence.")
class Alert(Node):
    category: str = strawberry.field(description="A UK monitoring category, e.g. SELF_HARM.")
    severity: int = strawberry.field(description="1 (lowest) to 5 (imminent risk).")
    status: str = strawberry.field(description="An `AlertStatus` value, e.g. NEW or RESOLVED.")
    created_at: datetime.datetime = strawberry.field(description="When the alert was raised.")
    updated_at: datetime.datetime = strawberry.field(description="Last change or merge.")
    rule_id: str = strawberry.field(description="The rule that matched (`concern` for concerns).")
    count: int = strawberry.field(description="Matches merged into this alert.")
    first_at: datetime.datetime = strawberry.field(description="The first matching event.")
    last_at: datetime.datetime = strawberry.field(description="The latest matching event.")
    in_lesson: bool = strawberry.field(description="Raised while a lesson was running.")
    out_of_hours: bool = strawberry.field(description="Raised outside the school's hours.")
    source: AlertSource = strawberry.field(description="What raised it.")
    app: str | None = strawberry.field(description="The app in use, when known.")
    cursor: str = strawberry.field(description="Its place in the alert feed (`alertFeed(after:)`).")
    _row: strawberry.Private[db.Alert]

    @classmethod
    def from_model(cls, row: db.Alert) -> Alert:
        return cls(
            id=to_global_id("Alert", row.id),
            category=row.category,
            severity=row.severity,
            status=row.status.value,
            created_at=row.created_at,
            updated_at=row.updated_at,
            rule_id=row.rule_id,
            count=row.count,
            first_at=row.first_at,
            last_at=row.last_at,
            in_lesson=row.in_lesson,
            out_of_hours=row.out_of_hours,
            source=row.source,
            app=row.app,
            cursor=encode_feed_cursor(row.cursor),
            _row=row,
        )

    @strawberry.field(description="The matched text with its context; encrypted at rest.")
    async def excerpt(self, info: Info) -> str | None:
        return await open_evidence(info.context.services.keyring, self._row, "excerpt")

    @strawberry.field(description="The page's address; encrypted at rest.")
    async def url(self, info: Info) -> str | None:
        return await open_evidence(info.context.services.keyring, self._row, "url")

    @strawberry.field(description="The page or window title; encrypted at rest.")
    async def title(self, info: Info) -> str | None:
        return await open_evidence(info.context.services.keyring, self._row, "title")

    @strawberry.field(description="Base64 JPEG, when the school captures screenshots.")
    async def screenshot(self, info: Info) -> str | None:
        return await open_evidence(info.context.services.keyring, self._row, "screenshot")

    @strawberry.field(description="The learner the alert is about.")
    async def learner(self, info: Info) -> LearnerRef | None:
        from schema.learners import Learner

        try:
            row = await learners.get_learner(info.context, self._row.learner_id)
        except NotFound:
            return None  # the learner has left the school
        return Learner.from_model(row)

    @strawberry.field(description="The safeguarding lead working on it.")
    async def assignee(self, info: Info) -> StaffRef | None:
        return await _staff(self._row.assignee_id)

    @strawberry.field(description="Who raised it, for a concern.")
    async def raised_by(self, info: Info) -> StaffRef | None:
        return await _staff(self._row.raised_by_id)

    @strawberry.field(description="Its triage history, oldest first (safeguarding leads).")
    async def actions(self, info: Info) -> list[AlertAction]:
        views = await chronology.alert_history(info.context, self._row)
        return [AlertAction.from_view(v) for v in views]


async def _staff(user_id: int | None) -> StaffRef | None:
    from models.staff import User
    from schema.staff import StaffMember

    if user_id is None:
        return None
    row = await User.get_or_none(id=user_id)
    return StaffMember.from_model(row) if row else None


@strawberry.type(description="One delivery of the alert feed: an alert, new or updated by a merge.")
class AlertEvent:
    cursor: str = strawberry.field(description="Resume with `alertFeed(after:)` from here.")
    alert: Alert = strawberry.field(description="The alert as stored now.")

    @classmethod
    def from_model(cls, row: db.Alert) -> AlertEvent:
        return cls(cursor=encode_feed_cursor(row.cursor), alert=Alert.from_model(row))


@strawberry.type(description="The result of a change to an alert.")
class AlertPayload:
    alert: Alert | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


__all__ = ["Alert", "AlertAction", "AlertEvent", "AlertPayload", "AlertSource", "AlertStatus"]
