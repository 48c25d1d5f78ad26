"""Set-password links: inviting a colleague, asking for a reset, and using a link."""

from __future__ import annotations

from datetime import datetime

import strawberry

from resolvers import credentials
from schema.common import Info, UserError, attempt, parse_int_id


@strawberry.input
class InviteStaffInput:
    staff_id: strawberry.ID = strawberry.field(description="The colleague to invite.")


@strawberry.type
class InviteStaffPayload:
    link: str | None = strawberry.field(
        default=None,
        description="The one-time set-password link, shown once: pass it on if not emailed.",
    )
    expires_at: datetime | None = strawberry.field(
        default=None, description="When the link stops working (7 days)."
    )
    emailed: bool = strawberry.field(
        default=False, description="Whether the link was emailed to the colleague."
    )
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class RequestPasswordResetInput:
    email: str


@strawberry.type
class RequestPasswordResetPayload:
    ok: bool = strawberry.field(
        default=False,
        description="True once the request is taken, whether or not an account has this address.",
    )
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class SetPasswordInput:
    token: str = strawberry.field(description="The token of an invitation or reset link.")
    password: str = strawberry.field(description="At least 12 characters; not a common password.")


@strawberry.type
class SetPasswordPayload:
    ok: bool = strawberry.field(
        default=False, description="True when the password is set; then sign in with it."
    )
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class CredentialMutation:
    @strawberry.mutation(
        description="Send a colleague a one-time link to choose their password (admins). "
        "A new link voids the colleague's earlier ones."
    )
    async def invite_staff(self, info: Info, input: InviteStaffInput) -> InviteStaffPayload:
        invitation, errors = await attempt(
            lambda: credentials.invite_staff(
                info.context, parse_int_id(input.staff_id, "StaffMember", "staffId")
            )
        )
        if invitation is None:
            return InviteStaffPayload(errors=errors)
        return InviteStaffPayload(
            link=invitation.link, expires_at=invitation.expires_at, emailed=invitation.emailed
        )

    @strawberry.mutation(
        description="Email a password reset link, valid for an hour, if an active account has "
        "this address. The answer is the same either way; requests are throttled."
    )
    async def request_password_reset(
        self, info: Info, input: RequestPasswordResetInput
    ) -> RequestPasswordResetPayload:
        _, errors = await attempt(
            lambda: credentials.request_password_reset(info.context, input.email)
        )
        return RequestPasswordResetPayload(ok=not errors, errors=errors)

    @strawberry.mutation(
        description="Choose a password with a link's token. Ends every session of the account; "
        "does not sign in."
    )
    async def set_password(self, info: Info, input: SetPasswordInput) -> SetPasswordPayload:
        _, errors = await attempt(
            lambda: credentials.set_password(info.context, input.token, input.password)
        )
        return SetPasswordPayload(ok=not errors, errors=errors)
