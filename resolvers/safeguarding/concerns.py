"""Concerns raised by staff: an alert about a learner, from a person rather than detection.

Any member of staff may raise one about a learner in their reach (a teacher: the learners they
teach). It reaches the safeguarding leads like any alert; its author sees only their own.
"""

from __future__ import annotations

import uuid

from tortoise.transactions import in_transaction

from app.errors import InvalidInput, NotFound
from models.safeguarding import Alert, AlertAction, AlertActionKind, AlertSource, AlertStatus
from resolvers import access
from resolvers.access import Op, Reach
from resolvers.audit import entry_for
from resolvers.context import Context
from resolvers.safeguarding.alerts import Committed, announce, next_cursor
from resolvers.safeguarding.evidence import seal_evidence
from resolvers.safeguarding.feed import audit_reads, get_alert

MAX_DESCRIPTION = 4000
DEFAULT_SEVERITY = 3
CONCERN_RULE = "concern"


async def raise_concern(
    ctx: Context, learner_id: uuid.UUID, category: str, description: str, severity: int | None
) -> Alert:
    viewer, _ = access.require(ctx, Op.RAISE_CONCERN)
    learner = await access.require_learner(ctx, learner_id, Op.RAISE_CONCERN)
    from resolvers.safeguarding.rules import Category

    if category not in {c.value for c in Category}:
        raise InvalidInput("category", "Unknown category.", reason="UNKNOWN_CATEGORY")
    text = description.strip()
    if not text:
        raise InvalidInput("description", "Describe the concern.", reason="REQUIRED")
    if len(text) > MAX_DESCRIPTION:
        raise InvalidInput("description", f"At most {MAX_DESCRIPTION} characters.")
    grade = DEFAULT_SEVERITY if severity is None else severity
    if not 1 <= grade <= 5:
        raise InvalidInput("severity", "`severity` must be between 1 and 5.", reason="OUT_OF_RANGE")
    now = ctx.services.now()
    alert_id = uuid.uuid4()
    sealed = await seal_evidence(
        ctx.services.keyring, learner.school_id, alert_id, {"excerpt": text}
    )
    async with in_transaction() as conn:
        counter = await next_cursor(learner.school_id, conn)
        alert = await Alert.create(
            id=alert_id,
            school_id=learner.school_id,
            learner_id=learner.id,
            rule_id=CONCERN_RULE,
            category=category,
            severity=grade,
            status=AlertStatus.NEW,
            first_at=now,
            last_at=now,
            created_at=now,
            updated_at=now,
            source=AlertSource.CONCERN,
            raised_by_id=viewer.user_id,
            cursor=counter.last_cursor,
            using_db=conn,
            **sealed,
        )
        await counter.save(using_db=conn, update_fields=["last_cursor"])
        await AlertAction.create(
            school_id=learner.school_id,
            alert_id=alert.id,
            actor_id=viewer.user_id,
            kind=AlertActionKind.CREATED,
            to_status=AlertStatus.NEW.value,
            created_at=now,
            using_db=conn,
        )
        await ctx.services.audit.record(
            entry_for(
                viewer,
                ctx.request,
                "safeguarding.concern.raise",
                target_type="learner",
                target_ids=[str(learner.id)],
                fields=["category", "severity", "description"],
            )
        )
    await announce(ctx.services, learner.school_id, [Committed(alert.id, alert.cursor, True)])
    return alert


def _is_lead(ctx: Context) -> bool:
    return access.reach(access.require_viewer(ctx), Op.READ_SAFEGUARDING) is Reach.SCHOOL


async def visible_alert(ctx: Context, alert_id: uuid.UUID) -> Alert:
    """An alert for a safeguarding lead, or a concern for the member of staff who raised it."""
    if _is_lead(ctx):
        return await get_alert(ctx, alert_id)
    viewer, _ = access.require(ctx, Op.RAISE_CONCERN)
    row = await Alert.get_or_none(
        id=alert_id,
        school_id=viewer.school_id,
        source=AlertSource.CONCERN,
        raised_by_id=viewer.user_id,
    )
    if row is None:
        raise NotFound("Alert not found.")
    await audit_reads(ctx, viewer, "safeguarding.concern.read", [row])
    return row


async def my_concerns(ctx: Context) -> list[Alert]:
    """The concerns the viewer raised, newest first."""
    viewer, _ = access.require(ctx, Op.RAISE_CONCERN)
    rows = list(
        await Alert.filter(
            school_id=viewer.school_id, source=AlertSource.CONCERN, raised_by_id=viewer.user_id
        ).order_by("-created_at", "-cursor")
    )
    await audit_reads(ctx, viewer, "safeguarding.concern.read", rows)
    return rows


__all__ = ["my_concerns", "raise_concern", "visible_alert"]
