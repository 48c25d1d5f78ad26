"""Learners: reading within reach, creating and changing them (admins), identifiers encrypted."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import NamedTuple, TypeAlias, TypeVar

from tortoise.exceptions import IntegrityError
from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from app.errors import InvalidInput
from app.security.crypto import FieldContext
from models.learners import ExternalId, Gender, Learner, SendStatus
from resolvers import access, validation
from resolvers.access import Op
from resolvers.audit import entry_for
from resolvers.context import Context
from resolvers.keyring import NOT_CACHED, NotCached
from resolvers.pagination import Page, paginate_rows

T = TypeVar("T")
#: A value, or an awaitable of it: for resolvers that are usually synchronous.
MaybeAwaitable: TypeAlias = T | Awaitable[T]

ORDER = ("family_name", "given_name", "id")


class ListedLearner(NamedTuple):
    """A learner as a list loads it: the columns the schema reads, without a model object.

    Lists load thousands of rows; a tuple per row costs a fraction of a model object (whose
    timestamps SQLite would also parse from text). Never saved: changes go through the model.
    """

    id: uuid.UUID
    school_id: int
    given_name: str
    family_name: str
    preferred_name: str | None
    year_group: int | None
    upn_enc: bytes | None
    uln_enc: bytes | None
    date_of_birth_enc: bytes | None
    send_details_enc: bytes | None
    send_status: SendStatus
    pupil_premium: bool
    free_school_meals: bool
    eal: bool


#: A learner as reading needs it: the model object, or a row of a list.
LearnerRecord: TypeAlias = Learner | ListedLearner

#: Encrypted columns and the operation that may read each.
ENCRYPTED: Mapping[str, Op] = {
    "upn": Op.READ_LEARNER_IDENTIFIERS,
    "uln": Op.READ_LEARNER_IDENTIFIERS,
    "date_of_birth": Op.READ_LEARNER_IDENTIFIERS,
    "send_details": Op.READ_LEARNER_SENSITIVE,
}


@dataclass(frozen=True, slots=True)
class LearnerFilter:
    year_group: int | None = None
    group_id: int | None = None
    upn: str | None = None
    name_starts_with: str | None = None


@dataclass(slots=True)
class LearnerData:
    """Everything a learner record holds; for updates, only the names in ``provided`` change."""

    given_name: str = ""
    family_name: str = ""
    preferred_name: str | None = None
    year_group: int | None = None
    upn: str | None = None
    uln: str | None = None
    date_of_birth: date | None = None
    send_status: SendStatus = SendStatus.NONE
    send_details: str | None = None
    pupil_premium: bool = False
    free_school_meals: bool = False
    eal: bool = False
    gender: Gender = Gender.UNSPECIFIED
    external_ids: list[tuple[str, str]] = field(default_factory=list)
    provided: frozenset[str] = frozenset()


def sort_key(learner: LearnerRecord) -> tuple[str, str, uuid.UUID]:
    """The learner's position in ORDER, as cursors encode it."""
    return (learner.family_name, learner.given_name, learner.id)


def field_context(learner: LearnerRecord, column: str, key: str | None = None) -> FieldContext:
    """The encryption context of a learner's column; ``key`` is ``str(learner.id)`` if known."""
    return FieldContext(learner.school_id, "learner", column, key or str(learner.id))


async def list_learners(
    ctx: Context, *, first: int | None, after: str | None, where: LearnerFilter | None
) -> Page[ListedLearner]:
    query = await _filtered(ctx, access.learners(ctx), where or LearnerFilter())
    return await paginate_rows(
        query,
        ORDER,
        sort_key,
        _listed,
        first=first,
        after=after,
        maximum=ctx.services.settings.limits.max_page_size,
    )


async def _listed(window: QuerySet[Learner]) -> list[ListedLearner]:
    return [ListedLearner._make(row) for row in await window.values_list(*ListedLearner._fields)]


async def _filtered(
    ctx: Context, query: QuerySet[Learner], where: LearnerFilter
) -> QuerySet[Learner]:
    if where.year_group is not None:
        query = query.filter(year_group=where.year_group)
    if where.group_id is not None:
        group = await access.require_group(ctx, where.group_id)
        query = query.filter(enrolments__group_id=group.id)
    if where.name_starts_with:
        prefix = validation.text("filter.nameStartsWith", where.name_starts_with, max_length=100)
        query = query.filter(family_name__istartswith=prefix)
    if where.upn is not None:
        # Looking a learner up by UPN reveals whether it exists: identifier readers only.
        viewer, _ = access.require(ctx, Op.READ_LEARNER_IDENTIFIERS)
        wanted = validation.upn("filter.upn", where.upn)
        indexes = [
            await ctx.services.keyring.index(s, "learner.upn", wanted) for s in viewer.school_ids
        ]
        query = query.filter(upn_index__in=indexes)
    return query


async def get_learner(ctx: Context, learner_id: uuid.UUID) -> Learner:
    return await access.require_learner(ctx, learner_id)


def read_encrypted(
    ctx: Context, learner: LearnerRecord, column: str, key: str | None = None
) -> MaybeAwaitable[str | None]:
    """Decrypt one sensitive field if the viewer's role may read it (FORBIDDEN otherwise).

    Learner rows reach the schema only through :func:`access.learners`, so the row is already
    within the viewer's reach; the role check is all that is left. The plaintext comes back
    at once while the school's keys are cached, otherwise as an awaitable that loads them: a
    list of rows then costs no coroutine per row. ``key`` is ``str(learner.id)``, if known.
    """
    key = key or str(learner.id)
    plaintext = read_encrypted_now(ctx, learner, column, key)
    if plaintext is NOT_CACHED:
        envelope = getattr(learner, f"{column}_enc")
        return ctx.services.keyring.decrypt(field_context(learner, column, key), envelope)
    return plaintext


def read_encrypted_now(
    ctx: Context, learner: LearnerRecord, column: str, key: str | None = None
) -> str | NotCached | None:
    """:func:`read_encrypted` without waiting: NOT_CACHED when the keys must be loaded first.

    The role check and the audit note come first, exactly as in :func:`read_encrypted`.
    """
    _require(ctx, ENCRYPTED[column])
    key = key or str(learner.id)
    ctx.note_read(learner.school_id, key, column)
    envelope = getattr(learner, f"{column}_enc")
    if envelope is None:
        return None
    return ctx.services.keyring.decrypt_cached(field_context(learner, column, key), envelope)


def _require(ctx: Context, op: Op) -> None:
    """:func:`access.require`, asked once per operation and viewer: lists ask for every row.

    Its answer depends on the viewer and the operation alone. A refusal is not remembered, so
    every row of a list is refused on its own, as before.
    """
    viewer = ctx.viewer
    if viewer is None or ctx.granted.get(op) is not viewer:
        access.require(ctx, op)
        ctx.granted[op] = viewer


def _validated(data: LearnerData, today: date) -> LearnerData:
    data.given_name = validation.text("givenName", data.given_name, max_length=100)
    data.family_name = validation.text("familyName", data.family_name, max_length=100)
    data.preferred_name = validation.optional_text(
        "preferredName", data.preferred_name, max_length=100
    )
    data.year_group = validation.year_group("yearGroup", data.year_group)
    data.upn = validation.upn("upn", data.upn)
    data.uln = validation.uln("uln", data.uln)
    data.date_of_birth = validation.date_of_birth("dateOfBirth", data.date_of_birth, today)
    data.send_details = validation.optional_text(
        "sendDetails", data.send_details, max_length=4000, multiline=True
    )
    for i, (system, value) in enumerate(data.external_ids):
        validation.text(f"externalIds.{i}.system", system, max_length=64)
        validation.text(f"externalIds.{i}.value", value, max_length=255)
    return data


async def _write_fields(
    ctx: Context, learner: Learner, data: LearnerData, names: frozenset[str]
) -> None:
    keyring = ctx.services.keyring
    plain = (
        "given_name",
        "family_name",
        "preferred_name",
        "year_group",
        "send_status",
        "pupil_premium",
        "free_school_meals",
        "eal",
        "gender",
    )
    for name in plain:
        if name in names:
            setattr(learner, name, getattr(data, name))
    for column in ENCRYPTED:
        if column in names:
            value = getattr(data, column)
            text = value.isoformat() if isinstance(value, date) else value
            setattr(
                learner,
                f"{column}_enc",
                await keyring.encrypt(field_context(learner, column), text),
            )
    for column in ("upn", "uln"):
        if column in names:
            setattr(
                learner,
                f"{column}_index",
                await keyring.index(learner.school_id, f"learner.{column}", getattr(data, column)),
            )


async def create_learner(ctx: Context, data: LearnerData) -> Learner:
    viewer = access.school_scoped(ctx, Op.MANAGE_LEARNERS)
    data = _validated(data, ctx.services.now().date())
    learner = Learner(school_id=viewer.school_id)
    names = frozenset(LearnerData.__dataclass_fields__) - {"external_ids", "provided"}
    await _write_fields(ctx, learner, data, names)
    await _refuse_duplicates(learner, data.external_ids)
    try:
        async with in_transaction():
            await learner.save()
            for system, value in data.external_ids:
                await ExternalId.create(
                    school_id=viewer.school_id,
                    learner_id=learner.id,
                    system=system.strip(),
                    value=value.strip(),
                )
            await ctx.services.audit.record(
                entry_for(
                    viewer,
                    ctx.request,
                    "learner.create",
                    target_type="learner",
                    target_ids=[str(learner.id)],
                    fields=sorted(names),
                )
            )
    except IntegrityError:
        # Lost a race with another writer between the check and the insert.
        await _refuse_duplicates(learner, data.external_ids)
        raise
    return learner


async def update_learner(ctx: Context, learner_id: uuid.UUID, data: LearnerData) -> Learner:
    viewer = access.school_scoped(ctx, Op.MANAGE_LEARNERS)
    learner = await access.require_learner(ctx, learner_id, Op.MANAGE_LEARNERS)
    # Validate the merged record so a partial update cannot leave required fields blank.
    changes = {n: getattr(data, n) for n in data.provided if n not in {"external_ids", "provided"}}
    merged = dataclasses.replace(_current_data(learner), **changes)
    merged = _validated(merged, ctx.services.now().date())
    names = data.provided - {"external_ids", "provided"}
    await _write_fields(ctx, learner, merged, names)
    await _refuse_duplicates(learner, [])
    try:
        async with in_transaction():
            await learner.save()
            await ctx.services.audit.record(
                entry_for(
                    viewer,
                    ctx.request,
                    "learner.update",
                    target_type="learner",
                    target_ids=[str(learner.id)],
                    fields=sorted(names),
                )
            )
    except IntegrityError:
        await _refuse_duplicates(learner, [])
        raise
    return learner


async def _refuse_duplicates(learner: Learner, external_ids: list[tuple[str, str]]) -> None:
    """Name the field that clashes with another learner of the school, before anything is saved."""
    others = Learner.filter(school_id=learner.school_id).exclude(id=learner.id)
    for column in ("upn", "uln"):
        index = getattr(learner, f"{column}_index")
        if index is not None and await others.filter(**{f"{column}_index": index}).exists():
            raise InvalidInput(
                column, f"Another learner already has this {column.upper()}.", reason="DUPLICATE"
            )
    for i, (system, value) in enumerate(external_ids):
        clash = ExternalId.filter(
            school_id=learner.school_id, system=system.strip(), value=value.strip()
        )
        if await clash.exists():
            raise InvalidInput(
                f"externalIds.{i}",
                "Another learner already has this external id.",
                reason="DUPLICATE",
            )


def _current_data(learner: Learner) -> LearnerData:
    """The learner's plain fields (encrypted ones are only rewritten when provided)."""
    return LearnerData(
        given_name=learner.given_name,
        family_name=learner.family_name,
        preferred_name=learner.preferred_name,
        year_group=learner.year_group,
        send_status=learner.send_status,
        pupil_premium=learner.pupil_premium,
        free_school_meals=learner.free_school_meals,
        eal=learner.eal,
        gender=learner.gender,
    )


__all__ = [
    "ENCRYPTED",
    "LearnerData",
    "LearnerFilter",
    "LearnerRecord",
    "ListedLearner",
    "MaybeAwaitable",
    "create_learner",
    "get_learner",
    "list_learners",
    "read_encrypted",
    "read_encrypted_now",
    "update_learner",
]
