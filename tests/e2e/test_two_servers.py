"""Two server processes sharing one PostgreSQL database and one Redis: realtime crosses them.

Only in the PostgreSQL + Redis leg (DATABASE_URL and REDIS_URL set). Both servers run
``uvicorn --factory app.main:app_from_env`` with the same settings: BROKER_URL=REDIS_URL, the same
master key and the same PP_NAMESPACE, private to this test run, so they share channels with each
other and with nobody else.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests import backends
from tests.e2e.server import running_server, seed_database
from tests.e2e.test_ws_protocol import (
    CLASSROOM_ACTIVITY,
    DEVICE_COMMANDS,
    EVENT_SECONDS,
    LOCK_GROUP,
    LOGOUT,
    REPORT_ACTIVITY,
    Api,
    Classroom,
    Socket,
    api,
    eventually,
    login_sync,
    marked_url,
    next_with_url,
    open_socket,
    seed_classroom,
    server_settings,
    visit,
)

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not (backends.POSTGRES and backends.REDIS_URL),
        reason="two servers need a shared PostgreSQL and Redis: set DATABASE_URL and REDIS_URL",
    ),
]


@dataclass(frozen=True)
class Servers:
    a: str
    b: str
    classroom: Classroom
    teacher_token: str
    logs: tuple[Path, Path]

    @staticmethod
    def ws(base_url: str) -> str:
        return "ws" + base_url.removeprefix("http") + "/graphql"


@pytest.fixture(scope="module")
def servers(database_template: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    folder = tmp_path_factory.mktemp("two-servers")
    settings = server_settings(database_template, backends.REDIS_URL)
    classroom = seed_database(settings, seed_classroom, truncate=True)
    logs = (folder / "a.log", folder / "b.log")
    with running_server(settings, logs[0]) as a, running_server(settings, logs[1]) as b:
        assert a != b
        (token,) = login_sync(a, classroom.teacher)
        yield Servers(a, b, classroom, token, logs)


@pytest.fixture
async def http_a(servers: Servers) -> AsyncIterator[Api]:
    async with api(servers.a) as client:
        yield client


@pytest.fixture
async def http_b(servers: Servers) -> AsyncIterator[Api]:
    async with api(servers.b) as client:
        yield client


class DeviceSocket:
    """The device's one socket: reportActivity mutations as operations over it."""

    def __init__(self, ws: Socket) -> None:
        self.ws = ws
        self._ids = itertools.count(1)

    async def report(self, url: str) -> dict[str, Any]:
        """Report a visit over the socket; its one ``next`` (then ``complete``) frame."""
        op_id = f"report-{next(self._ids)}"
        await self.ws.subscribe(op_id, REPORT_ACTIVITY, events=[visit(url)])
        end = await self.ws.expect(
            lambda f: f.get("id") == op_id and f["type"] in {"complete", "error"}
        )
        assert end["type"] == "complete", end
        (result,) = self.ws.of(op_id, "next")
        return result


def command_frame(op_id: str, command_id: str) -> Callable[[dict[str, Any]], bool]:
    """The ``next`` of ``op_id`` carrying the device command ``command_id``."""

    def matches(frame: dict[str, Any]) -> bool:
        if frame.get("id") != op_id or frame.get("type") != "next":
            return False
        command = (frame["payload"].get("data") or {}).get("deviceCommands") or {}
        return bool(command.get("id") == command_id)

    return matches


async def test_activity_reported_on_server_a_reaches_a_teacher_on_server_b(
    servers: Servers,
) -> None:
    classroom = servers.classroom
    # given the device's socket on server A and its teacher watching the class on server B
    async with (
        open_socket(Servers.ws(servers.a), classroom.device_token) as device_ws,
        open_socket(Servers.ws(servers.b), servers.teacher_token) as teacher,
    ):
        device = DeviceSocket(device_ws)
        await teacher.subscribe("live", CLASSROOM_ACTIVITY, groupId=classroom.group_id)
        await eventually(
            lambda: bool(teacher.of("live", "next")),
            nudge=lambda: device.report(marked_url("warm-up")),
            what="a first event crossing from server A to server B",
        )
        # when the device reports a page visit over its websocket on A
        url = marked_url("across")
        reported = await device.report(url)
        # then the teacher on B receives it
        frame = await teacher.expect(next_with_url("live", url), EVENT_SECONDS)
    results = reported["payload"]["data"]["reportActivity"]["results"]
    assert [(r["status"], r["blocked"]) for r in results] == [("ACCEPTED", False)]
    activity = frame["payload"]["data"]["classroomActivity"]
    assert activity["kind"] == "URL_VISIT"
    assert activity["deviceId"] == classroom.device_id
    assert activity["learnerId"] == classroom.learner_id


async def test_lock_sent_through_server_b_reaches_the_device_on_server_a(
    servers: Servers, http_b: Api
) -> None:
    classroom = servers.classroom
    # given the device on server A with its command stream open (its policy came first)
    async with open_socket(Servers.ws(servers.a), classroom.device_token) as device:
        await device.subscribe("commands", DEVICE_COMMANDS)
        first = await device.expect(lambda f: f.get("id") == "commands", EVENT_SECONDS)
        assert first["type"] == "next", first
        assert first["payload"]["data"]["deviceCommands"]["kind"] == "POLICY"
        # when the teacher locks the class through server B's HTTP API
        sent = await http_b.data(LOCK_GROUP, servers.teacher_token, groupId=classroom.group_id)
        # then the LOCK command arrives on the device's stream on A
        (command,) = sent["sendDeviceCommand"]["commands"]
        assert sent["sendDeviceCommand"]["errors"] == []
        arrived = await device.expect(
            lambda f: (
                f.get("id") == "commands"
                and (f["payload"].get("data") or {}).get("deviceCommands", {}).get("id")
                == command["id"]
            ),
            EVENT_SECONDS,
        )
    assert arrived["payload"] == {
        "data": {"deviceCommands": {"id": command["id"], "kind": "LOCK", "policy": None}}
    }


async def test_logout_on_server_a_closes_the_socket_on_server_b(
    servers: Servers, http_a: Api
) -> None:
    # given a teacher's fresh session with a socket open on server B
    token = await http_a.login(servers.classroom.teacher)
    async with open_socket(Servers.ws(servers.b), token) as ws:
        await ws.subscribe("live", CLASSROOM_ACTIVITY, groupId=servers.classroom.group_id)
        await ws.flush()
        # when the session is ended over HTTP on server A
        assert await http_a.data(LOGOUT, token) == {"logout": True}
        # then server B closes the socket with 4403 within a few seconds
        assert await ws.close_code(EVENT_SECONDS) == 4403
