"""Alert emails through a real SMTP server: what they say, what they never say, retries."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from app.config import Settings
from models.alert_routing import DeliveryChannel, DeliveryStatus
from models.safeguarding import AlertAction, AlertActionKind
from resolvers.context import Services
from resolvers.safeguarding import deliveries, escalation, routing
from resolvers.safeguarding.routes import ContactData
from tests.mail_server import smtp_server
from tests.safeguarding.routing_helpers import (
    EXCERPT,
    TITLE,
    URL,
    a_place,
    a_route,
    an_alert,
    deliveries_of,
    settled,
)


async def test_the_contact_gets_an_email_with_no_evidence_in_it(services: Services) -> None:
    # given: a route telling a lead (feed and email) and a named address
    place = await a_place(services, year_group=9)
    await a_route(
        services,
        place,
        ContactData(email="dsl.mobile@school.example"),
        ContactData(staff_id=place.lead.id),
    )
    alert = await an_alert(services, place, category="SELF_HARM", severity=5)
    async with smtp_server(services) as inbox:
        # when
        await routing.alert_created(services, alert.id)
        await settled(services)
        # then
        [message] = inbox.to("dsl.mobile@school.example")
        body = message.get_payload()
        assert isinstance(body, str)
        assert "Category: Self harm" in body
        assert "Severity: 5 of 5" in body
        assert "Learner: ST (Year 9)" in body
        assert f"{services.settings.public_url}/alerts#alert=" in body
        local = alert.created_at.astimezone(ZoneInfo("Europe/London"))
        assert local.strftime("%d %b %Y %H:%M") in body
        whole = message.as_string()
        for secret in (EXCERPT, URL, TITLE, "hurt", "Sam", "Taylor"):
            assert secret not in whole
        assert "Self" not in message["Subject"]
    sent = await deliveries_of(alert)
    assert [(d.channel, d.status, d.attempt) for d in sent] == [
        (DeliveryChannel.EMAIL, DeliveryStatus.SENT, 1)
    ]
    kinds = await AlertAction.filter(alert_id=alert.id).values_list("kind", flat=True)
    assert list(kinds) == [AlertActionKind.DELIVERED]


async def test_a_lead_contact_is_emailed_at_their_account_address(services: Services) -> None:
    # given
    place = await a_place(services)
    await a_route(services, place, ContactData(staff_id=place.lead.id))
    alert = await an_alert(services, place)
    async with smtp_server(services) as inbox:
        # when
        await routing.alert_created(services, alert.id)
        await settled(services)
        # then
        assert len(inbox.to(place.lead.email)) == 1
    channels = [(d.channel, d.status) for d in await deliveries_of(alert)]
    assert channels == [
        (DeliveryChannel.FEED, DeliveryStatus.SENT),
        (DeliveryChannel.EMAIL, DeliveryStatus.SENT),
    ]


async def test_a_refusing_server_is_retried_with_backoff_until_it_takes_the_mail(
    services: Services, clock
) -> None:
    # given: the server refuses the first two attempts
    place = await a_place(services)
    await a_route(services, place, ContactData(email="dsl@school.example"))
    alert = await an_alert(services, place)
    async with smtp_server(services) as inbox:
        inbox.refuse = 2
        # when
        await routing.alert_created(services, alert.id)
        await settled(services)
        [first] = await deliveries_of(alert)
        early = await escalation.sweep(services)
        await settled(services)
        clock.advance(minutes=1)
        await escalation.sweep(services)
        await settled(services)
        [second] = await deliveries_of(alert)
        clock.advance(minutes=2)
        await escalation.sweep(services)
        await settled(services)
        [third] = await deliveries_of(alert)
        # then
        assert (first.status, first.attempt) == (DeliveryStatus.RETRYING, 1)
        assert first.error is not None
        assert "451" in first.error
        assert first.next_attempt_at == alert.created_at + deliveries.backoff(1)
        assert early.deliveries == 0
        assert (second.status, second.attempt) == (DeliveryStatus.RETRYING, 2)
        assert second.next_attempt_at == clock.now - timedelta(minutes=2) + deliveries.backoff(2)
        assert (third.status, third.attempt, third.error) == (DeliveryStatus.SENT, 3, None)
        assert len(inbox.to("dsl@school.example")) == 1


async def test_without_an_smtp_server_an_email_contact_fails_loudly(
    services: Services, caplog
) -> None:
    # given: no PP_SMTP_HOST
    place = await a_place(services)
    await a_route(services, place, ContactData(email="dsl@school.example"))
    alert = await an_alert(services, place)
    # when
    await routing.alert_created(services, alert.id)
    await settled(services)
    # then
    [delivery] = await deliveries_of(alert)
    assert (delivery.status, delivery.attempt) == (DeliveryStatus.FAILED, 1)
    assert delivery.error is not None
    assert "PP_SMTP_HOST" in delivery.error
    assert any("FAILED for good" in r.getMessage() for r in caplog.records)


async def test_attempts_are_bounded(services: Services, clock) -> None:
    # given: a server that never takes the mail
    place = await a_place(services)
    await a_route(services, place, ContactData(email="dsl@school.example"))
    alert = await an_alert(services, place)
    async with smtp_server(services) as inbox:
        inbox.refuse = 100
        await routing.alert_created(services, alert.id)
        await settled(services)
        # when: every retry comes due
        for _ in range(deliveries.MAX_ATTEMPTS + 2):
            clock.advance(hours=1)
            await escalation.sweep(services)
            await settled(services)
    # then
    [delivery] = await deliveries_of(alert)
    assert (delivery.status, delivery.attempt) == (DeliveryStatus.FAILED, deliveries.MAX_ATTEMPTS)
    assert delivery.next_attempt_at is None
    assert inbox.messages == []


def test_smtp_settings_come_from_the_environment_without_showing_the_password() -> None:
    # given
    environ = {
        "PP_SMTP_HOST": "smtp.school.example",
        "PP_SMTP_PORT": "2525",
        "PP_SMTP_USER": "alerts",
        "PP_SMTP_PASSWORD": "hunter2-but-longer",
        "PP_SMTP_FROM": "Safeguarding <safeguarding@school.example>",
        "PP_SMTP_STARTTLS": "false",
    }
    # when
    smtp = Settings.from_environ(environ).smtp
    default = Settings.from_environ({}).smtp
    # then
    assert (smtp.host, smtp.port, smtp.user, smtp.starttls) == (
        "smtp.school.example",
        2525,
        "alerts",
        False,
    )
    assert smtp.sender == "Safeguarding <safeguarding@school.example>"
    assert smtp.password == "hunter2-but-longer"
    assert "hunter2" not in repr(Settings.from_environ(environ))
    assert (default.host, default.port, default.starttls) == (None, 587, True)
