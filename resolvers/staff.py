"""Staff accounts and their roles in the admin's school."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from tortoise.transactions import in_transaction

from app.config import DEMO_PASSWORD
from app.errors import InvalidInput
from app.security.passwords import validate_new_password
from models.staff import Membership, Role, User
from resolvers import access, validation
from resolvers.access import Op
from resolvers.audit import entry_for
from resolvers.auth import revoke_sessions
from resolvers.classroom import announce_access_change
from resolvers.context import Context, Services
from resolvers.pagination import Page, paginate

ORDER = ("display_name", "id")
#: Not an argon2 hash, so it matches no password: the account waits for its invitation.
NO_PASSWORD = "!invited: no password set"  # noqa: S105 - matches no password, by design


@dataclass(slots=True)
class StaffData:
    email: str = ""
    display_name: str = ""
    roles: frozenset[Role] = frozenset()
    #: None: no usable password until the invitation (resolvers.credentials) is used.
    password: str | None = None
    is_active: bool = True


async def list_staff(ctx: Context, *, first: int | None, after: str | None) -> Page[User]:
    viewer = access.school_scoped(ctx, Op.READ_STAFF)
    query = User.filter(memberships__school_id=viewer.school_id).distinct()
    return await paginate(
        query,
        ORDER,
        lambda u: (u.display_name, u.id),
        first=first,
        after=after,
        maximum=ctx.services.settings.limits.max_page_size,
    )


async def check_password(services: Services, field: str, password: str) -> str:
    problem = validate_new_password(password)
    if problem is None and password == DEMO_PASSWORD and not services.settings.demo:
        problem = "The demo password cannot be used outside demo mode."
    if problem:
        raise InvalidInput(field, problem, reason="WEAK_PASSWORD")
    return password


def _roles(roles: Iterable[Role]) -> frozenset[Role]:
    chosen = frozenset(roles)
    if not chosen:
        raise InvalidInput("roles", "Give at least one role.", reason="REQUIRED")
    return chosen


async def create_staff(ctx: Context, data: StaffData) -> User:
    viewer = access.school_scoped(ctx, Op.MANAGE_STAFF)
    email = validation.email("email", data.email)
    name = validation.text("displayName", data.display_name, max_length=200)
    roles = _roles(data.roles)
    if data.password is not None:
        await check_password(ctx.services, "password", data.password)
    if await User.filter(email=email).exists():
        raise InvalidInput(
            "email", "An account with this email address already exists.", reason="DUPLICATE"
        )
    password_hash = (
        NO_PASSWORD if data.password is None else await ctx.services.passwords.hash(data.password)
    )
    async with in_transaction():
        user = await User.create(email=email, display_name=name, password_hash=password_hash)
        await Membership.bulk_create(
            [Membership(school_id=viewer.school_id, user_id=user.id, role=r) for r in sorted(roles)]
        )
        await ctx.services.audit.record(
            entry_for(
                viewer,
                ctx.request,
                "staff.create",
                target_type="user",
                target_ids=[str(user.id)],
                fields=["email", "display_name", "roles"],
            )
        )
    return user


async def update_staff(
    ctx: Context, user_id: int, data: StaffData, provided: frozenset[str]
) -> User:
    """Change a colleague's name, roles or status; role changes and deactivation end sessions."""
    viewer = access.school_scoped(ctx, Op.MANAGE_STAFF)
    user = await access.require_staff_member(ctx, user_id, Op.MANAGE_STAFF)
    if user.id == viewer.user_id and ({"roles", "is_active"} & provided):
        raise InvalidInput(
            "id", "You cannot change your own roles or deactivate yourself.", reason="SELF_CHANGE"
        )
    end_sessions = False
    async with in_transaction():
        if "display_name" in provided:
            user.display_name = validation.text("displayName", data.display_name, max_length=200)
        if "is_active" in provided and user.is_active != data.is_active:
            user.is_active = data.is_active
            end_sessions = not data.is_active
        await user.save()
        if "roles" in provided:
            roles = _roles(data.roles)
            current = await Membership.filter(user_id=user.id, school_id=viewer.school_id)
            if {m.role for m in current} != roles:
                await Membership.filter(user_id=user.id, school_id=viewer.school_id).delete()
                await Membership.bulk_create(
                    [
                        Membership(school_id=viewer.school_id, user_id=user.id, role=r)
                        for r in sorted(roles)
                    ]
                )
                end_sessions = True
        await ctx.services.audit.record(
            entry_for(
                viewer,
                ctx.request,
                "staff.update",
                target_type="user",
                target_ids=[str(user.id)],
                fields=sorted(provided),
            )
        )
    if end_sessions:
        # A privilege change takes effect now, not when the old session expires (AUTHN-12).
        await revoke_sessions(ctx.services, user_id=user.id)
        await announce_access_change(ctx, viewer.school_id, [])
    return user


__all__ = [
    "NO_PASSWORD",
    "StaffData",
    "check_password",
    "create_staff",
    "list_staff",
    "update_staff",
]
