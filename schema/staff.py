"""Staff types and the admin mutations that manage them."""

from __future__ import annotations

import strawberry

from models import staff as db
from resolvers import staff
from resolvers.staff import StaffData
from schema.common import Connection, Info, Node, UserError, attempt, parse_int_id, to_global_id
from schema.enums import Role


@strawberry.type(description="A member of staff of the viewer's school.")
class StaffMember(Node):
    display_name: str
    _row: strawberry.Private[db.User]

    @classmethod
    def from_model(cls, row: db.User) -> StaffMember:
        return cls(id=to_global_id("StaffMember", row.id), display_name=row.display_name, _row=row)

    @strawberry.field(description="Sign-in email address (staff of the same school).")
    def email(self) -> str:
        return self._row.email

    @strawberry.field(description="Whether the account can sign in.")
    def is_active(self) -> bool:
        return self._row.is_active

    @strawberry.field(description="Roles in the viewer's school.")
    async def roles(self, info: Info) -> list[Role]:
        return await info.context.loaders.roles_by_user.load(self._row.id)


@strawberry.input
class CreateStaffInput:
    email: str
    display_name: str
    roles: list[Role]
    password: str | None = strawberry.field(
        default=None,
        description="At least 12 characters; not a common password. Leave it out to let the "
        "colleague choose their own through `inviteStaff`.",
    )


@strawberry.input(description="Changes to a colleague; omitted fields stay as they are.")
class UpdateStaffInput:
    id: strawberry.ID
    display_name: str | None = strawberry.UNSET
    roles: list[Role] | None = strawberry.UNSET
    is_active: bool | None = strawberry.UNSET


@strawberry.type
class StaffPayload:
    staff_member: StaffMember | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


def _payload(row: db.User | None, errors: list[UserError]) -> StaffPayload:
    return StaffPayload(staff_member=StaffMember.from_model(row) if row else None, errors=errors)


@strawberry.type
class StaffQuery:
    @strawberry.field(description="Staff of the viewer's school.")
    async def staff(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[StaffMember]:
        page = await staff.list_staff(info.context, first=first, after=after)
        return Connection.from_page(page, StaffMember.from_model)


@strawberry.type
class StaffMutation:
    @strawberry.mutation(description="Create a staff account in the admin's school.")
    async def create_staff(self, info: Info, input: CreateStaffInput) -> StaffPayload:
        data = StaffData(
            email=input.email,
            display_name=input.display_name,
            roles=frozenset(input.roles),
            password=input.password,
        )
        return _payload(*await attempt(lambda: staff.create_staff(info.context, data)))

    @strawberry.mutation(
        description="Rename, change roles or deactivate; role changes and "
        "deactivation sign the person out everywhere at once."
    )
    async def update_staff(self, info: Info, input: UpdateStaffInput) -> StaffPayload:
        provided = set()
        data = StaffData()
        if input.display_name is not strawberry.UNSET:
            provided.add("display_name")
            data.display_name = input.display_name or ""
        if input.roles is not strawberry.UNSET:
            provided.add("roles")
            data.roles = frozenset(input.roles or ())
        if input.is_active is not strawberry.UNSET and input.is_active is not None:
            provided.add("is_active")
            data.is_active = input.is_active
        return _payload(
            *await attempt(
                lambda: staff.update_staff(
                    info.context, parse_int_id(input.id, "StaffMember"), data, frozenset(provided)
                )
            )
        )
