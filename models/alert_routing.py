"""Who hears about a safeguarding alert, how, and what happened to each attempt to tell them."""

from __future__ import annotations

import uuid
from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from models.safeguarding import Alert
from models.schools import School
from models.staff import User


class RouteHours(StrEnum):
    """When a route applies, judged by the alert's own out-of-hours flag."""

    ALWAYS = "ALWAYS"
    SCHOOL_HOURS = "SCHOOL_HOURS"
    OUT_OF_HOURS = "OUT_OF_HOURS"


class ContactKind(StrEnum):
    #: A safeguarding lead of the school: the feed, plus an email to their account when SMTP is set.
    STAFF = "STAFF"
    EMAIL = "EMAIL"
    WEBHOOK = "WEBHOOK"


class DeliveryChannel(StrEnum):
    FEED = "FEED"
    EMAIL = "EMAIL"
    WEBHOOK = "WEBHOOK"


class DeliveryStatus(StrEnum):
    PENDING = "PENDING"
    #: Claimed by a worker. ``next_attempt_at`` is then its lease, after which a sweep retries.
    SENDING = "SENDING"
    SENT = "SENT"
    #: Failed, another attempt is due at ``next_attempt_at``.
    RETRYING = "RETRYING"
    #: Every attempt failed, or it could never work (no SMTP server configured).
    FAILED = "FAILED"


class AlertRoute(Model):
    """Which alerts of a school go to whom: matching rules and an ordered contact list."""

    id = fields.IntField(primary_key=True)
    school: fields.ForeignKeyRelation[School] = fields.ForeignKeyField(
        "models.School", related_name="alert_routes", on_delete=fields.CASCADE
    )
    school_id: int
    name = fields.CharField(max_length=100)
    #: Category names the route takes (empty: every category).
    categories: fields.JSONField[list[str]] = fields.JSONField(default=list)
    min_severity = fields.SmallIntField(default=1)
    #: Year groups the route takes, 0 for Reception (empty: every year group).
    year_groups: fields.JSONField[list[int]] = fields.JSONField(default=list)
    hours = fields.CharEnumField(RouteHours, max_length=16, default=RouteHours.ALWAYS)
    #: Minutes a contact has to acknowledge before the next contact is told.
    ack_timeout_minutes = fields.IntField(default=15)
    enabled = fields.BooleanField(default=True)
    created_at = fields.DatetimeField()
    updated_at = fields.DatetimeField()

    contacts: fields.ReverseRelation[RouteContact]

    class Meta:
        table = "alert_route"
        ordering = ["name", "id"]
        unique_together = (("school", "name"),)


class WebhookEndpoint(Model):
    """A school's webhook receiver, with the secret that signs every request to it.

    The primary key is a UUID made before insert, so the secret's envelope is bound to its row.
    """

    id = fields.UUIDField(primary_key=True, default=uuid.uuid4)
    school: fields.ForeignKeyRelation[School] = fields.ForeignKeyField(
        "models.School", related_name="webhook_endpoints", on_delete=fields.CASCADE
    )
    school_id: int
    url = fields.CharField(max_length=2048)
    #: AES-GCM envelope of the signing secret, never plaintext.
    secret_enc = fields.BinaryField()
    #: The secret the last rotation replaced, sealed the same way.
    #: It signs too until the grace period after ``rotated_at`` ends, so receivers can switch.
    previous_secret_enc = fields.BinaryField(null=True)
    rotated_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField()

    class Meta:
        table = "alert_webhook_endpoint"
        unique_together = (("school", "url"),)


class RouteContact(Model):
    """One contact of a route, at its place in the escalation order (0 is told first)."""

    id = fields.IntField(primary_key=True)
    school: fields.ForeignKeyRelation[School] = fields.ForeignKeyField(
        "models.School", related_name="alert_route_contacts", on_delete=fields.CASCADE
    )
    school_id: int
    route: fields.ForeignKeyRelation[AlertRoute] = fields.ForeignKeyField(
        "models.AlertRoute", related_name="contacts", on_delete=fields.CASCADE
    )
    route_id: int
    position = fields.SmallIntField()
    kind = fields.CharEnumField(ContactKind, max_length=16)
    user: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="alert_route_contacts", null=True, on_delete=fields.CASCADE
    )
    user_id: int | None
    email = fields.CharField(max_length=254, null=True)
    webhook: fields.ForeignKeyNullableRelation[WebhookEndpoint] = fields.ForeignKeyField(
        "models.WebhookEndpoint", related_name="contacts", null=True, on_delete=fields.RESTRICT
    )
    webhook_id: uuid.UUID | None

    class Meta:
        table = "alert_route_contact"
        ordering = ["route_id", "position"]
        unique_together = (("route", "position"),)


class RoutedAlert(Model):
    """Marks an alert as routed, so a sweep can route alerts a crash left behind."""

    id = fields.IntField(primary_key=True)
    school: fields.ForeignKeyRelation[School] = fields.ForeignKeyField(
        "models.School", related_name="routed_alerts", on_delete=fields.CASCADE
    )
    school_id: int
    alert: fields.OneToOneRelation[Alert] = fields.OneToOneField(
        "models.Alert", related_name="routing", on_delete=fields.CASCADE
    )
    alert_id: uuid.UUID
    routed_at = fields.DatetimeField()
    routes_matched = fields.SmallIntField(default=0)

    class Meta:
        table = "alert_routed"


class AlertEscalation(Model):
    """How far down one route's contact list an alert has gone, and when it goes further."""

    id = fields.IntField(primary_key=True)
    school: fields.ForeignKeyRelation[School] = fields.ForeignKeyField(
        "models.School", related_name="alert_escalations", on_delete=fields.CASCADE
    )
    school_id: int
    alert: fields.ForeignKeyRelation[Alert] = fields.ForeignKeyField(
        "models.Alert", related_name="escalations", on_delete=fields.CASCADE
    )
    alert_id: uuid.UUID
    route: fields.ForeignKeyRelation[AlertRoute] = fields.ForeignKeyField(
        "models.AlertRoute", related_name="escalations", on_delete=fields.CASCADE
    )
    route_id: int
    #: Position of the contact last told.
    step = fields.SmallIntField(default=0)
    notified_at = fields.DatetimeField()
    #: When the next contact is told if nobody acknowledges, null once the list is exhausted.
    due_at = fields.DatetimeField(null=True, db_index=True)

    class Meta:
        table = "alert_escalation"
        unique_together = (("alert", "route"),)


class AlertDelivery(Model):
    """One message about one alert to one contact, with its attempts: the delivery log."""

    id = fields.IntField(primary_key=True)
    school: fields.ForeignKeyRelation[School] = fields.ForeignKeyField(
        "models.School", related_name="alert_deliveries", on_delete=fields.CASCADE
    )
    school_id: int
    alert: fields.ForeignKeyRelation[Alert] = fields.ForeignKeyField(
        "models.Alert", related_name="deliveries", on_delete=fields.CASCADE
    )
    alert_id: uuid.UUID
    route: fields.ForeignKeyNullableRelation[AlertRoute] = fields.ForeignKeyField(
        "models.AlertRoute", related_name="deliveries", null=True, on_delete=fields.SET_NULL
    )
    route_id: int | None
    contact: fields.ForeignKeyNullableRelation[RouteContact] = fields.ForeignKeyField(
        "models.RouteContact", related_name="deliveries", null=True, on_delete=fields.SET_NULL
    )
    contact_id: int | None
    #: Position of the contact in the route when sent: 0 first, higher after escalation.
    step = fields.SmallIntField(default=0)
    channel = fields.CharEnumField(DeliveryChannel, max_length=16)
    #: The address, endpoint URL or staff user id as it was when sent (contacts change).
    recipient = fields.CharField(max_length=2048)
    status = fields.CharEnumField(DeliveryStatus, max_length=16, default=DeliveryStatus.PENDING)
    attempt = fields.SmallIntField(default=0)
    created_at = fields.DatetimeField()
    next_attempt_at = fields.DatetimeField(null=True, db_index=True)
    sent_at = fields.DatetimeField(null=True)
    #: Why the last attempt failed: the server's answer, never the message.
    error = fields.CharField(max_length=500, null=True)

    class Meta:
        table = "alert_delivery"
        ordering = ["created_at", "id"]


__all__ = [
    "AlertDelivery",
    "AlertEscalation",
    "AlertRoute",
    "ContactKind",
    "DeliveryChannel",
    "DeliveryStatus",
    "RouteContact",
    "RouteHours",
    "RoutedAlert",
    "WebhookEndpoint",
]
