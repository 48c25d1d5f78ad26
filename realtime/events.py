"""Thin, versioned event payloads: ids and the few fields a live view shows, never rows."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar, Self

VERSION = 1


class EventError(ValueError):
    """A message on a channel that is not the event expected there."""


def _load(data: bytes, kind: str) -> dict[str, Any]:
    try:
        body = json.loads(data)
    except ValueError:
        raise EventError(f"not JSON: expected {kind}") from None
    if not isinstance(body, dict) or body.get("type") != kind or body.get("v") != VERSION:
        raise EventError(f"expected {kind} v{VERSION}")
    return body


@dataclass(frozen=True, slots=True)
class _Event:
    TYPE: ClassVar[str] = ""

    def encode(self) -> bytes:
        return json.dumps(
            {"type": self.TYPE, "v": VERSION, **self._fields()}, separators=(",", ":")
        ).encode()

    def _fields(self) -> dict[str, object]:
        # Field by field rather than dataclasses.asdict, which deep-copies: this runs per event.
        return {item.name: getattr(self, item.name) for item in fields(self)}

    @classmethod
    def decode(cls, data: bytes) -> Self:
        return cls._from_body(_load(data, cls.TYPE))

    @classmethod
    def _from_body(cls, body: object) -> Self:
        if not isinstance(body, dict):
            raise EventError(f"{cls.TYPE}: not an object")
        names = cls.__dataclass_fields__
        try:
            return cls(**{k: v for k, v in body.items() if k in names})
        except TypeError as error:
            raise EventError(f"{cls.TYPE}: {error}") from None


@dataclass(frozen=True, slots=True)
class Revoked(_Event):
    """Credentials that stopped working: their websockets close everywhere."""

    TYPE: ClassVar[str] = "credentials.revoked"
    sessions: list[int] = field(default_factory=list)
    devices: list[int] = field(default_factory=list)
    api_keys: list[int] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class AccessChanged(_Event):
    """Assignments or roles changed in a school; empty ``groups`` means any group."""

    TYPE: ClassVar[str] = "access.changed"
    groups: list[int] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class PolicyChanged(_Event):
    """Lessons or school rules changed; empty ``groups`` means every device of the school."""

    TYPE: ClassVar[str] = "policy.changed"
    groups: list[int] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class CommandIssued(_Event):
    """A command for one device was stored; the device's stream reads and delivers it."""

    TYPE: ClassVar[str] = "command.issued"
    command: int = 0


@dataclass(frozen=True, slots=True)
class Activity(_Event):
    """One change to a learner's live tile, as a teacher's view shows it."""

    TYPE: ClassVar[str] = "activity"
    group: int = 0
    device: int = 0
    learner: str | None = None
    kind: str = ""
    at: str = ""
    online: bool = True
    app: str | None = None
    url: str | None = None
    title: str | None = None
    idle: bool = False
    #: Set by LOCK/UNLOCK commands; None when the event does not change it.
    locked: bool | None = None
    blocked: bool = False
    reason: str | None = None
    #: Base64 JPEG, only on SCREENSHOT events.
    thumbnail: str | None = None


ACTIVITY_BATCH = "activity.batch"


def encode_activities(events: Sequence[Activity]) -> bytes:
    """Several activity events as one message: a report's events for one group travel
    together, one publish and one delivery per report instead of one per event."""
    if len(events) == 1:
        return events[0].encode()
    body = {
        "type": ACTIVITY_BATCH,
        "v": VERSION,
        "events": [event._fields() for event in events],
    }
    return json.dumps(body, separators=(",", ":")).encode()


def decode_activities(data: bytes) -> list[Activity]:
    """The events of an ``activity`` message or of an ``activity.batch``, in order."""
    try:
        body = json.loads(data)
    except ValueError:
        raise EventError("not JSON: expected activity") from None
    if not isinstance(body, dict) or body.get("v") != VERSION:
        raise EventError(f"expected activity v{VERSION}")
    if body.get("type") == Activity.TYPE:
        return [Activity._from_body(body)]
    items = body.get("events")
    if body.get("type") != ACTIVITY_BATCH or not isinstance(items, list):
        raise EventError(f"expected activity or {ACTIVITY_BATCH} v{VERSION}")
    return [Activity._from_body(item) for item in items]


@dataclass(frozen=True, slots=True)
class AlertRaised(_Event):
    """An alert was committed (new, or a repeat merged into it) with this feed cursor."""

    TYPE: ClassVar[str] = "alert.raised"
    alert: str = ""
    cursor: int = 0


@dataclass(frozen=True, slots=True)
class SafeguardingRulesChanged(_Event):
    """A school's detection rules or monitoring settings changed."""

    TYPE: ClassVar[str] = "safeguarding.rules_changed"
    version: int = 0


__all__ = [
    "ACTIVITY_BATCH",
    "AccessChanged",
    "Activity",
    "AlertRaised",
    "CommandIssued",
    "EventError",
    "PolicyChanged",
    "Revoked",
    "SafeguardingRulesChanged",
    "decode_activities",
    "encode_activities",
]
