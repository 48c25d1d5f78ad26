"""Reading the delivery log: who was told about an alert, how, when, and whether it worked."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from app.errors import NotFound
from models.alert_routing import AlertDelivery, AlertRoute, DeliveryChannel, WebhookEndpoint
from models.safeguarding import Alert
from models.staff import User
from resolvers import access
from resolvers.access import Op
from resolvers.context import Context


@dataclass(frozen=True, slots=True)
class DeliveryView:
    row: AlertDelivery
    #: The address, the webhook URL or the lead's name, as a person reads it.
    recipient: str
    route_name: str | None


async def _recipients(rows: list[AlertDelivery]) -> dict[str, str]:
    user_ids = {int(r.recipient[5:]) for r in rows if r.recipient.startswith("user:")}
    hook_ids = {r.recipient for r in rows if r.channel is DeliveryChannel.WEBHOOK}
    names = {f"user:{u.id}": u.display_name for u in await User.filter(id__in=sorted(user_ids))}
    endpoints = await WebhookEndpoint.filter(id__in=[uuid.UUID(h) for h in sorted(hook_ids)])
    names.update({str(e.id): e.url for e in endpoints})
    return names


async def alert_deliveries(ctx: Context, alert_id: uuid.UUID) -> list[DeliveryView]:
    """Every message about the alert, oldest first (safeguarding leads of its school)."""
    viewer = access.school_scoped(ctx, Op.READ_SAFEGUARDING)
    alert = await Alert.get_or_none(id=alert_id, school_id=viewer.school_id)
    if alert is None:
        raise NotFound("Alert not found.")
    rows = list(await AlertDelivery.filter(alert_id=alert.id).order_by("created_at", "id"))
    names = await _recipients(rows)
    route_ids = sorted({r.route_id for r in rows if r.route_id is not None})
    routes = {r.id: r.name for r in await AlertRoute.filter(id__in=route_ids)}
    return [
        DeliveryView(
            row,
            names.get(row.recipient, row.recipient),
            routes.get(row.route_id) if row.route_id is not None else None,
        )
        for row in rows
    ]


__all__ = ["DeliveryView", "alert_deliveries"]
