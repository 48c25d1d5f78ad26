"""Partner API keys: scoped, granted per school, stored hashed."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from models.schools import School
from models.staff import User


class Scope(StrEnum):
    """What a partner key may read. Each school grants a key separately."""

    LEARNERS_READ = "LEARNERS_READ"
    LEARNER_IDENTIFIERS_READ = "LEARNER_IDENTIFIERS_READ"
    GROUPS_READ = "GROUPS_READ"
    #: Exam-board reference data (specifications, boundaries) and tracking.
    TRACKING_READ = "TRACKING_READ"


class ApiKey(Model):
    id = fields.IntField(primary_key=True)
    #: The partner's name as the school knows it (``Acme MIS``).
    name = fields.CharField(max_length=100)
    key_hash = fields.CharField(max_length=64, unique=True)
    key_prefix = fields.CharField(max_length=16)
    #: Sorted list of :class:`Scope` values.
    scopes: fields.JSONField[list[str]] = fields.JSONField(default=list)
    created_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="api_keys", null=True, on_delete=fields.SET_NULL
    )
    created_by_id: int | None
    created_at = fields.DatetimeField(auto_now_add=True)
    last_used_at = fields.DatetimeField(null=True)
    revoked_at = fields.DatetimeField(null=True)

    class Meta:
        table = "api_key"


class ApiKeyGrant(Model):
    """A school's consent for one key to read its data."""

    id = fields.IntField(primary_key=True)
    api_key: fields.ForeignKeyRelation[ApiKey] = fields.ForeignKeyField(
        "models.ApiKey", related_name="grants", on_delete=fields.CASCADE
    )
    api_key_id: int
    school: fields.ForeignKeyRelation[School] = fields.ForeignKeyField(
        "models.School", related_name="api_key_grants", on_delete=fields.CASCADE
    )
    school_id: int
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "api_key_grant"
        unique_together = (("api_key", "school"),)
