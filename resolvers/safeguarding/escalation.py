"""Escalation, driven from the database: a periodic sweep finds what is due and does it.

No in-memory timers decide anything, so a restart (or a crash) loses nothing: an alert nobody
acknowledged within its route's time goes to the route's next contact when the next sweep runs,
in whichever process runs it. Each step is claimed with a conditional update, so processes
sweeping at once escalate an alert one step, once.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from tortoise.expressions import Subquery
from tortoise.transactions import in_transaction

from models.alert_routing import (
    AlertDelivery,
    AlertEscalation,
    AlertRoute,
    DeliveryStatus,
    RouteContact,
    RoutedAlert,
)
from models.safeguarding import Alert, AlertAction, AlertActionKind, AlertStatus
from realtime import channels
from realtime.broker import BrokerError
from realtime.events import AlertRaised
from resolvers.audit import Entry
from resolvers.context import Services
from resolvers.safeguarding.alerts import next_cursor
from resolvers.safeguarding.deliveries import attempt, due_deliveries
from resolvers.safeguarding.routing import planned_deliveries, route_alert

log = logging.getLogger("pupil_progress.safeguarding.escalation")

#: Statuses in which nobody has taken the alert on yet: escalation goes on.
UNACKNOWLEDGED = (AlertStatus.NEW, AlertStatus.ESCALATED)
#: How far back a sweep looks for alerts a crash left unrouted.
UNROUTED_LOOKBACK = timedelta(days=1)
BATCH = 200


@dataclass(frozen=True, slots=True)
class SweepReport:
    routed: int
    escalated: int
    deliveries: int


async def route_unrouted(services: Services) -> tuple[int, list[int]]:
    """Route recent alerts that have no routing marker: (alerts routed, deliveries to attempt)."""
    now = services.now()
    ids: list[uuid.UUID] = await (
        Alert.filter(created_at__gte=now - UNROUTED_LOOKBACK, status__in=UNACKNOWLEDGED)
        .exclude(id__in=Subquery(RoutedAlert.all().values("alert_id")))
        .order_by("created_at")
        .limit(BATCH)
        .values_list("id", flat=True)
    )  # type: ignore[assignment]
    deliveries: list[int] = []
    for alert_id in ids:
        deliveries += await route_alert(services, alert_id)
    return len(ids), deliveries


async def _stop(escalation: AlertEscalation) -> None:
    await AlertEscalation.filter(id=escalation.id, step=escalation.step).update(due_at=None)


async def escalate(
    services: Services, escalation: AlertEscalation, now: datetime
) -> list[int] | None:
    """Tell the route's next contact, if the alert is still unacknowledged.

    The ids of the deliveries to attempt, or None when nothing was escalated.
    """
    alert = await Alert.get_or_none(id=escalation.alert_id)
    if alert is None or alert.status not in UNACKNOWLEDGED:
        await _stop(escalation)
        return None
    route = await AlertRoute.get_or_none(id=escalation.route_id)
    contacts = await RouteContact.filter(route_id=escalation.route_id).order_by("position")
    later = [c for c in contacts if c.position > escalation.step]
    if route is None or not later:
        await _stop(escalation)
        log.error(
            "SAFEGUARDING: alert %s was not acknowledged by any contact of route %s",
            alert.id,
            escalation.route_id,
        )
        return None
    contact = later[0]
    due_at = now + timedelta(minutes=route.ack_timeout_minutes) if len(later) > 1 else None
    email = services.settings.smtp.host is not None
    planned: list[AlertDelivery] = []
    async with in_transaction() as conn:
        claimed = (
            await AlertEscalation.filter(id=escalation.id, step=escalation.step, due_at__lte=now)
            .using_db(conn)
            .update(step=contact.position, notified_at=now, due_at=due_at)
        )
        if not claimed:
            return None  # another sweep took this step
        counter = await next_cursor(alert.school_id, conn)
        await counter.save(using_db=conn, update_fields=["last_cursor"])
        await (
            Alert.filter(id=alert.id)
            .using_db(conn)
            .update(status=AlertStatus.ESCALATED, updated_at=now, cursor=counter.last_cursor)
        )
        await AlertAction.create(
            school_id=alert.school_id,
            alert_id=alert.id,
            actor_id=None,
            kind=AlertActionKind.ESCALATED,
            from_status=alert.status.value,
            to_status=AlertStatus.ESCALATED.value,
            created_at=now,
            using_db=conn,
        )
        for row in planned_deliveries(alert, route, contact, contact.position, now, email=email):
            await row.save(using_db=conn)
            planned.append(row)
    await services.audit.record(
        Entry(
            action="safeguarding.alert.escalate",
            school_id=alert.school_id,
            target_type="alert",
            target_ids=(str(alert.id),),
            fields=("status",),
        )
    )
    try:
        event = AlertRaised(alert=str(alert.id), cursor=counter.last_cursor)
        await services.broker.publish(channels.alerts(alert.school_id), event.encode())
    except BrokerError as error:
        log.warning("escalation of alert %s not announced (feeds replay it): %s", alert.id, error)
    log.warning(
        "alert %s not acknowledged in %s min: escalated to contact %s of route %s",
        alert.id,
        route.ack_timeout_minutes,
        contact.position,
        route.id,
    )
    return [d.id for d in planned if d.status is DeliveryStatus.PENDING]


async def escalate_due(services: Services) -> tuple[int, list[int]]:
    """Escalate every alert whose time is up: (alerts escalated, deliveries to attempt)."""
    now = services.now()
    due = await AlertEscalation.filter(due_at__lte=now).order_by("due_at", "id").limit(BATCH)
    escalated, deliveries = 0, []
    for escalation in due:
        made = await escalate(services, escalation, now)
        if made is not None:
            escalated += 1
            deliveries += made
    return escalated, deliveries


async def sweep(services: Services) -> SweepReport:
    """Route what was left unrouted, escalate what is due, (re)try due deliveries."""
    routed, _ = await route_unrouted(services)
    escalated, _ = await escalate_due(services)
    due = await due_deliveries(services.now())
    router = services.alert_router
    for delivery_id in due:
        if router is not None and router.dispatch.running:
            if not router.submit_delivery(delivery_id):
                break  # the queue is full: the next sweep takes the rest
        else:
            await attempt(services, delivery_id)
    return SweepReport(routed=routed, escalated=escalated, deliveries=len(due))


__all__ = [
    "UNACKNOWLEDGED",
    "SweepReport",
    "escalate",
    "escalate_due",
    "route_unrouted",
    "sweep",
]
