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
    decode_activities,
    encode_activities,
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


def test_a_report_s_activity_travels_as_one_message_and_reads_back_in_order() -> None:
    # given three events of one report, and a lone one
    batch = [
        Activity(group=1, device=2, kind="URL_VISIT", at=f"2026-11-28T10:00:0{n}+00:00")
        for n in range(3)
    ]
    lone = batch[0]
    # when each is encoded
    many, one = encode_activities(batch), encode_activities([lone])
    # then the batch is one message of its own type, and a lone event stays an `activity`
    assert json.loads(many)["type"] == "activity.batch"
    assert decode_activities(many) == batch
    assert one == lone.encode()
    assert decode_activities(one) == [lone]


@pytest.mark.parametrize(
    "data",
    [
        b"not json",
        b'{"type":"activity.batch","v":1}',
        b'{"type":"activity.batch","v":1,"events":[7]}',
        b'{"type":"activity.batch","v":2,"events":[]}',
        b'{"type":"access.changed","v":1}',
    ],
)
def test_malformed_activity_batches_are_event_errors(data: bytes) -> None:
    with pytest.raises(EventError):
        decode_activities(data)
