"""Alert evidence and triage notes, sealed per field and bound to their row."""

from __future__ import annotations

import secrets
import time
import uuid

from app.security.crypto import FieldContext
from models.safeguarding import Alert, AlertAction
from resolvers.keyring import Keyring

ALERT_TABLE = "safeguarding_alert"
ACTION_TABLE = "safeguarding_alert_action"
EVIDENCE = ("excerpt", "url", "title", "screenshot")


def ordered_id() -> uuid.UUID:
    """A UUID that sorts by creation time: history entries made in the same clock tick (one
    update changing status and severity) keep their order on the chronology."""
    return uuid.UUID(int=(time.time_ns() << 64 | secrets.randbits(64)) & (2**128 - 1))


async def seal_evidence(
    keyring: Keyring, school_id: int, alert_id: uuid.UUID, values: dict[str, str | None]
) -> dict[str, bytes | None]:
    """``{column}_enc`` envelopes for the evidence columns given in ``values``."""
    sealed: dict[str, bytes | None] = {}
    for column in EVIDENCE:
        if column in values:
            context = FieldContext(school_id, ALERT_TABLE, column, str(alert_id))
            sealed[f"{column}_enc"] = await keyring.encrypt(context, values[column])
    return sealed


async def open_evidence(keyring: Keyring, alert: Alert, column: str) -> str | None:
    envelope = getattr(alert, f"{column}_enc")
    if envelope is None:
        return None
    context = FieldContext(alert.school_id, ALERT_TABLE, column, str(alert.id))
    return await keyring.decrypt(context, envelope)


async def seal_note(
    keyring: Keyring, school_id: int, action_id: uuid.UUID, note: str | None
) -> bytes | None:
    context = FieldContext(school_id, ACTION_TABLE, "note", str(action_id))
    return await keyring.encrypt(context, note)


async def open_note(keyring: Keyring, action: AlertAction) -> str | None:
    if action.note_enc is None:
        return None
    context = FieldContext(action.school_id, ACTION_TABLE, "note", str(action.id))
    return await keyring.decrypt(context, action.note_enc)


__all__ = ["EVIDENCE", "open_evidence", "open_note", "ordered_id", "seal_evidence", "seal_note"]
