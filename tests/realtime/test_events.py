"""Thin events round-trip exactly, and refuse what is not theirs."""

from __future__ import annotations

import json

import pytest

from realtime.events import (
    AccessChanged,
    Activity,
    CommandIssued,
    EventError,
    PolicyChanged,
    Revoked,
)

EVENTS = [
    Revoked(sessions=[3, 4], devices=[7], api_keys=[]),
    AccessChanged(groups=[12]),
    PolicyChanged(groups=[]),
    CommandIssued(command=41),
    Activity(
        group=1,
        device=2,
        learner="abc",
        kind="URL_VISIT",
        at="2026-11-28T10:00:00+00:00",
        url="https://example.org",
        blocked=True,
        reason="school rule: example.org",
        locked=None,
    ),
]


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: type(e).__name__)
def test_events_round_trip_with_their_type_and_version(event: object) -> None:
    # when
    data = event.encode()  # type: ignore[attr-defined]
    # then the wire form names its type and version and carries only the event's fields
    body = json.loads(data)
    assert body["type"] == type(event).TYPE
    assert body["v"] == 1
    assert set(body) == {"type", "v"} | set(type(event).__dataclass_fields__) - {"TYPE"}
    assert type(event).decode(data) == event  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "data",
    [
        b"not json",
        b"[]",
        b'{"type":"activity","v":2}',
        b'{"type":"access.changed","v":1}',
    ],
)
def test_foreign_or_malformed_messages_are_event_errors(data: bytes) -> None:
    with pytest.raises(EventError):
        Activity.decode(data)
