"""Set-password links: an admin invites a colleague, anyone may ask for a reset by email.

A link carries a one-time token (only its SHA-256 is stored). Issuing a link voids the user's
earlier unused ones; using one sets the password and ends every session of the user (AUTHN-12).
Asking for a reset answers the same whether or not the account exists (AUTHN-07).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from tortoise.transactions import in_transaction

from app.errors import InvalidInput
from app.security.tokens import IssuedToken, TokenKind, hash_token, new_token, token_kind
from models.credentials import CredentialPurpose, CredentialToken
from models.schools import School
from models.staff import Membership, User
from resolvers import access
from resolvers.access import Op
from resolvers.audit import entry_for
from resolvers.auth import MAX_EMAIL, normalise_email, revoke_sessions
from resolvers.context import Context, Services
from resolvers.mail import DeliveryError, plain_message, send_email, send_in_background
from resolvers.staff import check_password

log = logging.getLogger(__name__)

LIFETIMES = {
    CredentialPurpose.INVITE: timedelta(days=7),
    CredentialPurpose.RESET: timedelta(hours=1),
}
#: The dashboard page that asks for the new password. The token rides in the fragment, which
#: browsers never send to a server, so it stays out of access logs and Referer headers (TLS-06).
SET_PASSWORD_PATH = "/set-password#token="  # noqa: S105 - a path, not a secret
INVALID_LINK = "This link is invalid or has expired."
_ACTIONS = {
    CredentialPurpose.INVITE: "auth.invitation_accepted",
    CredentialPurpose.RESET: "auth.password_reset",
}


@dataclass(frozen=True, slots=True)
class Invitation:
    """``link`` is shown once to the admin who asked; it is never stored."""

    link: str = field(repr=False)
    expires_at: datetime
    emailed: bool


def link_for(services: Services, issued: IssuedToken) -> str:
    return f"{services.settings.public_url}{SET_PASSWORD_PATH}{issued.text}"


async def _issue(
    services: Services, user: User, purpose: CredentialPurpose, created_by: int | None
) -> tuple[IssuedToken, CredentialToken]:
    """A new link for ``user``; call inside a transaction, so voiding and issuing go together."""
    now = services.now()
    issued = new_token(TokenKind.CREDENTIAL)
    await CredentialToken.filter(user_id=user.id, used_at__isnull=True).update(used_at=now)
    row = await CredentialToken.create(
        user_id=user.id,
        purpose=purpose,
        token_hash=issued.digest,
        created_at=now,
        expires_at=now + LIFETIMES[purpose],
        created_by_id=created_by,
    )
    return issued, row


def _until(moment: datetime) -> str:
    return moment.strftime("%d %b %Y %H:%M %Z")


async def invite_staff(ctx: Context, user_id: int) -> Invitation:
    """Issue an invitation for a colleague, and email it to them when SMTP is configured."""
    viewer = access.school_scoped(ctx, Op.MANAGE_STAFF)
    user = await access.require_staff_member(ctx, user_id, Op.MANAGE_STAFF)
    if not user.is_active:
        raise InvalidInput(
            "staffId", "This account is deactivated: reactivate it first.", reason="INACTIVE"
        )
    services = ctx.services
    async with in_transaction():
        issued, row = await _issue(services, user, CredentialPurpose.INVITE, viewer.user_id)
        await services.audit.record(
            entry_for(
                viewer, ctx.request, "staff.invite", target_type="user", target_ids=[str(user.id)]
            )
        )
    link = link_for(services, issued)
    smtp = services.settings.smtp
    if smtp.host is None:
        return Invitation(link, row.expires_at, emailed=False)
    school = await School.get(id=viewer.school_id)
    body = (
        f"You have been invited to Pupil Progress at {school.name}.\n\n"
        f"Choose your password here. The link works once, until {_until(row.expires_at)}:\n"
        f"{link}\n\n"
        "If you were not expecting this email, you can ignore it."
    )
    subject = f"Set your Pupil Progress password - {school.name}"
    message = plain_message(smtp, user.email, subject, body, sent_at=services.now())
    try:
        await send_email(smtp, message)
    except DeliveryError as error:
        # The admin still has the link to pass on; the payload says it was not emailed.
        log.warning("invitation for user %s not emailed: %s", user.id, error)
        return Invitation(link, row.expires_at, emailed=False)
    return Invitation(link, row.expires_at, emailed=True)


def _reset_throttle_keys(ctx: Context, email: str) -> list[tuple[str, str]]:
    # Login's policies, but counters of their own: asking for resets must not lock a login out.
    account = hashlib.sha256(f"reset:{email}".encode()).hexdigest()
    return [("account", account), ("address", f"reset-{ctx.request.ip or 'unknown'}")]


async def request_password_reset(ctx: Context, email: str) -> None:
    """Email a reset link if an active account has this address; say nothing either way.

    Every request counts against the throttle, so nobody can flood a mailbox. The mail leaves in
    the background, so the response takes no longer for an existing account.
    """
    services = ctx.services
    email = normalise_email(email)
    if not email or len(email) > MAX_EMAIL:
        raise InvalidInput("email", f"Enter an email address of at most {MAX_EMAIL} characters.")
    keys = _reset_throttle_keys(ctx, email)
    await services.throttle.check(keys)
    await services.throttle.record_failure(keys)
    user = await User.get_or_none(email=email, is_active=True)
    home = await Membership.filter(user_id=user.id).order_by("school_id").first() if user else None
    smtp = services.settings.smtp
    issued: IssuedToken | None = None
    async with in_transaction():
        if user is not None and home is not None and smtp.host is not None:
            issued, _ = await _issue(services, user, CredentialPurpose.RESET, None)
        await services.audit.record(
            entry_for(
                None,
                ctx.request,
                "auth.password_reset_requested",
                target_type="user",
                target_ids=[str(user.id)] if user else [],
                outcome="success" if issued else "failure",
                school_id=home.school_id if home else 0,
            )
        )
    if user is None or issued is None:
        return
    body = (
        "Someone, hopefully you, asked to reset your Pupil Progress password.\n\n"
        "Choose a new password here. The link works once, within the hour:\n"
        f"{link_for(services, issued)}\n\n"
        "If it was not you, ignore this email: your password has not changed."
    )
    subject = "Reset your Pupil Progress password"
    message = plain_message(smtp, user.email, subject, body, sent_at=services.now())
    send_in_background(smtp, message, f"password reset for user {user.id}")


async def set_password(ctx: Context, token: str, password: str) -> None:
    """Use a link: set the password, spend the link, end every session. Does not sign in."""
    services = ctx.services
    row = None
    if token_kind(token) is TokenKind.CREDENTIAL:
        row = await CredentialToken.get_or_none(token_hash=hash_token(token)).select_related("user")
    now = services.now()
    if row is None or row.used_at is not None or now >= row.expires_at or not row.user.is_active:
        raise InvalidInput("token", INVALID_LINK, reason="INVALID_TOKEN")
    await check_password(services, "password", password)
    password_hash = await services.passwords.hash(password)
    user = row.user
    home = await Membership.filter(user_id=user.id).order_by("school_id").first()
    async with in_transaction():
        # Spent with a guarded update, so two concurrent uses cannot both succeed.
        spent = await CredentialToken.filter(id=row.id, used_at__isnull=True).update(used_at=now)
        if not spent:
            raise InvalidInput("token", INVALID_LINK, reason="INVALID_TOKEN")
        user.password_hash = password_hash
        await user.save(update_fields=["password_hash"])
        await services.audit.record(
            entry_for(
                None,
                ctx.request,
                _ACTIONS[CredentialPurpose(row.purpose)],
                target_type="user",
                target_ids=[str(user.id)],
                fields=["password"],
                school_id=home.school_id if home else 0,
            )
        )
    # Whoever knew the old password is signed out everywhere, websockets included (AUTHN-12).
    await revoke_sessions(services, user_id=user.id)


__all__ = [
    "INVALID_LINK",
    "LIFETIMES",
    "SET_PASSWORD_PATH",
    "Invitation",
    "invite_staff",
    "link_for",
    "request_password_reset",
    "set_password",
]
