"""The audit trail, for a school's admins and DPO."""

from __future__ import annotations

import datetime

import strawberry

from models import audit as db
from resolvers import audit_trail
from schema.common import Connection, Info


@strawberry.type(description="One accountable action: who, what, when, from where; never the data.")
class AuditEvent:
    seq: int = strawberry.field(description="Position in the school's hash chain.")
    at: datetime.datetime
    actor_type: str
    actor_id: str | None
    action: str
    target_type: str | None
    target_ids: list[str]
    fields: list[str] = strawberry.field(description="Names of the fields read or changed.")
    outcome: str
    ip: str | None
    request_id: str | None
    hash: str

    @classmethod
    def from_model(cls, row: db.AuditEvent) -> AuditEvent:
        return cls(
            seq=row.seq,
            at=row.at,
            actor_type=row.actor_type,
            actor_id=row.actor_id,
            action=row.action,
            target_type=row.target_type,
            target_ids=list(row.target_ids),
            fields=list(row.fields_touched),
            outcome=row.outcome,
            ip=row.ip,
            request_id=row.request_id,
            hash=row.hash,
        )


@strawberry.input
class AuditFilter:
    action: str | None = None
    actor_id: str | None = None
    since: datetime.datetime | None = None
    until: datetime.datetime | None = None


@strawberry.type
class AuditQuery:
    @strawberry.field(description="The school's audit trail, oldest first (school admins).")
    async def audit_events(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        filter: AuditFilter | None = None,
    ) -> Connection[AuditEvent]:
        where = audit_trail.AuditFilter(**vars(filter)) if filter else None
        page = await audit_trail.list_events(info.context, first=first, after=after, where=where)
        return Connection.from_page(page, AuditEvent.from_model)
