"""Devices enrolled in a school: assigned to one learner or shared."""

from __future__ import annotations

import uuid
from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from models.learners import Learner
from models.schools import School


class Platform(StrEnum):
    CHROMEOS = "CHROMEOS"
    WINDOWS = "WINDOWS"
    MACOS = "MACOS"
    IPADOS = "IPADOS"
    LINUX = "LINUX"
    ANDROID = "ANDROID"


class Device(Model):
    """A device agent's identity: only the SHA-256 of its token is stored."""

    id = fields.IntField(primary_key=True)
    school: fields.ForeignKeyRelation[School] = fields.ForeignKeyField(
        "models.School", related_name="devices", on_delete=fields.RESTRICT
    )
    school_id: int
    #: Null for a shared device (a trolley laptop, an ICT suite PC).
    learner: fields.ForeignKeyNullableRelation[Learner] = fields.ForeignKeyField(
        "models.Learner", related_name="devices", null=True, on_delete=fields.SET_NULL
    )
    learner_id: uuid.UUID | None
    name = fields.CharField(max_length=100)
    platform = fields.CharEnumField(Platform, max_length=16)
    token_hash = fields.CharField(max_length=64, unique=True)
    token_prefix = fields.CharField(max_length=16)
    enrolled_at = fields.DatetimeField(auto_now_add=True)
    last_seen_at = fields.DatetimeField(null=True)
    revoked_at = fields.DatetimeField(null=True)

    class Meta:
        table = "device"
        ordering = ["name", "id"]
