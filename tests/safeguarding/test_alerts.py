"""Alerts from ingest: created, merged, idempotent, windowed, encrypted, announced."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

from tortoise.connection import get_connection

from models.safeguarding import Alert, AlertHit, AlertSource, AlertStatus, MonitoringWindow
from resolvers.context import Services
from resolvers.safeguarding import alerts as alert_cases
from resolvers.safeguarding.settings import SettingsChanges, update_settings
from tests import factories
from tests.classroom.helpers import b64, device_viewer, event, jpeg
from tests.conftest import Clock, GraphQLRunner, context_for
from tests.safeguarding.alert_helpers import (
    PHRASE,
    a_school,
    alerts_of,
    custom_rule,
    report,
    routing_settles,  # noqa: F401 (fixture)
    typed,
)


async def test_a_triggering_event_commits_one_alert_with_its_evidence(
    services: Services, gql: GraphQLRunner, clock: Clock
) -> None:
    # given a school with its own rule
    world = await a_school(services)
    # when the pupil's device reports text that matches it
    statuses = await report(
        gql,
        world.pupil_viewer,
        typed(
            f"they called me a {PHRASE} again",
            clock.now,
            app="Chrome",
            url="https://chat.example/room",
            title="Class chat",
        ),
    )
    # then the event is accepted and one alert was committed before the answer
    assert statuses == ["ACCEPTED"]
    (alert,) = await alerts_of(world)
    assert alert.learner_id == world.room.pupil.learner.id
    assert alert.device_id == world.room.pupil.device.id
    assert (alert.category, alert.severity, alert.status) == ("BULLYING", 4, AlertStatus.NEW)
    assert alert.rule_id.startswith("custom:")
    assert alert.count == 1
    assert alert.source is AlertSource.TEXT
    assert alert.app == "Chrome"
    assert alert.first_at == alert.last_at
    assert not alert.in_lesson
    assert alert.screenshot_enc is None  # screenshot capture is off by default


async def test_evidence_is_encrypted_at_rest(
    services: Services, gql: GraphQLRunner, clock: Clock
) -> None:
    # given an alert raised from text, a URL and a title
    world = await a_school(services)
    await report(
        gql,
        world.pupil_viewer,
        typed(f"a {PHRASE} secret", clock.now, url="https://x.example/p", title="Private page"),
    )
    # when the raw columns are read
    rows = await get_connection("default").execute_query_dict(
        "SELECT excerpt_enc, url_enc, title_enc FROM safeguarding_alert"
    )
    # then no evidence is readable there
    raw = b"".join(bytes(v) for row in rows for v in row.values() if v is not None)
    assert raw
    for plain in (b"giraffe", b"x.example", b"Private page"):
        assert plain not in raw


async def test_text_that_matches_nothing_writes_nothing(
    services: Services, gql: GraphQLRunner, clock: Clock
) -> None:
    # given a school with its own rule
    world = await a_school(services)
    # when the device reports harmless text
    statuses = await report(gql, world.pupil_viewer, typed("photosynthesis notes", clock.now))
    # then nothing was stored
    assert statuses == ["ACCEPTED"]
    assert await alerts_of(world) == []
    assert await AlertHit.all().count() == 0


async def test_repeats_within_the_window_merge_and_later_ones_make_a_new_alert(
    services: Services, gql: GraphQLRunner, clock: Clock
) -> None:
    # given a first alert
    world = await a_school(services)
    start = clock.now - timedelta(minutes=30)
    await report(gql, world.pupil_viewer, typed(f"{PHRASE} one", start))
    (first,) = await alerts_of(world)
    # when the same rule matches twice within 10 minutes, and again 11 minutes after the first
    await report(
        gql,
        world.pupil_viewer,
        typed(f"{PHRASE} two", start + timedelta(minutes=4)),
        typed(f"{PHRASE} three", start + timedelta(minutes=9)),
    )
    await report(gql, world.pupil_viewer, typed(f"{PHRASE} four", start + timedelta(minutes=11)))
    # then the first alert counts three matches and has a later cursor; the fourth is new
    merged, new = await alerts_of(world)
    assert merged.id == first.id
    assert merged.count == 3
    assert merged.last_at == start + timedelta(minutes=9)
    assert merged.cursor > first.cursor
    assert new.count == 1
    assert new.first_at == start + timedelta(minutes=11)
    assert new.cursor > merged.cursor


async def test_a_closed_alert_takes_no_more_repeats(
    services: Services, gql: GraphQLRunner, clock: Clock
) -> None:
    # given an alert the lead marked a false positive
    world = await a_school(services)
    await report(gql, world.pupil_viewer, typed(PHRASE, clock.now - timedelta(minutes=2)))
    await Alert.filter(school_id=world.room.school.id).update(status=AlertStatus.FALSE_POSITIVE)
    # when the rule matches again within the window
    await report(gql, world.pupil_viewer, typed(PHRASE, clock.now))
    # then that is a new alert
    assert [a.count for a in await alerts_of(world)] == [1, 1]


async def test_an_event_sent_again_is_counted_once(
    services: Services, gql: GraphQLRunner, clock: Clock
) -> None:
    # given an event whose alert was committed (but whose acknowledgement was lost)
    world = await a_school(services)
    sent = typed(PHRASE, clock.now, event_id="evt-lost-ack")
    await report(gql, world.pupil_viewer, sent)
    # when the agent sends it again after the server forgot it had seen it (a restart)
    key = f"school:{world.room.school.id}:device:{world.room.pupil.device.id}"
    await services.live.forget_seen(key, ["evt-lost-ack"])
    assert await report(gql, world.pupil_viewer, sent) == ["ACCEPTED"]
    # then it still counts once
    (alert,) = await alerts_of(world)
    assert alert.count == 1
    assert await AlertHit.filter(alert_id=alert.id).count() == 1


async def test_one_event_matching_two_rules_raises_two_alerts(
    services: Services, gql: GraphQLRunner, clock: Clock
) -> None:
    # given two rules
    world = await a_school(services)
    await custom_rule(services, world, "orange walrus", severity=5, category="VIOLENCE")
    # when one event matches both
    await report(gql, world.pupil_viewer, typed(f"{PHRASE} and orange walrus", clock.now))
    # then each rule has its alert, with distinct increasing cursors
    rows = await alerts_of(world)
    assert sorted((a.category, a.severity) for a in rows) == [("BULLYING", 4), ("VIOLENCE", 5)]
    assert rows[0].cursor < rows[1].cursor


async def test_a_shared_device_raises_no_alert(
    services: Services, gql: GraphQLRunner, clock: Clock
) -> None:
    # given a device not assigned to any learner
    world = await a_school(services)
    shared, _ = await factories.device(world.room.school)
    # when it reports triggering text
    statuses = await report(gql, device_viewer(shared, None), typed(PHRASE, clock.now))
    # then it is accepted, and no learner is blamed
    assert statuses == ["ACCEPTED"]
    assert await alerts_of(world) == []


async def test_lessons_only_monitoring_scans_only_during_a_lesson(
    services: Services, gql: GraphQLRunner, clock: Clock
) -> None:
    # given a school that monitors in lessons only
    world = await a_school(services)
    ctx = context_for(services, world.dsl_viewer)
    await update_settings(ctx, SettingsChanges(monitoring_window=MonitoringWindow.LESSONS_ONLY))
    # when the pupil types triggering text with no lesson running, then during one
    await report(gql, world.pupil_viewer, typed(PHRASE, clock.now))
    assert await alerts_of(world) == []
    lesson = """
    mutation Start($input: StartLessonInput!) { startLesson(input: $input) { errors { code } } }
    """
    await gql(
        lesson,
        world.room.teacher_viewer,
        input={
            "groupId": world.room.group_id,
            "endsAt": (clock.now + timedelta(hours=1)).isoformat(),
        },
    )
    await services.devices.refresh(world.room.pupil.device.id)
    await report(gql, world.pupil_viewer, typed(PHRASE, clock.now))
    # then only the second raised an alert, marked as in a lesson
    (alert,) = await alerts_of(world)
    assert alert.in_lesson


async def test_school_hours_monitoring_and_the_out_of_hours_flag(
    services: Services, gql: GraphQLRunner, clock: Clock
) -> None:
    # given a school in UTC whose day runs 9:00-15:00 on every weekday
    world = await a_school(services)
    world.room.school.timezone = "UTC"
    await world.room.school.save(update_fields=["timezone"])
    ctx = context_for(services, world.dsl_viewer)
    days = [1, 2, 3, 4, 5, 6, 7]
    changes = SettingsChanges(day_starts_minute=9 * 60, day_ends_minute=15 * 60, school_days=days)
    await update_settings(ctx, changes)
    midday = clock.now.replace(hour=12, minute=0) - timedelta(days=1)
    evening = midday.replace(hour=20)
    # when ALWAYS monitoring sees text at midday and in the evening
    await report(gql, world.pupil_viewer, typed(PHRASE, midday))
    await report(gql, world.pupil_viewer, typed(PHRASE, evening))
    # then both raise alerts, the evening one out of hours
    assert [a.out_of_hours for a in await alerts_of(world)] == [False, True]
    # and when the school switches to school hours, an evening match raises nothing
    await update_settings(ctx, SettingsChanges(monitoring_window=MonitoringWindow.SCHOOL_HOURS))
    await report(gql, world.pupil_viewer, typed(PHRASE, evening + timedelta(minutes=30)))
    assert len(await alerts_of(world)) == 2


async def test_screenshots_are_kept_only_when_the_school_turns_them_on(
    services: Services, gql: GraphQLRunner, clock: Clock
) -> None:
    # given a school that captures screenshots
    world = await a_school(services)
    ctx = context_for(services, world.dsl_viewer)
    await update_settings(ctx, SettingsChanges(screenshot_capture=True))
    shot: dict[str, Any] = event("SCREENSHOT", clock.now, thumbnail=b64(jpeg()))
    # when a screenshot and triggering text arrive together
    await report(gql, world.pupil_viewer, shot, typed(PHRASE, clock.now))
    # then the alert keeps the screenshot, encrypted
    (alert,) = await alerts_of(world)
    assert alert.screenshot_enc is not None
    assert jpeg() not in bytes(alert.screenshot_enc)


async def test_new_alerts_are_announced_and_routed_once(
    services: Services, gql: GraphQLRunner, clock: Clock
) -> None:
    # given a routing hook
    routed: list[object] = []

    async def hook(alert_id: object) -> None:
        routed.append(alert_id)

    services.safeguarding.hooks.append(hook)
    world = await a_school(services)
    # when one alert is created and then merged into
    await report(gql, world.pupil_viewer, typed(PHRASE, clock.now))
    await report(gql, world.pupil_viewer, typed(PHRASE, clock.now))
    # then routing heard of it once
    (alert,) = await alerts_of(world)
    assert routed == [alert.id]


async def test_a_failing_hook_does_not_fail_ingest(
    services: Services, gql: GraphQLRunner, clock: Clock
) -> None:
    # given a routing hook that fails
    async def broken(alert_id: object) -> None:
        raise RuntimeError("smtp down")

    services.safeguarding.hooks.append(broken)
    world = await a_school(services)
    # when an alert is raised, then the event is still accepted and the alert stored
    assert await report(gql, world.pupil_viewer, typed(PHRASE, clock.now)) == ["ACCEPTED"]
    assert len(await alerts_of(world)) == 1


async def test_cursors_increase_in_commit_order_per_school(
    services: Services, gql: GraphQLRunner, clock: Clock
) -> None:
    # given two schools raising alerts in turn
    north, south = await a_school(services), await a_school(services)
    for n in range(3):
        for world in (north, south):
            await report(gql, world.pupil_viewer, typed(PHRASE, clock.now - timedelta(hours=n)))
    # then each school's cursors are 1, 2, 3: the counter is per school, gap-free
    for world in (north, south):
        assert [a.cursor for a in await alerts_of(world)] == [1, 2, 3]


async def test_detect_and_alert_skips_events_without_text(
    services: Services, gql: GraphQLRunner, clock: Clock
) -> None:
    # given a pupil's device state
    world = await a_school(services)
    state = await services.devices.get(world.room.pupil.device.id)
    assert state is not None
    # when only idle events are scanned, then nothing is committed
    from resolvers.ingest import ActivityInput
    from resolvers.policy import Verdict

    idle = ActivityInput(event_id=str(uuid.uuid4()), occurred_at=clock.now, kind="IDLE")
    ctx = context_for(services, world.pupil_viewer)
    assert await alert_cases.detect_and_alert(ctx, state, [(idle, Verdict(False))]) == []


async def test_concurrent_reports_get_distinct_gap_free_cursors(
    services: Services, gql: GraphQLRunner, clock: Clock
) -> None:
    # given five pupils
    world = await a_school(services, pupils=5)
    # when all their devices report triggering text at once
    await asyncio.gather(
        *(report(gql, p.viewer, typed(PHRASE, clock.now)) for p in world.room.pupils)
    )
    # then five alerts hold the cursors 1 to 5, each once
    assert sorted(a.cursor for a in await alerts_of(world)) == [1, 2, 3, 4, 5]
