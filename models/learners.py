"""Learners, with their sensitive identifiers encrypted per field."""

from __future__ import annotations

import uuid
from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from models.schools import School


class SendStatus(StrEnum):
    """SEN support status as recorded in the school census."""

    NONE = "NONE"
    SEN_SUPPORT = "SEN_SUPPORT"
    EHC_PLAN = "EHC_PLAN"


class Gender(StrEnum):
    """Sex as the management system records it (OneRoster demographics), for subgroup analysis."""

    FEMALE = "FEMALE"
    MALE = "MALE"
    OTHER = "OTHER"
    UNSPECIFIED = "UNSPECIFIED"


class Learner(Model):
    """A pupil of one school.

    The primary key is a UUID made before insert, so encrypted columns can be bound to their row
    (the associated data names the row) in the same INSERT.
    """

    id = fields.UUIDField(primary_key=True, default=uuid.uuid4)
    school: fields.ForeignKeyRelation[School] = fields.ForeignKeyField(
        "models.School", related_name="learners", on_delete=fields.RESTRICT
    )
    school_id: int
    given_name = fields.CharField(max_length=100)
    family_name = fields.CharField(max_length=100)
    preferred_name = fields.CharField(max_length=100, null=True)
    year_group = fields.SmallIntField(null=True)
    #: AES-GCM envelopes (app.security.crypto), never plaintext.
    upn_enc = fields.BinaryField(null=True)
    #: Keyed blind index of the UPN for exact lookups.
    upn_index = fields.CharField(max_length=32, null=True)
    uln_enc = fields.BinaryField(null=True)
    uln_index = fields.CharField(max_length=32, null=True)
    date_of_birth_enc = fields.BinaryField(null=True)
    send_details_enc = fields.BinaryField(null=True)
    send_status = fields.CharEnumField(SendStatus, max_length=16, default=SendStatus.NONE)
    pupil_premium = fields.BooleanField(default=False)
    free_school_meals = fields.BooleanField(default=False)
    eal = fields.BooleanField(default=False)
    gender = fields.CharEnumField(Gender, max_length=16, default=Gender.UNSPECIFIED)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)
    #: Left the school: kept for records, hidden from day-to-day lists.
    left_at = fields.DatetimeField(null=True)

    class Meta:
        table = "learner"
        ordering = ["family_name", "given_name", "id"]
        unique_together = (("school", "upn_index"), ("school", "uln_index"))


class ExternalId(Model):
    """A learner's id in another system (MIS, OneRoster), for imports that never duplicate."""

    id = fields.IntField(primary_key=True)
    school: fields.ForeignKeyRelation[School] = fields.ForeignKeyField(
        "models.School", related_name="external_ids", on_delete=fields.RESTRICT
    )
    school_id: int
    learner: fields.ForeignKeyRelation[Learner] = fields.ForeignKeyField(
        "models.Learner", related_name="external_ids", on_delete=fields.CASCADE
    )
    learner_id: uuid.UUID
    system = fields.CharField(max_length=64)
    value = fields.CharField(max_length=255)

    class Meta:
        table = "learner_external_id"
        unique_together = (("school", "system", "value"),)
