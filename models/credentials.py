"""One-time links that let a member of staff set a password: invitations and resets."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from models.staff import User


class CredentialPurpose(StrEnum):
    INVITE = "INVITE"
    RESET = "RESET"


class CredentialToken(Model):
    """A set-password link: only the SHA-256 of its token is stored, and it works once."""

    id = fields.IntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="credential_tokens", on_delete=fields.CASCADE
    )
    user_id: int
    purpose = fields.CharEnumField(CredentialPurpose, max_length=8)
    token_hash = fields.CharField(max_length=64, unique=True)
    created_at = fields.DatetimeField()
    expires_at = fields.DatetimeField()
    #: Set when the link is used, or voided by a newer link for the same user.
    used_at = fields.DatetimeField(null=True)
    #: The admin who sent an invitation, null for a reset the person asked for.
    created_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="issued_credential_tokens", null=True, on_delete=fields.SET_NULL
    )
    created_by_id: int | None

    class Meta:
        table = "credential_token"
