"""Escalation: unacknowledged alerts move down the contact list, driven from the database."""

from __future__ import annotations

import asyncio

from app.services import build_services, running
from models.alert_routing import AlertEscalation, DeliveryChannel
from models.audit import AuditEvent
from models.safeguarding import Alert, AlertAction, AlertActionKind, AlertStatus
from resolvers.context import Services
from resolvers.safeguarding import escalation, routing
from resolvers.safeguarding.routes import ContactData
from tests.safeguarding.routing_helpers import (
    Place,
    a_place,
    a_route,
    an_alert,
    deliveries_of,
    settled,
)


async def routed_alert(services: Services, place: Place, *contacts: ContactData) -> Alert:
    """An alert routed to the first of ``contacts`` (timeout 15 minutes)."""
    await a_route(services, place, *contacts, ack_timeout_minutes=15)
    alert = await an_alert(services, place)
    await routing.alert_created(services, alert.id)
    await settled(services)
    return alert


async def told(alert: Alert) -> list[tuple[int, str]]:
    return [(d.step, d.recipient) for d in await deliveries_of(alert)]


async def test_an_unacknowledged_alert_goes_to_the_next_contact(services: Services, clock) -> None:
    # given
    place = await a_place(services)
    alert = await routed_alert(
        services, place, ContactData(staff_id=place.lead.id), ContactData(staff_id=place.deputy.id)
    )
    # when: a sweep before the time is up, then one after
    clock.advance(minutes=14)
    early = await escalation.sweep(services)
    clock.advance(minutes=2)
    late = await escalation.sweep(services)
    await settled(services)
    # then
    assert early.escalated == 0
    assert late.escalated == 1
    assert await told(alert) == [(0, f"user:{place.lead.id}"), (1, f"user:{place.deputy.id}")]
    fresh = await Alert.get(id=alert.id)
    assert fresh.status is AlertStatus.ESCALATED
    assert fresh.cursor > alert.cursor, "the feed shows the escalated alert again"
    [action] = await AlertAction.filter(alert_id=alert.id, kind=AlertActionKind.ESCALATED)
    assert (action.from_status, action.to_status, action.actor_id) == ("NEW", "ESCALATED", None)
    events = await AuditEvent.filter(action="safeguarding.alert.escalate")
    assert [e.target_ids for e in events] == [[str(alert.id)]]
    state = await AlertEscalation.get(alert_id=alert.id)
    assert (state.step, state.due_at) == (1, None)


async def test_an_acknowledged_alert_is_not_escalated(services: Services, clock) -> None:
    # given
    place = await a_place(services)
    alert = await routed_alert(
        services, place, ContactData(staff_id=place.lead.id), ContactData(staff_id=place.deputy.id)
    )
    await Alert.filter(id=alert.id).update(status=AlertStatus.ACKNOWLEDGED)
    # when
    clock.advance(minutes=20)
    report = await escalation.sweep(services)
    await settled(services)
    # then
    assert report.escalated == 0
    assert await told(alert) == [(0, f"user:{place.lead.id}")]
    assert (await Alert.get(id=alert.id)).status is AlertStatus.ACKNOWLEDGED
    assert (await AlertEscalation.get(alert_id=alert.id)).due_at is None


async def test_escalation_walks_the_whole_list_then_stops(services: Services, clock) -> None:
    # given: three contacts
    place = await a_place(services)
    alert = await routed_alert(
        services,
        place,
        ContactData(staff_id=place.lead.id),
        ContactData(email="deputy@school.example"),
        ContactData(staff_id=place.deputy.id),
    )
    # when: nobody ever acknowledges
    for _ in range(4):
        clock.advance(minutes=16)
        await escalation.sweep(services)
        await settled(services)
    # then
    steps = [(d.step, d.channel) for d in await deliveries_of(alert)]
    assert steps == [
        (0, DeliveryChannel.FEED),
        (1, DeliveryChannel.EMAIL),
        (2, DeliveryChannel.FEED),
    ]
    assert await AlertAction.filter(alert_id=alert.id, kind=AlertActionKind.ESCALATED).count() == 2
    assert (await AlertEscalation.get(alert_id=alert.id)).due_at is None


async def test_escalation_survives_a_restart(services: Services, settings, clock) -> None:
    # given: an alert routed by a process that then stopped
    place = await a_place(services)
    alert = await routed_alert(
        services, place, ContactData(staff_id=place.lead.id), ContactData(staff_id=place.deputy.id)
    )
    restarted = build_services(settings, passwords=services.passwords)
    restarted.now = clock
    # when: a new process, knowing nothing in memory, sweeps after the time is up
    clock.advance(minutes=30)
    async with running(restarted):
        report = await escalation.sweep(restarted)
        await settled(restarted)
    # then
    assert report.escalated == 1
    assert await told(alert) == [(0, f"user:{place.lead.id}"), (1, f"user:{place.deputy.id}")]


async def test_sweeps_racing_escalate_one_step_once(services: Services, clock) -> None:
    # given
    place = await a_place(services)
    alert = await routed_alert(
        services,
        place,
        ContactData(staff_id=place.lead.id),
        ContactData(staff_id=place.deputy.id),
        ContactData(email="head@school.example"),
    )
    clock.advance(minutes=16)
    # when
    reports = await asyncio.gather(*(escalation.sweep(services) for _ in range(3)))
    await settled(services)
    # then
    assert sum(r.escalated for r in reports) == 1
    assert await told(alert) == [(0, f"user:{place.lead.id}"), (1, f"user:{place.deputy.id}")]
