"""Signed webhooks to a real local HTTP receiver: signature, body, retries, replay window."""

from __future__ import annotations

import hashlib
import hmac
import json

from models.alert_routing import DeliveryChannel, DeliveryStatus
from resolvers.context import Services
from resolvers.safeguarding import deliveries, delivery_webhook, escalation, routing
from resolvers.safeguarding.routes import ContactData
from tests.safeguarding.routing_helpers import (
    EXCERPT,
    TITLE,
    URL,
    a_place,
    a_route,
    an_alert,
    deliveries_of,
    settled,
    webhook_receiver,
)


def check_signature(secret: str, header: str, body: bytes) -> int:
    """The receiver's side, written from the documented scheme: the signed timestamp."""
    fields = dict(part.split("=", 1) for part in header.split(","))
    expected = hmac.new(
        secret.encode(), fields["t"].encode() + b"." + body, hashlib.sha256
    ).hexdigest()
    assert hmac.compare_digest(fields["v1"], expected), "bad signature"
    return int(fields["t"])


async def test_the_receiver_gets_a_signed_post_without_evidence(services: Services, clock) -> None:
    # given
    place = await a_place(services)
    async with webhook_receiver() as receiver:
        saved = await a_route(services, place, ContactData(webhook_url=receiver.url))
        [secret] = saved.new_secrets
        alert = await an_alert(services, place, category="SUICIDE", severity=5)
        # when
        await routing.alert_created(services, alert.id)
        await settled(services)
        # then
        [request] = receiver.requests
    assert request.path == "/hooks/pupil-progress"
    assert request.headers["content-type"] == "application/json"
    signed_at = check_signature(
        secret.secret, request.headers["x-pupilprogress-signature"], request.body
    )
    assert signed_at == int(clock.now.timestamp())
    document = json.loads(request.body)
    [delivery] = await deliveries_of(alert)
    assert request.headers["x-pupilprogress-delivery"] == str(delivery.id)
    assert document["type"] == "alert.created"
    assert document["deliveryId"] == delivery.id
    assert document["alert"]["id"] == deliveries.alert_ref(alert.id)
    assert document["alert"]["category"] == "SUICIDE"
    assert document["alert"]["severity"] == 5
    assert document["alert"]["createdAt"].startswith(alert.created_at.strftime("%Y-%m-%dT"))
    for secret_text in (EXCERPT, URL, TITLE, "Sam", "Taylor"):
        assert secret_text not in request.body.decode()
    assert (delivery.channel, delivery.status) == (DeliveryChannel.WEBHOOK, DeliveryStatus.SENT)


async def test_server_errors_are_retried_with_the_same_delivery_id(
    services: Services, clock
) -> None:
    # given: the receiver fails twice with 500 and 503
    place = await a_place(services)
    async with webhook_receiver() as receiver:
        saved = await a_route(services, place, ContactData(webhook_url=receiver.url))
        receiver.statuses = [500, 503]
        alert = await an_alert(services, place)
        # when
        await routing.alert_created(services, alert.id)
        await settled(services)
        [failed] = await deliveries_of(alert)
        for minutes in (1, 2):
            clock.advance(minutes=minutes)
            await escalation.sweep(services)
            await settled(services)
        # then
        assert len(receiver.requests) == 3
    assert (failed.status, failed.error) == (DeliveryStatus.RETRYING, "webhook answered HTTP 500")
    [delivery] = await deliveries_of(alert)
    assert (delivery.status, delivery.attempt) == (DeliveryStatus.SENT, 3)
    ids = {r.headers["x-pupilprogress-delivery"] for r in receiver.requests}
    assert ids == {str(delivery.id)}
    # each retry is signed afresh, at its own time
    stamps = [
        check_signature(saved.new_secrets[0].secret, r.headers["x-pupilprogress-signature"], r.body)
        for r in receiver.requests
    ]
    assert stamps == sorted(stamps)
    assert stamps[-1] - stamps[0] == 180


async def test_an_unreachable_receiver_is_retried_and_then_given_up(
    services: Services, clock
) -> None:
    # given: a receiver that has gone away
    place = await a_place(services)
    async with webhook_receiver() as receiver:
        url = receiver.url
    await a_route(services, place, ContactData(webhook_url=url))
    alert = await an_alert(services, place)
    # when
    await routing.alert_created(services, alert.id)
    await settled(services)
    for _ in range(deliveries.MAX_ATTEMPTS):
        clock.advance(hours=1)
        await escalation.sweep(services)
        await settled(services)
    # then
    [delivery] = await deliveries_of(alert)
    assert (delivery.status, delivery.attempt) == (DeliveryStatus.FAILED, deliveries.MAX_ATTEMPTS)
    assert delivery.error is not None
    assert delivery.error.startswith("webhook: ")


def test_verify_refuses_tampering_and_replays() -> None:
    # given
    secret, body, at = "whsec_test", b'{"alert":{"id":"x"}}', 1_800_000_000
    header = delivery_webhook.signature(secret, body, at)
    window = delivery_webhook.REPLAY_WINDOW
    # when / then
    assert delivery_webhook.verify(secret, header, body, now=at + 10)
    assert not delivery_webhook.verify(secret, header, body + b" ", now=at)
    assert not delivery_webhook.verify("whsec_other", header, body, now=at)
    assert not delivery_webhook.verify(secret, header, body, now=at + window + 1)
    assert not delivery_webhook.verify(secret, header, body, now=at - window - 1)
    assert not delivery_webhook.verify(secret, "v1=abc", body, now=at)
