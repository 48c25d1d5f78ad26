"""A school's tracking data: assessments, marks, grade records, behaviour and achievement."""

from __future__ import annotations

import uuid
from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from models.groups import TeachingGroup
from models.learners import Learner
from models.schools import School
from models.staff import User
from models.tracking import Component, ExamSeries, Specification, TierCode


class AssessmentKind(StrEnum):
    """What was sat: a past paper as published, a mock, a shorter custom test, an end-of-unit."""

    PAST_PAPER = "PAST_PAPER"
    MOCK = "MOCK"
    CUSTOM = "CUSTOM"
    END_OF_UNIT = "END_OF_UNIT"


class MarkStatus(StrEnum):
    """Absent and not-required marks are never zeros: averages and completion skip them."""

    PRESENT = "PRESENT"
    ABSENT = "ABSENT"
    NOT_REQUIRED = "NOT_REQUIRED"


class GradeKind(StrEnum):
    WORKING_AT = "WORKING_AT"
    TARGET = "TARGET"
    PREDICTED = "PREDICTED"
    ACTUAL = "ACTUAL"
    BASELINE = "BASELINE"


class Assessment(Model):
    """A test a teaching group sat, graded against one specification's boundaries.

    The components it covers add up to its full mark. A custom test has its own ``out_of``
    and its marks are scaled to the full mark before grading.
    """

    id = fields.IntField(primary_key=True)
    school: fields.ForeignKeyRelation[School] = fields.ForeignKeyField(
        "models.School", related_name="assessments", on_delete=fields.RESTRICT
    )
    school_id: int
    group: fields.ForeignKeyRelation[TeachingGroup] = fields.ForeignKeyField(
        "models.TeachingGroup", related_name="assessments", on_delete=fields.CASCADE
    )
    group_id: int
    title = fields.CharField(max_length=200)
    kind = fields.CharEnumField(AssessmentKind, max_length=16, default=AssessmentKind.PAST_PAPER)
    specification: fields.ForeignKeyRelation[Specification] = fields.ForeignKeyField(
        "models.Specification", related_name="assessments", on_delete=fields.RESTRICT
    )
    specification_id: int
    #: The exam series whose boundaries grade it.
    series: fields.ForeignKeyRelation[ExamSeries] = fields.ForeignKeyField(
        "models.ExamSeries", related_name="assessments", on_delete=fields.RESTRICT
    )
    series_id: int
    tier = fields.CharEnumField(TierCode, max_length=16, null=True)
    #: The covered components' maximum marks added up: what a full-marks script scores.
    full_mark = fields.IntField()
    #: A custom test's own maximum, scaled to ``full_mark``, null when marks are out of it.
    out_of = fields.IntField(null=True)
    #: Percent of the maximum every boundary moves by (positive: harder to reach).
    shift_percent = fields.FloatField(default=0.0)
    #: Grade shares of the cohort (percent per grade) for standardised boundaries, or null.
    standardised_shares: fields.JSONField[dict[str, float] | None] = fields.JSONField(null=True)
    taken_on = fields.DateField()
    created_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="assessments_created", null=True, on_delete=fields.SET_NULL
    )
    created_by_id: int | None
    created_at = fields.DatetimeField(auto_now_add=True)

    components: fields.ReverseRelation[AssessmentComponent]

    class Meta:
        table = "assessment"
        ordering = ["taken_on", "id"]


class AssessmentComponent(Model):
    """A component (paper) an assessment covers."""

    id = fields.IntField(primary_key=True)
    assessment: fields.ForeignKeyRelation[Assessment] = fields.ForeignKeyField(
        "models.Assessment", related_name="components", on_delete=fields.CASCADE
    )
    assessment_id: int
    component: fields.ForeignKeyRelation[Component] = fields.ForeignKeyField(
        "models.Component", related_name="assessment_links", on_delete=fields.RESTRICT
    )
    component_id: int

    class Meta:
        table = "assessment_component"
        unique_together = (("assessment", "component"),)


class Mark(Model):
    """One learner's mark in one assessment. The raw mark is null unless the status is PRESENT."""

    id = fields.IntField(primary_key=True)
    school: fields.ForeignKeyRelation[School] = fields.ForeignKeyField(
        "models.School", related_name="marks", on_delete=fields.RESTRICT
    )
    school_id: int
    assessment: fields.ForeignKeyRelation[Assessment] = fields.ForeignKeyField(
        "models.Assessment", related_name="marks", on_delete=fields.CASCADE
    )
    assessment_id: int
    learner: fields.ForeignKeyRelation[Learner] = fields.ForeignKeyField(
        "models.Learner", related_name="marks", on_delete=fields.CASCADE
    )
    learner_id: uuid.UUID
    raw_mark = fields.IntField(null=True)
    status = fields.CharEnumField(MarkStatus, max_length=16, default=MarkStatus.PRESENT)
    entered_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="marks_entered", null=True, on_delete=fields.SET_NULL
    )
    entered_by_id: int | None
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "mark"
        unique_together = (("assessment", "learner"),)


class GradeRecord(Model):
    """A learner's current grade of one kind in one specification (target, working-at...)."""

    id = fields.IntField(primary_key=True)
    school: fields.ForeignKeyRelation[School] = fields.ForeignKeyField(
        "models.School", related_name="grade_records", on_delete=fields.RESTRICT
    )
    school_id: int
    learner: fields.ForeignKeyRelation[Learner] = fields.ForeignKeyField(
        "models.Learner", related_name="grade_records", on_delete=fields.CASCADE
    )
    learner_id: uuid.UUID
    specification: fields.ForeignKeyRelation[Specification] = fields.ForeignKeyField(
        "models.Specification", related_name="grade_records", on_delete=fields.RESTRICT
    )
    specification_id: int
    kind = fields.CharEnumField(GradeKind, max_length=16)
    #: A label of the specification's grade scale (``7``, ``A*``, ``U``).
    grade = fields.CharField(max_length=8)
    set_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="grades_set", null=True, on_delete=fields.SET_NULL
    )
    set_by_id: int | None
    set_at = fields.DatetimeField()

    class Meta:
        table = "grade_record"
        unique_together = (("learner", "specification", "kind"),)


class BehaviourRecord(Model):
    """A behaviour event (negative points by convention), with an encrypted note."""

    id = fields.IntField(primary_key=True)
    school: fields.ForeignKeyRelation[School] = fields.ForeignKeyField(
        "models.School", related_name="behaviour_records", on_delete=fields.RESTRICT
    )
    school_id: int
    learner: fields.ForeignKeyRelation[Learner] = fields.ForeignKeyField(
        "models.Learner", related_name="behaviour_records", on_delete=fields.CASCADE
    )
    learner_id: uuid.UUID
    points = fields.SmallIntField()
    category = fields.CharField(max_length=64)
    #: AES-GCM envelope (app.security.crypto), never plaintext.
    note_enc = fields.BinaryField(null=True)
    recorded_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="behaviour_recorded", null=True, on_delete=fields.SET_NULL
    )
    recorded_by_id: int | None
    recorded_at = fields.DatetimeField()

    class Meta:
        table = "behaviour_record"
        ordering = ["recorded_at", "id"]


class AchievementRecord(Model):
    """An achievement (praise points), with an encrypted note."""

    id = fields.IntField(primary_key=True)
    school: fields.ForeignKeyRelation[School] = fields.ForeignKeyField(
        "models.School", related_name="achievement_records", on_delete=fields.RESTRICT
    )
    school_id: int
    learner: fields.ForeignKeyRelation[Learner] = fields.ForeignKeyField(
        "models.Learner", related_name="achievement_records", on_delete=fields.CASCADE
    )
    learner_id: uuid.UUID
    points = fields.SmallIntField()
    category = fields.CharField(max_length=64)
    #: AES-GCM envelope (app.security.crypto), never plaintext.
    note_enc = fields.BinaryField(null=True)
    recorded_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="achievements_recorded", null=True, on_delete=fields.SET_NULL
    )
    recorded_by_id: int | None
    recorded_at = fields.DatetimeField()

    class Meta:
        table = "achievement_record"
        ordering = ["recorded_at", "id"]


class TrackerSettings(Model):
    """A school's whole-tracker choices: a boundary shift on top of each assessment's own."""

    id = fields.IntField(primary_key=True)
    school: fields.OneToOneRelation[School] = fields.OneToOneField(
        "models.School", related_name="tracker_settings", on_delete=fields.CASCADE
    )
    school_id: int
    shift_percent = fields.FloatField(default=0.0)
    #: Subgroups with fewer learners are flagged as too small to read much into.
    small_subgroup = fields.SmallIntField(default=10)

    class Meta:
        table = "tracker_settings"


__all__ = [
    "AchievementRecord",
    "Assessment",
    "AssessmentComponent",
    "AssessmentKind",
    "BehaviourRecord",
    "GradeKind",
    "GradeRecord",
    "Mark",
    "MarkStatus",
    "TrackerSettings",
]
