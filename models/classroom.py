"""Lessons with access rules, school-wide locked rules, device commands and activity history."""

from __future__ import annotations

import uuid
from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from models.devices import Device
from models.groups import TeachingGroup
from models.schools import School
from models.staff import User


class LessonMode(StrEnum):
    #: Everything is allowed except the lesson's and the school's blocked rules.
    BLOCK_LIST = "BLOCK_LIST"
    #: Focus mode: only the lesson's allowed sites and apps.
    ALLOW_ONLY = "ALLOW_ONLY"


class RuleKind(StrEnum):
    DOMAIN = "DOMAIN"
    URL_PREFIX = "URL_PREFIX"
    APP = "APP"


class CommandKind(StrEnum):
    LOCK = "LOCK"
    UNLOCK = "UNLOCK"
    OPEN_URL = "OPEN_URL"
    CLOSE_TAB = "CLOSE_TAB"
    MESSAGE = "MESSAGE"


class Lesson(Model):
    """A teacher's controls over a group's devices, ending by itself at ``ends_at``."""

    id = fields.IntField(primary_key=True)
    school: fields.ForeignKeyRelation[School] = fields.ForeignKeyField(
        "models.School", related_name="lessons", on_delete=fields.RESTRICT
    )
    school_id: int
    group: fields.ForeignKeyRelation[TeachingGroup] = fields.ForeignKeyField(
        "models.TeachingGroup", related_name="lessons", on_delete=fields.CASCADE
    )
    group_id: int
    teacher: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="lessons", null=True, on_delete=fields.SET_NULL
    )
    teacher_id: int | None
    mode = fields.CharEnumField(LessonMode, max_length=16)
    #: Lists of rule values keyed by ``allow``/``block`` and then by :class:`RuleKind`.
    rules: fields.JSONField[dict[str, dict[str, list[str]]]] = fields.JSONField(default=dict)
    starts_at = fields.DatetimeField()
    ends_at = fields.DatetimeField(db_index=True)
    #: Set when a teacher ends the lesson early.
    ended_at = fields.DatetimeField(null=True)

    class Meta:
        table = "lesson"
        ordering = ["-starts_at", "-id"]


class SchoolRule(Model):
    """A site or app the school blocks for everyone, always: no lesson can lift it."""

    id = fields.IntField(primary_key=True)
    school: fields.ForeignKeyRelation[School] = fields.ForeignKeyField(
        "models.School", related_name="rules", on_delete=fields.CASCADE
    )
    school_id: int
    kind = fields.CharEnumField(RuleKind, max_length=16)
    value = fields.CharField(max_length=512)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "school_rule"
        unique_together = (("school", "kind", "value"),)


class DeviceCommand(Model):
    """One instruction to one device, kept until acknowledged or expired."""

    id = fields.IntField(primary_key=True)
    school: fields.ForeignKeyRelation[School] = fields.ForeignKeyField(
        "models.School", related_name="device_commands", on_delete=fields.CASCADE
    )
    school_id: int
    device: fields.ForeignKeyRelation[Device] = fields.ForeignKeyField(
        "models.Device", related_name="commands", on_delete=fields.CASCADE
    )
    device_id: int
    kind = fields.CharEnumField(CommandKind, max_length=16)
    #: ``url`` for OPEN_URL and CLOSE_TAB, ``text`` for MESSAGE.
    payload: fields.JSONField[dict[str, str]] = fields.JSONField(default=dict)
    created_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="device_commands", null=True, on_delete=fields.SET_NULL
    )
    created_by_id: int | None
    created_at = fields.DatetimeField()
    expires_at = fields.DatetimeField(db_index=True)
    acknowledged_at = fields.DatetimeField(null=True)

    class Meta:
        table = "device_command"
        ordering = ["id"]


class ActivityRecord(Model):
    """One accepted activity event, kept for the retention period. Text is encrypted."""

    id = fields.UUIDField(primary_key=True, default=uuid.uuid4)
    school: fields.ForeignKeyRelation[School] = fields.ForeignKeyField(
        "models.School", related_name="activity", on_delete=fields.CASCADE
    )
    school_id: int
    device: fields.ForeignKeyRelation[Device] = fields.ForeignKeyField(
        "models.Device", related_name="activity", on_delete=fields.CASCADE
    )
    device_id: int
    learner_id = fields.UUIDField(null=True)
    #: The agent's idempotency key.
    event_id = fields.CharField(max_length=64)
    kind = fields.CharField(max_length=16)
    occurred_at = fields.DatetimeField(db_index=True)
    received_at = fields.DatetimeField()
    app = fields.CharField(max_length=128, null=True)
    #: Browsing history is personal data, and a search's URL carries its query: AES-GCM
    #: envelopes like the typed or searched text.
    url_enc = fields.BinaryField(null=True)
    title_enc = fields.BinaryField(null=True)
    text_enc = fields.BinaryField(null=True)
    blocked = fields.BooleanField(default=False)

    class Meta:
        table = "activity_record"
        unique_together = (("device", "event_id"),)
