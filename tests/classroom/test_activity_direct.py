"""classroomActivity without GraphQL execution: the same payload text, the same endings."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import Any

import pytest
import strawberry
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute

from app.errors import NotFound, Unavailable
from app.main import create_app
from app.ws import frames
from app.ws.hub import Hub
from realtime import channels
from realtime.events import Activity
from resolvers import classroom
from resolvers.context import Context, Services
from schema import hardening_rules
from schema.classroom.activity_document import ActivityDocuments, schema_as_expected
from schema.classroom.types import ClassroomActivity
from tests.classroom.helpers import Class, Socket, a_class, receive, subscribe, wait_until
from tests.classroom.test_bursts import teacher_token
from tests.conftest import SCHEMA, Clock

ALL = "groupId deviceId learnerId kind at online idle locked app url title blocked reason thumbnail"
#: (document, operation name, variables other than the group's): documents taking the path.
DOCUMENTS: list[tuple[str, str | None, bool]] = [
    (f"subscription Live($g: ID!) {{ classroomActivity(groupId: $g) {{ {ALL} }} }}", None, True),
    (
        "subscription Live($g: ID!) { classroomActivity(groupId: $g) { title deviceId at } }",
        "Live",
        True,
    ),
    (
        "subscription($g: ID!) { classroomActivity(groupId: $g) "
        "{ thumbnail reason blocked locked learnerId kind online idle app url groupId } }",
        None,
        True,
    ),
    (
        "subscription Live($g: ID!) { feed: classroomActivity(groupId: $g) "
        "{ who: learnerId page: url title again: title when: at } }",
        None,
        True,
    ),
    ('subscription { classroomActivity(groupId: "GROUP") { deviceId title locked } }', None, False),
]
NOT_THE_SHAPE = [
    "subscription($g: ID!) { classroomActivity(groupId: $g) { ...Tile } }"
    " fragment Tile on ClassroomActivity { title }",
    "subscription($g: ID!) { classroomActivity(groupId: $g) { ... on ClassroomActivity { url } } }",
    "subscription($g: ID!) { classroomActivity(groupId: $g) { __typename title } }",
    "subscription($g: ID!) { classroomActivity(groupId: $g) { title @include(if: true) } }",
    "subscription($g: ID!) @live { classroomActivity(groupId: $g) { title } }",
    "subscription($g: ID!) { classroomActivity(groupId: $g) @skip(if: false) { title } }",
    "subscription($g: ID!) { classroomActivity(groupId: $g) { title } deviceCommands { id } }",
    "subscription($g: ID!) { classroomActivity(groupId: $g) { title nope } }",
    "subscription($g: ID!) { classroomActivity(groupId: $g) { title title } }",
    "subscription($g: Int!) { classroomActivity(groupId: $g) { title } }",
    "subscription($g: ID) { classroomActivity(groupId: $g) { title } }",
    'subscription($g: ID! = "R3JvdXA6MQ") { classroomActivity(groupId: $g) { title } }',
    "subscription($g: ID!, $h: ID!) { classroomActivity(groupId: $g) { title } }",
    "subscription { classroomActivity(groupId: 7) { title } }",
    "subscription($g: ID!) { classroomActivity(groupId: $g) { title } ",
    "subscription($g: ID!) { classroomActivity(groupId: $g) }",
    "query($g: ID!) { classroom(groupId: $g) { tiles { url } } }",
    "subscription($g: ID!) { classroomActivity(groupId: $g) { "
    + " ".join(f"t{n}: title" for n in range(16))
    + " } }",
    "subscription A($g: ID!) { classroomActivity(groupId: $g) { title } }"
    " subscription B($g: ID!) { classroomActivity(groupId: $g) { url } }",
]


def activities(room: Class, now: str) -> list[Activity]:
    """Events of every kind a tile shows, and values GraphQL reports as errors."""
    device, learner = room.pupil.device.id, str(room.pupil.learner.id)
    base = {"group": room.group.id, "device": device, "at": now}
    return [
        Activity(**base, learner=learner, kind="URL_VISIT", url="https://bbc.co.uk/", title="BBC"),
        Activity(**base, kind="APP_FOCUS", app="Calculator"),
        Activity(**base, learner=learner, kind="SCREENSHOT", thumbnail="/9j/4AAQSkZJRg=="),
        Activity(**base, learner=learner, kind="LOCK", locked=True),
        Activity(**base, learner=learner, kind="UNLOCK", locked=False, idle=True),
        Activity(**base, learner=learner, kind="URL_VISIT", blocked=True, reason="school: bet"),
        Activity(**base, learner=learner, kind="LOGOUT", online=False),
        Activity(
            **base,
            learner=learner,
            kind="TYPED_TEXT",
            title='Quote " back\\slash \u00e9\u00e8 \u2603 \U0001f600 \n\t\u2028 </script>',
            url="https://example.org/?q=\u00fc&x='y'",
        ),
        Activity(group=room.group.id, device=device, kind="IDLE", at="2026-01-02T03:04:05"),
        # Not what the use case sends: graphql-core's errors, located and (some) masked.
        Activity(**base, kind=None),  # type: ignore[arg-type]
        Activity(**base, online="yes"),  # type: ignore[arg-type]
        Activity(**base, app=["x"], url={"a": 1}),  # type: ignore[arg-type]
        Activity(**base, title=12, locked=0),  # type: ignore[arg-type]
    ]


def documents(services: Services) -> ActivityDocuments:
    limits = services.settings.limits
    return ActivityDocuments(
        SCHEMA,
        dumps=frames.dumps,
        max_chars=limits.max_query_chars,
        max_tokens=limits.max_tokens,
        rules=hardening_rules(limits, introspection=False),
    )


def text(result: str | Any) -> str:
    return result if isinstance(result, str) else frames.dumps(frames.result_payload(result))


# --- payloads ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("document", "name", "variable"), DOCUMENTS)
async def test_each_event_has_the_payload_text_graphql_sends(
    services: Services, clock: Clock, document: str, name: str | None, variable: bool
) -> None:
    # given a teacher's subscription through GraphQL, and the same document recognised here
    room = await a_class(services)
    document = document.replace("GROUP", room.group_id)
    channel = channels.group_activity(room.school.id, room.group.id)
    direct = documents(services)
    shape = direct.shape(document, name)
    assert shape is not None
    events = activities(room, clock.now.isoformat())
    variables = {"g": room.group_id} if variable else {}
    stream = await subscribe(services, room.teacher_viewer, document, **variables)
    async with aclosing(stream):
        started = asyncio.ensure_future(anext(stream))
        await wait_until(lambda: services.broker.subscriber_count(channel) > 0)
        # when the events are published to the group
        await services.broker.publish_many([(channel, e.encode()) for e in events])
        graphql = [await started] + [await receive(stream) for _ in events[1:]]
    # then the direct payload of each is GraphQL's, byte for byte
    for event, result in zip(events, graphql, strict=True):
        expected = frames.dumps(frames.result_payload(result))
        assert text(direct.payload(shape, ClassroomActivity.from_event(event))) == expected


async def test_the_direct_stream_ends_as_graphql_does(
    services: Services, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a stream that sends one event and then fails in each way a stream can fail
    room = await a_class(services)
    document, name, _ = DOCUMENTS[1]
    direct = documents(services)
    shape = direct.shape(document, name)
    assert shape is not None
    event = activities(room, clock.now.isoformat())[0]
    for failure in (Unavailable(), NotFound(), RuntimeError("db password hunter2")):

        async def failing(
            ctx: Context, group_id: int, failure: Exception = failure
        ) -> AsyncGenerator[Activity, None]:
            yield event
            raise failure

        monkeypatch.setattr(classroom, "stream_activity", failing)
        # when both paths run it
        stream = await subscribe(services, room.teacher_viewer, document, g=room.group_id)
        async with aclosing(stream):
            graphql = [text(await receive(stream)) for _ in range(2)]
        ours = direct.stream(shape, Context(services, viewer=room.teacher_viewer), room.group.id)
        async with aclosing(ours):
            mine = [text(result) async for result in ours]
        # then both send the event, then the same (masked where unexpected) error
        assert mine == graphql
        assert "hunter2" not in mine[-1]


async def test_a_subscription_refused_at_subscribe_time_ends_as_graphql_does(
    services: Services,
) -> None:
    # given a teacher of another group
    room, other = await a_class(services), await a_class(services)
    document, name, _ = DOCUMENTS[0]
    direct = documents(services)
    shape = direct.shape(document, name)
    assert shape is not None
    # when both paths subscribe to a group the teacher does not teach
    stream = await subscribe(services, other.teacher_viewer, document, g=room.group_id)
    async with aclosing(stream):
        graphql = [text(r) async for r in stream]
    ours = direct.stream(shape, Context(services, viewer=other.teacher_viewer), room.group.id)
    async with aclosing(ours):
        mine = [text(result) async for result in ours]
    # then both end with the same NOT_FOUND
    assert mine == graphql
    assert json.loads(mine[0])["errors"][0]["extensions"] == {"code": "NOT_FOUND"}


# --- recognising ------------------------------------------------------------------------------


@pytest.mark.parametrize("document", NOT_THE_SHAPE)
def test_other_documents_go_through_graphql(services: Services, document: str) -> None:
    assert documents(services).shape(document, None) is None


def test_an_operation_name_must_be_the_documents(services: Services) -> None:
    direct = documents(services)
    document = DOCUMENTS[1][0]
    assert direct.shape(document, "Live") is not None
    assert direct.shape(document, None) is not None
    assert direct.shape(document, "Other") is None
    assert direct.shape(DOCUMENTS[2][0], "Live") is None


@strawberry.type(name="ClassroomActivity")
class SmallerActivity:
    title: str | None


@strawberry.type
class SmallerQuery:
    ping: bool = True


@strawberry.type
class SmallerSubscription:
    @strawberry.subscription
    async def classroom_activity(
        self, group_id: strawberry.ID
    ) -> AsyncGenerator[SmallerActivity, None]:
        yield SmallerActivity(title=None)


def test_a_schema_unlike_the_known_one_switches_the_path_off() -> None:
    # given a schema whose ClassroomActivity lacks fields
    smaller = strawberry.Schema(query=SmallerQuery, subscription=SmallerSubscription)
    # when each is checked, then only the real schema is recognised
    assert schema_as_expected(SCHEMA._schema)
    assert not schema_as_expected(smaller._schema)
    direct = ActivityDocuments(smaller, dumps=frames.dumps, max_chars=15_000, max_tokens=1000)
    document = "subscription($g: ID!) { classroomActivity(groupId: $g) { title } }"
    assert direct.shape(document, None) is None


# --- over a websocket -------------------------------------------------------------------------


@pytest.fixture
def app(services: Services) -> Starlette:
    return create_app(services.settings, services, manage_database=False)


def hub_of(app: Starlette) -> Hub:
    route = next(r for r in app.routes if isinstance(r, WebSocketRoute))
    assert isinstance(route.endpoint, Hub)
    return route.endpoint


async def watch_then_lag(
    services: Services, app: Starlette, clock: Clock, *, enabled: bool
) -> tuple[list[dict[str, Any]], int]:
    """A teacher's frames for events then a dropped broker subscription; direct streams."""
    room = await a_class(services)
    channel = channels.group_activity(room.school.id, room.group.id)
    cohorts = hub_of(app).cohorts
    cohorts.activity.enabled = enabled
    teacher = await Socket(app).open(await teacher_token(services, room))
    try:
        await teacher.send(
            {
                "type": "subscribe",
                "id": "live",
                "payload": {"query": DOCUMENTS[0][0], "variables": {"g": room.group_id}},
            }
        )
        await wait_until(lambda: services.broker.subscriber_count(channel) > 0)
        events = activities(room, clock.now.isoformat())[:3]
        await services.broker.publish_many([(channel, e.encode()) for e in events])
        received = [await teacher.frame() for _ in events]
        # more than the subscription's backlog at once: the broker drops it (SubscriberLagged)
        flood = [(channel, events[0].encode())] * (classroom.ACTIVITY_BACKLOG + 1)
        await services.broker.publish_many(flood)
        while received[-1].get("type") == "next":
            received.append(await teacher.frame())
        await wait_until(lambda: services.broker.subscriber_count(channel) == 0)
        return received, cohorts.activity.streams
    finally:
        await teacher.close()


async def test_a_teacher_gets_events_and_the_unavailable_ending_through_the_direct_path(
    services: Services, app: Starlette, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a small backlog, so that a flood drops the broker subscription
    monkeypatch.setattr(classroom, "ACTIVITY_BACKLOG", 8)
    # when a teacher watches the class with the direct path, then with GraphQL
    direct, direct_streams = await watch_then_lag(services, app, clock, enabled=True)
    graphql, graphql_streams = await watch_then_lag(services, app, clock, enabled=False)
    # then the direct path served the first, and the frames are those of GraphQL's
    assert (direct_streams, graphql_streams) == (1, 1)
    assert [f["type"] for f in direct[:3]] == ["next"] * 3
    assert direct[-1] == {
        "type": "error",
        "id": "live",
        "payload": [
            {
                "message": "Live updates are interrupted; resubscribe.",
                "extensions": {"code": "UNAVAILABLE"},
            }
        ],
    }

    def strip(frames_: list[dict[str, Any]]) -> list[Any]:
        # The two classes differ in ids only.
        return [{**f, "payload": _without_ids(f.get("payload"))} for f in frames_]

    assert strip(direct) == strip(graphql)


def _without_ids(payload: Any) -> Any:
    if isinstance(payload, dict) and "data" in payload:
        tile = dict(payload["data"]["classroomActivity"])
        for key in ("groupId", "deviceId", "learnerId"):
            tile[key] = tile[key] is not None
        return {**payload, "data": {"classroomActivity": tile}}
    return payload
