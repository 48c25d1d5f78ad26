"""Staff users, their roles per school, and their server-side sessions."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from models.schools import School


class Role(StrEnum):
    ADMIN = "ADMIN"
    TEACHER = "TEACHER"
    SAFEGUARDING_LEAD = "SAFEGUARDING_LEAD"
    LEADER = "LEADER"


class User(Model):
    """A member of staff who signs in with an email address and a password."""

    id = fields.IntField(primary_key=True)
    #: Lower-cased at the boundary, unique across the installation.
    email = fields.CharField(max_length=254, unique=True)
    display_name = fields.CharField(max_length=200)
    password_hash = fields.CharField(max_length=255)
    is_active = fields.BooleanField(default=True)
    #: Seeded by ``demo``: production refuses to start while any exists.
    is_demo = fields.BooleanField(default=False)
    created_at = fields.DatetimeField(auto_now_add=True)
    last_login_at = fields.DatetimeField(null=True)

    class Meta:
        table = "staff_user"


class Membership(Model):
    """One role a user holds in one school."""

    id = fields.IntField(primary_key=True)
    school: fields.ForeignKeyRelation[School] = fields.ForeignKeyField(
        "models.School", related_name="memberships", on_delete=fields.CASCADE
    )
    school_id: int
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="memberships", on_delete=fields.CASCADE
    )
    user_id: int
    role = fields.CharEnumField(Role, max_length=24)

    class Meta:
        table = "membership"
        unique_together = (("school", "user", "role"),)


class Session(Model):
    """An opaque server-side session: only the SHA-256 of its token is stored."""

    id = fields.IntField(primary_key=True)
    token_hash = fields.CharField(max_length=64, unique=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="sessions", on_delete=fields.CASCADE
    )
    user_id: int
    school: fields.ForeignKeyRelation[School] = fields.ForeignKeyField(
        "models.School", related_name="sessions", on_delete=fields.CASCADE
    )
    school_id: int
    created_at = fields.DatetimeField()
    last_seen_at = fields.DatetimeField()
    #: Absolute timeout: the session ends then whatever the activity.
    expires_at = fields.DatetimeField()
    revoked_at = fields.DatetimeField(null=True)
    ip = fields.CharField(max_length=45, null=True)

    class Meta:
        table = "staff_session"
