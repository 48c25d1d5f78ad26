"""A Redis outage under a real server: streams end with an error, /readyz turns red, then heals.

The server's broker (BROKER_URL) is a private ``redis-server`` on a free loopback port, killed
and restarted on the same port by the test. The database is a SQLite file in the embedded leg
and the PostgreSQL test database in the other. Without ``redis-server`` the test skips, except
with CI=true, where it fails.
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.backends import IN_CI
from tests.e2e.test_ws_protocol import (
    CLASSROOM_ACTIVITY,
    EVENT_SECONDS,
    Api,
    Server,
    Socket,
    api,
    classroom_server,
    eventually,
    marked_url,
    next_with_url,
    open_socket,
    until_live,
)
from tests.waiting import ProcessOutput

pytestmark = pytest.mark.e2e

REDIS_START_SECONDS = 10.0
#: What redis-server prints once it serves (6.x and 7.x).
READY = re.compile(r"Ready to accept connections")
#: The broker reconnects with a backoff capped at 5 s; readiness must be back well within this.
RECOVERY_SECONDS = 20.0


class PrivateRedis:
    """``redis-server`` on one loopback port, without persistence, that can die and come back."""

    def __init__(self, executable: str, folder: Path) -> None:
        self.executable = executable
        self.folder = folder
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start on a free port the first time (retrying if it is taken), then on the same."""
        fresh = self.port == 0
        for _ in range(3 if fresh else 1):
            if fresh:
                self.port = _free_port()
            if self._try_start():
                return
        pytest.fail(f"redis-server did not start on port {self.port}:\n{self._log_tail()}")

    def _try_start(self) -> bool:
        self.process = subprocess.Popen(  # noqa: S603 - a fixed command line of our own
            [
                self.executable,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.folder),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        output = ProcessOutput(self.process, self.folder / "redis.log")
        # No line means it exited (most likely the port was taken meanwhile) or hung.
        if output.wait_for(READY, REDIS_START_SECONDS) is not None and _answers_ping(self.port):
            return True
        self.kill()
        return False

    def kill(self) -> None:
        """SIGKILL: connections drop without a goodbye, as when a server dies."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def _log_tail(self) -> str:
        path = self.folder / "redis.log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _answers_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as connection:
            connection.sendall(b"PING\r\n")
            return connection.recv(64).startswith(b"+PONG")
    except OSError:
        return False


@pytest.fixture(scope="module")
def redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateRedis]:
    executable = shutil.which("redis-server")
    if executable is None:
        message = "redis-server is not installed (apt-get install redis-server)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    private = PrivateRedis(executable, tmp_path_factory.mktemp("redis"))
    private.start()
    try:
        yield private
    finally:
        private.kill()


@pytest.fixture(scope="module")
def server(
    redis: PrivateRedis, database_template: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    with classroom_server(
        database_template, tmp_path_factory.mktemp("redis-outage"), broker_url=redis.url
    ) as running:
        yield running


@pytest.fixture
async def http(server: Server) -> AsyncIterator[Api]:
    async with api(server.base_url) as client:
        yield client


async def readiness(http: Api) -> tuple[int, Any]:
    response = await http.http.get(http.base_url + "/readyz")
    return response.status_code, response.json()


def ended_with_error(ws: Socket, op_id: str) -> bool:
    """An ``error`` frame, or a ``next`` carrying errors followed by ``complete``."""
    frames = ws.of(op_id)
    if any(f["type"] == "error" for f in frames):
        return True
    failed = [i for i, f in enumerate(frames) if f["type"] == "next" and f["payload"].get("errors")]
    return bool(failed) and any(f["type"] == "complete" for f in frames[failed[0] :])


async def test_redis_outage_ends_streams_and_readiness_recovers(
    redis: PrivateRedis, server: Server, http: Api
) -> None:
    classroom = server.classroom

    async def report(url: str) -> Any:
        return await http.report(classroom.device_token, url)

    assert await readiness(http) == (200, {"status": "ready", "database": "ok", "broker": "ok"})
    async with open_socket(server.ws_url, server.teacher_token) as ws:
        # given a teacher watching the class live through the Redis broker
        await ws.subscribe("live", CLASSROOM_ACTIVITY, groupId=classroom.group_id)
        await until_live(report, (ws, "live"))
        # when Redis dies
        redis.kill()
        # then the subscription ends with an error within a bounded time
        await eventually(
            lambda: ended_with_error(ws, "live"),
            within=EVENT_SECONDS,
            what="the subscription ending with an error after Redis died",
        )
        # and readiness is 503, naming the broker (the database is still fine)
        down: list[tuple[int, Any]] = []

        async def probe() -> None:
            down.append(await readiness(http))

        await eventually(
            lambda: bool(down) and down[-1][0] == 503,
            nudge=probe,
            within=EVENT_SECONDS,
            what="/readyz answering 503",
        )
        body = down[-1][1]
        assert body["status"] == "unavailable"
        assert body["database"] == "ok"
        assert body["broker"].startswith("unavailable"), body
        # when Redis comes back on the same port
        redis.start()
        up: list[tuple[int, Any]] = []

        async def reprobe() -> None:
            up.append(await readiness(http))

        # then readiness is green again within a bounded time
        await eventually(
            lambda: bool(up) and up[-1][0] == 200,
            nudge=reprobe,
            within=RECOVERY_SECONDS,
            what="/readyz answering 200 after Redis came back",
        )
        assert up[-1][1] == {"status": "ready", "database": "ok", "broker": "ok"}
        # and the socket survived: the client resubscribes and events flow again
        resumed_at = len(ws.frames)
        await ws.subscribe("live", CLASSROOM_ACTIVITY, groupId=classroom.group_id)
        await eventually(
            lambda: ws.find(lambda f: f.get("id") == "live", after=resumed_at) is not None,
            nudge=lambda: report(marked_url("recovered")),
            what="an event after resubscribing",
        )
        url = marked_url("after-outage")
        body = await report(url)
        await ws.expect(next_with_url("live", url), EVENT_SECONDS)
    assert [r["status"] for r in body["data"]["reportActivity"]["results"]] == ["ACCEPTED"]
    resumed = ws.find(lambda f: f.get("id") == "live", after=resumed_at)
    assert resumed is not None
    assert resumed["type"] == "next", resumed
