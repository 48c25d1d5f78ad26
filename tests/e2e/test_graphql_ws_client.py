"""The reference client, graphql-ws (npm) on Node, against a real server.

``js/subscribe.mjs`` subscribes to ``classroomActivity`` with ``connectionParams: {authToken}``
and prints each payload as a JSON line; the test reports the learner's activity over HTTP until
the client has printed the events it waits for. The packages are pinned in ``js/package.json``
and locked in ``js/package-lock.json``; ``tests/e2e/nodejs.py`` installs them once per session.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from tests import backends
from tests.e2e.nodejs import NodeScripts, require_node
from tests.e2e.test_ws_protocol import (
    Api,
    Server,
    api,
    classroom_server,
    eventually,
    marked_url,
)

pytestmark = pytest.mark.e2e

#: How long subscribe.mjs waits for its events (it exits 1 after this).
NODE_SECONDS = 20.0
#: A little longer on our side, so that Node's own timeout message is what a failure shows.
WAIT_SECONDS = NODE_SECONDS + 5.0


class NodeRun:
    """A running subscribe.mjs: its stdout lines (payloads) and stderr lines (progress)."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.stdout: list[str] = []
        self.stderr: list[str] = []

    @property
    def exited(self) -> bool:
        return self.process.returncode is not None

    def payloads(self) -> list[Any]:
        return [json.loads(line) for line in self.stdout]

    def explain(self) -> str:
        return f"exit {self.process.returncode}; stderr: {self.stderr}; stdout: {self.stdout}"


async def _collect(stream: asyncio.StreamReader | None, into: list[str]) -> None:
    assert stream is not None
    async for line in stream:
        into.append(line.decode().rstrip("\n"))


@asynccontextmanager
async def subscribe_mjs(
    node: NodeScripts, server: Server, token: str, group_id: str, count: int
) -> AsyncIterator[NodeRun]:
    """Run subscribe.mjs for the block; killed at the end if it is still running."""
    env = {**os.environ, "SUBSCRIBE_TIMEOUT_MS": str(int(NODE_SECONDS * 1000))}
    process = await asyncio.create_subprocess_exec(
        *node.command("subscribe.mjs", server.ws_url, token, group_id, str(count)),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    run = NodeRun(process)
    readers = [
        asyncio.create_task(_collect(process.stdout, run.stdout)),
        asyncio.create_task(_collect(process.stderr, run.stderr)),
    ]
    try:
        yield run
    finally:
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
        await process.wait()
        await asyncio.gather(*readers)


@pytest.fixture(scope="module")
def server(database_template: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with classroom_server(
        database_template,
        tmp_path_factory.mktemp("graphql-ws-client"),
        broker_url=backends.REDIS_URL or "memory://",
    ) as running:
        yield running


@pytest.fixture(scope="module")
def node_scripts() -> NodeScripts:
    return require_node()


@pytest.fixture
async def http(server: Server) -> AsyncIterator[Api]:
    async with api(server.base_url) as client:
        yield client


async def test_graphql_ws_client_receives_the_reported_activity(
    node_scripts: NodeScripts, server: Server, http: Api
) -> None:
    classroom = server.classroom
    reported: list[str] = []

    async def report() -> None:
        url = marked_url("node")
        reported.append(url)
        await http.report(classroom.device_token, url)

    # given graphql-ws subscribed to the class as its teacher, waiting for two events
    async with subscribe_mjs(
        node_scripts, server, server.teacher_token, classroom.group_id, 2
    ) as node:
        # when the learner's device reports page visits
        await eventually(
            lambda: node.exited,
            nudge=report,
            within=WAIT_SECONDS,
            what="graphql-ws printing two events and exiting",
        )
    # then the client was acknowledged, printed two of the reported events, and exited 0
    assert node.process.returncode == 0, node.explain()
    assert node.stderr[:1] == ["connected"], node.explain()
    payloads = node.payloads()
    assert len(payloads) == 2, node.explain()
    for payload in payloads:
        assert set(payload) == {"data"}, payload
        activity = payload["data"]["classroomActivity"]
        assert activity["url"] in reported
        assert activity["kind"] == "URL_VISIT"
        assert activity["blocked"] is False
        assert activity["learnerId"] == classroom.learner_id
        assert activity["deviceId"] == classroom.device_id
    assert (
        payloads[0]["data"]["classroomActivity"]["url"]
        != (payloads[1]["data"]["classroomActivity"]["url"])
    )


async def test_graphql_ws_client_sees_a_bad_token_as_close_4403(
    node_scripts: NodeScripts, server: Server
) -> None:
    # given graphql-ws with a token the server never issued (and retries off)
    async with subscribe_mjs(
        node_scripts, server, "pps_forged", server.classroom.group_id, 1
    ) as node:
        # when it connects
        await eventually(lambda: node.exited, within=WAIT_SECONDS, what="graphql-ws exiting")
    # then it was never acknowledged and reports the server's 4403 close
    assert node.process.returncode == 1, node.explain()
    assert node.stdout == []
    assert node.stderr == ["socket closed: 4403 Forbidden"], node.explain()
