"""Schools (the tenants) and their wrapped data keys."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class School(Model):
    """A tenant: every tenant-owned row reaches a school."""

    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=200)
    #: URL-safe short name, unique across the installation (``northfield``).
    slug = fields.CharField(max_length=64, unique=True)
    #: DfE Unique Reference Number (6 digits), when known.
    urn = fields.CharField(max_length=8, null=True, unique=True)
    timezone = fields.CharField(max_length=64, default="Europe/London")
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "school"
        ordering = ["name"]


class SchoolKey(Model):
    """A school's key, wrapped by the master key: a data key version or the blind-index key."""

    id = fields.IntField(primary_key=True)
    school: fields.ForeignKeyRelation[School] = fields.ForeignKeyField(
        "models.School", related_name="keys", on_delete=fields.RESTRICT
    )
    school_id: int
    #: ``data`` (AES-GCM field encryption) or ``index`` (blind indexes).
    purpose = fields.CharField(max_length=16)
    version = fields.IntField()
    #: RFC 3394 wrap of the 32-byte key under the master key named by ``kek_id``.
    wrapped_key = fields.BinaryField()
    kek_id = fields.CharField(max_length=32)
    #: The key new values are written with, while older data versions only decrypt.
    active = fields.BooleanField(default=True)
    #: Encryptions made under this key, for the random-nonce budget.
    encryptions = fields.BigIntField(default=0)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "school_key"
        unique_together = (("school", "purpose", "version"),)
