"""Behaviour and achievement points: recorded by a learner's teachers, notes encrypted.

A note can say more about a child than a mark does, so it is encrypted like SEN details and
bound to its own row (the row is written first, then the note under the row's id).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import StrEnum

from tortoise.transactions import in_transaction

from app.errors import Forbidden, InvalidInput, NotFound
from app.security.crypto import FieldContext
from models.markbook import AchievementRecord, BehaviourRecord
from resolvers import access, validation
from resolvers.access import Op
from resolvers.audit import entry_for
from resolvers.context import Context
from resolvers.pagination import Page, paginate

MAX_POINTS = 100
MAX_PAGE = 100
Record = BehaviourRecord | AchievementRecord


class ConductKind(StrEnum):
    BEHAVIOUR = "BEHAVIOUR"
    ACHIEVEMENT = "ACHIEVEMENT"


MODELS: dict[ConductKind, type[Record]] = {
    ConductKind.BEHAVIOUR: BehaviourRecord,
    ConductKind.ACHIEVEMENT: AchievementRecord,
}


@dataclass(frozen=True, slots=True)
class ConductData:
    learner_id: uuid.UUID
    points: int
    category: str
    note: str | None = None


def note_context(row: Record) -> FieldContext:
    return FieldContext(row.school_id, row._meta.db_table, "note", str(row.id))


async def record(ctx: Context, kind: type[Record], data: ConductData) -> Record:
    """A behaviour or achievement record for a learner the viewer teaches (or an admin)."""
    viewer, _ = access.require(ctx, Op.ENTER_MARKS)
    learner = await access.require_learner(ctx, data.learner_id, Op.ENTER_MARKS)
    if not -MAX_POINTS <= data.points <= MAX_POINTS:
        raise InvalidInput("points", f"Points must be between -{MAX_POINTS} and {MAX_POINTS}.")
    category = validation.text("category", data.category, max_length=64)
    note = validation.optional_text("note", data.note, max_length=4000, multiline=True)
    async with in_transaction():
        row = await kind.create(
            school_id=learner.school_id,
            learner_id=learner.id,
            points=data.points,
            category=category,
            recorded_by_id=viewer.user_id,
            recorded_at=ctx.services.now(),
        )
        if note is not None:
            row.note_enc = await ctx.services.keyring.encrypt(note_context(row), note)
            await row.save(update_fields=["note_enc"])
        await ctx.services.audit.record(
            entry_for(
                viewer,
                ctx.request,
                f"{row._meta.db_table.removesuffix('_record')}.create",
                target_type="learner",
                target_ids=[str(learner.id)],
                fields=["points", "category", *(["note"] if note is not None else [])],
            )
        )
    return row


async def read_note(ctx: Context, row: Record) -> str | None:
    """The decrypted note, for a viewer who may read the learner's sensitive details."""
    await access.require_learner(ctx, row.learner_id, Op.READ_LEARNER_SENSITIVE)
    return await decrypt_note(ctx, row)


async def decrypt_note(ctx: Context, row: Record) -> str | None:
    """The note, once the caller knows the viewer may read it (:func:`notes_readable`)."""
    if row.note_enc is None:
        return None
    ctx.note_read(row.school_id, str(row.learner_id), f"{row._meta.db_table}.note")
    return await ctx.services.keyring.decrypt(note_context(row), row.note_enc)


@dataclass(frozen=True, slots=True)
class ConductPage:
    page: Page[Record]
    #: Whether the viewer may read these records' notes (they all belong to one learner).
    notes_readable: bool


async def notes_readable(ctx: Context, learner_id: uuid.UUID) -> bool:
    """Whether the viewer may read this learner's notes: the learner's teachers, leaders,
    admins and safeguarding leads, as for SEN details. Never a partner."""
    try:
        await access.require_learner(ctx, learner_id, Op.READ_LEARNER_SENSITIVE)
    except (Forbidden, NotFound):
        return False
    return True


async def list_records(
    ctx: Context, learner_id: uuid.UUID, kind: ConductKind, *, first: int | None, after: str | None
) -> ConductPage:
    """One learner's records of a kind, oldest first, for viewers who read their tracking."""
    learner = await access.require_learner(ctx, learner_id, Op.READ_TRACKING)
    query = MODELS[kind].filter(school_id=learner.school_id, learner_id=learner.id)
    page: Page[Record] = await paginate(
        query,  # type: ignore[arg-type]
        ["id"],
        lambda row: [row.id],
        first=first,
        after=after,
        maximum=MAX_PAGE,
    )
    return ConductPage(page=page, notes_readable=await notes_readable(ctx, learner.id))


__all__ = [
    "MAX_PAGE",
    "MAX_POINTS",
    "MODELS",
    "ConductData",
    "ConductKind",
    "ConductPage",
    "decrypt_note",
    "list_records",
    "notes_readable",
    "read_note",
    "record",
]
