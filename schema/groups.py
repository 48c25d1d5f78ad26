"""Teaching group types, queries and admin mutations."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import strawberry

from models import groups as db
from models.learners import Learner as LearnerRow
from resolvers import groups
from resolvers.groups import GroupData
from resolvers.learners import sort_key
from resolvers.pagination import encode_cursor
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

if TYPE_CHECKING:
    from schema.learners import Learner
    from schema.staff import StaffMember

LearnerRef = Annotated["Learner", strawberry.lazy("schema.learners")]
StaffRef = Annotated["StaffMember", strawberry.lazy("schema.staff")]


def learner_cursor(row: LearnerRow) -> str:
    return encode_cursor(sort_key(row))


@strawberry.type(description="A class taught together, such as 10X Maths.")
class Group(Node):
    name: str
    subject: str
    year_group: int | None
    academic_year: str = strawberry.field(description="Like `2026/27`.")
    _row: strawberry.Private[db.TeachingGroup]

    @classmethod
    def from_model(cls, row: db.TeachingGroup) -> Group:
        return cls(
            id=to_global_id("Group", row.id),
            name=row.name,
            subject=row.subject,
            year_group=row.year_group,
            academic_year=row.academic_year,
            _row=row,
        )

    @strawberry.field(description="Learners enrolled in the group.")
    async def learners(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[LearnerRef]:
        from schema.learners import Learner

        rows: list[LearnerRow] = await info.context.loaders.learners_by_group.load(self._row.id)
        return Connection.from_list(
            rows,
            learner_cursor,
            Learner.from_model,
            first=first,
            after=after,
            maximum=info.context.services.settings.limits.max_page_size,
        )

    @strawberry.field(description="Staff who teach the group.")
    async def teachers(self, info: Info) -> list[StaffRef]:
        from schema.staff import StaffMember

        rows = await info.context.loaders.teachers_by_group.load(self._row.id)
        return [StaffMember.from_model(u) for u in rows]


@strawberry.input
class CreateGroupInput:
    name: str
    subject: str
    academic_year: str = strawberry.field(description="Like `2026/27`.")
    year_group: int | None = None


@strawberry.input
class UpdateGroupInput:
    id: strawberry.ID
    name: str
    subject: str
    academic_year: str
    year_group: int | None = None


@strawberry.input
class GroupLearnersInput:
    group_id: strawberry.ID
    learner_ids: list[strawberry.ID] = strawberry.field(description="At most 100 at a time.")


@strawberry.input
class GroupTeacherInput:
    group_id: strawberry.ID
    staff_id: strawberry.ID


@strawberry.type
class GroupPayload:
    group: Group | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


def _payload(row: db.TeachingGroup | None, errors: list[UserError]) -> GroupPayload:
    return GroupPayload(group=Group.from_model(row) if row else None, errors=errors)


@strawberry.type
class GroupQuery:
    @strawberry.field(description="Teaching groups in the viewer's reach.")
    async def groups(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[Group]:
        page = await groups.list_groups(info.context, first=first, after=after)
        return Connection.from_page(page, Group.from_model)


@strawberry.type
class GroupMutation:
    @strawberry.mutation(description="Create a teaching group (school admins).")
    async def create_group(self, info: Info, input: CreateGroupInput) -> GroupPayload:
        data = GroupData(input.name, input.subject, input.year_group, input.academic_year)
        return _payload(*await attempt(lambda: groups.create_group(info.context, data)))

    @strawberry.mutation(description="Rename or re-describe a teaching group (school admins).")
    async def update_group(self, info: Info, input: UpdateGroupInput) -> GroupPayload:
        data = GroupData(input.name, input.subject, input.year_group, input.academic_year)
        return _payload(
            *await attempt(
                lambda: groups.update_group(info.context, parse_int_id(input.id, "Group"), data)
            )
        )

    @strawberry.mutation(description="Enrol learners in a group; already enrolled ones are kept.")
    async def enrol_learners(self, info: Info, input: GroupLearnersInput) -> GroupPayload:
        return _payload(
            *await attempt(
                lambda: groups.enrol_learners(
                    info.context,
                    parse_int_id(input.group_id, "Group", "groupId"),
                    [parse_uuid_id(i, "Learner", "learnerIds") for i in input.learner_ids],
                )
            )
        )

    @strawberry.mutation(description="Remove learners from a group.")
    async def unenrol_learners(self, info: Info, input: GroupLearnersInput) -> GroupPayload:
        return _payload(
            *await attempt(
                lambda: groups.unenrol_learners(
                    info.context,
                    parse_int_id(input.group_id, "Group", "groupId"),
                    [parse_uuid_id(i, "Learner", "learnerIds") for i in input.learner_ids],
                )
            )
        )

    @strawberry.mutation(description="Make a teacher one of the group's teachers.")
    async def assign_teacher(self, info: Info, input: GroupTeacherInput) -> GroupPayload:
        return _payload(
            *await attempt(
                lambda: groups.assign_teacher(
                    info.context,
                    parse_int_id(input.group_id, "Group", "groupId"),
                    parse_int_id(input.staff_id, "StaffMember", "staffId"),
                    True,
                )
            )
        )

    @strawberry.mutation(
        description="Stop a teacher teaching the group; their access ends at once."
    )
    async def unassign_teacher(self, info: Info, input: GroupTeacherInput) -> GroupPayload:
        return _payload(
            *await attempt(
                lambda: groups.assign_teacher(
                    info.context,
                    parse_int_id(input.group_id, "Group", "groupId"),
                    parse_int_id(input.staff_id, "StaffMember", "staffId"),
                    False,
                )
            )
        )
