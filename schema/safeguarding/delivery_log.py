"""The delivery log over GraphQL: who was told about an alert, and whether it reached them."""

from __future__ import annotations

import datetime

import strawberry

from models import alert_routing as db
from resolvers.safeguarding import delivery_log
from schema.common import Connection, Info, parse_uuid_id, to_global_id

strawberry.enum(db.DeliveryChannel, description="How a contact was told about an alert.")
strawberry.enum(db.DeliveryStatus, description="Where a message is in its delivery.")


@strawberry.type(description="One message about an alert to one contact, with its attempts.")
class AlertDelivery:
    id: strawberry.ID = strawberry.field(description="Opaque global id.")
    channel: db.DeliveryChannel = strawberry.field(description="Feed, email or webhook.")
    recipient: str = strawberry.field(
        description="The address, the webhook URL or the safeguarding lead's name."
    )
    route_name: str | None = strawberry.field(description="The route it was sent for.")
    step: int = strawberry.field(description="0 for the first contact; higher once escalated.")
    status: db.DeliveryStatus = strawberry.field(description="Where it is.")
    attempts: int = strawberry.field(description="Attempts made so far.")
    created_at: datetime.datetime = strawberry.field(description="When it was planned.")
    sent_at: datetime.datetime | None = strawberry.field(description="When it was accepted.")
    next_attempt_at: datetime.datetime | None = strawberry.field(
        description="When it is tried again, while retrying."
    )
    error: str | None = strawberry.field(description="Why the last attempt failed.")

    @classmethod
    def from_view(cls, view: delivery_log.DeliveryView) -> AlertDelivery:
        row = view.row
        return cls(
            id=to_global_id("AlertDelivery", row.id),
            channel=row.channel,
            recipient=view.recipient,
            route_name=view.route_name,
            step=row.step,
            status=row.status,
            attempts=row.attempt,
            created_at=row.created_at,
            sent_at=row.sent_at,
            next_attempt_at=row.next_attempt_at,
            error=row.error,
        )


@strawberry.type
class AlertDeliveryQuery:
    @strawberry.field(
        description="Who was told about an alert, how and when, with failures and retries "
        "(safeguarding leads)."
    )
    async def alert_deliveries(
        self,
        info: Info,
        alert_id: strawberry.ID,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[AlertDelivery]:
        alert = parse_uuid_id(alert_id, "Alert", "alertId")
        views = await delivery_log.alert_deliveries(info.context, alert)
        return Connection.from_list(
            [AlertDelivery.from_view(v) for v in views],
            lambda delivery: str(delivery.id),
            lambda delivery: delivery,
            first=first,
            after=after,
            maximum=info.context.services.settings.limits.max_page_size,
        )


__all__ = ["AlertDelivery", "AlertDeliveryQuery"]
