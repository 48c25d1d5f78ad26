"""Safeguarding alerts, their triage history, and each school's monitoring settings and rules."""

from __future__ import annotations

import uuid
from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from models.devices import Device
from models.learners import Learner
from models.schools import School
from models.staff import User


class AlertStatus(StrEnum):
    NEW = "NEW"
    ACKNOWLEDGED = "ACKNOWLEDGED"
    ESCALATED = "ESCALATED"
    RESOLVED = "RESOLVED"
    FALSE_POSITIVE = "FALSE_POSITIVE"


class AlertSource(StrEnum):
    """Where the evidence came from: a matched part of an activity event, or a person."""

    TEXT = "TEXT"
    SEARCH = "SEARCH"
    URL = "URL"
    TITLE = "TITLE"
    #: Raised by a member of staff about a learner (``raised_by``), not by detection.
    CONCERN = "CONCERN"


class AlertActionKind(StrEnum):
    CREATED = "CREATED"
    MERGED = "MERGED"
    ACKNOWLEDGED = "ACKNOWLEDGED"
    STATUS_CHANGED = "STATUS_CHANGED"
    SEVERITY_CHANGED = "SEVERITY_CHANGED"
    ASSIGNED = "ASSIGNED"
    NOTE_ADDED = "NOTE_ADDED"
    #: Written by routing when an unacknowledged alert moves to the next contact.
    ESCALATED = "ESCALATED"
    #: Written by delivery (email, webhook) and export, for the chronology.
    DELIVERED = "DELIVERED"
    EXPORTED = "EXPORTED"


class MonitoringWindow(StrEnum):
    #: Only while the learner's group has a lesson running.
    LESSONS_ONLY = "LESSONS_ONLY"
    #: On school days between the school's start and end times, in its timezone.
    SCHOOL_HOURS = "SCHOOL_HOURS"
    ALWAYS = "ALWAYS"


class Alert(Model):
    """One safeguarding alert about one learner: a detection (with merged repeats) or a concern.

    The primary key is a UUID made before insert so the evidence envelopes can be bound to the
    row in the same INSERT. ``cursor`` orders the school's alert feed: it is taken from the
    school's :class:`AlertCounter` row, locked in the alert's own transaction, so cursors
    increase in commit order (a database sequence can commit out of order, and a replay of
    ``cursor > c`` would then miss a late commit with a smaller value). A merge takes a new
    cursor too, so a resumed feed sees the alert once, with its latest count.
    """

    id = fields.UUIDField(primary_key=True, default=uuid.uuid4)
    school: fields.ForeignKeyRelation[School] = fields.ForeignKeyField(
        "models.School", related_name="alerts", on_delete=fields.RESTRICT
    )
    school_id: int
    learner: fields.ForeignKeyRelation[Learner] = fields.ForeignKeyField(
        "models.Learner", related_name="alerts", on_delete=fields.RESTRICT
    )
    learner_id: uuid.UUID
    device: fields.ForeignKeyNullableRelation[Device] = fields.ForeignKeyField(
        "models.Device", related_name="alerts", null=True, on_delete=fields.SET_NULL
    )
    device_id: int | None
    #: A built-in rule id, ``custom:<n>`` for a school's own rule, or ``concern``.
    rule_id = fields.CharField(max_length=64)
    category = fields.CharField(max_length=32)
    #: 1 (lowest) to 5 (imminent risk).
    severity = fields.SmallIntField()
    status = fields.CharEnumField(AlertStatus, max_length=16, default=AlertStatus.NEW)
    #: Matches merged into this alert (same rule and learner within the merge window).
    count = fields.IntField(default=1)
    first_at = fields.DatetimeField()
    last_at = fields.DatetimeField()
    created_at = fields.DatetimeField()
    updated_at = fields.DatetimeField()
    in_lesson = fields.BooleanField(default=False)
    out_of_hours = fields.BooleanField(default=False)
    source = fields.CharEnumField(AlertSource, max_length=16)
    app = fields.CharField(max_length=128, null=True)
    assignee: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="assigned_alerts", null=True, on_delete=fields.SET_NULL
    )
    assignee_id: int | None
    #: The member of staff who raised a concern (null for detections).
    raised_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="raised_alerts", null=True, on_delete=fields.SET_NULL
    )
    raised_by_id: int | None
    #: Evidence, AES-GCM envelopes bound to school, table, column and row: never plaintext.
    excerpt_enc = fields.BinaryField(null=True)
    url_enc = fields.BinaryField(null=True)
    title_enc = fields.BinaryField(null=True)
    #: Base64 JPEG, only when the school turned screenshot capture on.
    screenshot_enc = fields.BinaryField(null=True)
    cursor = fields.BigIntField()

    class Meta:
        table = "safeguarding_alert"
        unique_together = (("school", "cursor"),)
        indexes = (("school_id", "learner_id", "rule_id", "last_at"), ("school_id", "status"))


class AlertHit(Model):
    """One activity event counted into an alert: makes a resent event (after a lost
    acknowledgement or a restart) count once, however often the agent sends it."""

    id = fields.IntField(primary_key=True)
    school: fields.ForeignKeyRelation[School] = fields.ForeignKeyField(
        "models.School", related_name="alert_hits", on_delete=fields.CASCADE
    )
    school_id: int
    alert: fields.ForeignKeyRelation[Alert] = fields.ForeignKeyField(
        "models.Alert", related_name="hits", on_delete=fields.CASCADE
    )
    alert_id: uuid.UUID
    device_id = fields.IntField()
    #: The agent's idempotency key.
    event_id = fields.CharField(max_length=64)
    rule_id = fields.CharField(max_length=64)
    occurred_at = fields.DatetimeField()

    class Meta:
        table = "safeguarding_alert_hit"
        unique_together = (("school", "device_id", "event_id", "rule_id"),)


class AlertCounter(Model):
    """The last feed cursor handed out in one school, locked by each alert write."""

    id = fields.IntField(primary_key=True)
    school: fields.OneToOneRelation[School] = fields.OneToOneField(
        "models.School", related_name="alert_counter", on_delete=fields.CASCADE
    )
    school_id: int
    last_cursor = fields.BigIntField(default=0)

    class Meta:
        table = "safeguarding_alert_counter"


class AlertAction(Model):
    """One entry of an alert's append-only triage history (the learner's chronology)."""

    id = fields.UUIDField(primary_key=True, default=uuid.uuid4)
    school: fields.ForeignKeyRelation[School] = fields.ForeignKeyField(
        "models.School", related_name="alert_actions", on_delete=fields.RESTRICT
    )
    school_id: int
    alert: fields.ForeignKeyRelation[Alert] = fields.ForeignKeyField(
        "models.Alert", related_name="actions", on_delete=fields.RESTRICT
    )
    alert_id: uuid.UUID
    #: Null for the system (detection, escalation timers).
    actor: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="alert_actions", null=True, on_delete=fields.SET_NULL
    )
    actor_id: int | None
    kind = fields.CharEnumField(AlertActionKind, max_length=24)
    from_status = fields.CharField(max_length=16, null=True)
    to_status = fields.CharField(max_length=16, null=True)
    from_severity = fields.SmallIntField(null=True)
    to_severity = fields.SmallIntField(null=True)
    #: Free text from the DSL (a reason, a decision), encrypted like the evidence.
    note_enc = fields.BinaryField(null=True)
    created_at = fields.DatetimeField(db_index=True)

    class Meta:
        table = "safeguarding_alert_action"
        ordering = ["created_at", "id"]


class SafeguardingSettings(Model):
    """One school's monitoring choices. A school without a row uses the defaults."""

    id = fields.IntField(primary_key=True)
    school: fields.OneToOneRelation[School] = fields.OneToOneField(
        "models.School", related_name="safeguarding_settings", on_delete=fields.CASCADE
    )
    school_id: int
    monitoring_window = fields.CharEnumField(
        MonitoringWindow, max_length=16, default=MonitoringWindow.ALWAYS
    )
    #: School hours in the school's timezone, minutes after midnight.
    day_starts_minute = fields.SmallIntField(default=8 * 60)
    day_ends_minute = fields.SmallIntField(default=16 * 60)
    #: ISO weekdays (1 is Monday) that are school days.
    school_days: fields.JSONField[list[int]] = fields.JSONField(default=[1, 2, 3, 4, 5])
    screenshot_capture = fields.BooleanField(default=False)
    merge_window_minutes = fields.SmallIntField(default=10)
    #: Bumped by every rule or exclusion change, so cached detectors know they are stale.
    rules_version = fields.IntField(default=0)
    updated_at = fields.DatetimeField(null=True)
    updated_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="safeguarding_settings", null=True, on_delete=fields.SET_NULL
    )
    updated_by_id: int | None

    class Meta:
        table = "safeguarding_settings"


class DisabledRule(Model):
    """A built-in rule one school switched off, with who, when and why."""

    id = fields.IntField(primary_key=True)
    school: fields.ForeignKeyRelation[School] = fields.ForeignKeyField(
        "models.School", related_name="disabled_safeguarding_rules", on_delete=fields.CASCADE
    )
    school_id: int
    rule_id = fields.CharField(max_length=64)
    reason = fields.CharField(max_length=500)
    created_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User",
        related_name="disabled_safeguarding_rules",
        null=True,
        on_delete=fields.SET_NULL,
    )
    created_by_id: int | None
    created_at = fields.DatetimeField()

    class Meta:
        table = "safeguarding_disabled_rule"
        unique_together = (("school", "rule_id"),)


class CustomRule(Model):
    """A school's own detection phrase (its rule id is ``custom:<id>``)."""

    id = fields.IntField(primary_key=True)
    school: fields.ForeignKeyRelation[School] = fields.ForeignKeyField(
        "models.School", related_name="custom_safeguarding_rules", on_delete=fields.CASCADE
    )
    school_id: int
    category = fields.CharField(max_length=32)
    severity = fields.SmallIntField()
    phrase = fields.CharField(max_length=200)
    exclusions: fields.JSONField[list[str]] = fields.JSONField(default=list)
    context: fields.JSONField[list[str]] = fields.JSONField(default=list)
    reason = fields.CharField(max_length=500)
    created_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User",
        related_name="custom_safeguarding_rules",
        null=True,
        on_delete=fields.SET_NULL,
    )
    created_by_id: int | None
    created_at = fields.DatetimeField()

    class Meta:
        table = "safeguarding_custom_rule"
        ordering = ["id"]


class RuleExclusion(Model):
    """A phrase that suppresses matches inside it for one school (``ugly sweater``)."""

    id = fields.IntField(primary_key=True)
    school: fields.ForeignKeyRelation[School] = fields.ForeignKeyField(
        "models.School", related_name="safeguarding_exclusions", on_delete=fields.CASCADE
    )
    school_id: int
    phrase = fields.CharField(max_length=200)
    reason = fields.CharField(max_length=500)
    created_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="safeguarding_exclusions", null=True, on_delete=fields.SET_NULL
    )
    created_by_id: int | None
    created_at = fields.DatetimeField()

    class Meta:
        table = "safeguarding_exclusion"
        unique_together = (("school", "phrase"),)
        ordering = ["id"]
