"""sendDeviceCommand, the deviceCommands stream (policy, pending, live) and acknowledgements."""

from __future__ import annotations

from contextlib import aclosing
from datetime import UTC, datetime, timedelta
from typing import Any

from models.classroom import DeviceCommand as CommandRow
from models.devices import Device
from models.staff import Role
from realtime import channels
from realtime.events import PolicyChanged
from resolvers.context import Services, Viewer
from schema.common import to_global_id
from tests import factories
from tests.classroom.helpers import (
    Pupil,
    Stream,
    a_class,
    a_pupil,
    ended,
    error_code,
    ok,
    receive,
    receive_after,
    subscribe,
)
from tests.conftest import Clock, GraphQLRunner

SEND = """
mutation Send($input: SendDeviceCommandInput!) {
  sendDeviceCommand(input: $input) {
    commands { id kind url message expiresAt acknowledgedAt }
    errors { field code message }
  }
}
"""

ACKNOWLEDGE = """
mutation Ack($ids: [ID!]!) {
  acknowledgeDeviceCommands(ids: $ids) { acknowledged errors { field code } }
}
"""

DEVICE_COMMANDS = """
subscription {
  deviceCommands {
    id kind url message expiresAt
    policy { version mode lessonEndsAt allowDomains blockDomains blockApps }
  }
}
"""

START_LESSON = """
mutation Start($input: StartLessonInput!) {
  startLesson(input: $input) { lesson { id } errors { field code } }
}
"""

SET_SCHOOL_RULES = """
mutation Rules($input: SchoolRulesInput!) { setSchoolRules(input: $input) { errors { code } } }
"""

END_LESSON = "mutation End($id: ID!) { endLesson(id: $id) { errors { code } } }"

TILES = """
query Tiles($groupId: ID!) {
  classroom(groupId: $groupId) { tiles { device { id } locked } }
}
"""


def device_id(pupil: Pupil) -> str:
    return to_global_id("Device", pupil.device.id)


async def send(gql: GraphQLRunner, viewer: Viewer, **values: Any) -> dict[str, Any]:
    payload: dict[str, Any] = ok(await gql(SEND, viewer, input=values))["sendDeviceCommand"]
    return payload


def command_of(result: Any) -> dict[str, Any]:
    """The DeviceCommand of one subscription result."""
    command: dict[str, Any] = ok(result)["deviceCommands"]
    return command


def device_channel(pupil: Pupil) -> str:
    return channels.device(pupil.device.school_id, pupil.device.id)


# --- sending ----------------------------------------------------------------------------------


async def test_a_command_to_a_group_reaches_each_active_device_of_its_learners(
    services: Services, gql: GraphQLRunner, clock: Clock
) -> None:
    # given: two pupils with devices, one of them also on an old revoked device, one pupil
    # without a device, and a pupil outside the group
    room = await a_class(services, pupils=2)
    revoked, _ = await factories.device(room.school, learner_row=room.pupils[0].learner)
    await Device.filter(id=revoked.id).update(revoked_at=clock.now)
    no_device = await factories.learner(services, room.school)
    await factories.group(room.school, learners=[no_device])
    outsider = await a_pupil(services, room.school)
    # when
    payload = await send(
        gql, room.teacher_viewer, kind="MESSAGE", groupId=room.group_id, message=" Eyes up! "
    )
    # then
    assert payload["errors"] == []
    assert [c["kind"] for c in payload["commands"]] == ["MESSAGE", "MESSAGE"]
    assert {c["message"] for c in payload["commands"]} == {"Eyes up!"}
    assert {c["expiresAt"] for c in payload["commands"]} == {
        (clock.now + timedelta(seconds=300)).isoformat()
    }
    rows = await CommandRow.all()
    assert sorted(r.device_id for r in rows) == sorted(p.device.id for p in room.pupils)
    assert outsider.device.id not in {r.device_id for r in rows}
    assert {r.created_by_id for r in rows} == {room.teacher.id}


async def test_a_command_to_chosen_devices_reaches_only_those(
    services: Services, gql: GraphQLRunner
) -> None:
    # given
    room = await a_class(services, pupils=3)
    # when
    payload = await send(
        gql,
        room.teacher_viewer,
        kind="OPEN_URL",
        deviceIds=[device_id(room.pupils[1])],
        url="https://www.bbc.co.uk/bitesize",
    )
    # then
    assert payload["errors"] == []
    assert [(c["kind"], c["url"]) for c in payload["commands"]] == [
        ("OPEN_URL", "https://www.bbc.co.uk/bitesize")
    ]
    assert [r.device_id for r in await CommandRow.all()] == [room.pupils[1].device.id]


async def test_a_group_and_devices_together_narrow_to_devices_of_the_group(
    services: Services, gql: GraphQLRunner
) -> None:
    room = await a_class(services, pupils=2)
    payload = await send(
        gql,
        room.teacher_viewer,
        kind="LOCK",
        groupId=room.group_id,
        deviceIds=[device_id(room.pupils[0])],
    )
    assert [r.device_id for r in await CommandRow.all()] == [room.pupils[0].device.id]
    assert payload["errors"] == []


async def test_devices_outside_the_teachers_reach_are_not_found_and_nothing_is_sent(
    services: Services, gql: GraphQLRunner
) -> None:
    # given: one of the teacher's devices, one of another group, one of another school
    room = await a_class(services)
    other_group = await a_class(services, school=room.school)
    other_school = await a_class(services)
    for stranger in (other_group.pupil, other_school.pupil):
        # when
        payload = await send(
            gql,
            room.teacher_viewer,
            kind="LOCK",
            deviceIds=[device_id(room.pupil), device_id(stranger)],
        )
        # then
        assert payload["commands"] == []
        assert [(e["field"], e["code"]) for e in payload["errors"]] == [("deviceIds", "NOT_FOUND")]
    missing = await send(
        gql, room.teacher_viewer, kind="LOCK", deviceIds=[to_global_id("Device", 987_654)]
    )
    assert [(e["field"], e["code"]) for e in missing["errors"]] == [("deviceIds", "NOT_FOUND")]
    assert await CommandRow.all().count() == 0
    tiles = ok(await gql(TILES, room.teacher_viewer, groupId=room.group_id))["classroom"]["tiles"]
    assert tiles[0]["locked"] is False


async def test_a_group_the_teacher_does_not_teach_is_not_found(
    services: Services, gql: GraphQLRunner
) -> None:
    room = await a_class(services)
    other = await a_class(services, school=room.school)
    result = await gql(SEND, room.teacher_viewer, input={"kind": "LOCK", "groupId": other.group_id})
    assert error_code(result) == "NOT_FOUND"
    assert await CommandRow.all().count() == 0


async def test_an_admin_reaches_every_device_of_the_school(
    services: Services, gql: GraphQLRunner
) -> None:
    room = await a_class(services)
    admin = await factories.admin_viewer(room.school)
    payload = await send(gql, admin, kind="LOCK", deviceIds=[device_id(room.pupil)])
    assert payload["errors"] == []
    assert len(payload["commands"]) == 1


#: (input without groupId, field, code); every case but the first goes to the teacher's group.
BAD_INPUT: list[tuple[dict[str, Any], str, str]] = [
    ({"kind": "OPEN_URL"}, "url", "INVALID"),
    ({"kind": "OPEN_URL", "url": "javascript:alert(1)"}, "url", "INVALID"),
    ({"kind": "OPEN_URL", "url": "ftp://files.example/"}, "url", "INVALID"),
    ({"kind": "OPEN_URL", "url": "bbc.co.uk"}, "url", "INVALID"),
    ({"kind": "OPEN_URL", "url": "https://a.example/" + "a" * 2040}, "url", "INVALID"),
    ({"kind": "CLOSE_TAB"}, "url", "INVALID"),
    ({"kind": "MESSAGE"}, "message", "INVALID"),
    ({"kind": "MESSAGE", "message": "   "}, "message", "INVALID"),
    ({"kind": "MESSAGE", "message": "m" * 501}, "message", "INVALID"),
    ({"kind": "LOCK", "expiresInSeconds": 0}, "expiresInSeconds", "INVALID"),
    ({"kind": "LOCK", "expiresInSeconds": -5}, "expiresInSeconds", "INVALID"),
    ({"kind": "LOCK", "expiresInSeconds": 8 * 3600 + 1}, "expiresInSeconds", "INVALID"),
]


async def test_bad_input_is_a_payload_error_and_nothing_is_sent(
    services: Services, gql: GraphQLRunner
) -> None:
    # given
    room = await a_class(services)
    # when: neither a group nor devices
    nowhere = await send(gql, room.teacher_viewer, kind="LOCK")
    # then
    assert [(e["field"], e["code"]) for e in nowhere["errors"]] == [("groupId", "REQUIRED")]
    for values, field, code in BAD_INPUT:
        # when
        payload = await send(gql, room.teacher_viewer, groupId=room.group_id, **values)
        # then
        assert payload["commands"] == [], values
        errors = [(e["field"], e["code"]) for e in payload["errors"]]
        assert (values, errors) == (values, [(field, code)])
    assert await CommandRow.all().count() == 0


async def test_a_message_of_500_characters_and_an_8_hour_expiry_are_accepted(
    services: Services, gql: GraphQLRunner, clock: Clock
) -> None:
    room = await a_class(services)
    payload = await send(
        gql,
        room.teacher_viewer,
        kind="MESSAGE",
        groupId=room.group_id,
        message="m" * 500,
        expiresInSeconds=8 * 3600,
    )
    assert payload["errors"] == []
    assert payload["commands"][0]["expiresAt"] == (clock.now + timedelta(hours=8)).isoformat()


async def test_only_teachers_of_the_group_and_admins_may_send(
    services: Services, gql: GraphQLRunner
) -> None:
    # given
    room = await a_class(services)
    table: list[tuple[str, Viewer | None, str]] = [
        (
            role.value,
            factories.viewer(await factories.staff(room.school, role), room.school, role),
            "FORBIDDEN",
        )
        for role in (Role.SAFEGUARDING_LEAD, Role.LEADER)
    ]
    table += [("device", room.pupil.viewer, "FORBIDDEN"), ("anonymous", None, "UNAUTHENTICATED")]
    for name, viewer, code in table:
        # when
        result = await gql(SEND, viewer, input={"kind": "LOCK", "groupId": room.group_id})
        # then
        assert (name, error_code(result)) == (name, code)
    assert await CommandRow.all().count() == 0


async def test_lock_and_unlock_set_the_tiles_locked_flag(
    services: Services, gql: GraphQLRunner
) -> None:
    # given
    room = await a_class(services, pupils=2)

    async def locked() -> list[bool]:
        data = ok(await gql(TILES, room.teacher_viewer, groupId=room.group_id))
        return [t["locked"] for t in data["classroom"]["tiles"]]

    assert await locked() == [False, False]
    # when
    await send(gql, room.teacher_viewer, kind="LOCK", groupId=room.group_id)
    # then
    assert await locked() == [True, True]
    # when
    await send(gql, room.teacher_viewer, kind="UNLOCK", deviceIds=[device_id(room.pupils[1])])
    # then
    tiles = ok(await gql(TILES, room.teacher_viewer, groupId=room.group_id))["classroom"]["tiles"]
    by_device = {t["device"]["id"]: t["locked"] for t in tiles}
    assert by_device == {device_id(room.pupils[0]): True, device_id(room.pupils[1]): False}


# --- the device's stream ----------------------------------------------------------------------


async def test_the_stream_sends_the_policy_then_pending_commands_then_live_ones(
    services: Services, gql: GraphQLRunner, clock: Clock
) -> None:
    # given: commands sent while the device was offline, one of them since expired
    room = await a_class(services)
    pupil = room.pupil
    expired = await send(
        gql,
        room.teacher_viewer,
        kind="MESSAGE",
        groupId=room.group_id,
        message="old",
        expiresInSeconds=60,
    )
    kept = await send(
        gql,
        room.teacher_viewer,
        kind="OPEN_URL",
        groupId=room.group_id,
        url="https://www.bbc.co.uk/",
        expiresInSeconds=3600,
    )
    clock.advance(seconds=61)
    # when
    stream = await subscribe(services, pupil.viewer, DEVICE_COMMANDS)
    async with aclosing(stream):
        first = command_of(await receive(stream))
        pending = command_of(await receive(stream))
        live_payload: list[dict[str, Any]] = []

        async def send_lock() -> None:
            live_payload.append(
                await send(gql, room.teacher_viewer, kind="LOCK", deviceIds=[device_id(pupil)])
            )

        live = command_of(
            await receive_after(
                stream,
                lambda: services.broker.subscriber_count(device_channel(pupil)) > 0,
                send_lock,
            )
        )
        # then
        assert first["kind"] == "POLICY"
        assert first["policy"]["mode"] is None
        assert pending["id"] == kept["commands"][0]["id"]
        assert pending["kind"] == "OPEN_URL"
        assert pending["url"] == "https://www.bbc.co.uk/"
        assert pending["id"] != expired["commands"][0]["id"]
        assert live["kind"] == "LOCK"
        assert live["id"] == live_payload[0]["commands"][0]["id"]
    assert services.broker.subscriber_count(device_channel(pupil)) == 0


async def test_acknowledged_commands_are_not_delivered_again(
    services: Services, gql: GraphQLRunner, clock: Clock
) -> None:
    # given: the device received two commands and acknowledged one
    room = await a_class(services)
    pupil = room.pupil
    for message in ("one", "two"):
        await send(gql, room.teacher_viewer, kind="MESSAGE", groupId=room.group_id, message=message)
    stream = await subscribe(services, pupil.viewer, DEVICE_COMMANDS)
    async with aclosing(stream):
        assert command_of(await receive(stream))["kind"] == "POLICY"
        one = command_of(await receive(stream))
        two = command_of(await receive(stream))
    assert (one["message"], two["message"]) == ("one", "two")
    clock.advance(seconds=5)
    acked = ok(await gql(ACKNOWLEDGE, pupil.viewer, ids=[one["id"]]))["acknowledgeDeviceCommands"]
    assert acked == {"acknowledged": 1, "errors": []}
    assert (await CommandRow.get(payload={"text": "one"})).acknowledged_at == clock.now
    # when: it reconnects
    stream = await subscribe(services, pupil.viewer, DEVICE_COMMANDS)
    async with aclosing(stream):
        assert command_of(await receive(stream))["kind"] == "POLICY"
        again = command_of(await receive(stream))
        # then: only the unacknowledged one comes back
        assert again["id"] == two["id"]
        ok(await gql(ACKNOWLEDGE, pupil.viewer, ids=[two["id"]]))

        async def send_three() -> None:
            await send(gql, room.teacher_viewer, kind="MESSAGE", groupId=room.group_id, message="3")

        after = command_of(
            await receive_after(
                stream,
                lambda: services.broker.subscriber_count(device_channel(pupil)) > 0,
                send_three,
            )
        )
        assert after["message"] == "3"
    assert services.broker.subscriber_count(device_channel(pupil)) == 0


async def test_acknowledging_twice_or_someone_elses_command_counts_nothing(
    services: Services, gql: GraphQLRunner
) -> None:
    # given
    room = await a_class(services, pupils=2)
    sent = await send(gql, room.teacher_viewer, kind="LOCK", deviceIds=[device_id(room.pupils[0])])
    mine = sent["commands"][0]["id"]
    # when
    by_other = ok(await gql(ACKNOWLEDGE, room.pupils[1].viewer, ids=[mine]))
    first = ok(await gql(ACKNOWLEDGE, room.pupils[0].viewer, ids=[mine]))
    second = ok(await gql(ACKNOWLEDGE, room.pupils[0].viewer, ids=[mine]))
    # then
    assert by_other["acknowledgeDeviceCommands"]["acknowledged"] == 0
    assert first["acknowledgeDeviceCommands"]["acknowledged"] == 1
    assert second["acknowledgeDeviceCommands"]["acknowledged"] == 0


async def test_only_devices_acknowledge_or_subscribe(
    services: Services, gql: GraphQLRunner
) -> None:
    # given
    room = await a_class(services)
    sent = await send(gql, room.teacher_viewer, kind="LOCK", groupId=room.group_id)
    # when
    ack = await gql(ACKNOWLEDGE, room.teacher_viewer, ids=[sent["commands"][0]["id"]])
    anonymous = await gql(ACKNOWLEDGE, None, ids=[sent["commands"][0]["id"]])
    stream = await subscribe(services, room.teacher_viewer, DEVICE_COMMANDS)
    async with aclosing(stream):
        streamed = await receive(stream)
        finished = await ended(stream)
    # then
    assert error_code(ack) == "FORBIDDEN"
    assert error_code(anonymous) == "UNAUTHENTICATED"
    assert error_code(streamed) == "FORBIDDEN"
    assert finished
    assert (await CommandRow.get()).acknowledged_at is None


async def test_a_revoked_device_cannot_subscribe(services: Services, clock: Clock) -> None:
    room = await a_class(services)
    await Device.filter(id=room.pupil.device.id).update(revoked_at=clock.now)
    stream = await subscribe(services, room.pupil.viewer, DEVICE_COMMANDS)
    async with aclosing(stream):
        result = await receive(stream)
    assert error_code(result) == "UNAUTHENTICATED"
    assert services.broker.subscriber_count(device_channel(room.pupil)) == 0


# --- policy pushes ----------------------------------------------------------------------------


async def _open(services: Services, pupil: Pupil) -> tuple[Stream, dict[str, Any]]:
    stream = await subscribe(services, pupil.viewer, DEVICE_COMMANDS)
    policy = command_of(await receive(stream))
    assert policy["kind"] == "POLICY"
    return stream, policy


async def test_starting_and_ending_a_lesson_pushes_the_policy_to_that_groups_devices_only(
    services: Services, gql: GraphQLRunner, clock: Clock
) -> None:
    # given: a device in the lesson's group and one in another group of the school
    room = await a_class(services)
    other = await a_class(services, school=room.school)
    ends_at = clock.now + timedelta(hours=1)
    mine, theirs = room.pupil, other.pupil
    stream, initial = await _open(services, mine)
    other_stream, other_initial = await _open(services, theirs)
    async with aclosing(stream), aclosing(other_stream):
        started: list[dict[str, Any]] = []

        async def start_lesson() -> None:
            result = await gql(
                START_LESSON,
                room.teacher_viewer,
                input={
                    "groupId": room.group_id,
                    "endsAt": ends_at.isoformat(),
                    "blockDomains": ["youtube.com"],
                    "blockApps": ["Minecraft"],
                },
            )
            started.append(ok(result)["startLesson"])

        # when
        pushed = command_of(
            await receive_after(
                stream,
                lambda: services.broker.subscriber_count(device_channel(mine)) > 0,
                start_lesson,
            )
        )
        # then
        assert pushed["kind"] == "POLICY"
        assert pushed["policy"]["version"] != initial["policy"]["version"]
        assert pushed["policy"]["mode"] == "BLOCK_LIST"
        assert pushed["policy"]["lessonEndsAt"] == ends_at.isoformat()
        assert pushed["policy"]["blockDomains"] == ["youtube.com"]
        assert pushed["policy"]["blockApps"] == ["minecraft"]
        # and: the other group's device got no new policy (its next item is this LOCK)

        async def lock_theirs() -> None:
            await send(gql, other.teacher_viewer, kind="LOCK", deviceIds=[device_id(theirs)])

        next_for_them = command_of(
            await receive_after(
                other_stream,
                lambda: services.broker.subscriber_count(device_channel(theirs)) > 0,
                lock_theirs,
            )
        )
        assert next_for_them["kind"] == "LOCK"

        # when: the teacher ends the lesson
        async def end_lesson() -> None:
            ok(await gql(END_LESSON, room.teacher_viewer, id=started[0]["lesson"]["id"]))

        after_end = command_of(
            await receive_after(
                stream,
                lambda: services.broker.subscriber_count(device_channel(mine)) > 0,
                end_lesson,
            )
        )
        # then
        assert after_end["kind"] == "POLICY"
        assert after_end["policy"]["mode"] is None
        assert after_end["policy"]["version"] == initial["policy"]["version"]
        assert other_initial["policy"]["version"] == initial["policy"]["version"]
    assert services.broker.subscriber_count(device_channel(mine)) == 0
    assert services.broker.subscriber_count(device_channel(theirs)) == 0


async def test_the_policy_is_pushed_again_when_the_clock_passes_the_lessons_end(
    services: Services, gql: GraphQLRunner, clock: Clock
) -> None:
    # given: a device streaming during a lesson
    room = await a_class(services)
    started = ok(
        await gql(
            START_LESSON,
            room.teacher_viewer,
            input={
                "groupId": room.group_id,
                "endsAt": (clock.now + timedelta(minutes=10)).isoformat(),
                "blockDomains": ["youtube.com"],
            },
        )
    )["startLesson"]
    assert started["errors"] == []
    stream, during = await _open(services, room.pupil)
    async with aclosing(stream):
        assert during["policy"]["blockDomains"] == ["youtube.com"]

        # when: the clock passes the end and any process nudges the school's devices
        async def time_passes() -> None:
            clock.advance(minutes=10, seconds=1)
            await services.broker.publish(
                channels.policy(room.school.id), PolicyChanged(groups=[]).encode()
            )

        after = command_of(
            await receive_after(
                stream,
                lambda: services.broker.subscriber_count(device_channel(room.pupil)) > 0,
                time_passes,
            )
        )
        # then
        assert after["kind"] == "POLICY"
        assert after["policy"]["mode"] is None
        assert after["policy"]["blockDomains"] == []
    assert services.broker.subscriber_count(device_channel(room.pupil)) == 0


async def test_the_stream_pushes_the_policy_by_itself_at_the_lessons_end(
    services: Services, gql: GraphQLRunner
) -> None:
    # given: the real clock, and a lesson ending a fraction of a second from now
    services.now = lambda: datetime.now(UTC)
    room = await a_class(services)
    stream, before = await _open(services, room.pupil)
    async with aclosing(stream):
        ends_at = datetime.now(UTC) + timedelta(seconds=1)

        async def short_lesson() -> None:
            result = await gql(
                START_LESSON,
                room.teacher_viewer,
                input={
                    "groupId": room.group_id,
                    "endsAt": ends_at.isoformat(),
                    "blockDomains": ["youtube.com"],
                },
            )
            assert ok(result)["startLesson"]["errors"] == []

        during = command_of(
            await receive_after(
                stream,
                lambda: services.broker.subscriber_count(device_channel(room.pupil)) > 0,
                short_lesson,
            )
        )
        assert during["policy"]["blockDomains"] == ["youtube.com"]
        # when: nothing is published; the lesson simply runs out
        after = command_of(await receive(stream))
        # then
        assert datetime.now(UTC) >= ends_at
        assert after["kind"] == "POLICY"
        assert after["policy"]["blockDomains"] == []
        assert after["policy"]["version"] == before["policy"]["version"]
    assert services.broker.subscriber_count(device_channel(room.pupil)) == 0


async def test_school_rules_reach_every_device_of_the_school(
    services: Services, gql: GraphQLRunner
) -> None:
    # given
    room = await a_class(services)
    admin = await factories.admin_viewer(room.school)
    stream, _ = await _open(services, room.pupil)
    async with aclosing(stream):

        async def lock_down() -> None:
            rules = {"domains": ["bet.example"], "apps": ["Roblox"]}
            ok(await gql(SET_SCHOOL_RULES, admin, input=rules))

        # when
        pushed = command_of(
            await receive_after(
                stream,
                lambda: services.broker.subscriber_count(device_channel(room.pupil)) > 0,
                lock_down,
            )
        )
    # then: the locked list is part of the block lists the device enforces
    assert pushed["kind"] == "POLICY"
    assert pushed["policy"]["blockDomains"] == ["bet.example"]
    assert pushed["policy"]["blockApps"] == ["roblox"]
    assert services.broker.subscriber_count(device_channel(room.pupil)) == 0
