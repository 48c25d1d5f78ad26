"""Rotating a webhook's signing secret: shown once, both secrets sign during the grace period."""

from __future__ import annotations

from models.alert_routing import WebhookEndpoint
from models.audit import AuditEvent
from models.staff import Role
from resolvers.context import Services
from resolvers.safeguarding import delivery_webhook, routing
from resolvers.safeguarding.routes import ContactData
from resolvers.safeguarding.webhook_secrets import ROTATION_GRACE
from tests import factories
from tests.classroom.helpers import error_code, ok
from tests.conftest import Clock, GraphQLRunner
from tests.safeguarding.routing_helpers import (
    Place,
    Received,
    Receiver,
    a_place,
    a_route,
    an_alert,
    settled,
    webhook_receiver,
)

ROTATE = """
mutation Rotate($input: RotateWebhookSecretInput!) {
  rotateWebhookSecret(input: $input) {
    webhookSecret { url secret }
    previousValidUntil
    errors { field code }
  }
}
"""
ROUTES = "query { alertRoutes { nodes { contacts { webhookUrl } } } }"


async def delivered(services: Services, place: Place, receiver: Receiver) -> Received:
    """Route a new alert about the place's learner; the request the receiver got for it."""
    alert = await an_alert(services, place)
    await routing.alert_created(services, alert.id)
    await settled(services)
    return receiver.requests[-1]


def verifies(secret: str, request: Received) -> bool:
    """The receiver's check, at the time the request was signed."""
    header = request.headers["x-pupilprogress-signature"]
    signed_at = int(header.split(",")[0].removeprefix("t="))
    return delivery_webhook.verify(secret, header, request.body, now=signed_at)


async def test_rotation_signs_with_both_secrets_until_the_grace_period_ends(
    services: Services, gql: GraphQLRunner, clock: Clock
) -> None:
    # given a route to a real receiver, and its first secret
    place = await a_place(services)
    async with webhook_receiver() as receiver:
        saved = await a_route(services, place, ContactData(webhook_url=receiver.url))
        [old] = saved.new_secrets
        # when the lead rotates it, and alerts go out during and after the grace period
        data = ok(await gql(ROTATE, place.lead_viewer, input={"url": receiver.url}))
        clock.advance(seconds=ROTATION_GRACE.total_seconds() - 1)
        during = await delivered(services, place, receiver)
        clock.advance(seconds=2)
        after = await delivered(services, place, receiver)
    # then the new secret was shown once, and differs from the old
    payload = data["rotateWebhookSecret"]
    new = payload["webhookSecret"]["secret"]
    assert payload["errors"] == []
    assert payload["webhookSecret"]["url"] == receiver.url
    assert new.startswith("whsec_")
    assert new != old.secret
    # during the grace period one header carries both, and either secret verifies
    assert during.headers["x-pupilprogress-signature"].count(",v1=") == 2
    assert verifies(new, during)
    assert verifies(old.secret, during)
    # after it only the new one signs
    assert after.headers["x-pupilprogress-signature"].count(",v1=") == 1
    assert verifies(new, after)
    assert not verifies(old.secret, after)


async def test_the_new_secret_is_shown_once_and_audited_without_it(
    services: Services, gql: GraphQLRunner
) -> None:
    # given
    place = await a_place(services)
    saved = await a_route(services, place, ContactData(webhook_url="https://hooks.example.test/pp"))
    # when
    data = ok(await gql(ROTATE, place.lead_viewer, input={"url": "https://hooks.example.test/pp"}))
    # then the audit names the endpoint and never a secret
    new = data["rotateWebhookSecret"]["webhookSecret"]["secret"]
    [event] = await AuditEvent.filter(action="safeguarding.webhook.rotate_secret")
    recorded = str(await AuditEvent.filter(id=event.id).values())
    assert event.target_type == "webhook_endpoint"
    assert new not in recorded
    assert saved.new_secrets[0].secret not in recorded
    # and the routes list never shows it again
    routes = ok(await gql(ROUTES, place.lead_viewer))
    assert new not in str(routes)


async def test_an_unknown_url_is_not_found(services: Services, gql: GraphQLRunner) -> None:
    # given a school with a webhook, and another school naming the same URL
    place = await a_place(services)
    await a_route(services, place, ContactData(webhook_url="https://hooks.example.test/pp"))
    elsewhere = await a_place(services)
    # when / then
    for viewer, url in (
        (place.lead_viewer, "https://hooks.example.test/other"),
        (elsewhere.lead_viewer, "https://hooks.example.test/pp"),
    ):
        result = await gql(ROTATE, viewer, input={"url": url})
        assert error_code(result) == "NOT_FOUND"


async def test_other_roles_cannot_rotate(services: Services, gql: GraphQLRunner) -> None:
    # given
    place = await a_place(services)
    await a_route(services, place, ContactData(webhook_url="https://hooks.example.test/pp"))
    before = await WebhookEndpoint.all().values()
    # when / then
    for role in (Role.ADMIN, Role.TEACHER, Role.LEADER):
        user = await factories.staff(place.school, role)
        viewer = factories.viewer(user, place.school, role)
        result = await gql(ROTATE, viewer, input={"url": "https://hooks.example.test/pp"})
        assert error_code(result) == "FORBIDDEN"
    assert await WebhookEndpoint.all().values() == before
