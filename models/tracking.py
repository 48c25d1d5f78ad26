"""Exam-board reference data: boards, qualifications and grade scales, specifications, boundaries.

Public reference data shared by every school (no school key): published specifications and
grade boundaries are the same for everyone. School-owned tracking rows live elsewhere.
"""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model


class TierCode(StrEnum):
    FOUNDATION = "FOUNDATION"
    HIGHER = "HIGHER"


class BoundaryLevel(StrEnum):
    """Subject boundaries grade a total, component (paper) boundaries one paper, notionally."""

    SUBJECT = "SUBJECT"
    COMPONENT = "COMPONENT"


class ExamBoard(Model):
    id = fields.IntField(primary_key=True)
    #: Short upper-case code such as ``AQA`` or ``EDEXCEL``.
    code = fields.CharField(max_length=16, unique=True)
    name = fields.CharField(max_length=100)

    class Meta:
        table = "exam_board"
        ordering = ["code"]


class GradeScale(Model):
    """An ordered list of grades such as GCSE 9-1. U is implied below the lowest grade."""

    id = fields.IntField(primary_key=True)
    code = fields.CharField(max_length=32, unique=True)
    name = fields.CharField(max_length=100)

    grades: fields.ReverseRelation[Grade]

    class Meta:
        table = "grade_scale"


class Grade(Model):
    """One grade of a scale. Grades compare by ``rank`` (higher is better), never by label."""

    id = fields.IntField(primary_key=True)
    scale: fields.ForeignKeyRelation[GradeScale] = fields.ForeignKeyField(
        "models.GradeScale", related_name="grades", on_delete=fields.CASCADE
    )
    scale_id: int
    label = fields.CharField(max_length=8)
    #: 1 for the lowest grade of the scale, counting up.
    rank = fields.SmallIntField()
    #: Attainment 8 points per slot, where the grade counts in Attainment 8.
    a8_points = fields.FloatField(null=True)
    ucas_points = fields.SmallIntField(null=True)
    is_pass = fields.BooleanField(default=True)

    class Meta:
        table = "grade"
        ordering = ["scale_id", "-rank"]
        unique_together = (("scale", "label"), ("scale", "rank"))


class Qualification(Model):
    """A qualification type (GCSE, A level, BTEC Tech Award) and the scale it grades on."""

    id = fields.IntField(primary_key=True)
    #: The import code: ``GCSE``, ``GCSE_COMBINED``, ``A_LEVEL``, ``AS_LEVEL``, ``BTEC`` and so on.
    code = fields.CharField(max_length=32, unique=True)
    name = fields.CharField(max_length=100)
    scale: fields.ForeignKeyRelation[GradeScale] = fields.ForeignKeyField(
        "models.GradeScale", related_name="qualifications", on_delete=fields.RESTRICT
    )
    scale_id: int

    tiers: fields.ReverseRelation[Tier]

    class Meta:
        table = "qualification"


class Tier(Model):
    """What a tier may award: caps, floors and the allowed grade live here, not in code."""

    id = fields.IntField(primary_key=True)
    qualification: fields.ForeignKeyRelation[Qualification] = fields.ForeignKeyField(
        "models.Qualification", related_name="tiers", on_delete=fields.CASCADE
    )
    qualification_id: int
    code = fields.CharEnumField(TierCode, max_length=16)
    max_grade = fields.CharField(max_length=8)
    min_grade = fields.CharField(max_length=8)
    #: Awarded just below ``min_grade`` (GCSE Higher: 3), below which the result is U.
    allowed_grade = fields.CharField(max_length=8, null=True)

    class Meta:
        table = "tier"
        unique_together = (("qualification", "code"),)


class Specification(Model):
    """A board's specification, such as AQA 8300 GCSE Mathematics."""

    id = fields.IntField(primary_key=True)
    board: fields.ForeignKeyRelation[ExamBoard] = fields.ForeignKeyField(
        "models.ExamBoard", related_name="specifications", on_delete=fields.RESTRICT
    )
    board_id: int
    qualification: fields.ForeignKeyRelation[Qualification] = fields.ForeignKeyField(
        "models.Qualification", related_name="specifications", on_delete=fields.RESTRICT
    )
    qualification_id: int
    code = fields.CharField(max_length=16)
    title = fields.CharField(max_length=200)
    subject = fields.CharField(max_length=100)
    #: Qualification accreditation number, when known.
    qan = fields.CharField(max_length=16, null=True)
    total_raw_marks = fields.IntField(null=True)
    has_tiers = fields.BooleanField(default=False)

    components: fields.ReverseRelation[Component]

    class Meta:
        table = "specification"
        ordering = ["board_id", "code"]
        unique_together = (("board", "code"),)


class Component(Model):
    """A paper (or NEA component) of a specification, such as 8300/1H."""

    id = fields.IntField(primary_key=True)
    specification: fields.ForeignKeyRelation[Specification] = fields.ForeignKeyField(
        "models.Specification", related_name="components", on_delete=fields.CASCADE
    )
    specification_id: int
    code = fields.CharField(max_length=24)
    title = fields.CharField(max_length=200)
    tier = fields.CharEnumField(TierCode, max_length=16, null=True)
    max_raw_mark = fields.IntField()
    #: Raw mark x weighting = the component's contribution to the subject mark (Pearson).
    weighting = fields.FloatField(default=1.0)
    calculator = fields.BooleanField(null=True)
    is_nea = fields.BooleanField(default=False)

    class Meta:
        table = "component"
        ordering = ["specification_id", "code"]
        unique_together = (("specification", "code"),)


class ExamSeries(Model):
    id = fields.IntField(primary_key=True)
    #: Like ``June 2024``.
    label = fields.CharField(max_length=32, unique=True)
    year = fields.SmallIntField()
    month = fields.SmallIntField()

    class Meta:
        table = "exam_series"
        ordering = ["year", "month"]


class GradeBoundarySet(Model):
    """Published (or notional) boundaries of one specification, series and tier.

    Subject level: ``max_mark`` is the subject total and ``component`` is null. Component level:
    one paper's notional boundaries, ``max_mark`` being that paper's.
    """

    id = fields.IntField(primary_key=True)
    specification: fields.ForeignKeyRelation[Specification] = fields.ForeignKeyField(
        "models.Specification", related_name="boundary_sets", on_delete=fields.CASCADE
    )
    specification_id: int
    series: fields.ForeignKeyRelation[ExamSeries] = fields.ForeignKeyField(
        "models.ExamSeries", related_name="boundary_sets", on_delete=fields.RESTRICT
    )
    series_id: int
    tier = fields.CharEnumField(TierCode, max_length=16, null=True)
    level = fields.CharEnumField(BoundaryLevel, max_length=16, default=BoundaryLevel.SUBJECT)
    component: fields.ForeignKeyNullableRelation[Component] = fields.ForeignKeyField(
        "models.Component", related_name="boundary_sets", null=True, on_delete=fields.CASCADE
    )
    component_id: int | None
    #: Tier and component code in one non-null key (``HIGHER:8300/1H``, ``-:-``): unique
    #: constraints treat NULLs as distinct, so the nullable columns alone could not be unique.
    scope_key = fields.CharField(max_length=64)
    max_mark = fields.IntField()
    is_notional = fields.BooleanField(default=False)
    #: Where the figures come from: a URL or a citation.
    source = fields.CharField(max_length=500, default="")
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    boundaries: fields.ReverseRelation[Boundary]

    class Meta:
        table = "grade_boundary_set"
        unique_together = (("specification", "series", "scope_key"),)


class Boundary(Model):
    """The lowest raw mark that earns a grade in one boundary set."""

    id = fields.IntField(primary_key=True)
    boundary_set: fields.ForeignKeyRelation[GradeBoundarySet] = fields.ForeignKeyField(
        "models.GradeBoundarySet", related_name="boundaries", on_delete=fields.CASCADE
    )
    boundary_set_id: int
    grade: fields.ForeignKeyRelation[Grade] = fields.ForeignKeyField(
        "models.Grade", related_name="boundaries", on_delete=fields.RESTRICT
    )
    grade_id: int
    min_mark = fields.IntField()

    class Meta:
        table = "boundary"
        unique_together = (("boundary_set", "grade"),)


__all__ = [
    "Boundary",
    "BoundaryLevel",
    "Component",
    "ExamBoard",
    "ExamSeries",
    "Grade",
    "GradeBoundarySet",
    "GradeScale",
    "Qualification",
    "Specification",
    "Tier",
    "TierCode",
]
