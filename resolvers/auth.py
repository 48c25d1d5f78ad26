"""Signing in and out, and turning a presented token into a Viewer."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from tortoise.transactions import in_transaction

from app.config import DEMO_PASSWORD
from app.errors import InvalidInput
from app.security.tokens import TokenKind, hash_token, new_token, token_kind
from models.devices import Device
from models.partners import ApiKey, ApiKeyGrant, Scope
from models.staff import Membership, Role, Session, User
from realtime import channels
from realtime.events import Revoked
from resolvers.audit import entry_for
from resolvers.context import Context, PrincipalKind, Services, Viewer

MAX_EMAIL = 254
MAX_PASSWORD = 128
#: Touch ``last_seen_at`` at most this often: idle timeouts need minutes, not every request.
TOUCH_EVERY = timedelta(seconds=60)
BAD_CREDENTIALS = "Email or password is incorrect."


@dataclass(frozen=True, slots=True)
class SignedIn:
    token: str
    viewer: Viewer
    expires_at: datetime


def normalise_email(email: str) -> str:
    return email.strip().lower()


def _throttle_keys(ctx: Context, email: str) -> list[tuple[str, str]]:
    # Hashed so the throttle store never holds addresses of people who never had an account.
    account = hashlib.sha256(email.encode()).hexdigest()
    return [("account", account), ("address", ctx.request.ip or "unknown")]


async def login(ctx: Context, email: str, password: str) -> SignedIn:
    """Sign a member of staff in. Unknown accounts and wrong passwords fail identically."""
    services = ctx.services
    email = normalise_email(email)
    if not email or len(email) > MAX_EMAIL:
        raise InvalidInput("email", f"Enter an email address of at most {MAX_EMAIL} characters.")
    if not password or len(password) > MAX_PASSWORD:
        raise InvalidInput("password", f"Enter a password of at most {MAX_PASSWORD} characters.")
    keys = _throttle_keys(ctx, email)
    await services.throttle.check(keys)
    user = await User.get_or_none(email=email, is_active=True)
    result = await services.passwords.verify(user.password_hash if user else None, password)
    school_id, roles = await _home_school(user) if user else (None, frozenset[Role]())
    demo_refused = password == DEMO_PASSWORD and not services.settings.demo
    if user is None or not result.ok or school_id is None or demo_refused:
        await services.throttle.record_failure(keys)
        await services.audit.record(
            entry_for(
                None,
                ctx.request,
                "auth.login_failed",
                target_type="user",
                target_ids=[str(user.id)] if user else [],
                outcome="failure",
                school_id=school_id if school_id is not None else 0,
            )
        )
        raise InvalidInput(None, BAD_CREDENTIALS, reason="INVALID_CREDENTIALS")
    await services.throttle.reset(keys[:1])
    issued = new_token(TokenKind.SESSION)
    now = services.now()
    expires = now + timedelta(seconds=services.settings.session_absolute_seconds)
    async with in_transaction():
        if result.new_hash is not None:
            user.password_hash = result.new_hash
        user.last_login_at = now
        await user.save(update_fields=["password_hash", "last_login_at"])
        session = await Session.create(
            token_hash=issued.digest,
            user_id=user.id,
            school_id=school_id,
            created_at=now,
            last_seen_at=now,
            expires_at=expires,
            ip=ctx.request.ip,
        )
        viewer = Viewer(
            PrincipalKind.STAFF,
            school_id,
            frozenset({school_id}),
            user_id=user.id,
            roles=roles,
            session_id=session.id,
        )
        await services.audit.record(
            entry_for(
                viewer, ctx.request, "auth.login", target_type="user", target_ids=[str(user.id)]
            )
        )
    return SignedIn(issued.text, viewer, expires)


async def _home_school(user: User) -> tuple[int | None, frozenset[Role]]:
    memberships = await Membership.filter(user_id=user.id).order_by("school_id")
    if not memberships:
        return None, frozenset()
    school_id = memberships[0].school_id
    return school_id, frozenset(m.role for m in memberships if m.school_id == school_id)


async def logout(ctx: Context) -> bool:
    viewer = ctx.viewer
    if viewer is None or viewer.session_id is None:
        return False
    await revoke_sessions(ctx.services, session_ids=[viewer.session_id])
    await ctx.services.audit.record(
        entry_for(
            viewer, ctx.request, "auth.logout", target_type="user", target_ids=[str(viewer.user_id)]
        )
    )
    return True


async def revoke_sessions(
    services: Services, *, session_ids: list[int] | None = None, user_id: int | None = None
) -> None:
    """End sessions at once, and tell every process to close their websockets."""
    query = Session.filter(revoked_at__isnull=True)
    if session_ids is not None:
        query = query.filter(id__in=session_ids)
    if user_id is not None:
        query = query.filter(user_id=user_id)
    ids: list[int] = await query.values_list("id", flat=True)  # type: ignore[assignment]
    if not ids:
        return
    await Session.filter(id__in=ids).update(revoked_at=services.now())
    await services.broker.publish(channels.revocations(), Revoked(sessions=sorted(ids)).encode())


async def authenticate(services: Services, token: str | None) -> Viewer | None:
    """The principal a bearer token stands for, or None when it is unknown, revoked or expired."""
    if not token:
        return None
    kind = token_kind(token)
    if kind is TokenKind.SESSION:
        return await _session_viewer(services, hash_token(token))
    if kind is TokenKind.API_KEY:
        return await _partner_viewer(services, hash_token(token))
    if kind is TokenKind.DEVICE:
        return await _device_viewer(hash_token(token))
    return None


async def _session_viewer(services: Services, digest: str) -> Viewer | None:
    session = await Session.get_or_none(token_hash=digest, revoked_at__isnull=True).select_related(
        "user"
    )
    now = services.now()
    idle = timedelta(seconds=services.settings.session_idle_seconds)
    if session is None or not session.user.is_active:
        return None
    if now >= session.expires_at or now >= session.last_seen_at + idle:
        return None
    memberships = await Membership.filter(user_id=session.user_id, school_id=session.school_id)
    roles = frozenset(Role(m.role) for m in memberships)
    if not roles:
        return None
    if now - session.last_seen_at >= TOUCH_EVERY:
        await Session.filter(id=session.id).update(last_seen_at=now)
    return Viewer(
        PrincipalKind.STAFF,
        session.school_id,
        frozenset({session.school_id}),
        user_id=session.user_id,
        roles=roles,
        session_id=session.id,
    )


async def _partner_viewer(services: Services, digest: str) -> Viewer | None:
    key = await ApiKey.get_or_none(key_hash=digest, revoked_at__isnull=True)
    if key is None:
        return None
    grants: list[int] = await ApiKeyGrant.filter(api_key_id=key.id).values_list(  # type: ignore[assignment]
        "school_id", flat=True
    )
    schools = sorted(grants)
    if not schools:
        return None
    now = services.now()
    if key.last_used_at is None or now - key.last_used_at >= TOUCH_EVERY:
        await ApiKey.filter(id=key.id).update(last_used_at=now)
    return Viewer(
        PrincipalKind.PARTNER,
        schools[0],
        frozenset(schools),
        api_key_id=key.id,
        scopes=frozenset(Scope(s) for s in key.scopes),
    )


async def _device_viewer(digest: str) -> Viewer | None:
    device = await Device.get_or_none(token_hash=digest, revoked_at__isnull=True)
    if device is None:
        return None
    return Viewer(
        PrincipalKind.DEVICE,
        device.school_id,
        frozenset({device.school_id}),
        device_id=device.id,
        learner_id=device.learner_id,
    )


__all__ = ["SignedIn", "authenticate", "login", "logout", "normalise_email", "revoke_sessions"]
