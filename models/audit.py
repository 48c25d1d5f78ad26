"""The append-only, hash-chained audit trail: who did what, when, from where; never the data."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class AuditEvent(Model):
    """One accountable action. Rows are never updated or deleted (database triggers refuse it)."""

    id = fields.BigIntField(primary_key=True)
    #: Chain key: the school's id, or 0 for installation-wide events (an unknown login).
    chain = fields.IntField(db_index=True)
    #: Position in the chain, from 1 without gaps.
    seq = fields.BigIntField()
    at = fields.DatetimeField()
    #: ``user``, ``api_key``, ``device``, ``system`` or ``anonymous``.
    actor_type = fields.CharField(max_length=16)
    actor_id = fields.CharField(max_length=64, null=True)
    #: Dotted verb like ``learner.read`` or ``auth.login_failed``.
    action = fields.CharField(max_length=64)
    target_type = fields.CharField(max_length=32, null=True)
    #: Ids of the objects touched, never their contents.
    target_ids: fields.JSONField[list[str]] = fields.JSONField(default=list)
    #: Names of the fields read or changed, never their values.
    fields_touched: fields.JSONField[list[str]] = fields.JSONField(default=list)
    outcome = fields.CharField(max_length=16, default="success")
    ip = fields.CharField(max_length=45, null=True)
    request_id = fields.CharField(max_length=64, null=True)
    prev_hash = fields.CharField(max_length=64)
    hash = fields.CharField(max_length=64)

    class Meta:
        table = "audit_event"
        unique_together = (("chain", "seq"),)


class AuditHead(Model):
    """The tip of each chain, locked while appending so writers in any process serialise."""

    id = fields.IntField(primary_key=True)
    chain = fields.IntField(unique=True)
    seq = fields.BigIntField(default=0)
    hash = fields.CharField(max_length=64)

    class Meta:
        table = "audit_head"
