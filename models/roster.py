"""Objects imported from a OneRoster set, keyed by their sourcedId, so imports never duplicate."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from tortoise import fields
from tortoise.models import Model

from models.schools import School


class RosterKind(StrEnum):
    """The OneRoster objects a school keeps a link to (learners use models.learners.ExternalId)."""

    ORG = "ORG"
    ACADEMIC_SESSION = "ACADEMIC_SESSION"
    COURSE = "COURSE"
    CLASS = "CLASS"
    STAFF = "STAFF"
    ENROLMENT = "ENROLMENT"


class RosterLink(Model):
    """One OneRoster object of a school and the local row it became.

    Academic sessions and courses have no table of their own yet: their fields live in ``data``.
    Rows are never deleted: an object the source drops is marked ``ended_at``.
    """

    id = fields.IntField(primary_key=True)
    school: fields.ForeignKeyRelation[School] = fields.ForeignKeyField(
        "models.School", related_name="roster_links", on_delete=fields.RESTRICT
    )
    school_id: int
    kind = fields.CharEnumField(RosterKind, max_length=24)
    sourced_id = fields.CharField(max_length=255)
    #: The local row: a school, teaching group, staff user, enrolment or teaching assignment id.
    local_id = fields.CharField(max_length=64, null=True)
    #: The fields last imported (titles, dates, codes and references), never personal data.
    data: fields.JSONField[dict[str, Any]] = fields.JSONField(default=dict)
    #: Dropped by the source (tobedeleted, or missing from a bulk file) at this time.
    ended_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "roster_link"
        ordering = ["kind", "sourced_id"]
        unique_together = (("school", "kind", "sourced_id"),)
