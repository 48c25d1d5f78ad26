"""Reading alerts: the list, node(id), and the resumable alert feed; all audited."""

from __future__ import annotations

import asyncio
from contextlib import aclosing
from datetime import timedelta
from typing import Any

import pytest

from models.audit import AuditEvent
from models.partners import Scope
from models.safeguarding import AlertStatus
from models.staff import Membership, Role
from realtime import channels
from resolvers.context import Services, Viewer
from resolvers.safeguarding.feed import encode_feed_cursor
from schema.common import to_global_id
from tests import factories
from tests.classroom.helpers import (
    Stream,
    ended,
    error_code,
    ok,
    receive,
    receive_after,
    subscribe,
    wait_until,
)
from tests.conftest import Clock, GraphQLRunner
from tests.safeguarding.alert_helpers import (
    ALERT_FIELDS,
    PHRASE,
    School,
    a_school,
    alerts_of,
    custom_rule,
    report,
    routing_settles,  # noqa: F401 (fixture)
    typed,
)

ALERTS = f"""
query Alerts($first: Int, $after: String, $filter: AlertFilter) {{
  alerts(first: $first, after: $after, filter: $filter) {{
    edges {{ cursor node {{ {ALERT_FIELDS} }} }}
    pageInfo {{ hasNextPage endCursor }}
    totalCount
  }}
}}
"""

NODE = "query Node($id: ID!) { node(id: $id) { id ... on Alert { excerpt category } } }"

FEED = """
subscription Feed($after: String) {
  alertFeed(after: $after) { cursor alert { id count excerpt category } }
}
"""


async def raise_alerts(gql: GraphQLRunner, world: School, clock: Clock, n: int) -> None:
    # An hour apart: each its own alert rather than a merged repeat.
    for i in range(n):
        at = clock.now - timedelta(hours=n - i)
        await report(gql, world.pupil_viewer, typed(f"number {i} {PHRASE}", at))


def feed_ready(services: Services, world: School) -> Any:
    channel = channels.alerts(world.room.school.id)
    return lambda: services.broker.subscriber_count(channel) > 0


async def test_a_lead_lists_the_schools_alerts_newest_first_with_evidence(
    services: Services, gql: GraphQLRunner, clock: Clock
) -> None:
    # given three alerts
    world = await a_school(services)
    await raise_alerts(gql, world, clock, 3)
    # when the lead lists them two at a time
    first = ok(await gql(ALERTS, world.dsl_viewer, first=2))["alerts"]
    rest = ok(await gql(ALERTS, world.dsl_viewer, first=2, after=first["pageInfo"]["endCursor"]))
    # then they come newest first, with their decrypted excerpt and learner
    excerpts = [e["node"]["excerpt"] for e in first["edges"] + rest["alerts"]["edges"]]
    assert [x.split(" ")[1] for x in excerpts] == ["2", "1", "0"]
    assert first["pageInfo"]["hasNextPage"]
    assert not rest["alerts"]["pageInfo"]["hasNextPage"]
    assert first["totalCount"] == 3
    node = first["edges"][0]["node"]
    assert node["learner"]["id"] == world.learner_id
    assert node["status"] == "NEW"
    assert node["category"] == "BULLYING"


async def test_filters_narrow_the_list(
    services: Services, gql: GraphQLRunner, clock: Clock
) -> None:
    # given alerts of two categories and severities, about two learners, one acknowledged
    world = await a_school(services, pupils=2)
    await custom_rule(services, world, "orange walrus", severity=5, category="VIOLENCE")
    other = world.room.pupils[1]
    earlier = clock.now - timedelta(hours=3)
    await report(gql, world.pupil_viewer, typed(PHRASE, earlier))
    await report(gql, world.pupil_viewer, typed("orange walrus", clock.now))
    await report(gql, other.viewer, typed(PHRASE, clock.now))
    rows = await alerts_of(world)
    rows[0].status = AlertStatus.ACKNOWLEDGED
    await rows[0].save(update_fields=["status"])

    async def ids(**where: Any) -> list[str]:
        data = ok(await gql(ALERTS, world.dsl_viewer, filter=where))["alerts"]
        return sorted(e["node"]["id"] for e in data["edges"])

    def gid(*indexes: int) -> list[str]:
        return sorted(to_global_id("Alert", rows[i].id) for i in indexes)

    # when filtering, then each condition holds
    assert await ids(status="ACKNOWLEDGED") == gid(0)
    assert await ids(category="VIOLENCE") == gid(1)
    assert await ids(minSeverity=5) == gid(1)
    assert await ids(severity=4) == gid(0, 2)
    assert await ids(learnerId=to_global_id("Learner", other.learner.id)) == gid(2)
    assert await ids(to=(clock.now - timedelta(hours=1)).isoformat()) == gid(0)
    assert await ids(**{"from": (clock.now - timedelta(hours=1)).isoformat()}) == gid(1, 2)


@pytest.mark.parametrize("role", [Role.TEACHER, Role.ADMIN, Role.LEADER])
async def test_only_safeguarding_leads_list_alerts(
    services: Services, gql: GraphQLRunner, clock: Clock, role: Role
) -> None:
    # given an alert
    world = await a_school(services)
    await raise_alerts(gql, world, clock, 1)
    # when another member of staff lists alerts, then it is forbidden
    user = await factories.staff(world.room.school, role)
    result = await gql(ALERTS, factories.viewer(user, world.room.school, role))
    assert error_code(result) == "FORBIDDEN"


async def test_partners_and_anonymous_callers_never_read_alerts(
    services: Services, gql: GraphQLRunner
) -> None:
    # given a partner key with every scope
    world = await a_school(services, rule=False)
    key, _ = await factories.api_key(world.room.school, scopes=list(Scope))
    partner = factories.partner_viewer(key, world.room.school)
    # when it or an anonymous caller lists alerts
    assert error_code(await gql(ALERTS, partner)) == "FORBIDDEN"
    assert error_code(await gql(ALERTS, None)) == "UNAUTHENTICATED"


async def test_every_read_is_audited_by_id_and_field_never_by_value(
    services: Services, gql: GraphQLRunner, clock: Clock
) -> None:
    # given an alert
    world = await a_school(services)
    await raise_alerts(gql, world, clock, 1)
    (alert,) = await alerts_of(world)
    # when the lead lists it and opens it
    ok(await gql(ALERTS, world.dsl_viewer))
    ok(await gql(NODE, world.dsl_viewer, id=to_global_id("Alert", alert.id)))
    # then both reads are on the audit trail, naming the alert, without its text
    events = await AuditEvent.filter(action__startswith="safeguarding.alert.").order_by("id")
    assert [e.action for e in events] == ["safeguarding.alert.list", "safeguarding.alert.read"]
    for audit in events:
        assert audit.target_ids == [str(alert.id)]
        assert audit.actor_id == str(world.dsl.id)
        assert "excerpt" in audit.fields_touched
        assert PHRASE not in str(audit.__dict__)


async def test_node_answers_not_found_outside_the_leads_school(
    services: Services, gql: GraphQLRunner, clock: Clock
) -> None:
    # given an alert in one school and a lead and a teacher elsewhere
    world = await a_school(services)
    await raise_alerts(gql, world, clock, 1)
    (alert,) = await alerts_of(world)
    elsewhere = await a_school(services, rule=False)
    alert_id = to_global_id("Alert", alert.id)
    # when they ask for it by id
    other_lead = await gql(NODE, elsewhere.dsl_viewer, id=alert_id)
    teacher = await gql(NODE, world.room.teacher_viewer, id=alert_id)
    random = await gql(NODE, world.dsl_viewer, id=to_global_id("Alert", factories.random_uuid()))
    # then both answer like a random id
    assert error_code(other_lead) == error_code(teacher) == error_code(random) == "NOT_FOUND"
    assert ok(await gql(NODE, world.dsl_viewer, id=alert_id))["node"]["category"] == "BULLYING"


async def test_the_feed_delivers_new_alerts_live(
    services: Services, gql: GraphQLRunner, clock: Clock
) -> None:
    # given a lead subscribed to the feed from now
    world = await a_school(services)
    stream = await subscribe(services, world.dsl_viewer, FEED)
    async with aclosing(stream):
        # when a device reports triggering text
        result = await receive_after(
            stream,
            feed_ready(services, world),
            lambda: report(gql, world.pupil_viewer, typed(f"now {PHRASE}", clock.now)),
        )
        # then the alert arrives with its evidence and cursor
        event = ok(result)["alertFeed"]
        (alert,) = await alerts_of(world)
        assert event["alert"]["id"] == to_global_id("Alert", alert.id)
        assert event["alert"]["excerpt"] == f"now {PHRASE}"
        assert event["cursor"]


async def test_resuming_replays_each_missed_alert_once_then_goes_live(
    services: Services, gql: GraphQLRunner, clock: Clock
) -> None:
    # given four alerts, the first of which the lead has seen
    world = await a_school(services)
    await raise_alerts(gql, world, clock, 4)
    listed = ok(await gql(ALERTS, world.dsl_viewer))["alerts"]["edges"]
    seen = listed[-1]["cursor"]
    # when the lead resumes the feed after it
    stream = await subscribe(services, world.dsl_viewer, FEED, after=seen)
    async with aclosing(stream):
        replayed = [ok(await receive(stream))["alertFeed"] for _ in range(3)]
        live = ok(
            await receive_after(
                stream,
                feed_ready(services, world),
                lambda: report(gql, world.pupil_viewer, typed(f"late {PHRASE}", clock.now)),
            )
        )["alertFeed"]
    # then the three missed ones come in order, each once, then the new one
    assert [r["alert"]["excerpt"].split(" ")[1] for r in replayed] == ["1", "2", "3"]
    assert live["alert"]["excerpt"] == f"late {PHRASE}"
    ids = [r["alert"]["id"] for r in [*replayed, live]]
    assert len(set(ids)) == 4


async def test_a_merge_is_delivered_again_with_a_new_cursor_and_count(
    services: Services, gql: GraphQLRunner, clock: Clock
) -> None:
    # given a lead who received an alert live
    world = await a_school(services)
    stream = await subscribe(services, world.dsl_viewer, FEED)
    async with aclosing(stream):
        first = ok(
            await receive_after(
                stream,
                feed_ready(services, world),
                lambda: report(gql, world.pupil_viewer, typed(PHRASE, clock.now)),
            )
        )["alertFeed"]
        # when the same rule matches again within the merge window
        await report(gql, world.pupil_viewer, typed(PHRASE, clock.now))
        again = ok(await receive(stream))["alertFeed"]
    # then the same alert comes again, counting two, at a later cursor
    assert again["alert"]["id"] == first["alert"]["id"]
    assert (first["alert"]["count"], again["alert"]["count"]) == (1, 2)
    assert again["cursor"] != first["cursor"]


async def test_a_demoted_lead_gets_forbidden_at_the_next_alert(
    services: Services, gql: GraphQLRunner, clock: Clock
) -> None:
    # given a lead following the feed
    world = await a_school(services)
    stream = await subscribe(services, world.dsl_viewer, FEED)
    async with aclosing(stream):
        ok(
            await receive_after(
                stream,
                feed_ready(services, world),
                lambda: report(gql, world.pupil_viewer, typed(PHRASE, clock.now)),
            )
        )
        # when they stop being a safeguarding lead and another alert is raised
        await Membership.filter(user_id=world.dsl.id, role=Role.SAFEGUARDING_LEAD).delete()
        earlier = clock.now - timedelta(hours=1)
        await report(gql, world.pupil_viewer, typed(PHRASE, earlier))
        result = await receive(stream)
        # then the stream ends with FORBIDDEN and delivers nothing more
        assert error_code(result) == "FORBIDDEN"
        assert await ended(stream)


async def _teacher(world: School) -> Viewer:
    return world.room.teacher_viewer


async def test_a_teacher_cannot_subscribe_to_the_feed(
    services: Services, gql: GraphQLRunner
) -> None:
    # given a teacher
    world = await a_school(services, rule=False)
    # when they subscribe, then the stream answers FORBIDDEN and nothing listens
    stream = await subscribe(services, await _teacher(world), FEED)
    async with aclosing(stream):
        assert error_code(await receive(stream)) == "FORBIDDEN"
    assert services.broker.subscriber_count(channels.alerts(world.room.school.id)) == 0


async def test_a_malformed_cursor_is_invalid_input(services: Services, gql: GraphQLRunner) -> None:
    # given a lead
    world = await a_school(services, rule=False)
    # when they resume from a cursor that is not one, then it is an input error
    stream = await subscribe(services, world.dsl_viewer, FEED, after="not a cursor")
    async with aclosing(stream):
        assert error_code(await receive(stream)) == "INVALID_INPUT"


async def test_feed_deliveries_are_audited(
    services: Services, gql: GraphQLRunner, clock: Clock
) -> None:
    # given an alert and a lead replaying the feed from the start
    world = await a_school(services)
    await raise_alerts(gql, world, clock, 1)
    (alert,) = await alerts_of(world)
    stream = await subscribe(services, world.dsl_viewer, FEED, after=encode_feed_cursor(0))
    async with aclosing(stream):
        ok(await receive(stream))
    # then the delivery is on the audit trail
    audit = await AuditEvent.get(action="safeguarding.alert.feed")
    assert audit.target_ids == [str(alert.id)]


async def test_losing_the_broker_ends_the_feed_so_the_client_resumes(
    services: Services, gql: GraphQLRunner, clock: Clock
) -> None:
    # given a lead following the feed
    world = await a_school(services, rule=False)
    stream: Stream = await subscribe(services, world.dsl_viewer, FEED)
    async with aclosing(stream):
        waiter = asyncio.ensure_future(anext(stream))
        await wait_until(feed_ready(services, world))
        # when the broker is lost
        services.broker._fail("test: broker lost")
        # then the stream ends with UNAVAILABLE
        assert error_code(await waiter) == "UNAVAILABLE"
