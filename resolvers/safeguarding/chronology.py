"""A learner's safeguarding chronology: their alerts and concerns, and each one's history."""

from __future__ import annotations

from dataclasses import dataclass

from models.safeguarding import Alert, AlertAction
from resolvers.access import Op
from resolvers.context import Context
from resolvers.safeguarding.evidence import open_note
from resolvers.safeguarding.feed import lead


@dataclass(frozen=True, slots=True)
class ActionView:
    row: AlertAction
    note: str | None


async def alert_history(ctx: Context, alert: Alert) -> list[ActionView]:
    """The alert's triage history, oldest first (safeguarding leads only)."""
    viewer = lead(ctx, Op.READ_SAFEGUARDING)
    if alert.school_id != viewer.school_id:
        return []
    rows = await AlertAction.filter(school_id=alert.school_id, alert_id=alert.id).order_by(
        "created_at", "id"
    )
    return [ActionView(row, await open_note(ctx.services.keyring, row)) for row in rows]


__all__ = ["ActionView", "alert_history"]
