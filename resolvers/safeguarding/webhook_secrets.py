"""Webhook signing secrets: sealed at rest, rotated with a grace period.

A rotation keeps the replaced secret, sealed under its own column, and for :data:`ROTATION_GRACE`
after it every request is signed by both (two ``v1=`` values in one header, as Stripe does), so
a receiver can switch to the new secret whenever it likes without refusing a single alert. After
the grace period only the new secret signs. A second rotation inside the grace period drops the
oldest secret: only the two most recent ever sign.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from tortoise.transactions import in_transaction

from app.errors import NotFound
from app.security.crypto import FieldContext
from models.alert_routing import WebhookEndpoint
from resolvers import access
from resolvers.access import Op
from resolvers.audit import entry_for
from resolvers.context import Context, Services
from resolvers.safeguarding.delivery_webhook import new_secret

WEBHOOK_TABLE = "alert_webhook_endpoint"
#: How long the replaced secret keeps signing after a rotation.
ROTATION_GRACE = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class RotatedSecret:
    url: str
    #: The new secret, shown once.
    secret: str
    #: Until when the previous secret signs too.
    previous_valid_until: datetime


def webhook_secret_context(endpoint: WebhookEndpoint) -> FieldContext:
    return FieldContext(endpoint.school_id, WEBHOOK_TABLE, "secret", str(endpoint.id))


def previous_secret_context(endpoint: WebhookEndpoint) -> FieldContext:
    return FieldContext(endpoint.school_id, WEBHOOK_TABLE, "previous_secret", str(endpoint.id))


async def signing_secrets(services: Services, endpoint: WebhookEndpoint) -> list[str]:
    """The secrets that sign a request to ``endpoint`` now: the current one first."""
    current = await services.keyring.decrypt(webhook_secret_context(endpoint), endpoint.secret_enc)
    if current is None:
        return []
    secrets = [current]
    rotated_at = endpoint.rotated_at
    if rotated_at is not None and services.now() < rotated_at + ROTATION_GRACE:
        previous = await services.keyring.decrypt(
            previous_secret_context(endpoint), endpoint.previous_secret_enc
        )
        if previous is not None:
            secrets.append(previous)
    return secrets


async def rotate_secret(ctx: Context, url: str) -> RotatedSecret:
    """Give the school's endpoint at ``url`` a new secret; the old one signs for the grace."""
    viewer = access.school_scoped(ctx, Op.MANAGE_ALERT_ROUTES)
    keyring = ctx.services.keyring
    now = ctx.services.now()
    secret = new_secret()
    async with in_transaction() as conn:
        endpoint = (
            await WebhookEndpoint.select_for_update()
            .using_db(conn)
            .get_or_none(school_id=viewer.school_id, url=url)
        )
        if endpoint is None:
            raise NotFound("No webhook endpoint of this school has this URL.")
        replaced = await keyring.decrypt(webhook_secret_context(endpoint), endpoint.secret_enc)
        endpoint.previous_secret_enc = await keyring.encrypt(
            previous_secret_context(endpoint), replaced
        )
        sealed = await keyring.encrypt(webhook_secret_context(endpoint), secret)
        endpoint.secret_enc = sealed or b""
        endpoint.rotated_at = now
        await endpoint.save(
            using_db=conn, update_fields=["secret_enc", "previous_secret_enc", "rotated_at"]
        )
        await ctx.services.audit.record(
            entry_for(
                viewer,
                ctx.request,
                "safeguarding.webhook.rotate_secret",
                target_type="webhook_endpoint",
                target_ids=[str(endpoint.id)],
            )
        )
    return RotatedSecret(url, secret, now + ROTATION_GRACE)


__all__ = [
    "ROTATION_GRACE",
    "RotatedSecret",
    "previous_secret_context",
    "rotate_secret",
    "signing_secrets",
    "webhook_secret_context",
]
