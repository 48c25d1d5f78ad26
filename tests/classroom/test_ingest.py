"""reportActivity: validation, de-duplication, verdicts, live tiles and encrypted history."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest

from app.security.crypto import CryptoError, FieldContext
from models.classroom import ActivityRecord
from models.devices import Device
from models.staff import Role
from realtime import channels
from realtime.live_state import LiveStateUnavailable
from resolvers import ingest
from resolvers.context import Services, Viewer
from resolvers.history import DEFAULT_RETENTION, purge_history
from schema.common import to_global_id
from tests import factories
from tests.classroom.helpers import (
    TIMEOUT,
    a_class,
    b64,
    error_code,
    event,
    jpeg,
    ok,
    wait_until,
)
from tests.conftest import Clock, GraphQLRunner, context_for

REPORT = """
mutation Report($events: [ActivityEventInput!]!) {
  reportActivity(input: {events: $events}) {
    results { eventId status blocked reason }
    errors { field code message }
  }
}
"""

CLASSROOM = """
query Classroom($groupId: ID!) {
  classroom(groupId: $groupId) {
    tiles {
      learner { id }
      online app url title thumbnail idle locked blockedAttempts lastBlocked lastSeenAt
    }
  }
}
"""

SET_SCHOOL_RULES = """
mutation Rules($input: SchoolRulesInput!) {
  setSchoolRules(input: $input) { errors { field code } }
}
"""

START_LESSON = """
mutation Start($input: StartLessonInput!) {
  startLesson(input: $input) { lesson { id } errors { field code } }
}
"""

REVOKE_DEVICE = "mutation Revoke($id: ID!) { revokeDevice(id: $id) { errors { code } } }"


async def report(gql: GraphQLRunner, viewer: Viewer, *events: dict[str, Any]) -> dict[str, Any]:
    payload: dict[str, Any] = ok(await gql(REPORT, viewer, events=list(events)))["reportActivity"]
    return payload


def statuses(payload: dict[str, Any]) -> list[str]:
    return [r["status"] for r in payload["results"]]


async def history_rows(services: Services, expected: int) -> list[ActivityRecord]:
    """Flush the batch writer, then wait for its rows (its own timer may be mid-write)."""
    await services.history.flush()

    async def stored() -> bool:
        return await ActivityRecord.all().count() == expected

    await wait_until(stored)
    return list(await ActivityRecord.all().order_by("occurred_at"))


# --- validation -------------------------------------------------------------------------------

LONG_ID = "x" * 65
NOT_JPEG = b64(b"\x89PNG\r\n\x1a\n" + b"\x00" * 16)
TOO_BIG = b64(jpeg(64 * 1024 + 1))


#: (override, reason): one rule each. "age" moves occurredAt into the past (or the future).
INVALID: list[tuple[dict[str, Any], str]] = [
    ({"eventId": ""}, "eventId must be 1 to 64 printable ASCII characters"),
    ({"eventId": LONG_ID}, "eventId must be 1 to 64 printable ASCII characters"),
    ({"eventId": "has space"}, "eventId must be 1 to 64 printable ASCII characters"),
    ({"eventId": "caf\u00e9"}, "eventId must be 1 to 64 printable ASCII characters"),
    ({"eventId": "tab\there"}, "eventId must be 1 to 64 printable ASCII characters"),
    ({"occurredAt": "2026-11-28T10:00:00"}, "occurredAt needs a time zone"),
    ({"age": timedelta(days=7, seconds=1)}, "occurredAt is more than 7 days old or in the future"),
    ({"age": -timedelta(minutes=5, seconds=1)}, "occurredAt is more than 7 days old or in the"),
    ({"app": "a" * 129}, "app is longer than 128 characters"),
    ({"url": "https://example.com/" + "a" * 2030}, "url is longer than 2048 characters"),
    ({"title": "t" * 513}, "title is longer than 512 characters"),
    ({"text": "w" * 4097}, "text is longer than 4096 characters"),
    ({"url": "ftp://example.com/file"}, "url must be http:// or https://"),
    ({"url": "javascript:alert(1)"}, "url must be http:// or https://"),
    ({"url": "example.com"}, "url must be http:// or https://"),
    ({"thumbnail": "not base64!"}, "thumbnail is not base64"),
    ({"thumbnail": NOT_JPEG}, "thumbnail is not a JPEG"),
    ({"thumbnail": TOO_BIG}, "thumbnail is larger than 64 KB"),
    ({"thumbnail": "A" * 100_000}, "thumbnail is larger than 64 KB"),
]

#: (override, kind): exactly at each limit, so accepted.
AT_THE_LIMITS: list[tuple[dict[str, Any], str]] = [
    ({"eventId": "x" * 64}, "URL_VISIT"),
    ({"eventId": "!~azAZ09-_.:{}"}, "URL_VISIT"),
    ({"age": timedelta(days=7)}, "URL_VISIT"),
    ({"age": -timedelta(minutes=5)}, "URL_VISIT"),
    ({"app": "a" * 128}, "APP_FOCUS"),
    ({"url": "https://example.com/" + "a" * 2028}, "URL_VISIT"),
    ({"title": "t" * 512}, "URL_VISIT"),
    ({"text": "w" * 4096}, "TYPED_TEXT"),
    ({"url": "http://example.com/"}, "URL_VISIT"),
    ({"thumbnail": b64(jpeg(64 * 1024))}, "SCREENSHOT"),
]


def shaped(clock: Clock, override: dict[str, Any], kind: str | None = None) -> dict[str, Any]:
    fields = dict(override)
    at = clock.now - fields.pop("age", timedelta(0))
    return event(kind or ("SCREENSHOT" if "thumbnail" in fields else "URL_VISIT"), at, **fields)


async def test_each_invalid_event_is_rejected_with_its_reason_and_valid_ones_accepted(
    services: Services, gql: GraphQLRunner, clock: Clock
) -> None:
    # given: one batch alternating a valid event and an event breaking one rule
    room = await a_class(services)
    batch: list[dict[str, Any]] = []
    expected: list[tuple[str, str | None]] = []
    for override, reason in INVALID:
        batch.append(event("APP_FOCUS", clock.now, app="Chrome"))
        expected.append(("ACCEPTED", None))
        batch.append(shaped(clock, override))
        expected.append(("REJECTED", reason))
    # when
    payload = await report(gql, room.pupil.viewer, *batch)
    # then
    assert payload["errors"] == []
    assert len(payload["results"]) == len(expected)
    for result, (status, wanted) in zip(payload["results"], expected, strict=True):
        assert result["status"] == status, (result, wanted)
        assert result["blocked"] is False
        if wanted is None:
            assert result["reason"] is None
        else:
            assert wanted in result["reason"], (result, wanted)
    assert [r["eventId"] for r in payload["results"][1::2]] == [
        str(e["eventId"])[:64] for e in batch[1::2]
    ]
    assert len(await history_rows(services, len(INVALID))) == len(INVALID)


async def test_events_exactly_at_the_limits_are_accepted(
    services: Services, gql: GraphQLRunner, clock: Clock
) -> None:
    # given
    room = await a_class(services)
    batch = [shaped(clock, override, kind) for override, kind in AT_THE_LIMITS]
    # when
    payload = await report(gql, room.pupil.viewer, *batch)
    # then
    accepted = [("ACCEPTED", None)] * len(AT_THE_LIMITS)
    assert [(r["status"], r["reason"]) for r in payload["results"]] == accepted


async def test_an_unknown_kind_is_rejected_per_event_by_the_use_case(
    services: Services, clock: Clock
) -> None:
    # given: a newer agent's kind (the schema enum refuses it before the use-case sees it)
    room = await a_class(services)
    ctx = context_for(services, room.pupil.viewer)
    events = [
        ingest.ActivityInput("e-1", clock.now, "CAMERA_ON"),
        ingest.ActivityInput("e-2", clock.now, "IDLE"),
    ]
    # when
    results = await ingest.report_activity(ctx, events)
    # then
    assert [r.status for r in results] == ["REJECTED", "ACCEPTED"]
    assert results[0].reason == "unknown kind 'CAMERA_ON'"


async def test_more_than_100_events_is_a_payload_error_and_nothing_is_kept(
    services: Services, gql: GraphQLRunner, clock: Clock
) -> None:
    # given
    room = await a_class(services)
    events = [event("IDLE", clock.now) for _ in range(101)]
    # when
    payload = await report(gql, room.pupil.viewer, *events)
    # then
    assert payload["results"] == []
    assert [(e["field"], e["code"]) for e in payload["errors"]] == [("events", "INVALID")]
    # and: none of them was marked as seen, so the agent can resend them in smaller batches
    retry = await report(gql, room.pupil.viewer, *events[:100])
    assert statuses(retry) == ["ACCEPTED"] * 100
    assert len(await history_rows(services, 100)) == 100


# --- de-duplication ---------------------------------------------------------------------------


async def test_a_repeat_within_a_batch_is_a_duplicate(
    services: Services, gql: GraphQLRunner, clock: Clock
) -> None:
    # given
    room = await a_class(services)
    first = event("APP_FOCUS", clock.now, event_id="dup-1", app="Chrome")
    # when
    payload = await report(gql, room.pupil.viewer, first, first, {**first, "app": "Word"})
    # then
    assert statuses(payload) == ["ACCEPTED", "DUPLICATE", "DUPLICATE"]
    rows = await history_rows(services, 1)
    assert [(r.event_id, r.app) for r in rows] == [("dup-1", "Chrome")]


async def test_a_resent_event_is_a_duplicate_and_stored_once(
    services: Services, gql: GraphQLRunner, clock: Clock
) -> None:
    # given
    room = await a_class(services)
    sent = event("URL_VISIT", clock.now, event_id="resend-1", url="https://bbc.co.uk/")
    assert statuses(await report(gql, room.pupil.viewer, sent)) == ["ACCEPTED"]
    await history_rows(services, 1)
    # when: the agent did not hear the answer and sends the batch again, with a new event
    clock.advance(seconds=10)
    payload = await report(gql, room.pupil.viewer, sent, event("IDLE", clock.now))
    # then
    assert statuses(payload) == ["DUPLICATE", "ACCEPTED"]
    assert [r.event_id for r in await history_rows(services, 2)].count("resend-1") == 1


async def test_event_ids_are_per_device(
    services: Services, gql: GraphQLRunner, clock: Clock
) -> None:
    # given: two devices whose agents happen to use the same id
    room = await a_class(services, pupils=2)
    same = event("IDLE", clock.now, event_id="same-id")
    # when
    first = await report(gql, room.pupils[0].viewer, same)
    second = await report(gql, room.pupils[1].viewer, same)
    # then
    assert statuses(first) == statuses(second) == ["ACCEPTED"]


async def test_a_rejected_event_can_be_resent_corrected(
    services: Services, gql: GraphQLRunner, clock: Clock
) -> None:
    # given
    room = await a_class(services)
    broken = event("URL_VISIT", clock.now, event_id="fix-me", url="bbc.co.uk")
    assert statuses(await report(gql, room.pupil.viewer, broken)) == ["REJECTED"]
    # when
    payload = await report(gql, room.pupil.viewer, {**broken, "url": "https://bbc.co.uk/"})
    # then
    assert statuses(payload) == ["ACCEPTED"]


async def test_an_event_that_failed_midway_is_not_a_duplicate_when_resent(
    services: Services, gql: GraphQLRunner, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: the live store fails after the ids were claimed, so the report errors out
    room = await a_class(services)
    sent = event("URL_VISIT", clock.now, event_id="lost-1", url="https://bbc.co.uk/")
    real_update = services.live.update_tiles

    async def fail_once(updates: Any) -> None:
        monkeypatch.setattr(services.live, "update_tiles", real_update)
        raise LiveStateUnavailable("simulated outage")

    monkeypatch.setattr(services.live, "update_tiles", fail_once)
    failed = await gql(REPORT, room.pupil.viewer, events=[sent])
    assert failed.errors is not None  # not acknowledged: the agent keeps the event and resends
    # when
    payload = await report(gql, room.pupil.viewer, sent)
    # then: "acknowledged only once accepted" - the event was never accepted, so it is now
    assert statuses(payload) == ["ACCEPTED"]
    assert [r.event_id for r in await history_rows(services, 1)] == ["lost-1"]


# --- who may report ---------------------------------------------------------------------------


async def _staff(services: Services, role: Role) -> Viewer:
    school = await factories.school(services)
    return factories.viewer(await factories.staff(school, role), school, role)


async def _partner(services: Services) -> Viewer:
    school = await factories.school(services)
    key, _ = await factories.api_key(school)
    return factories.partner_viewer(key, school)


async def _anonymous(services: Services) -> None:
    return None


#: Principals other than a device, and what reportActivity answers them.
WHO: list[tuple[str, Callable[[Services], Awaitable[Viewer | None]], str]] = [
    ("teacher", lambda s: _staff(s, Role.TEACHER), "FORBIDDEN"),
    ("admin", lambda s: _staff(s, Role.ADMIN), "FORBIDDEN"),
    ("safeguarding lead", lambda s: _staff(s, Role.SAFEGUARDING_LEAD), "FORBIDDEN"),
    ("partner", _partner, "FORBIDDEN"),
    ("anonymous", _anonymous, "UNAUTHENTICATED"),
]


async def test_only_a_device_may_report_activity(
    services: Services, gql: GraphQLRunner, clock: Clock
) -> None:
    for name, who, code in WHO:
        # given
        viewer = await who(services)
        # when
        result = await gql(REPORT, viewer, events=[event("IDLE", clock.now)])
        # then
        assert (name, error_code(result)) == (name, code)
        assert result.data is None
    assert await ActivityRecord.all().count() == 0


async def test_a_revoked_device_is_unauthenticated(
    services: Services, gql: GraphQLRunner, clock: Clock
) -> None:
    # given: a device that has reported (so its state is cached), then revoked by an admin
    room = await a_class(services)
    assert statuses(await report(gql, room.pupil.viewer, event("IDLE", clock.now))) == ["ACCEPTED"]
    admin = await factories.admin_viewer(room.school)
    revoked = ok(await gql(REVOKE_DEVICE, admin, id=to_global_id("Device", room.pupil.device.id)))
    assert revoked["revokeDevice"]["errors"] == []
    # when
    result = await gql(REPORT, room.pupil.viewer, events=[event("IDLE", clock.now)])
    # then
    assert error_code(result) == "UNAUTHENTICATED"
    assert len(await history_rows(services, 1)) == 1


async def test_a_device_revoked_before_it_ever_reported_is_unauthenticated(
    services: Services, gql: GraphQLRunner, clock: Clock
) -> None:
    # given
    room = await a_class(services)
    await Device.filter(id=room.pupil.device.id).update(revoked_at=clock.now)
    # when
    result = await gql(REPORT, room.pupil.viewer, events=[event("IDLE", clock.now)])
    # then
    assert error_code(result) == "UNAUTHENTICATED"


# --- verdicts ---------------------------------------------------------------------------------


async def test_events_are_judged_against_the_school_rules_and_the_lesson(
    services: Services, gql: GraphQLRunner, clock: Clock
) -> None:
    # given: the school locks a gambling site; a lesson blocks a game
    room = await a_class(services)
    admin = await factories.admin_viewer(room.school)
    rules = await gql(SET_SCHOOL_RULES, admin, input={"domains": ["bet.example"]})
    assert ok(rules)["setSchoolRules"]["errors"] == []
    lesson = {
        "groupId": room.group_id,
        "endsAt": (clock.now + timedelta(hours=1)).isoformat(),
        "blockApps": ["Minecraft"],
    }
    assert (
        ok(await gql(START_LESSON, room.teacher_viewer, input=lesson))["startLesson"]["errors"]
        == []
    )
    # when
    payload = await report(
        gql,
        room.pupil.viewer,
        event("URL_VISIT", clock.now, url="https://www.bet.example/odds"),
        event("APP_FOCUS", clock.now, app="MINECRAFT"),
        event("URL_VISIT", clock.now, url="https://www.bbc.co.uk/bitesize"),
        event("TYPED_TEXT", clock.now, app="Minecraft", text="hello"),
    )
    # then
    assert [(r["status"], r["blocked"], r["reason"]) for r in payload["results"]] == [
        ("ACCEPTED", True, "school rule: bet.example"),
        ("ACCEPTED", True, "lesson rule: minecraft"),
        ("ACCEPTED", False, None),
        ("ACCEPTED", False, None),
    ]
    rows = await history_rows(services, 4)
    assert sorted(r.blocked for r in rows) == [False, False, True, True]


# --- live tiles -------------------------------------------------------------------------------


async def test_accepted_events_update_the_learners_live_tile(
    services: Services, gql: GraphQLRunner, clock: Clock
) -> None:
    # given
    room = await a_class(services, pupils=2)
    admin = await factories.admin_viewer(room.school)
    ok(await gql(SET_SCHOOL_RULES, admin, input={"apps": ["Roblox"]}))
    picture = jpeg(2048)
    # when: the events arrive out of order within the batch
    await report(
        gql,
        room.pupil.viewer,
        event(
            "SCREENSHOT",
            clock.now,
            url="https://www.bbc.co.uk/bitesize",
            title="Bitesize",
            app="Chrome",
            thumbnail=b64(picture),
        ),
        event("LOGIN", clock.now - timedelta(minutes=2)),
        event("APP_FOCUS", clock.now - timedelta(minutes=1), app="Roblox"),
    )
    # then
    tiles = ok(await gql(CLASSROOM, room.teacher_viewer, groupId=room.group_id))["classroom"][
        "tiles"
    ]
    by_learner = {t["learner"]["id"]: t for t in tiles}
    active = by_learner[to_global_id("Learner", room.pupils[0].learner.id)]
    assert active == {
        "learner": {"id": to_global_id("Learner", room.pupils[0].learner.id)},
        "online": True,
        "app": "Chrome",
        "url": "https://www.bbc.co.uk/bitesize",
        "title": "Bitesize",
        "thumbnail": b64(picture),
        "idle": False,
        "locked": False,
        "blockedAttempts": 1,
        "lastBlocked": "school rule: roblox",
        "lastSeenAt": clock.now.isoformat(),
    }
    quiet = by_learner[to_global_id("Learner", room.pupils[1].learner.id)]
    assert quiet["online"] is False
    assert quiet["app"] is None
    assert quiet["blockedAttempts"] == 0


async def test_rejected_and_duplicate_events_leave_the_tile_alone(
    services: Services, gql: GraphQLRunner, clock: Clock
) -> None:
    # given
    room = await a_class(services)
    first = event("APP_FOCUS", clock.now, event_id="tile-1", app="Word")
    await report(gql, room.pupil.viewer, first)
    # when
    await report(
        gql,
        room.pupil.viewer,
        {**first, "app": "Excel"},
        event("APP_FOCUS", clock.now, app="Roblox", url="bad"),
    )
    # then
    tiles = ok(await gql(CLASSROOM, room.teacher_viewer, groupId=room.group_id))["classroom"][
        "tiles"
    ]
    assert tiles[0]["app"] == "Word"


# --- history ----------------------------------------------------------------------------------


async def test_history_is_written_in_batches_with_text_encrypted_and_no_thumbnails(
    services: Services, gql: GraphQLRunner, clock: Clock
) -> None:
    # given
    room = await a_class(services)
    secret = "my password is hunter2"
    picture = b64(jpeg(4096))
    # when
    payload = await report(
        gql,
        room.pupil.viewer,
        event("TYPED_TEXT", clock.now - timedelta(seconds=2), app="Notes", text=secret),
        event("SCREENSHOT", clock.now - timedelta(seconds=1), thumbnail=picture, title="Shot"),
        event("IDLE", clock.now),
    )
    assert statuses(payload) == ["ACCEPTED"] * 3
    # then
    typed, shot, idle = await history_rows(services, 3)
    assert typed.school_id == room.school.id
    assert typed.device_id == room.pupil.device.id
    assert typed.learner_id == room.pupil.learner.id
    assert typed.kind == "TYPED_TEXT"
    assert typed.app == "Notes"
    assert typed.received_at == clock.now
    assert typed.text_enc is not None
    stored = bytes(typed.text_enc)
    assert secret.encode() not in stored
    assert b"hunter2" not in stored
    right = FieldContext(room.school.id, "activity_record", "text", str(typed.id))
    assert await services.keyring.decrypt(right, stored) == secret
    # and: the ciphertext is bound to its row
    wrong = FieldContext(room.school.id, "activity_record", "text", str(shot.id))
    with pytest.raises(CryptoError):
        await services.keyring.decrypt(wrong, stored)
    # and: no thumbnail reaches the database
    assert "thumbnail" not in ActivityRecord._meta.fields_map
    assert shot.text_enc is None
    # and: titles and URLs are browsing history, sealed like the text
    title = FieldContext(room.school.id, "activity_record", "title", str(shot.id))
    assert b"Shot" not in bytes(shot.title_enc)
    assert await services.keyring.decrypt(title, bytes(shot.title_enc)) == "Shot"
    for row in (typed, shot, idle):
        values = [bytes(v) for v in (row.url_enc, row.title_enc, row.text_enc) if v is not None]
        assert all(picture.encode() not in v for v in values)
        assert row.app is None or picture not in row.app
    # and: the device was seen
    device = await Device.get(id=room.pupil.device.id)
    assert device.last_seen_at == clock.now


async def test_purge_deletes_only_history_older_than_30_days(
    services: Services, clock: Clock
) -> None:
    # given
    room = await a_class(services)
    assert timedelta(days=30) == DEFAULT_RETENTION
    ages = {
        "ancient": timedelta(days=90),
        "just-too-old": timedelta(days=30, seconds=1),
        "exactly-30-days": timedelta(days=30),
        "recent": timedelta(days=29, hours=23),
        "today": timedelta(0),
    }
    for name, age in ages.items():
        await ActivityRecord.create(
            school_id=room.school.id,
            device_id=room.pupil.device.id,
            learner_id=room.pupil.learner.id,
            event_id=name,
            kind="IDLE",
            occurred_at=clock.now - age,
            received_at=clock.now - age,
        )
    # when
    deleted = await purge_history(clock.now)
    # then
    assert deleted == 2
    remaining = sorted(r.event_id for r in await ActivityRecord.all())
    assert remaining == ["exactly-30-days", "recent", "today"]


async def test_a_batch_is_published_to_each_group_of_the_learner(
    services: Services, gql: GraphQLRunner, clock: Clock
) -> None:
    # given: the learner is in two groups
    room = await a_class(services)
    other = await factories.group(room.school, learners=[room.pupil.learner])
    wanted = [
        channels.group_activity(room.school.id, room.group.id),
        channels.group_activity(room.school.id, other.id),
    ]
    async with services.broker.subscribe_many(wanted) as messages:
        # when
        await report(gql, room.pupil.viewer, event("APP_FOCUS", clock.now, app="Word"))
        # then
        async with asyncio.timeout(TIMEOUT):
            received = {(await anext(messages)).channel, (await anext(messages)).channel}
    assert received == set(wanted)
    assert services.broker.subscriber_count(wanted[0]) == 0
