"""Behaviour and achievement points: a learner's records, and recording one."""

from __future__ import annotations

import datetime

import strawberry

from resolvers import conduct
from resolvers.conduct import ConductData, Record
from resolvers.context import Context
from schema.common import Connection, Info, UserError, attempt, parse_uuid_id, to_global_id

strawberry.enum(
    conduct.ConductKind,
    name="ConductKind",
    description="Behaviour (negative points by convention) or achievement (praise points).",
)
ConductKind = conduct.ConductKind
_KIND_OF = {model: kind for kind, model in conduct.MODELS.items()}
_TYPE_NAME = {
    conduct.ConductKind.BEHAVIOUR: "BehaviourRecord",
    conduct.ConductKind.ACHIEVEMENT: "AchievementRecord",
}


@strawberry.type(description="A behaviour or achievement record of one learner.")
class ConductRecord:
    id: strawberry.ID = strawberry.field(description="Opaque id of the record.")
    kind: ConductKind = strawberry.field(description="Behaviour or achievement.")
    learner_id: strawberry.ID = strawberry.field(description="The learner it is about.")
    points: int = strawberry.field(description="Points given (behaviour usually negative).")
    category: str = strawberry.field(description="The school's category, like `Homework`.")
    recorded_at: datetime.datetime = strawberry.field(description="When it was recorded.")
    _row: strawberry.Private[Record]
    _notes_readable: strawberry.Private[bool]

    @classmethod
    def from_model(cls, row: Record, *, notes_readable: bool) -> ConductRecord:
        kind = _KIND_OF[type(row)]
        return cls(
            id=to_global_id(_TYPE_NAME[kind], row.id),
            kind=kind,
            learner_id=to_global_id("Learner", row.learner_id),
            points=row.points,
            category=row.category,
            recorded_at=row.recorded_at,
            _row=row,
            _notes_readable=notes_readable,
        )

    @strawberry.field(
        description="The note, encrypted at rest and audited when read. Null without one, "
        "for viewers who may not read notes: staff who may read the learner's SEN details "
        "(their teachers, leaders, admins) may; partners never."
    )
    async def note(self, info: Info) -> str | None:
        if not self._notes_readable:
            return None
        return await conduct.decrypt_note(info.context, self._row)


@strawberry.input(description="A behaviour or achievement record for a learner one teaches.")
class RecordConductInput:
    learner_id: strawberry.ID = strawberry.field(description="A learner one teaches.")
    points: int = strawberry.field(
        description=f"Between -{conduct.MAX_POINTS} and {conduct.MAX_POINTS}."
    )
    category: str = strawberry.field(description="Up to 64 characters, like `Homework`.")
    note: str | None = strawberry.field(
        default=None, description="Up to 4,000 characters; stored encrypted."
    )


@strawberry.type
class RecordConductPayload:
    record: ConductRecord | None = strawberry.field(
        default=None, description="The record as stored; null when there are errors."
    )
    errors: list[UserError] = strawberry.field(
        default_factory=list, description="What is wrong with the input; nothing is stored."
    )


async def _record(ctx: Context, kind: conduct.ConductKind, input: RecordConductInput) -> Record:
    data = ConductData(
        learner_id=parse_uuid_id(input.learner_id, "Learner", "learnerId"),
        points=input.points,
        category=input.category,
        note=input.note,
    )
    return await conduct.record(ctx, conduct.MODELS[kind], data)


async def _payload(
    info: Info, kind: conduct.ConductKind, input: RecordConductInput
) -> RecordConductPayload:
    row, errors = await attempt(lambda: _record(info.context, kind, input))
    if row is None:
        return RecordConductPayload(errors=errors)
    readable = await conduct.notes_readable(info.context, row.learner_id)
    return RecordConductPayload(record=ConductRecord.from_model(row, notes_readable=readable))


@strawberry.type
class ConductQuery:
    @strawberry.field(
        description="A learner's behaviour or achievement records, oldest first: for staff "
        "who read the learner's tracking (their teachers, leaders, admins) and partners "
        "holding TRACKING_READ, who never see notes."
    )
    async def conduct(
        self,
        info: Info,
        learner_id: strawberry.ID,
        kind: ConductKind,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[ConductRecord]:
        result = await conduct.list_records(
            info.context,
            parse_uuid_id(learner_id, "Learner", "learnerId"),
            kind,
            first=first,
            after=after,
        )
        readable = result.notes_readable
        return Connection.from_page(
            result.page, lambda row: ConductRecord.from_model(row, notes_readable=readable)
        )


@strawberry.type
class ConductMutation:
    @strawberry.mutation(
        description="Record behaviour points for a learner: the learner's teachers and admins."
    )
    async def record_behaviour(self, info: Info, input: RecordConductInput) -> RecordConductPayload:
        return await _payload(info, conduct.ConductKind.BEHAVIOUR, input)

    @strawberry.mutation(
        description="Record achievement points for a learner: the learner's teachers and admins."
    )
    async def record_achievement(
        self, info: Info, input: RecordConductInput
    ) -> RecordConductPayload:
        return await _payload(info, conduct.ConductKind.ACHIEVEMENT, input)


__all__ = ["ConductKind", "ConductMutation", "ConductQuery", "ConductRecord"]
