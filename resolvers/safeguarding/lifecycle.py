"""Triage: acknowledging, regrading, assigning, annotating and closing alerts.

Each change appends an :class:`~models.safeguarding.AlertAction` (the learner's chronology) and
an audit event in the same transaction. Closing (RESOLVED, FALSE_POSITIVE) needs a note: KCSIE
records keep the reason for each decision.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from app.errors import InvalidInput, NotFound
from models.safeguarding import Alert, AlertAction, AlertActionKind, AlertStatus
from models.staff import Membership, Role
from resolvers.access import Op
from resolvers.audit import entry_for
from resolvers.context import Context, Viewer
from resolvers.safeguarding.evidence import ordered_id, seal_note
from resolvers.safeguarding.feed import lead

CLOSED = frozenset({AlertStatus.RESOLVED, AlertStatus.FALSE_POSITIVE})
MAX_NOTE = 4000


@dataclass(frozen=True, slots=True)
class AlertChanges:
    """None leaves a field as it is; ``assignee_id`` 0 clears the assignee."""

    status: AlertStatus | None = None
    severity: int | None = None
    note: str | None = None
    assignee_id: int | None = None


async def _check(viewer: Viewer, alert: Alert, changes: AlertChanges) -> str | None:
    note = changes.note.strip() if changes.note is not None else None
    if note is not None and len(note) > MAX_NOTE:
        raise InvalidInput("note", f"A note is at most {MAX_NOTE} characters.", reason="TOO_LONG")
    if changes.status is AlertStatus.NEW and alert.status is not AlertStatus.NEW:
        raise InvalidInput("status", "An alert cannot go back to NEW.", reason="INVALID_STATUS")
    if changes.status in CLOSED and changes.status != alert.status and not note:
        raise InvalidInput(
            "note", "Give the reason for closing the alert in `note`.", reason="REASON_REQUIRED"
        )
    if changes.severity is not None and not 1 <= changes.severity <= 5:
        raise InvalidInput("severity", "`severity` must be between 1 and 5.", reason="OUT_OF_RANGE")
    if changes.assignee_id:
        is_lead = await Membership.filter(
            school_id=viewer.school_id,
            user_id=changes.assignee_id,
            role=Role.SAFEGUARDING_LEAD,
            user__is_active=True,
        ).exists()
        if not is_lead:
            raise InvalidInput(
                "assigneeId",
                "Alerts can only be assigned to a safeguarding lead of this school.",
                reason="NOT_A_SAFEGUARDING_LEAD",
            )
    return note or None


async def _action(
    ctx: Context,
    viewer: Viewer,
    alert: Alert,
    kind: AlertActionKind,
    conn: BaseDBAsyncClient,
    *,
    note: str | None = None,
    **values: object,
) -> None:
    action_id = ordered_id()
    await AlertAction.create(
        id=action_id,
        school_id=alert.school_id,
        alert_id=alert.id,
        actor_id=viewer.user_id,
        kind=kind,
        note_enc=await seal_note(ctx.services.keyring, alert.school_id, action_id, note),
        created_at=ctx.services.now(),
        using_db=conn,
        **values,
    )


async def update_alert(ctx: Context, alert_id: uuid.UUID, changes: AlertChanges) -> Alert:
    viewer = lead(ctx, Op.TRIAGE_ALERTS)
    async with in_transaction() as conn:
        alert = (
            await Alert.select_for_update()
            .using_db(conn)
            .get_or_none(id=alert_id, school_id=viewer.school_id)
        )
        if alert is None:
            raise NotFound("Alert not found.")
        note = await _check(viewer, alert, changes)
        touched: list[str] = []
        if changes.status is not None and changes.status != alert.status:
            kind = (
                AlertActionKind.ACKNOWLEDGED
                if changes.status is AlertStatus.ACKNOWLEDGED
                else AlertActionKind.STATUS_CHANGED
            )
            await _action(
                ctx,
                viewer,
                alert,
                kind,
                conn,
                note=note,
                from_status=alert.status.value,
                to_status=changes.status.value,
            )
            note = None
            alert.status = changes.status
            touched.append("status")
        if changes.severity is not None and changes.severity != alert.severity:
            await _action(
                ctx,
                viewer,
                alert,
                AlertActionKind.SEVERITY_CHANGED,
                conn,
                note=note,
                from_severity=alert.severity,
                to_severity=changes.severity,
            )
            note = None
            alert.severity = changes.severity
            touched.append("severity")
        if changes.assignee_id is not None and (changes.assignee_id or None) != alert.assignee_id:
            await _action(ctx, viewer, alert, AlertActionKind.ASSIGNED, conn, note=note)
            note = None
            alert.assignee_id = changes.assignee_id or None
            touched.append("assignee")
        if note is not None:
            await _action(ctx, viewer, alert, AlertActionKind.NOTE_ADDED, conn, note=note)
            touched.append("note")
        if touched:
            alert.updated_at = ctx.services.now()
            await alert.save(using_db=conn)
        await ctx.services.audit.record(
            entry_for(
                viewer,
                ctx.request,
                "safeguarding.alert.update",
                target_type="alert",
                target_ids=[str(alert.id)],
                fields=touched,
            )
        )
    return alert


async def acknowledge_alert(ctx: Context, alert_id: uuid.UUID) -> Alert:
    """NEW -> ACKNOWLEDGED, taking the alert if nobody has it; later states are kept."""
    viewer = lead(ctx, Op.TRIAGE_ALERTS)
    alert = await Alert.get_or_none(id=alert_id, school_id=viewer.school_id)
    if alert is None:
        raise NotFound("Alert not found.")
    if alert.status is not AlertStatus.NEW:
        return await update_alert(ctx, alert_id, AlertChanges())
    return await update_alert(
        ctx,
        alert_id,
        AlertChanges(
            status=AlertStatus.ACKNOWLEDGED,
            assignee_id=alert.assignee_id or viewer.user_id,
        ),
    )


__all__ = ["CLOSED", "AlertChanges", "acknowledge_alert", "update_alert"]
