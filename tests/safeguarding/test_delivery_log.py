"""The delivery log over GraphQL: a lead sees who was told about an alert, and what failed."""

from __future__ import annotations

from models.staff import Role
from resolvers.context import Services
from resolvers.safeguarding import routing
from resolvers.safeguarding.routes import ContactData
from schema.common import to_global_id
from tests import factories
from tests.classroom.helpers import error_code, ok
from tests.conftest import GraphQLRunner
from tests.safeguarding.routing_helpers import (
    a_place,
    a_route,
    an_alert,
    settled,
    webhook_receiver,
)

DELIVERIES = """
query Deliveries($alertId: ID!) {
  alertDeliveries(alertId: $alertId) {
    nodes { channel recipient routeName step status attempts sentAt nextAttemptAt error }
  }
}
"""


async def test_a_lead_sees_every_message_about_an_alert(
    services: Services, gql: GraphQLRunner
) -> None:
    # given: a route telling a lead in the feed and a webhook that fails
    place = await a_place(services)
    async with webhook_receiver() as receiver:
        receiver.statuses = [500]
        await a_route(
            services,
            place,
            ContactData(staff_id=place.lead.id),
            name="Imminent risk",
        )
        await a_route(services, place, ContactData(webhook_url=receiver.url), name="Case system")
        alert = await an_alert(services, place)
        await routing.alert_created(services, alert.id)
        await settled(services)
        # when
        result = ok(
            await gql(DELIVERIES, place.lead_viewer, alertId=to_global_id("Alert", alert.id))
        )
    # then
    nodes = result["alertDeliveries"]["nodes"]
    summary = [(n["channel"], n["recipient"], n["routeName"], n["status"]) for n in nodes]
    assert summary == [
        ("FEED", "Dana Lead", "Imminent risk", "SENT"),
        ("WEBHOOK", receiver.url, "Case system", "RETRYING"),
    ]
    assert nodes[1]["error"] == "webhook answered HTTP 500"
    assert nodes[1]["nextAttemptAt"] is not None
    assert nodes[0]["sentAt"] is not None


async def test_only_the_school_s_leads_read_the_log(services: Services, gql: GraphQLRunner) -> None:
    # given
    place = await a_place(services)
    alert = await an_alert(services, place)
    other = await a_place(services)
    teacher = factories.viewer(await factories.staff(place.school), place.school, Role.TEACHER)
    admin = await factories.admin_viewer(place.school)
    alert_id = to_global_id("Alert", alert.id)
    # when / then
    assert error_code(await gql(DELIVERIES, other.lead_viewer, alertId=alert_id)) == "NOT_FOUND"
    for viewer in (teacher, admin):
        assert error_code(await gql(DELIVERIES, viewer, alertId=alert_id)) == "FORBIDDEN"
    assert error_code(await gql(DELIVERIES, None, alertId=alert_id)) == "UNAUTHENTICATED"
    assert ok(await gql(DELIVERIES, place.lead_viewer, alertId=alert_id)) == {
        "alertDeliveries": {"nodes": []}
    }
