"""Reading the audit trail (admins, their own school's chain only)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from models.audit import AuditEvent
from resolvers import access
from resolvers.access import Op
from resolvers.audit import entry_for
from resolvers.context import Context
from resolvers.pagination import Page, paginate


@dataclass(frozen=True, slots=True)
class AuditFilter:
    action: str | None = None
    actor_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None


async def list_events(
    ctx: Context, *, first: int | None, after: str | None, where: AuditFilter | None
) -> Page[AuditEvent]:
    viewer = access.school_scoped(ctx, Op.READ_AUDIT)
    where = where or AuditFilter()
    query = AuditEvent.filter(chain=viewer.school_id)
    if where.action:
        query = query.filter(action=where.action)
    if where.actor_id:
        query = query.filter(actor_id=where.actor_id)
    if where.since:
        query = query.filter(at__gte=where.since)
    if where.until:
        query = query.filter(at__lt=where.until)
    page = await paginate(
        query,
        ("seq",),
        lambda e: (e.seq,),
        first=first,
        after=after,
        maximum=ctx.services.settings.limits.max_page_size,
    )
    # Reading the trail is itself accountable.
    await ctx.services.audit.record(
        entry_for(viewer, ctx.request, "audit.read", target_type="audit_event")
    )
    return page


__all__ = ["AuditFilter", "list_events"]
