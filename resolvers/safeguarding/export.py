"""Exports of one alert or a learner's chronology, as JSON or CSV, for CPOMS or MyConcern.

Neither product publishes an import format for incidents, so the export is shaped for a person
recording them by hand: one incident per alert with the columns their incident forms ask for
(date and time, category, severity, learner, year, description, actions with who and when,
status and outcome, assignee). CSV cells that a spreadsheet would run as a formula (starting
with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return) are prefixed with ``'`` (OWASP,
CSV injection). Every export writes an audit event and an EXPORTED entry on each alert.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from app.errors import NotFound
from models.learners import Learner
from models.safeguarding import Alert, AlertAction, AlertActionKind, AlertStatus
from models.schools import School
from models.staff import User
from resolvers import access
from resolvers.access import Op
from resolvers.audit import entry_for
from resolvers.context import Context, Viewer
from resolvers.safeguarding.deliveries import alert_ref
from resolvers.safeguarding.delivery_email import category_label
from resolvers.safeguarding.evidence import open_evidence, open_note
from resolvers.safeguarding.export_formats import COLUMNS, FORMAT_NAME, neutralise, to_csv, to_json


class ExportFormat(StrEnum):
    JSON = "JSON"
    CSV = "CSV"


_OUTCOMES = {
    AlertStatus.RESOLVED: "Resolved",
    AlertStatus.FALSE_POSITIVE: "False positive: no further action",
}
_VERBS = {
    AlertActionKind.CREATED: "Alert raised",
    AlertActionKind.MERGED: "Repeat merged into the alert",
    AlertActionKind.ACKNOWLEDGED: "Acknowledged",
    AlertActionKind.STATUS_CHANGED: "Status changed",
    AlertActionKind.SEVERITY_CHANGED: "Severity changed",
    AlertActionKind.ASSIGNED: "Assigned",
    AlertActionKind.NOTE_ADDED: "Note added",
    AlertActionKind.ESCALATED: "Escalated to the next contact (not acknowledged in time)",
    AlertActionKind.DELIVERED: "Notification sent",
    AlertActionKind.EXPORTED: "Exported",
}


@dataclass(frozen=True, slots=True)
class Document:
    filename: str
    content_type: str
    content: str
    incidents: int


def _when(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None


def _name(users: dict[int, User], user_id: int | None) -> str | None:
    if user_id is None:
        return None
    user = users.get(user_id)
    return user.display_name if user is not None else f"Former staff member {user_id}"


async def _incident(
    ctx: Context, alert: Alert, learner: Learner, users: dict[int, User]
) -> dict[str, Any]:
    keyring = ctx.services.keyring
    actions = await AlertAction.filter(alert_id=alert.id).order_by("created_at", "id")
    history = []
    outcome_note: str | None = None
    for action in actions:
        note = await open_note(keyring, action)
        if action.to_status in _OUTCOMES and note:
            outcome_note = note
        history.append(
            {
                "at": _when(action.created_at),
                "by": _name(users, action.actor_id) or "System",
                "action": _VERBS.get(action.kind, action.kind.value),
                "fromStatus": action.from_status,
                "toStatus": action.to_status,
                "fromSeverity": action.from_severity,
                "toSeverity": action.to_severity,
                "note": note,
            }
        )
    outcome = _OUTCOMES.get(alert.status, "Open")
    return {
        "reference": alert_ref(alert.id),
        "incidentAt": _when(alert.first_at),
        "lastSeenAt": _when(alert.last_at),
        "category": alert.category,
        "categoryLabel": category_label(alert.category),
        "severity": alert.severity,
        "learner": {
            "name": f"{learner.given_name} {learner.family_name}",
            "yearGroup": learner.year_group,
        },
        "description": await open_evidence(keyring, alert, "excerpt"),
        "evidence": {
            "url": await open_evidence(keyring, alert, "url"),
            "title": await open_evidence(keyring, alert, "title"),
            "app": alert.app,
        },
        "source": alert.source.value,
        "inLesson": alert.in_lesson,
        "outOfHours": alert.out_of_hours,
        "occurrences": alert.count,
        "status": alert.status.value,
        "outcome": f"{outcome}: {outcome_note}" if outcome_note else outcome,
        "assignedTo": _name(users, alert.assignee_id),
        "raisedBy": _name(users, alert.raised_by_id),
        "actions": history,
    }


async def _render(
    ctx: Context,
    viewer: Viewer,
    alerts: list[Alert],
    learner: Learner,
    fmt: ExportFormat,
    stem: str,
    extra: dict[str, Any] | None = None,
) -> Document:
    user_ids = {u for a in alerts for u in (a.assignee_id, a.raised_by_id) if u is not None}
    actors: list[int] = await (
        AlertAction.filter(alert_id__in=[a.id for a in alerts], actor_id__isnull=False)
        .order_by()
        .values_list("actor_id", flat=True)
    )  # type: ignore[assignment]
    user_ids |= set(actors)
    users = {u.id: u for u in await User.filter(id__in=sorted(user_ids))}
    incidents = [await _incident(ctx, a, learner, users) for a in alerts]
    now = ctx.services.now()
    school = await School.get(id=viewer.school_id)
    if fmt is ExportFormat.CSV:
        content, kind, suffix = to_csv(incidents), "text/csv; charset=utf-8", "csv"
    else:
        content, kind, suffix = (
            to_json(incidents, school, now, **(extra or {})),
            "application/json",
            "json",
        )
    await _record(ctx, viewer, alerts, learner, fmt, now)
    return Document(f"{stem}-{now:%Y%m%d-%H%M}.{suffix}", kind, content, len(incidents))


async def _record(
    ctx: Context,
    viewer: Viewer,
    alerts: list[Alert],
    learner: Learner,
    fmt: ExportFormat,
    now: datetime,
) -> None:
    await ctx.services.audit.record(
        entry_for(
            viewer,
            ctx.request,
            "safeguarding.export",
            target_type="alert",
            target_ids=[str(a.id) for a in alerts] or [f"learner:{learner.id}"],
            fields=["evidence", "notes", f"format:{fmt.value}"],
        )
    )
    for alert in alerts:
        await AlertAction.create(
            id=uuid.uuid4(),
            school_id=alert.school_id,
            alert_id=alert.id,
            actor_id=viewer.user_id,
            kind=AlertActionKind.EXPORTED,
            created_at=now,
        )


async def export_alert(ctx: Context, alert_id: uuid.UUID, fmt: ExportFormat) -> Document:
    viewer = access.school_scoped(ctx, Op.EXPORT_SAFEGUARDING)
    alert = await Alert.get_or_none(id=alert_id, school_id=viewer.school_id)
    if alert is None:
        raise NotFound("Alert not found.")
    learner = await Learner.get(id=alert.learner_id)
    return await _render(ctx, viewer, [alert], learner, fmt, f"alert-{str(alert.id)[:8]}")


async def export_chronology(ctx: Context, learner_id: uuid.UUID, fmt: ExportFormat) -> Document:
    """Every alert and concern about the learner, oldest first, with each one's history.

    Learners who left are included: their file follows them to the next school.
    """
    viewer = access.school_scoped(ctx, Op.EXPORT_SAFEGUARDING)
    learner = await Learner.get_or_none(id=learner_id, school_id=viewer.school_id)
    if learner is None:
        raise NotFound("Learner not found.")
    alerts = list(
        await Alert.filter(school_id=viewer.school_id, learner_id=learner.id).order_by(
            "first_at", "id"
        )
    )
    name = re.sub(r"[^a-z0-9]+", "-", f"{learner.family_name} {learner.given_name}".lower())
    extra = {
        "learner": {
            "name": f"{learner.given_name} {learner.family_name}",
            "yearGroup": learner.year_group,
        }
    }
    stem = f"chronology-{name.strip('-') or 'learner'}"
    return await _render(ctx, viewer, alerts, learner, fmt, stem, extra)


__all__ = [
    "COLUMNS",
    "FORMAT_NAME",
    "Document",
    "ExportFormat",
    "export_alert",
    "export_chronology",
    "neutralise",
    "to_csv",
]
