"""Teaching groups, who is enrolled in them and who teaches them."""

from __future__ import annotations

import uuid

from tortoise import fields
from tortoise.models import Model

from models.learners import Learner
from models.schools import School
from models.staff import User


class TeachingGroup(Model):
    """A class taught together, such as 10X Maths in 2026/27."""

    id = fields.IntField(primary_key=True)
    school: fields.ForeignKeyRelation[School] = fields.ForeignKeyField(
        "models.School", related_name="groups", on_delete=fields.RESTRICT
    )
    school_id: int
    name = fields.CharField(max_length=100)
    subject = fields.CharField(max_length=100)
    year_group = fields.SmallIntField(null=True)
    #: Like ``2026/27``.
    academic_year = fields.CharField(max_length=7)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "teaching_group"
        ordering = ["name", "id"]
        unique_together = (("school", "academic_year", "name"),)


class Enrolment(Model):
    id = fields.IntField(primary_key=True)
    school: fields.ForeignKeyRelation[School] = fields.ForeignKeyField(
        "models.School", related_name="enrolments", on_delete=fields.RESTRICT
    )
    school_id: int
    group: fields.ForeignKeyRelation[TeachingGroup] = fields.ForeignKeyField(
        "models.TeachingGroup", related_name="enrolments", on_delete=fields.CASCADE
    )
    group_id: int
    learner: fields.ForeignKeyRelation[Learner] = fields.ForeignKeyField(
        "models.Learner", related_name="enrolments", on_delete=fields.CASCADE
    )
    learner_id: uuid.UUID
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "enrolment"
        unique_together = (("group", "learner"),)


class TeachingAssignment(Model):
    id = fields.IntField(primary_key=True)
    school: fields.ForeignKeyRelation[School] = fields.ForeignKeyField(
        "models.School", related_name="teaching_assignments", on_delete=fields.RESTRICT
    )
    school_id: int
    group: fields.ForeignKeyRelation[TeachingGroup] = fields.ForeignKeyField(
        "models.TeachingGroup", related_name="assignments", on_delete=fields.CASCADE
    )
    group_id: int
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="assignments", on_delete=fields.CASCADE
    )
    user_id: int
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "teaching_assignment"
        unique_together = (("group", "user"),)
