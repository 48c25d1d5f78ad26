"""Learner types, queries and admin mutations."""

from __future__ import annotations

import datetime
from collections.abc import Awaitable, Iterable, Mapping
from typing import TYPE_CHECKING, Annotated

import strawberry
from graphql import Undefined
from graphql.pyutils import UndefinedType
from strawberry.utils.str_converters import to_camel_case as strawberry_name

from app.errors import InvalidInput
from models import learners as db
from resolvers import learners
from resolvers.context import Context
from resolvers.keyring import NOT_CACHED
from resolvers.learners import LearnerData, LearnerRecord, MaybeAwaitable
from schema.common import (
    Connection,
    Info,
    Node,
    UserError,
    attempt,
    parse_int_id,
    parse_uuid_id,
    to_global_id,
)
from schema.enums import SendStatus
from schema.extensions import AUDITED_PLAIN_FIELDS, context_resolver

if TYPE_CHECKING:
    from schema.groups import Group

GroupRef = Annotated["Group", strawberry.lazy("schema.groups")]


@strawberry.type(description="A learner's id in another system, such as an MIS or OneRoster.")
class ExternalId:
    system: str
    value: str


#: Personal fields served straight from the row, as plain attributes: GraphQL name -> the name
#: on the audit trail. They have no resolvers to note their reads; the executor notes them once
#: per Learner object, from the fields selected on it (schema.extensions.SchemaExecutor).
PLAIN_PERSONAL_FIELDS: Mapping[str, str] = {
    strawberry_name(name): name
    for name in (
        "given_name",
        "family_name",
        "preferred_name",
        "year_group",
        "send_status",
        "pupil_premium",
        "free_school_meals",
        "eal",
    )
}
AUDITED_PLAIN_FIELDS["Learner"] = PLAIN_PERSONAL_FIELDS


# The encrypted fields answer synchronously while the school's keys are cached (almost always):
# no coroutine per row; on a cache miss they return an awaitable. In lists the executor reads
# them through their context resolvers, which never wait (Undefined: the keys must be loaded
# first, so the field takes the ordinary path).


def _upn(root: Learner, info: Info) -> MaybeAwaitable[str | None]:
    return learners.read_encrypted(info.context, root._row, "upn", root._key)


def _uln(root: Learner, info: Info) -> MaybeAwaitable[str | None]:
    return learners.read_encrypted(info.context, root._row, "uln", root._key)


def _date_of_birth(root: Learner, info: Info) -> MaybeAwaitable[datetime.date | None]:
    text = learners.read_encrypted(info.context, root._row, "date_of_birth", root._key)
    if text is None or isinstance(text, str):
        return _date(text)
    return _awaited_date(text)


def _send_details(root: Learner, info: Info) -> MaybeAwaitable[str | None]:
    return learners.read_encrypted(info.context, root._row, "send_details", root._key)


@strawberry.type(description="A pupil. Reading any of their personal data is audited.")
class Learner(Node):
    # The plain personal fields are attributes: the executor audits their reads per object
    # (PLAIN_PERSONAL_FIELDS); the encrypted ones audit themselves after their role check.
    given_name: str
    family_name: str
    preferred_name: str | None
    year_group: int | None = strawberry.field(
        description="0 for Reception, 1-14 for Years 1 to 14."
    )
    upn: MaybeAwaitable[str | None] = strawberry.field(
        resolver=_upn,
        description="Unique pupil number. School admins only; encrypted at rest.",
        graphql_type=str | None,
        metadata=context_resolver(lambda learner, ctx: learner._decrypted_now(ctx, "upn")),
    )
    uln: MaybeAwaitable[str | None] = strawberry.field(
        resolver=_uln,
        description="Unique learner number. School admins only; encrypted at rest.",
        graphql_type=str | None,
        metadata=context_resolver(lambda learner, ctx: learner._decrypted_now(ctx, "uln")),
    )
    date_of_birth: MaybeAwaitable[datetime.date | None] = strawberry.field(
        resolver=_date_of_birth,
        description="School admins only; encrypted at rest.",
        graphql_type=datetime.date | None,
        metadata=context_resolver(lambda learner, ctx: learner._date_of_birth_now(ctx)),
    )
    send_status: SendStatus
    send_details: MaybeAwaitable[str | None] = strawberry.field(
        resolver=_send_details,
        description="Notes on special educational needs; encrypted at rest.",
        graphql_type=str | None,
        metadata=context_resolver(lambda learner, ctx: learner._decrypted_now(ctx, "send_details")),
    )
    pupil_premium: bool
    free_school_meals: bool
    eal: bool = strawberry.field(description="English as an additional language.")
    _row: strawberry.Private[LearnerRecord]
    #: ``str(row.id)``, made once: the global id, the encryption context and the audit trail.
    _key: strawberry.Private[str]

    @classmethod
    def from_model(cls, row: LearnerRecord) -> Learner:
        key = str(row.id)
        return cls(
            id=to_global_id("Learner", key),
            given_name=row.given_name,
            family_name=row.family_name,
            preferred_name=row.preferred_name,
            year_group=row.year_group,
            send_status=row.send_status,
            pupil_premium=row.pupil_premium,
            free_school_meals=row.free_school_meals,
            eal=row.eal,
            _row=row,
            _key=key,
        )

    def note_reads(self, ctx: Context, fields: Iterable[str]) -> None:
        """For the executor: note that these personal fields of the learner were read."""
        ctx.note_reads(self._row.school_id, self._key, fields)

    def _decrypted_now(self, ctx: Context, column: str) -> str | UndefinedType | None:
        text = learners.read_encrypted_now(ctx, self._row, column, self._key)
        return Undefined if text is NOT_CACHED else text

    def _date_of_birth_now(self, ctx: Context) -> datetime.date | UndefinedType | None:
        text = self._decrypted_now(ctx, "date_of_birth")
        return Undefined if isinstance(text, UndefinedType) else _date(text)

    @strawberry.field
    async def external_ids(self, info: Info) -> list[ExternalId]:
        rows = await info.context.loaders.external_ids_by_learner.load(self._row.id)
        return [ExternalId(system=r.system, value=r.value) for r in rows]

    @strawberry.field(description="The learner's teaching groups that the viewer can see.")
    async def groups(self, info: Info) -> list[GroupRef]:
        from schema.groups import Group

        rows = await info.context.loaders.groups_by_learner.load(self._row.id)
        return [Group.from_model(g) for g in rows]


def _date(text: str | None) -> datetime.date | None:
    return datetime.date.fromisoformat(text) if text else None


async def _awaited_date(text: Awaitable[str | None]) -> datetime.date | None:
    return _date(await text)


@strawberry.input(description="Narrow a list of learners; all given conditions must hold.")
class LearnerFilter:
    year_group: int | None = None
    group_id: strawberry.ID | None = None
    upn: str | None = strawberry.field(default=None, description="Exact UPN (school admins).")
    name_starts_with: str | None = strawberry.field(
        default=None, description="Start of the family name."
    )


@strawberry.input
class ExternalIdInput:
    system: str
    value: str


@strawberry.input(description="A new learner.")
class CreateLearnerInput:
    given_name: str
    family_name: str
    preferred_name: str | None = None
    year_group: int | None = None
    upn: str | None = None
    uln: str | None = None
    date_of_birth: datetime.date | None = None
    send_status: SendStatus = db.SendStatus.NONE
    send_details: str | None = None
    pupil_premium: bool = False
    free_school_meals: bool = False
    eal: bool = False
    external_ids: list[ExternalIdInput] = strawberry.field(default_factory=list)


@strawberry.input(description="Changes to a learner; omitted fields stay as they are.")
class UpdateLearnerInput:
    id: strawberry.ID
    given_name: str | None = strawberry.UNSET
    family_name: str | None = strawberry.UNSET
    preferred_name: str | None = strawberry.UNSET
    year_group: int | None = strawberry.UNSET
    upn: str | None = strawberry.UNSET
    uln: str | None = strawberry.UNSET
    date_of_birth: datetime.date | None = strawberry.UNSET
    send_status: SendStatus | None = strawberry.UNSET
    send_details: str | None = strawberry.UNSET
    pupil_premium: bool | None = strawberry.UNSET
    free_school_meals: bool | None = strawberry.UNSET
    eal: bool | None = strawberry.UNSET


@strawberry.type
class LearnerPayload:
    learner: Learner | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


_NOT_NULL = {
    "given_name",
    "family_name",
    "send_status",
    "pupil_premium",
    "free_school_meals",
    "eal",
}


def _changes(data: UpdateLearnerInput) -> LearnerData:
    provided = {
        name
        for name in LearnerData.__dataclass_fields__
        if getattr(data, name, strawberry.UNSET) is not strawberry.UNSET
    }
    values = {name: getattr(data, name) for name in provided}
    for name in sorted(_NOT_NULL & provided):
        if values[name] is None:
            field = strawberry_name(name)
            raise InvalidInput(field, f"`{field}` cannot be null.", reason="REQUIRED")
    return LearnerData(**values, provided=frozenset(provided))


@strawberry.type
class LearnerQuery:
    @strawberry.field(
        description="Learners in the viewer's reach: a teacher's groups, or the "
        "whole school for admins, leaders and safeguarding leads."
    )
    async def learners(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        filter: LearnerFilter | None = None,
    ) -> Connection[Learner]:
        where = None
        if filter is not None:
            group_id = (
                parse_int_id(filter.group_id, "Group", "filter.groupId")
                if filter.group_id is not None
                else None
            )
            where = learners.LearnerFilter(
                year_group=filter.year_group,
                group_id=group_id,
                upn=filter.upn,
                name_starts_with=filter.name_starts_with,
            )
        page = await learners.list_learners(info.context, first=first, after=after, where=where)
        return Connection.from_page(page, Learner.from_model)

    @strawberry.field(description="One learner; NOT_FOUND outside the viewer's reach.")
    async def learner(self, info: Info, id: strawberry.ID) -> Learner | None:
        row = await learners.get_learner(info.context, parse_uuid_id(id, "Learner"))
        return Learner.from_model(row)


@strawberry.type
class LearnerMutation:
    @strawberry.mutation(description="Add a learner to the admin's school.")
    async def create_learner(self, info: Info, input: CreateLearnerInput) -> LearnerPayload:
        data = LearnerData(
            given_name=input.given_name,
            family_name=input.family_name,
            preferred_name=input.preferred_name,
            year_group=input.year_group,
            upn=input.upn,
            uln=input.uln,
            date_of_birth=input.date_of_birth,
            send_status=input.send_status,
            send_details=input.send_details,
            pupil_premium=input.pupil_premium,
            free_school_meals=input.free_school_meals,
            eal=input.eal,
            external_ids=[(x.system, x.value) for x in input.external_ids],
        )
        row, errors = await attempt(lambda: learners.create_learner(info.context, data))
        return LearnerPayload(learner=Learner.from_model(row) if row else None, errors=errors)

    @strawberry.mutation(description="Change a learner's record (school admins).")
    async def update_learner(self, info: Info, input: UpdateLearnerInput) -> LearnerPayload:
        row, errors = await attempt(
            lambda: learners.update_learner(
                info.context, parse_uuid_id(input.id, "Learner"), _changes(input)
            )
        )
        return LearnerPayload(learner=Learner.from_model(row) if row else None, errors=errors)
