"""Attempting one delivery: claim it, send it, record the outcome, schedule a bounded retry.

A delivery row is claimed with a conditional update before anything is sent, so two workers or
two processes never send the same attempt; a claim is a lease (``next_attempt_at``), and a
worker that dies mid-send leaves a row the sweep retries once the lease has passed.
"""

from __future__ import annotations

import base64
import logging
import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from models.alert_routing import AlertDelivery, DeliveryChannel, DeliveryStatus, WebhookEndpoint
from models.learners import Learner
from models.safeguarding import Alert, AlertAction, AlertActionKind
from models.schools import School
from models.staff import User
from resolvers.context import Services
from resolvers.safeguarding.delivery_email import (
    AlertNotice,
    DeliveryError,
    compose,
    send_email,
)
from resolvers.safeguarding.delivery_webhook import body_for, post_webhook
from resolvers.safeguarding.webhook_secrets import signing_secrets

log = logging.getLogger("pupil_progress.safeguarding.delivery")

MAX_ATTEMPTS = 6
FIRST_RETRY = timedelta(minutes=1)
LONGEST_WAIT = timedelta(minutes=30)
#: How long a claimed delivery is left alone before a sweep assumes its worker died.
LEASE = timedelta(minutes=5)
DUE = (DeliveryStatus.PENDING, DeliveryStatus.RETRYING, DeliveryStatus.SENDING)


class PermanentDeliveryError(DeliveryError):
    """Retrying cannot help (no SMTP server configured, the contact is gone)."""


def backoff(attempt: int) -> timedelta:
    """The wait after failed attempt number ``attempt`` (1, 2, 4 ... minutes, at most 30)."""
    wait: timedelta = FIRST_RETRY * 2 ** max(attempt - 1, 0)
    return min(wait, LONGEST_WAIT)


def alert_ref(alert_id: uuid.UUID) -> str:
    """The alert's global id, as the dashboards and the GraphQL API name it."""
    return base64.urlsafe_b64encode(f"Alert:{alert_id}".encode()).decode().rstrip("=")


def initials(learner: Learner | None) -> str:
    if learner is None:
        return "?"
    return "".join(part.strip()[:1].upper() for part in (learner.given_name, learner.family_name))


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("Europe/London")


async def notice_for(services: Services, alert: Alert, step: int) -> AlertNotice:
    learner = await Learner.get_or_none(id=alert.learner_id)
    school = await School.get(id=alert.school_id)
    ref = alert_ref(alert.id)
    return AlertNotice(
        alert_ref=ref,
        category=alert.category,
        severity=alert.severity,
        at=alert.created_at.astimezone(_zone(school.timezone)),
        initials=initials(learner),
        year_group=learner.year_group if learner is not None else None,
        link=f"{services.settings.public_url}/alerts#alert={ref}",
        school_name=school.name,
        escalation_step=step,
    )


async def _email_address(recipient: str) -> str:
    if not recipient.startswith("user:"):
        return recipient
    user = await User.get_or_none(id=int(recipient.removeprefix("user:")), is_active=True)
    if user is None:
        raise PermanentDeliveryError("the staff contact no longer has an active account")
    return user.email


async def _send(services: Services, delivery: AlertDelivery, alert: Alert) -> None:
    notice = await notice_for(services, alert, delivery.step)
    if delivery.channel is DeliveryChannel.EMAIL:
        smtp = services.settings.smtp
        if smtp.host is None:
            raise PermanentDeliveryError("no SMTP server is configured (PP_SMTP_HOST)")
        to = await _email_address(delivery.recipient)
        await send_email(smtp, compose(notice, smtp.sender, to, sent_at=services.now()))
        return
    if delivery.channel is DeliveryChannel.WEBHOOK:
        endpoint = await WebhookEndpoint.get_or_none(
            id=uuid.UUID(delivery.recipient), school_id=delivery.school_id
        )
        if endpoint is None:
            raise PermanentDeliveryError("the webhook endpoint no longer exists")
        secrets = await signing_secrets(services, endpoint)
        if not secrets:
            raise PermanentDeliveryError("the webhook endpoint has no secret")
        event = "alert.escalated" if delivery.step else "alert.created"
        body = body_for(notice, delivery.id, event)
        now = int(services.now().timestamp())
        await post_webhook(endpoint.url, secrets, body, delivery_id=delivery.id, now=now)
        return
    # FEED rows are written as sent: nothing leaves the server for them.


async def attempt(services: Services, delivery_id: int) -> DeliveryStatus | None:
    """One attempt at a due delivery; its new status, or None if it was not due or was taken."""
    now = services.now()
    claimed = await AlertDelivery.filter(
        id=delivery_id, status__in=DUE, next_attempt_at__lte=now
    ).update(status=DeliveryStatus.SENDING, next_attempt_at=now + LEASE)
    if not claimed:
        return None
    delivery = await AlertDelivery.get(id=delivery_id)
    alert = await Alert.get(id=delivery.alert_id)
    try:
        await _send(services, delivery, alert)
    except DeliveryError as error:
        return await _failed(services, delivery, error)
    except Exception as error:
        log.exception("delivery %s: unexpected failure", delivery.id)
        return await _failed(services, delivery, DeliveryError(type(error).__name__))
    sent_at = services.now()
    await AlertDelivery.filter(id=delivery.id).update(
        status=DeliveryStatus.SENT,
        attempt=delivery.attempt + 1,
        sent_at=sent_at,
        next_attempt_at=None,
        error=None,
    )
    await AlertAction.create(
        school_id=alert.school_id,
        alert_id=alert.id,
        actor_id=None,
        kind=AlertActionKind.DELIVERED,
        created_at=sent_at,
    )
    log.info("delivery %s: alert %s sent by %s", delivery.id, alert.id, delivery.channel)
    return DeliveryStatus.SENT


async def _failed(
    services: Services, delivery: AlertDelivery, error: DeliveryError
) -> DeliveryStatus:
    attempts = delivery.attempt + 1
    now = services.now()
    final = isinstance(error, PermanentDeliveryError) or attempts >= MAX_ATTEMPTS
    status = DeliveryStatus.FAILED if final else DeliveryStatus.RETRYING
    retry_at: datetime | None = None if final else now + backoff(attempts)
    await AlertDelivery.filter(id=delivery.id).update(
        status=status, attempt=attempts, next_attempt_at=retry_at, error=str(error)[:500]
    )
    if final:
        log.error(
            "SAFEGUARDING DELIVERY FAILED for good: delivery %s of alert %s by %s after %s "
            "attempt(s): %s",
            delivery.id,
            delivery.alert_id,
            delivery.channel,
            attempts,
            error,
        )
    else:
        log.error(
            "safeguarding delivery %s of alert %s by %s failed (attempt %s of %s): %s; "
            "retrying at %s",
            delivery.id,
            delivery.alert_id,
            delivery.channel,
            attempts,
            MAX_ATTEMPTS,
            error,
            retry_at.isoformat() if retry_at else "-",
        )
    return status


async def due_deliveries(now: datetime, limit: int = 200) -> list[int]:
    """Ids of deliveries whose (re)try is due, oldest first."""
    ids: list[int] = await (
        AlertDelivery.filter(status__in=DUE, next_attempt_at__lte=now)
        .order_by("next_attempt_at", "id")
        .limit(limit)
        .values_list("id", flat=True)
    )  # type: ignore[assignment]
    return ids


__all__ = [
    "DUE",
    "LEASE",
    "MAX_ATTEMPTS",
    "PermanentDeliveryError",
    "alert_ref",
    "attempt",
    "backoff",
    "due_deliveries",
    "initials",
    "notice_for",
]
