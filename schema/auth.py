"""Who is signed in: the Viewer, login and logout."""

from __future__ import annotations

from enum import Enum

import strawberry

from resolvers import auth
from resolvers.context import PrincipalKind
from resolvers.context import Viewer as ViewerModel
from schema.common import Info, UserError, attempt, to_global_id
from schema.enums import Role, Scope
from schema.schools import School
from schema.staff import StaffMember


@strawberry.enum(description="The kind of principal making the request.")
class ViewerKind(Enum):
    STAFF = "STAFF"
    PARTNER = "PARTNER"
    DEVICE = "DEVICE"


@strawberry.type(description="The authenticated principal.")
class Viewer:
    kind: ViewerKind
    roles: list[Role] = strawberry.field(description="Staff roles in the current school.")
    scopes: list[Scope] = strawberry.field(description="A partner key's scopes.")
    _model: strawberry.Private[ViewerModel]

    @classmethod
    def from_model(cls, viewer: ViewerModel) -> Viewer:
        return cls(
            kind=ViewerKind(viewer.kind.value),
            roles=sorted(viewer.roles),
            scopes=sorted(viewer.scopes),
            _model=viewer,
        )

    @strawberry.field(description="The staff member, for staff sessions.")
    async def staff_member(self, info: Info) -> StaffMember | None:
        from models.staff import User

        if self._model.kind is not PrincipalKind.STAFF:
            return None
        user = await User.get_or_none(id=self._model.user_id)
        return StaffMember.from_model(user) if user else None

    @strawberry.field(description="The school the viewer acts in.")
    async def school(self, info: Info) -> School | None:
        # The principal's own school: read directly, since during `login` the request's
        # context is still anonymous.
        from models.schools import School as SchoolRow

        row = await SchoolRow.get_or_none(id=self._model.school_id)
        return School.from_model(row) if row else None

    @strawberry.field(description="Global id of the principal (staff member, key or device).")
    def id(self) -> strawberry.ID:
        kind, key = self._model.actor
        return to_global_id({"user": "StaffMember", "api_key": "ApiKey"}.get(kind, "Device"), key)


@strawberry.input
class LoginInput:
    email: str
    password: str


@strawberry.type
class LoginPayload:
    token: str | None = strawberry.field(default=None, description="Bearer token; shown once.")
    viewer: Viewer | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class AuthQuery:
    @strawberry.field(description="The signed-in principal; null when anonymous.")
    def viewer(self, info: Info) -> Viewer | None:
        viewer = info.context.viewer
        return Viewer.from_model(viewer) if viewer else None


@strawberry.type
class AuthMutation:
    @strawberry.mutation(
        description="Sign in. One `login` per request; repeated failures are "
        "throttled per account and per address."
    )
    async def login(self, info: Info, input: LoginInput) -> LoginPayload:
        signed_in, errors = await attempt(
            lambda: auth.login(info.context, input.email, input.password)
        )
        if signed_in is None:
            return LoginPayload(errors=errors)
        info.context.new_session = signed_in
        return LoginPayload(token=signed_in.token, viewer=Viewer.from_model(signed_in.viewer))

    @strawberry.mutation(description="End this session now, and close its websockets.")
    async def logout(self, info: Info) -> bool:
        ended = await auth.logout(info.context)
        info.context.end_session = ended
        return ended
