"""Routing: matching routes take a new alert, the first contact of each is told, once."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from models.alert_routing import (
    AlertEscalation,
    AlertRoute,
    DeliveryChannel,
    DeliveryStatus,
    RoutedAlert,
    RouteHours,
)
from models.safeguarding import Alert
from resolvers.context import Services
from resolvers.safeguarding import escalation, routing
from resolvers.safeguarding.dispatch import AlertDispatch
from resolvers.safeguarding.routes import ContactData
from tests.safeguarding import alert_helpers
from tests.safeguarding.routing_helpers import (
    a_place,
    a_route,
    an_alert,
    deliveries_of,
    route_as,
    settled,
    wait_until,
)


async def test_an_alert_goes_to_the_first_contact_of_each_matching_route(
    services: Services, clock
) -> None:
    # given: a self-harm route with two leads in order, and a bullying route
    place = await a_place(services)
    first = await a_route(
        services,
        place,
        ContactData(staff_id=place.lead.id),
        ContactData(staff_id=place.deputy.id),
        categories=["SELF_HARM"],
        min_severity=3,
        ack_timeout_minutes=10,
    )
    await a_route(services, place, ContactData(staff_id=place.deputy.id), categories=["BULLYING"])
    alert = await an_alert(services, place, category="SELF_HARM", severity=4)
    # when
    await routing.alert_created(services, alert.id)
    await settled(services)
    # then: only the lead is told (in the feed: no SMTP server here), and escalation is due
    sent = await deliveries_of(alert)
    assert [(d.channel, d.recipient, d.status, d.step) for d in sent] == [
        (DeliveryChannel.FEED, f"user:{place.lead.id}", DeliveryStatus.SENT, 0)
    ]
    marker = await RoutedAlert.get(alert_id=alert.id)
    assert marker.routes_matched == 1
    state = await AlertEscalation.get(alert_id=alert.id)
    assert state.route_id == first.route.id
    assert state.due_at == clock.now + timedelta(minutes=10)


def _route(**fields: object) -> AlertRoute:
    values: dict[str, object] = {
        "categories": [],
        "min_severity": 1,
        "year_groups": [],
        "hours": RouteHours.ALWAYS,
        "enabled": True,
    }
    values.update(fields)
    return AlertRoute(**values)


def _alert(**fields: object) -> Alert:
    values: dict[str, object] = {"category": "SUICIDE", "severity": 3, "out_of_hours": False}
    values.update(fields)
    return Alert(**values)


#: (route fields, alert fields, learner's year group, taken?)
MATCHES = [
    ({}, {}, 10, True),
    ({"enabled": False}, {}, 10, False),
    ({"min_severity": 4}, {"severity": 3}, 10, False),
    ({"min_severity": 3}, {"severity": 3}, 10, True),
    ({"categories": ["SUICIDE", "SELF_HARM"]}, {}, 10, True),
    ({"categories": ["BULLYING"]}, {}, 10, False),
    ({"year_groups": [7, 8, 9]}, {}, 10, False),
    ({"year_groups": [10, 11]}, {}, 10, True),
    ({"year_groups": [10]}, {}, None, False),
    ({"hours": RouteHours.OUT_OF_HOURS}, {"out_of_hours": False}, 10, False),
    ({"hours": RouteHours.OUT_OF_HOURS}, {"out_of_hours": True}, 10, True),
    ({"hours": RouteHours.SCHOOL_HOURS}, {"out_of_hours": True}, 10, False),
    ({"hours": RouteHours.SCHOOL_HOURS}, {"out_of_hours": False}, 10, True),
]


@pytest.mark.parametrize(("route", "alert", "year", "taken"), MATCHES)
def test_a_route_takes_alerts_by_category_severity_year_group_and_hours(
    route: dict[str, object], alert: dict[str, object], year: int | None, taken: bool
) -> None:
    # given / when
    result = routing.route_takes(_route(**route), _alert(**alert), year)
    # then
    assert result is taken


async def test_the_ingest_hook_only_queues_the_work(services: Services) -> None:
    # given
    place = await a_place(services)
    await a_route(services, place)
    alert = await an_alert(services, place)
    assert services.alert_router is not None
    # when: the hook returns without giving the event loop a turn (no I/O at all)
    await routing.alert_created(services, alert.id)
    queued = services.alert_router.dispatch.pending
    await settled(services)
    # then: it had only queued the alert, which the background worker then routed
    assert queued == 1
    assert await RoutedAlert.exists(alert_id=alert.id)


async def test_a_sweep_routes_an_alert_that_was_never_queued(services: Services) -> None:
    # given: an alert committed just before a crash, before its hook ran
    place = await a_place(services)
    await a_route(services, place)
    alert = await an_alert(services, place)
    # when
    report = await escalation.sweep(services)
    await settled(services)
    # then
    assert report.routed == 1
    assert [d.channel for d in await deliveries_of(alert)] == [DeliveryChannel.FEED]


async def test_an_alert_is_routed_once_however_many_workers_race(services: Services) -> None:
    # given
    place = await a_place(services)
    await a_route(services, place, ContactData(email="dsl@school.example"))
    alert = await an_alert(services, place)
    # when
    await asyncio.gather(*(routing.route_alert(services, alert.id) for _ in range(4)))
    # then
    assert len(await deliveries_of(alert)) == 1
    assert await RoutedAlert.filter(alert_id=alert.id).count() == 1


async def test_an_alert_no_route_takes_stays_in_the_feed_only(services: Services) -> None:
    # given
    place = await a_place(services)
    await a_route(services, place, categories=["GAMBLING"])
    alert = await an_alert(services, place, category="SELF_HARM")
    # when
    await routing.alert_created(services, alert.id)
    await settled(services)
    # then
    assert await deliveries_of(alert) == []
    assert (await RoutedAlert.get(alert_id=alert.id)).routes_matched == 0


async def test_an_alert_raised_by_ingest_is_routed(services: Services, gql, clock) -> None:
    # given: a school whose own rule fires on a phrase, and a route for its category
    world = await alert_helpers.a_school(services)
    await route_as(services, world.dsl_viewer, ContactData(staff_id=world.dsl.id))
    # when: the pupil's device reports the phrase
    statuses = await alert_helpers.report(
        gql,
        world.pupil_viewer,
        alert_helpers.typed(f"they said {alert_helpers.PHRASE} again", clock.now),
    )
    # then: the alert is routed to the lead in the background
    assert statuses == ["ACCEPTED"]
    alerts = await alert_helpers.alerts_of(world)
    assert len(alerts) == 1

    async def told() -> bool:
        return await RoutedAlert.exists(alert_id=alerts[0].id)

    await wait_until(told)
    await settled(services)
    sent = await deliveries_of(alerts[0])
    assert [(d.channel, d.recipient) for d in sent] == [
        (DeliveryChannel.FEED, f"user:{world.dsl.id}")
    ]


async def test_a_full_queue_refuses_work_and_the_sweep_routes_it_later(services: Services) -> None:
    # given: a router whose queue holds one job and which has no worker to take it
    place = await a_place(services)
    await a_route(services, place)
    first, second = await an_alert(services, place), await an_alert(services, place)

    async def no_sweep() -> None:
        return None

    router = routing.AlertRouter(services, AlertDispatch(no_sweep, workers=0, max_pending=1))
    # when: two alerts arrive, then the process stops with the first still queued
    async with router:
        taken = [router.submit_routing(first.id), router.submit_routing(second.id)]
    report = await escalation.sweep(services)
    await settled(services)
    # then: nothing was lost, the database said both were still to route
    assert taken == [True, False]
    assert router.dispatch.dropped == 1
    assert report.routed == 2
    assert await RoutedAlert.filter(alert_id__in=[first.id, second.id]).count() == 2
