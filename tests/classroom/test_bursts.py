"""A teacher's socket keeps up with a whole class reporting at once.

A burst is read from the group's subscription without the event loop turning: unless the
shared stream lets the sockets' writers run between events, a teacher whose client reads
everything still finds its outbox overfilled and is dropped as too slow.
"""

from __future__ import annotations

import pytest
from starlette.applications import Starlette

from app.main import create_app
from app.ws.connection import OUTBOX_LIMIT
from realtime import channels
from realtime.events import Activity
from resolvers import auth
from resolvers.context import Services
from tests import factories
from tests.classroom.helpers import Class, Socket, a_class, wait_until
from tests.conftest import Clock, context_for

LIVE = """
subscription Live($groupId: ID!) { classroomActivity(groupId: $groupId) { deviceId title } }
"""
BURST = OUTBOX_LIMIT + 500


@pytest.fixture
def app(services: Services) -> Starlette:
    return create_app(services.settings, services, manage_database=False)


async def teacher_token(services: Services, room: Class) -> str:
    signed_in = await auth.login(
        context_for(services, None), room.teacher.email, factories.PASSWORD
    )
    return signed_in.token


async def test_a_burst_larger_than_the_outbox_reaches_a_teacher_who_keeps_reading(
    services: Services, app: Starlette, clock: Clock
) -> None:
    # given a teacher watching the class over a websocket
    room = await a_class(services)
    channel = channels.group_activity(room.school.id, room.group.id)
    teacher = await Socket(app).open(await teacher_token(services, room))
    try:
        await teacher.send(
            {
                "type": "subscribe",
                "id": "live",
                "payload": {"query": LIVE, "variables": {"groupId": room.group_id}},
            }
        )
        await wait_until(lambda: services.broker.subscriber_count(channel) > 0)
        # when more events than its outbox holds are published in one go
        events = [
            (
                channel,
                Activity(
                    group=room.group.id,
                    device=room.pupil.device.id,
                    learner=str(room.pupil.learner.id),
                    kind="URL_VISIT",
                    at=clock.now.isoformat(),
                    url="https://www.bbc.co.uk/bitesize",
                    title=f"page {n}",
                ).encode(),
            )
            for n in range(BURST)
        ]
        await services.broker.publish_many(events)
        # then every one arrives, in order, and the socket stays open
        titles = []
        for _ in range(BURST):
            frame = await teacher.frame()
            assert frame.get("type") == "next", frame
            titles.append(frame["payload"]["data"]["classroomActivity"]["title"])
        assert titles == [f"page {n}" for n in range(BURST)]
        assert teacher.closed is None
    finally:
        await teacher.close()
