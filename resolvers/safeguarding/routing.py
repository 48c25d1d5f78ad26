"""Routing: which of a school's routes take a new alert, and telling each route's first contact.

Ingest calls :meth:`AlertRouter.alert_created` after the alert is committed; it only queues the
work, so ingest never waits on the database for routes, on a mail server or on a webhook. The
routing itself commits a :class:`RoutedAlert` marker with the escalation state and the delivery
rows in one transaction, so an alert is routed exactly once however many processes race for it,
and a sweep finds any alert a crash or a full queue left unrouted.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from models.alert_routing import (
    AlertDelivery,
    AlertEscalation,
    AlertRoute,
    ContactKind,
    DeliveryChannel,
    DeliveryStatus,
    RouteContact,
    RoutedAlert,
    RouteHours,
)
from models.learners import Learner
from models.safeguarding import Alert
from resolvers.context import Services
from resolvers.safeguarding import deliveries
from resolvers.safeguarding.dispatch import AlertDispatch

log = logging.getLogger("pupil_progress.safeguarding.routing")


def route_takes(route: AlertRoute, alert: Alert, year_group: int | None) -> bool:
    """Whether ``route`` applies to ``alert`` about a learner in ``year_group``."""
    if not route.enabled or alert.severity < route.min_severity:
        return False
    if route.categories and alert.category not in route.categories:
        return False
    if route.year_groups and year_group not in route.year_groups:
        return False
    if route.hours is RouteHours.SCHOOL_HOURS:
        return not alert.out_of_hours
    if route.hours is RouteHours.OUT_OF_HOURS:
        return alert.out_of_hours
    return True


async def matching_routes(alert: Alert) -> list[AlertRoute]:
    learner = await Learner.get_or_none(id=alert.learner_id)
    year_group = learner.year_group if learner is not None else None
    routes = await AlertRoute.filter(school_id=alert.school_id, enabled=True).order_by("id")
    return [r for r in routes if route_takes(r, alert, year_group)]


def planned_deliveries(
    alert: Alert,
    route: AlertRoute,
    contact: RouteContact,
    step: int,
    now: datetime,
    *,
    email: bool,
) -> list[AlertDelivery]:
    """The messages telling one contact about an alert (unsaved), by the contact's kind.

    ``email``: whether an SMTP server is configured, so staff are emailed as well.
    """

    def one(channel: DeliveryChannel, recipient: str) -> AlertDelivery:
        return AlertDelivery(
            school_id=alert.school_id,
            alert_id=alert.id,
            route_id=route.id,
            contact_id=contact.id,
            step=step,
            channel=channel,
            recipient=recipient,
            status=DeliveryStatus.PENDING,
            created_at=now,
            next_attempt_at=now,
        )

    if contact.kind is ContactKind.STAFF:
        # The feed shows every alert to the school's safeguarding leads already: the row records
        # that this lead was the one told, for the escalation history.
        feed = one(DeliveryChannel.FEED, f"user:{contact.user_id}")
        feed.status, feed.attempt, feed.sent_at, feed.next_attempt_at = (
            DeliveryStatus.SENT,
            1,
            now,
            None,
        )
        if not email:
            return [feed]
        # The email goes to the lead's account address, resolved when it is sent.
        return [feed, one(DeliveryChannel.EMAIL, f"user:{contact.user_id}")]
    if contact.kind is ContactKind.EMAIL:
        return [one(DeliveryChannel.EMAIL, contact.email or "")]
    return [one(DeliveryChannel.WEBHOOK, str(contact.webhook_id))]


async def route_alert(services: Services, alert_id: uuid.UUID) -> list[int]:
    """Route one alert (once): the ids of the deliveries to attempt now."""
    alert = await Alert.get_or_none(id=alert_id)
    if alert is None or await RoutedAlert.exists(alert_id=alert_id):
        return []
    now = services.now()
    email = services.settings.smtp.host is not None
    routes = await matching_routes(alert)
    contacts = {r.id: await RouteContact.filter(route_id=r.id).order_by("position") for r in routes}
    planned: list[AlertDelivery] = []
    try:
        async with in_transaction() as conn:
            await RoutedAlert.create(
                school_id=alert.school_id,
                alert_id=alert.id,
                routed_at=now,
                routes_matched=len(routes),
                using_db=conn,
            )
            for route in routes:
                listed = contacts[route.id]
                if not listed:
                    continue
                first = listed[0]
                more = len(listed) > 1
                await AlertEscalation.create(
                    school_id=alert.school_id,
                    alert_id=alert.id,
                    route_id=route.id,
                    step=first.position,
                    notified_at=now,
                    due_at=now + timedelta(minutes=route.ack_timeout_minutes) if more else None,
                    using_db=conn,
                )
                for row in planned_deliveries(
                    alert, route, first, first.position, now, email=email
                ):
                    await row.save(using_db=conn)
                    planned.append(row)
    except IntegrityError:
        # Another worker or process routed it first.
        return []
    log.info("alert %s matched %s route(s)", alert.id, len(routes))
    return [d.id for d in planned if d.status is DeliveryStatus.PENDING]


class AlertRouter:
    """Routes new alerts and delivers their messages in the background (app lifespan)."""

    def __init__(self, services: Services, dispatch: AlertDispatch | None = None) -> None:
        from resolvers.safeguarding.escalation import sweep

        self.services = services

        async def periodic_sweep() -> object:
            return await sweep(services)

        self.dispatch = dispatch or AlertDispatch(periodic_sweep)

    async def alert_created(self, alert_id: object) -> None:
        """The ingest hook: queue the alert for routing and return at once."""
        self.submit_routing(_as_uuid(alert_id))

    def submit_routing(self, alert_id: uuid.UUID) -> bool:
        async def job() -> None:
            for delivery_id in await route_alert(self.services, alert_id):
                self.submit_delivery(delivery_id)

        return self.dispatch.submit(job)

    def submit_delivery(self, delivery_id: int) -> bool:
        async def job() -> None:
            await deliveries.attempt(self.services, delivery_id)

        return self.dispatch.submit(job)

    async def idle(self) -> None:
        await self.dispatch.idle()

    async def __aenter__(self) -> AlertRouter:
        await self.dispatch.__aenter__()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.dispatch.__aexit__(*exc_info)


def _as_uuid(value: object) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


async def alert_created(services: Services, alert_id: uuid.UUID | int | str) -> None:
    """Route a newly committed alert without waiting for it (the ingest path's hook)."""
    router = services.alert_router
    if router is not None:
        await router.alert_created(alert_id)
    else:
        log.error("no alert router is running: alert %s waits for a sweep", alert_id)


__all__ = [
    "AlertRouter",
    "alert_created",
    "matching_routes",
    "planned_deliveries",
    "route_alert",
    "route_takes",
]
