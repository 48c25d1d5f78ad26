"""classroomActivity and the classroom snapshot: what the teacher sees, and who may see it."""

from __future__ import annotations

import gc
from collections.abc import Awaitable, Callable
from contextlib import aclosing
from datetime import timedelta
from typing import Any

from graphql.execution.collect_fields import FieldDetails

from models.staff import Role
from realtime import channels
from resolvers.context import Services, Viewer
from schema.common import to_global_id
from schema.extensions import _Plan
from tests import factories
from tests.classroom.helpers import (
    Class,
    a_class,
    a_pupil,
    b64,
    ended,
    error_code,
    event,
    jpeg,
    ok,
    receive,
    receive_after,
    subscribe,
    wait_until,
)
from tests.conftest import Clock, GraphQLRunner, context_for

ACTIVITY = """
subscription Activity($groupId: ID!) {
  classroomActivity(groupId: $groupId) {
    groupId deviceId learnerId kind at online idle app url title blocked reason thumbnail
  }
}
"""

REPORT = """
mutation Report($events: [ActivityEventInput!]!) {
  reportActivity(input: {events: $events}) { results { status blocked } }
}
"""

UNASSIGN = """
mutation Unassign($input: GroupTeacherInput!) {
  unassignTeacher(input: $input) { errors { field code } }
}
"""

SEND = """
mutation Send($input: SendDeviceCommandInput!) {
  sendDeviceCommand(input: $input) { errors { code } }
}
"""

SET_SCHOOL_RULES = """
mutation Rules($input: SchoolRulesInput!) { setSchoolRules(input: $input) { errors { code } } }
"""

CLASSROOM = """
query Classroom($groupId: ID!) {
  classroom(groupId: $groupId) {
    group { id name }
    lesson { id }
    tiles {
      learner { id familyName }
      device { id }
      online app url title thumbnail idle locked blockedAttempts lastBlocked lastSeenAt
    }
  }
}
"""


def group_channel(room: Class) -> str:
    return channels.group_activity(room.school.id, room.group.id)


def subscribed(services: Services, room: Class) -> Any:
    return lambda: services.broker.subscriber_count(group_channel(room)) > 0


async def report(gql: GraphQLRunner, viewer: Viewer, *events: dict[str, Any]) -> None:
    result = ok(await gql(REPORT, viewer, events=list(events)))
    assert {r["status"] for r in result["reportActivity"]["results"]} == {"ACCEPTED"}


# --- the stream -------------------------------------------------------------------------------


async def test_the_teacher_receives_what_a_device_of_the_group_reports(
    services: Services, gql: GraphQLRunner, clock: Clock
) -> None:
    # given
    room = await a_class(services)
    ok(
        await gql(
            SET_SCHOOL_RULES,
            await factories.admin_viewer(room.school),
            input={"domains": ["bet.example"]},
        )
    )
    picture = b64(jpeg(512))
    stream = await subscribe(services, room.teacher_viewer, ACTIVITY, groupId=room.group_id)
    async with aclosing(stream):
        # when
        first = await receive_after(
            stream,
            subscribed(services, room),
            lambda: report(
                gql,
                room.pupil.viewer,
                event(
                    "SCREENSHOT",
                    clock.now,
                    app="Chrome",
                    url="https://www.bbc.co.uk/bitesize",
                    title="Bitesize",
                    thumbnail=picture,
                ),
                event("URL_VISIT", clock.now, app="Chrome", url="https://bet.example/"),
            ),
        )
        second = await receive(stream)
        # then
        assert ok(first)["classroomActivity"] == {
            "groupId": room.group_id,
            "deviceId": to_global_id("Device", room.pupil.device.id),
            "learnerId": to_global_id("Learner", room.pupil.learner.id),
            "kind": "SCREENSHOT",
            "at": clock.now.isoformat(),
            "online": True,
            "idle": False,
            "app": "Chrome",
            "url": "https://www.bbc.co.uk/bitesize",
            "title": "Bitesize",
            "blocked": False,
            "reason": None,
            "thumbnail": picture,
        }
        blocked = ok(second)["classroomActivity"]
        assert (blocked["kind"], blocked["blocked"], blocked["reason"]) == (
            "URL_VISIT",
            True,
            "school rule: bet.example",
        )
    assert services.broker.subscriber_count(group_channel(room)) == 0


def _execution_memos() -> int:
    """Objects that graphql-core's and our executor's per-field-set memos keep alive."""
    gc.collect()
    return sum(isinstance(o, FieldDetails | _Plan) for o in gc.get_objects())


async def test_a_long_stream_keeps_nothing_per_event(
    services: Services, gql: GraphQLRunner, clock: Clock
) -> None:
    # given a teacher's stream that has delivered a few events
    room = await a_class(services)
    stream = await subscribe(services, room.teacher_viewer, ACTIVITY, groupId=room.group_id)
    visits = (event("URL_VISIT", clock.now, url=f"https://a.example/{n}") for n in range(60))
    async with aclosing(stream):
        await receive_after(
            stream,
            subscribed(services, room),
            lambda: report(gql, room.pupil.viewer, *[next(visits) for _ in range(10)]),
        )
        for _ in range(9):
            await receive(stream)
        before = _execution_memos()
        # when fifty more events are delivered
        await report(gql, room.pupil.viewer, *visits)
        for _ in range(50):
            ok(await receive(stream))
        # then the execution memos did not grow with them (they grew by 16 objects an event)
        assert _execution_memos() - before < 10


async def test_idle_and_logout_reach_the_teacher(
    services: Services, gql: GraphQLRunner, clock: Clock
) -> None:
    room = await a_class(services)
    stream = await subscribe(services, room.teacher_viewer, ACTIVITY, groupId=room.group_id)
    async with aclosing(stream):
        idle = await receive_after(
            stream,
            subscribed(services, room),
            lambda: report(
                gql,
                room.pupil.viewer,
                event("IDLE", clock.now),
                event("LOGOUT", clock.now + timedelta(seconds=1)),
            ),
        )
        logout = await receive(stream)
    assert ok(idle)["classroomActivity"]["idle"] is True
    assert ok(logout)["classroomActivity"]["online"] is False
    assert services.broker.subscriber_count(group_channel(room)) == 0


async def test_activity_of_other_groups_does_not_reach_the_teacher(
    services: Services, gql: GraphQLRunner, clock: Clock
) -> None:
    # given
    room = await a_class(services)
    other = await a_class(services, school=room.school)
    stream = await subscribe(services, room.teacher_viewer, ACTIVITY, groupId=room.group_id)
    async with aclosing(stream):

        async def both_report() -> None:
            await report(gql, other.pupil.viewer, event("APP_FOCUS", clock.now, app="Other"))
            await report(gql, room.pupil.viewer, event("APP_FOCUS", clock.now, app="Mine"))

        # when
        first = await receive_after(stream, subscribed(services, room), both_report)
    # then
    assert ok(first)["classroomActivity"]["app"] == "Mine"


async def _teacher_elsewhere(services: Services, room: Class) -> Viewer:
    return (await a_class(services, school=room.school)).teacher_viewer


async def _teacher_of_another_school(services: Services, room: Class) -> Viewer:
    return (await a_class(services)).teacher_viewer


async def _admin_of_another_school(services: Services, room: Class) -> Viewer:
    return await factories.admin_viewer(await factories.school(services))


async def _safeguarding_lead(services: Services, room: Class) -> Viewer:
    user = await factories.staff(room.school, Role.SAFEGUARDING_LEAD)
    return factories.viewer(user, room.school, Role.SAFEGUARDING_LEAD)


async def _device(services: Services, room: Class) -> Viewer:
    return room.pupil.viewer


async def _partner(services: Services, room: Class) -> Viewer:
    key, _ = await factories.api_key(room.school)
    return factories.partner_viewer(key, room.school)


async def _anonymous(services: Services, room: Class) -> None:
    return None


#: Who may not watch a group, and the error both the stream and the snapshot answer.
REFUSED: list[tuple[str, Callable[[Services, Class], Awaitable[Viewer | None]], str]] = [
    ("teacher of another group", _teacher_elsewhere, "NOT_FOUND"),
    ("teacher of another school", _teacher_of_another_school, "NOT_FOUND"),
    ("admin of another school", _admin_of_another_school, "NOT_FOUND"),
    ("safeguarding lead", _safeguarding_lead, "FORBIDDEN"),
    ("device", _device, "FORBIDDEN"),
    ("partner", _partner, "FORBIDDEN"),
    ("anonymous", _anonymous, "UNAUTHENTICATED"),
]


async def test_who_may_not_watch_is_refused_at_subscribe_and_leaves_no_subscription(
    services: Services, gql: GraphQLRunner
) -> None:
    # given
    room = await a_class(services)
    for name, who, code in REFUSED:
        viewer = await who(services, room)
        # when
        stream = await subscribe(services, viewer, ACTIVITY, groupId=room.group_id)
        async with aclosing(stream):
            result = await receive(stream)
            finished = await ended(stream)
        # then
        assert (name, error_code(result)) == (name, code)
        assert result.data is None
        assert finished, name
        assert services.broker.subscriber_count(group_channel(room)) == 0, name
        # and: the same answer for the snapshot
        snapshot = await gql(CLASSROOM, viewer, groupId=room.group_id)
        assert (name, error_code(snapshot)) == (name, code)


async def test_an_admin_of_the_school_may_watch_any_group(
    services: Services, gql: GraphQLRunner, clock: Clock
) -> None:
    room = await a_class(services)
    admin = await factories.admin_viewer(room.school)
    stream = await subscribe(services, admin, ACTIVITY, groupId=room.group_id)
    async with aclosing(stream):
        first = await receive_after(
            stream,
            subscribed(services, room),
            lambda: report(gql, room.pupil.viewer, event("IDLE", clock.now)),
        )
    assert ok(first)["classroomActivity"]["kind"] == "IDLE"
    assert services.broker.subscriber_count(group_channel(room)) == 0


async def test_unassigning_the_teacher_ends_their_stream(
    services: Services, gql: GraphQLRunner, clock: Clock
) -> None:
    # given: a teacher watching, who has already received one event
    room = await a_class(services)
    admin = await factories.admin_viewer(room.school)
    stream = await subscribe(services, room.teacher_viewer, ACTIVITY, groupId=room.group_id)
    async with aclosing(stream):
        first = await receive_after(
            stream,
            subscribed(services, room),
            lambda: report(gql, room.pupil.viewer, event("APP_FOCUS", clock.now, app="Word")),
        )
        assert ok(first)["classroomActivity"]["app"] == "Word"
        teacher_ctx = context_for(services, room.teacher_viewer)
        assert services.watch.cached(teacher_ctx, room.group.id)
        await wait_until(
            lambda: services.broker.subscriber_count(channels.access(room.school.id)) > 0
        )
        # when: the admin takes them off the group
        unassigned = await gql(
            UNASSIGN,
            admin,
            input={
                "groupId": room.group_id,
                "staffId": to_global_id("StaffMember", room.teacher.id),
            },
        )
        assert ok(unassigned)["unassignTeacher"]["errors"] == []
        # then: the cached permission is dropped at once, not after its 5 s lifetime
        await wait_until(lambda: not services.watch.cached(teacher_ctx, room.group.id))
        # and: the next event ends the stream with NOT_FOUND instead of being delivered
        await report(gql, room.pupil.viewer, event("APP_FOCUS", clock.now, app="Secret"))
        refused = await receive(stream)
        assert error_code(refused) == "NOT_FOUND"
        assert refused.data is None
        assert await ended(stream)
    assert services.broker.subscriber_count(group_channel(room)) == 0


async def test_a_lock_reaches_the_teachers_live_view(
    services: Services, gql: GraphQLRunner
) -> None:
    # given: the live view shows a learner's tile, whose "locked" is part of it
    room = await a_class(services)
    stream = await subscribe(services, room.teacher_viewer, ACTIVITY, groupId=room.group_id)
    async with aclosing(stream):
        # when: the teacher locks the group's screens
        pushed = await receive_after(
            stream,
            subscribed(services, room),
            lambda: gql(
                SEND, room.teacher_viewer, input={"kind": "LOCK", "groupId": room.group_id}
            ),
            within=1.0,  # activity arrives in milliseconds; a missing push should fail fast
        )
    # then: "classroomActivity pushes each change" - the tile change is pushed
    assert ok(pushed)["classroomActivity"]["deviceId"] == to_global_id(
        "Device", room.pupil.device.id
    )
    assert services.broker.subscriber_count(group_channel(room)) == 0


# --- the snapshot -----------------------------------------------------------------------------


async def test_the_snapshot_shows_one_tile_per_learner_with_their_live_state(
    services: Services, gql: GraphQLRunner, clock: Clock
) -> None:
    # given: four learners: browsing (with a blocked attempt and a screenshot), idle, locked,
    # and one without a device
    school = await factories.school(services)
    teacher = await factories.staff(school, Role.TEACHER)
    admin = await factories.admin_viewer(school)
    browsing = await a_pupil(services, school, family_name="Adams")
    idle = await a_pupil(services, school, family_name="Brown")
    locked = await a_pupil(services, school, family_name="Clark")
    no_device = await factories.learner(services, school, family_name="Davis")
    group = await factories.group(
        school,
        name="10X Maths",
        teachers=[teacher],
        learners=[locked.learner, no_device, idle.learner, browsing.learner],
    )
    room = Class(
        school,
        teacher,
        factories.viewer(teacher, school, Role.TEACHER),
        group,
        [browsing, idle, locked],
    )
    ok(await gql(SET_SCHOOL_RULES, admin, input={"apps": ["Roblox"]}))
    picture = jpeg(1024)
    earlier = clock.now - timedelta(minutes=1)
    await report(
        gql,
        browsing.viewer,
        event("APP_FOCUS", earlier, app="Roblox"),
        event("APP_FOCUS", earlier + timedelta(seconds=1), app="roblox"),
        event(
            "SCREENSHOT",
            clock.now,
            app="Chrome",
            url="https://www.bbc.co.uk/bitesize",
            title="Bitesize",
            thumbnail=b64(picture),
        ),
    )
    await report(
        gql, idle.viewer, event("APP_FOCUS", earlier, app="Word"), event("IDLE", clock.now)
    )
    await report(gql, locked.viewer, event("APP_FOCUS", clock.now, app="Excel"))
    sent = await gql(
        SEND,
        room.teacher_viewer,
        input={"kind": "LOCK", "deviceIds": [to_global_id("Device", locked.device.id)]},
    )
    assert ok(sent)["sendDeviceCommand"]["errors"] == []
    # when
    snapshot = ok(await gql(CLASSROOM, room.teacher_viewer, groupId=room.group_id))["classroom"]
    # then
    assert snapshot["group"] == {"id": room.group_id, "name": "10X Maths"}
    assert snapshot["lesson"] is None
    tiles = snapshot["tiles"]
    assert [t["learner"]["familyName"] for t in tiles] == ["Adams", "Brown", "Clark", "Davis"]
    adams, brown, clark, davis = tiles
    assert adams == {
        "learner": {"id": to_global_id("Learner", browsing.learner.id), "familyName": "Adams"},
        "device": {"id": to_global_id("Device", browsing.device.id)},
        "online": True,
        "app": "Chrome",
        "url": "https://www.bbc.co.uk/bitesize",
        "title": "Bitesize",
        "thumbnail": b64(picture),
        "idle": False,
        "locked": False,
        "blockedAttempts": 2,
        "lastBlocked": "school rule: roblox",
        "lastSeenAt": clock.now.isoformat(),
    }
    assert (brown["idle"], brown["online"], brown["app"], brown["thumbnail"]) == (
        True,
        True,
        "Word",
        None,
    )
    assert (clark["locked"], clark["app"], clark["blockedAttempts"]) == (True, "Excel", 0)
    assert davis == {
        "learner": {"id": to_global_id("Learner", no_device.id), "familyName": "Davis"},
        "device": None,
        "online": False,
        "app": None,
        "url": None,
        "title": None,
        "thumbnail": None,
        "idle": False,
        "locked": False,
        "blockedAttempts": 0,
        "lastBlocked": None,
        "lastSeenAt": None,
    }


async def test_activity_after_idle_clears_idle_and_logout_goes_offline(
    services: Services, gql: GraphQLRunner, clock: Clock
) -> None:
    # given
    room = await a_class(services)
    await report(gql, room.pupil.viewer, event("IDLE", clock.now))

    async def tile() -> dict[str, Any]:
        data = ok(await gql(CLASSROOM, room.teacher_viewer, groupId=room.group_id))
        first: dict[str, Any] = data["classroom"]["tiles"][0]
        return first

    assert (await tile())["idle"] is True
    # when
    clock.advance(seconds=30)
    await report(gql, room.pupil.viewer, event("APP_FOCUS", clock.now, app="Word"))
    # then
    assert ((await tile())["idle"], (await tile())["online"]) == (False, True)
    # when
    clock.advance(seconds=30)
    await report(gql, room.pupil.viewer, event("LOGOUT", clock.now))
    # then
    assert (await tile())["online"] is False
