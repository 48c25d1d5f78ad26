"""startLesson, endLesson and setSchoolRules: validation, reach, replacement and expiry."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from models.classroom import Lesson as LessonRow
from models.classroom import SchoolRule
from models.staff import Role
from realtime import channels
from resolvers.context import Services, Viewer
from schema.common import from_global_id, to_global_id
from tests import factories
from tests.classroom.helpers import Class, a_class, error_code, event, ok, wait_until
from tests.conftest import Clock, GraphQLRunner

START_LESSON = """
mutation Start($input: StartLessonInput!) {
  startLesson(input: $input) {
    lesson {
      id mode startsAt endsAt endedAt
      allow { domains urlPrefixes apps }
      block { domains urlPrefixes apps }
    }
    errors { field code message }
  }
}
"""

END_LESSON = """
mutation End($id: ID!) {
  endLesson(id: $id) { lesson { id endedAt } errors { field code message } }
}
"""

SET_SCHOOL_RULES = """
mutation Rules($input: SchoolRulesInput!) {
  setSchoolRules(input: $input) {
    rules { domains urlPrefixes apps }
    errors { field code message }
  }
}
"""

CLASSROOM_LESSON = """
query Lesson($groupId: ID!) { classroom(groupId: $groupId) { lesson { id mode endsAt } } }
"""

REPORT = """
mutation Report($events: [ActivityEventInput!]!) {
  reportActivity(input: {events: $events}) { results { status blocked reason } }
}
"""


def lesson_input(room: Class, ends_at: datetime | str, **fields: Any) -> dict[str, Any]:
    return {
        "groupId": room.group_id,
        "endsAt": ends_at if isinstance(ends_at, str) else ends_at.isoformat(),
        **fields,
    }


async def start(gql: GraphQLRunner, viewer: Viewer, **values: Any) -> dict[str, Any]:
    payload: dict[str, Any] = ok(await gql(START_LESSON, viewer, input=values))["startLesson"]
    return payload


async def visit(gql: GraphQLRunner, viewer: Viewer, at: datetime, url: str) -> dict[str, Any]:
    """Report one page visit; its verdict."""
    result = ok(await gql(REPORT, viewer, events=[event("URL_VISIT", at, url=url)]))
    verdict: dict[str, Any] = result["reportActivity"]["results"][0]
    assert verdict["status"] == "ACCEPTED"
    return verdict


async def policy_reloaded(services: Services, device_id: int, lesson_id: int | None) -> None:
    """Wait until the ingest path's cached policy for the device names ``lesson_id``."""

    async def reloaded() -> bool:
        state = await services.devices.get(device_id)
        return state is not None and state.policy.lesson_id == lesson_id

    await wait_until(reloaded)


def lesson_pk(payload: dict[str, Any]) -> int:
    kind, key = from_global_id(payload["lesson"]["id"])
    assert kind == "Lesson"
    return int(key)


# --- starting a lesson ------------------------------------------------------------------------


async def test_a_teacher_starts_a_lesson_for_their_group(
    services: Services, gql: GraphQLRunner, clock: Clock
) -> None:
    # given
    room = await a_class(services)
    ends_at = clock.now + timedelta(minutes=50)
    # when
    payload = await start(
        gql,
        room.teacher_viewer,
        **lesson_input(
            room,
            ends_at,
            mode="ALLOW_ONLY",
            allowDomains=["HTTPS://WWW.BBC.co.uk/bitesize", "bücher.de"],
            allowUrlPrefixes=["https://Docs.Google.com/document/d/10x/"],
            allowApps=["  Calculator "],
            blockDomains=["youtube.com"],
            blockUrlPrefixes=["https://www.bbc.co.uk/iplayer"],
            blockApps=["Minecraft"],
        ),
    )
    # then
    assert payload["errors"] == []
    lesson = payload["lesson"]
    assert lesson["mode"] == "ALLOW_ONLY"
    assert lesson["startsAt"] == clock.now.isoformat()
    assert lesson["endsAt"] == ends_at.isoformat()
    assert lesson["endedAt"] is None
    assert lesson["allow"] == {
        "domains": ["www.bbc.co.uk", "xn--bcher-kva.de"],
        "urlPrefixes": ["https://docs.google.com/document/d/10x/"],
        "apps": ["calculator"],
    }
    assert lesson["block"] == {
        "domains": ["youtube.com"],
        "urlPrefixes": ["https://www.bbc.co.uk/iplayer"],
        "apps": ["minecraft"],
    }
    row = await LessonRow.get(id=lesson_pk(payload))
    assert (row.group_id, row.teacher_id, row.school_id) == (
        room.group.id,
        room.teacher.id,
        room.school.id,
    )
    snapshot = ok(await gql(CLASSROOM_LESSON, room.teacher_viewer, groupId=room.group_id))
    assert snapshot["classroom"]["lesson"]["id"] == lesson["id"]


async def test_the_default_mode_is_block_list(
    services: Services, gql: GraphQLRunner, clock: Clock
) -> None:
    # given
    room = await a_class(services)
    # when
    payload = await start(
        gql, room.teacher_viewer, **lesson_input(room, clock.now + timedelta(hours=1))
    )
    # then
    assert payload["errors"] == []
    assert payload["lesson"]["mode"] == "BLOCK_LIST"


#: endsAt values a lesson may not have, as offsets from now.
BAD_END_TIMES = [
    ("now", timedelta(0)),
    ("a minute ago", -timedelta(minutes=1)),
    ("8 hours and a second", timedelta(hours=8, seconds=1)),
    ("three days", timedelta(days=3)),
]


async def test_ends_at_must_be_in_the_next_8_hours(
    services: Services, gql: GraphQLRunner, clock: Clock
) -> None:
    # given
    room = await a_class(services)
    for name, offset in BAD_END_TIMES:
        # when
        payload = await start(gql, room.teacher_viewer, **lesson_input(room, clock.now + offset))
        # then
        assert payload["lesson"] is None, name
        errors = [(e["field"], e["code"]) for e in payload["errors"]]
        assert (name, errors) == (name, [("endsAt", "INVALID")])
    assert await LessonRow.all().count() == 0
    # and: exactly 8 hours is fine
    payload = await start(
        gql, room.teacher_viewer, **lesson_input(room, clock.now + timedelta(hours=8))
    )
    assert payload["errors"] == []


async def test_ends_at_without_a_time_zone_is_refused(
    services: Services, gql: GraphQLRunner, clock: Clock
) -> None:
    # given
    room = await a_class(services)
    naive = (clock.now + timedelta(hours=1)).replace(tzinfo=None).isoformat()
    # when
    payload = await start(gql, room.teacher_viewer, **lesson_input(room, naive))
    # then
    assert payload["lesson"] is None
    assert [(e["field"], e["code"]) for e in payload["errors"]] == [("endsAt", "INVALID")]
    assert "time zone" in payload["errors"][0]["message"]


async def test_focus_mode_needs_an_allowed_site_or_app(
    services: Services, gql: GraphQLRunner, clock: Clock
) -> None:
    # given
    room = await a_class(services)
    later = clock.now + timedelta(hours=1)
    # when
    refused = await start(
        gql,
        room.teacher_viewer,
        **lesson_input(room, later, mode="ALLOW_ONLY", blockDomains=["youtube.com"]),
    )
    with_an_app = await start(
        gql, room.teacher_viewer, **lesson_input(room, later, mode="ALLOW_ONLY", allowApps=["Word"])
    )
    # then
    assert refused["lesson"] is None
    assert [(e["field"], e["code"]) for e in refused["errors"]] == [("allowDomains", "REQUIRED")]
    assert with_an_app["errors"] == []


#: Unusable rule lists, and the input field each payload error must name.
BAD_RULES: list[tuple[dict[str, list[str]], str]] = [
    ({"allowDomains": ["bbc.co.uk", "nodot"]}, "allowDomains.1"),
    ({"blockDomains": [" "]}, "blockDomains.0"),
    ({"allowUrlPrefixes": ["bbc.co.uk/bitesize"]}, "allowUrlPrefixes.0"),
    ({"blockUrlPrefixes": ["ftp://files.example/"]}, "blockUrlPrefixes.0"),
    ({"blockApps": ["x" * 513]}, "blockApps.0"),
    ({"allowApps": ["ok"] * 201}, "allowApps"),
]


async def test_unusable_rules_are_payload_errors_naming_the_field(
    services: Services, gql: GraphQLRunner, clock: Clock
) -> None:
    # given
    room = await a_class(services)
    for rules, field in BAD_RULES:
        # when
        payload = await start(
            gql, room.teacher_viewer, **lesson_input(room, clock.now + timedelta(hours=1), **rules)
        )
        # then
        assert payload["lesson"] is None, field
        assert [(e["field"], e["code"]) for e in payload["errors"]] == [(field, "INVALID")]
    assert await LessonRow.all().count() == 0


async def test_a_teacher_of_another_group_gets_not_found(
    services: Services, gql: GraphQLRunner, clock: Clock
) -> None:
    # given
    room = await a_class(services)
    other = await a_class(services, school=room.school)
    # when
    result = await gql(
        START_LESSON,
        other.teacher_viewer,
        input=lesson_input(room, clock.now + timedelta(hours=1)),
    )
    # then
    assert error_code(result) == "NOT_FOUND"
    assert await LessonRow.all().count() == 0


async def test_a_teacher_of_another_school_gets_not_found(
    services: Services, gql: GraphQLRunner, clock: Clock
) -> None:
    room = await a_class(services)
    elsewhere = await a_class(services)
    result = await gql(
        START_LESSON,
        elsewhere.teacher_viewer,
        input=lesson_input(room, clock.now + timedelta(hours=1)),
    )
    assert error_code(result) == "NOT_FOUND"


async def test_staff_without_classroom_control_and_anonymous_are_refused(
    services: Services, gql: GraphQLRunner, clock: Clock
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
    table.append(("anonymous", None, "UNAUTHENTICATED"))
    for name, viewer, code in table:
        # when
        result = await gql(
            START_LESSON, viewer, input=lesson_input(room, clock.now + timedelta(hours=1))
        )
        # then
        assert (name, error_code(result)) == (name, code)
    assert await LessonRow.all().count() == 0


async def test_an_admin_can_start_and_end_a_lesson_for_any_group_of_the_school(
    services: Services, gql: GraphQLRunner, clock: Clock
) -> None:
    # given
    room = await a_class(services)
    admin = await factories.admin_viewer(room.school)
    # when
    started = await start(gql, admin, **lesson_input(room, clock.now + timedelta(hours=1)))
    ended = ok(await gql(END_LESSON, admin, id=started["lesson"]["id"]))["endLesson"]
    # then
    assert started["errors"] == []
    assert ended["errors"] == []
    assert ended["lesson"]["endedAt"] == clock.now.isoformat()


# --- replacing and ending ---------------------------------------------------------------------


async def test_a_new_lesson_replaces_the_running_one(
    services: Services, gql: GraphQLRunner, clock: Clock
) -> None:
    # given: a lesson blocking YouTube, and a device judged by it
    room = await a_class(services)
    first = await start(
        gql,
        room.teacher_viewer,
        **lesson_input(room, clock.now + timedelta(hours=1), blockDomains=["youtube.com"]),
    )
    assert (await visit(gql, room.pupil.viewer, clock.now, "https://youtube.com/"))["blocked"]
    await wait_until(lambda: services.broker.subscriber_count(channels.policy(room.school.id)) > 0)
    clock.advance(minutes=5)
    # when
    second = await start(
        gql,
        room.teacher_viewer,
        **lesson_input(room, clock.now + timedelta(hours=1), blockDomains=["tiktok.com"]),
    )
    # then
    assert second["errors"] == []
    replaced = await LessonRow.get(id=lesson_pk(first))
    assert replaced.ended_at == clock.now
    assert await LessonRow.filter(ended_at__isnull=True).count() == 1
    snapshot = ok(await gql(CLASSROOM_LESSON, room.teacher_viewer, groupId=room.group_id))
    assert snapshot["classroom"]["lesson"]["id"] == second["lesson"]["id"]
    await policy_reloaded(services, room.pupil.device.id, lesson_pk(second))
    assert not (await visit(gql, room.pupil.viewer, clock.now, "https://youtube.com/"))["blocked"]
    assert (await visit(gql, room.pupil.viewer, clock.now, "https://tiktok.com/"))["blocked"]


async def test_ending_a_lesson_lifts_its_rules(
    services: Services, gql: GraphQLRunner, clock: Clock
) -> None:
    # given
    room = await a_class(services)
    started = await start(
        gql,
        room.teacher_viewer,
        **lesson_input(room, clock.now + timedelta(hours=1), blockDomains=["youtube.com"]),
    )
    assert (await visit(gql, room.pupil.viewer, clock.now, "https://youtube.com/"))["blocked"]
    await wait_until(lambda: services.broker.subscriber_count(channels.policy(room.school.id)) > 0)
    clock.advance(minutes=20)
    # when
    ended = ok(await gql(END_LESSON, room.teacher_viewer, id=started["lesson"]["id"]))["endLesson"]
    # then
    assert ended["errors"] == []
    assert ended["lesson"]["endedAt"] == clock.now.isoformat()
    snapshot = ok(await gql(CLASSROOM_LESSON, room.teacher_viewer, groupId=room.group_id))
    assert snapshot["classroom"]["lesson"] is None
    await policy_reloaded(services, room.pupil.device.id, None)
    assert not (await visit(gql, room.pupil.viewer, clock.now, "https://youtube.com/"))["blocked"]


async def test_ending_an_ended_lesson_changes_nothing(
    services: Services, gql: GraphQLRunner, clock: Clock
) -> None:
    # given
    room = await a_class(services)
    started = await start(
        gql, room.teacher_viewer, **lesson_input(room, clock.now + timedelta(hours=1))
    )
    first = ok(await gql(END_LESSON, room.teacher_viewer, id=started["lesson"]["id"]))
    clock.advance(minutes=1)
    # when
    again = ok(await gql(END_LESSON, room.teacher_viewer, id=started["lesson"]["id"]))
    # then
    assert again["endLesson"]["lesson"]["endedAt"] == first["endLesson"]["lesson"]["endedAt"]


async def test_ending_a_lesson_of_another_group_is_not_found(
    services: Services, gql: GraphQLRunner, clock: Clock
) -> None:
    # given
    room = await a_class(services)
    started = await start(
        gql, room.teacher_viewer, **lesson_input(room, clock.now + timedelta(hours=1))
    )
    other = await a_class(services, school=room.school)
    elsewhere = await a_class(services)
    # when
    results = [
        await gql(END_LESSON, viewer, id=started["lesson"]["id"])
        for viewer in (other.teacher_viewer, elsewhere.teacher_viewer)
    ]
    unknown = await gql(END_LESSON, room.teacher_viewer, id=to_global_id("Lesson", 999_999))
    # then
    assert [error_code(r) for r in [*results, unknown]] == ["NOT_FOUND"] * 3
    assert (await LessonRow.get(id=lesson_pk(started))).ended_at is None


async def test_a_lesson_ends_by_itself_at_its_end_time(
    services: Services, gql: GraphQLRunner, clock: Clock
) -> None:
    # given: a lesson, and a device that only starts reporting after it ended
    room = await a_class(services)
    await start(
        gql,
        room.teacher_viewer,
        **lesson_input(room, clock.now + timedelta(minutes=30), blockDomains=["youtube.com"]),
    )
    # when
    clock.advance(minutes=30, seconds=1)
    # then
    snapshot = ok(await gql(CLASSROOM_LESSON, room.teacher_viewer, groupId=room.group_id))
    assert snapshot["classroom"]["lesson"] is None
    assert not (await visit(gql, room.pupil.viewer, clock.now, "https://youtube.com/"))["blocked"]
    assert await LessonRow.filter(ended_at__isnull=True).count() == 1  # ended by time, not edited


async def test_a_device_active_during_a_lesson_is_unblocked_once_the_clock_passes_its_end(
    services: Services, gql: GraphQLRunner, clock: Clock
) -> None:
    # given: a device judged during the lesson (so its policy is cached by the ingest path)
    room = await a_class(services)
    await start(
        gql,
        room.teacher_viewer,
        **lesson_input(room, clock.now + timedelta(minutes=30), blockDomains=["youtube.com"]),
    )
    assert (await visit(gql, room.pupil.viewer, clock.now, "https://youtube.com/"))["blocked"]
    # when
    clock.advance(minutes=30, seconds=1)
    # then
    verdict = await visit(gql, room.pupil.viewer, clock.now, "https://youtube.com/")
    assert verdict == {"status": "ACCEPTED", "blocked": False, "reason": None}


# --- the school's locked list -----------------------------------------------------------------


async def test_an_admin_sets_the_school_rules_normalised(
    services: Services, gql: GraphQLRunner
) -> None:
    # given
    school = await factories.school(services)
    admin = await factories.admin_viewer(school)
    await SchoolRule.create(school_id=school.id, kind="DOMAIN", value="old.example")
    # when
    payload = ok(
        await gql(
            SET_SCHOOL_RULES,
            admin,
            input={
                "domains": ["Bet.Example", "https://www.casino.example/x"],
                "urlPrefixes": ["HTTPS://Example.com/Adult"],
                "apps": ["Tor Browser", "tor  browser"],
            },
        )
    )["setSchoolRules"]
    # then
    assert payload["errors"] == []
    assert payload["rules"] == {
        "domains": ["bet.example", "www.casino.example"],
        "urlPrefixes": ["https://example.com/Adult"],
        "apps": ["tor browser"],
    }
    stored = [r.value for r in await SchoolRule.filter(school_id=school.id)]
    assert sorted(stored) == [
        "bet.example",
        "https://example.com/Adult",
        "tor browser",
        "www.casino.example",
    ]


async def test_invalid_school_rules_are_payload_errors_and_keep_the_old_list(
    services: Services, gql: GraphQLRunner
) -> None:
    # given
    school = await factories.school(services)
    admin = await factories.admin_viewer(school)
    ok(await gql(SET_SCHOOL_RULES, admin, input={"domains": ["bet.example"]}))
    # when
    payload = ok(
        await gql(
            SET_SCHOOL_RULES, admin, input={"domains": ["fine.example"], "urlPrefixes": ["x"]}
        )
    )["setSchoolRules"]
    # then
    assert payload["rules"] is None
    assert [(e["field"], e["code"]) for e in payload["errors"]] == [("urlPrefixes.0", "INVALID")]
    stored = [r.value for r in await SchoolRule.filter(school_id=school.id)]
    assert stored == ["bet.example"]


async def test_only_admins_set_school_rules(services: Services, gql: GraphQLRunner) -> None:
    # given
    school = await factories.school(services)
    for role in (Role.TEACHER, Role.SAFEGUARDING_LEAD, Role.LEADER):
        viewer = factories.viewer(await factories.staff(school, role), school, role)
        # when
        result = await gql(SET_SCHOOL_RULES, viewer, input={"domains": ["bet.example"]})
        # then
        assert (role, error_code(result)) == (role, "FORBIDDEN")
    anonymous = await gql(SET_SCHOOL_RULES, None, input={"domains": ["bet.example"]})
    assert error_code(anonymous) == "UNAUTHENTICATED"
    assert await SchoolRule.all().count() == 0


async def test_school_rules_win_over_a_focus_lesson_that_allows_the_same_site(
    services: Services, gql: GraphQLRunner, clock: Clock
) -> None:
    # given: a focus lesson allowing YouTube, seen by the device
    room = await a_class(services)
    admin = await factories.admin_viewer(room.school)
    await start(
        gql,
        room.teacher_viewer,
        **lesson_input(
            room,
            clock.now + timedelta(hours=1),
            mode="ALLOW_ONLY",
            allowDomains=["youtube.com", "bbc.co.uk"],
        ),
    )
    assert not (await visit(gql, room.pupil.viewer, clock.now, "https://youtube.com/"))["blocked"]
    await wait_until(lambda: services.broker.subscriber_count(channels.policy(room.school.id)) > 0)
    # when: the school locks YouTube
    ok(await gql(SET_SCHOOL_RULES, admin, input={"domains": ["youtube.com"]}))

    # then
    async def locked() -> bool:
        state = await services.devices.get(room.pupil.device.id)
        return state is not None and "youtube.com" in state.policy.locked.domains

    await wait_until(locked)
    verdict = await visit(gql, room.pupil.viewer, clock.now, "https://www.youtube.com/watch")
    assert verdict == {"status": "ACCEPTED", "blocked": True, "reason": "school rule: youtube.com"}
    assert not (await visit(gql, room.pupil.viewer, clock.now, "https://bbc.co.uk/"))["blocked"]


async def test_school_rules_apply_to_other_schools_not_at_all(
    services: Services, gql: GraphQLRunner, clock: Clock
) -> None:
    # given
    room = await a_class(services)
    elsewhere = await a_class(services)
    ok(
        await gql(
            SET_SCHOOL_RULES,
            await factories.admin_viewer(elsewhere.school),
            input={"domains": ["youtube.com"]},
        )
    )
    # when
    verdict = await visit(gql, room.pupil.viewer, clock.now, "https://youtube.com/")
    # then
    assert verdict["blocked"] is False
