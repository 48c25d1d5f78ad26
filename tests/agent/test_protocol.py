"""The graphql-transport-ws client against hand-scripted servers."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from http import HTTPStatus
from typing import Any

import pytest
from websockets.asyncio.server import ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.typing import Subprotocol

from agent import protocol
from agent.errors import (
    ClientBug,
    ConnectionLost,
    ConnectionRejected,
    OperationError,
    closed_error,
)
from tests.agent.fakes import eventually

Handler = Callable[[ServerConnection], Awaitable[None]]
INIT = {"authToken": "ppd_x"}


@contextlib.asynccontextmanager
async def scripted(handler: Handler, **options: Any) -> AsyncIterator[str]:
    options.setdefault("subprotocols", [Subprotocol("graphql-transport-ws")])
    async with serve(handler, "127.0.0.1", 0, **options) as server:
        yield f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}/graphql"


async def receive(ws: ServerConnection) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(await ws.recv())
    return message


async def send(ws: ServerConnection, **message: Any) -> None:
    await ws.send(json.dumps(message))


async def acknowledge(ws: ServerConnection) -> None:
    assert (await receive(ws))["type"] == "connection_init"
    await send(ws, type="connection_ack")


async def hold(ws: ServerConnection) -> None:
    with contextlib.suppress(ConnectionClosed):
        await ws.wait_closed()


async def test_pings_are_answered_before_and_after_the_ack() -> None:
    pongs: list[str] = []

    async def handler(ws: ServerConnection) -> None:
        assert (await receive(ws))["type"] == "connection_init"
        await send(ws, type="ping")
        pongs.append((await receive(ws))["type"])
        await send(ws, type="connection_ack")
        await send(ws, type="ping", payload={"n": 2})
        pongs.append((await receive(ws))["type"])
        await hold(ws)

    async with scripted(handler) as url, protocol.connect(url, INIT):
        await eventually(lambda: len(pongs) == 2)
    assert pongs == ["pong", "pong"]


async def test_results_are_routed_by_operation_id() -> None:
    async def handler(ws: ServerConnection) -> None:
        await acknowledge(ws)
        first, second = await receive(ws), await receive(ws)
        # Answer in the opposite order, to show routing is by id and not by arrival.
        for op in (second, first):
            await send(ws, type="next", id=op["id"], payload={"data": op["payload"]["query"]})
            await send(ws, type="complete", id=op["id"])
        await hold(ws)

    async with scripted(handler) as url, protocol.connect(url, INIT) as conn:
        results = await asyncio.gather(conn.execute("query A"), conn.execute("query B"))
    assert list(results) == [{"data": "query A"}, {"data": "query B"}]


async def test_an_error_message_ends_only_its_operation() -> None:
    async def handler(ws: ServerConnection) -> None:
        await acknowledge(ws)
        op = await receive(ws)
        await send(ws, type="error", id=op["id"], payload=[{"message": "broker unavailable"}])
        op = await receive(ws)
        await send(ws, type="next", id=op["id"], payload={"data": {"ok": True}})
        await send(ws, type="complete", id=op["id"])
        await hold(ws)

    async with scripted(handler) as url, protocol.connect(url, INIT) as conn:
        with pytest.raises(OperationError, match="broker unavailable") as failed:
            await conn.execute("subscription { x }")
        assert failed.value.errors == [{"message": "broker unavailable"}]
        assert await conn.execute("{ ok }") == {"data": {"ok": True}}


async def test_a_subscriber_that_falls_behind_is_ended_and_the_server_told() -> None:
    completes: list[str] = []

    async def handler(ws: ServerConnection) -> None:
        await acknowledge(ws)
        op = await receive(ws)
        for i in range(5):
            await send(ws, type="next", id=op["id"], payload={"data": i})
        completes.append((await receive(ws))["type"])
        await hold(ws)

    async with scripted(handler) as url, protocol.connect(url, INIT, max_pending=3) as conn:
        op = await conn.start("subscription { x }", op_id="s")
        await eventually(lambda: completes == ["complete"])
        received: list[Any] = []

        async def drain() -> None:
            async for payload in op:
                received.append(payload["data"])

        with pytest.raises(OperationError, match="fell 3 behind"):
            await drain()
    assert received == [0, 1, 2]


async def test_an_unreadable_message_closes_with_4004_and_fails_operations() -> None:
    async def handler(ws: ServerConnection) -> None:
        await acknowledge(ws)
        await receive(ws)
        await ws.send("not json")
        await hold(ws)

    async with scripted(handler) as url, protocol.connect(url, INIT) as conn:
        with pytest.raises(ConnectionLost, match="4004"):
            await conn.execute("{ x }")
        assert conn.closed.done()


async def test_no_ack_in_time_is_a_retryable_4504() -> None:
    async def handler(ws: ServerConnection) -> None:
        await receive(ws)
        await hold(ws)

    async with scripted(handler) as url:
        with pytest.raises(ConnectionLost, match="4504") as failed:
            async with protocol.connect(url, INIT, ack_timeout=0.05):
                pass
    assert failed.value.retryable


async def test_a_server_without_the_subprotocol_is_a_client_bug() -> None:
    async with scripted(hold, subprotocols=None) as url:
        with pytest.raises(ClientBug, match="graphql-transport-ws"):
            async with protocol.connect(url, INIT):
                pass


@pytest.mark.parametrize(
    ("status", "error"),
    [(403, ConnectionRejected), (401, ConnectionRejected), (404, ClientBug), (503, ConnectionLost)],
)
async def test_handshake_refusals_are_classified(status: int, error: type[Exception]) -> None:
    def refuse(connection: ServerConnection, request: Request) -> Response:
        return Response(status, HTTPStatus(status).phrase, Headers(), b"")

    async with scripted(hold, process_request=refuse) as url:
        with pytest.raises(error):
            async with protocol.connect(url, INIT):
                pass


@pytest.mark.parametrize(
    ("code", "kind"),
    [(4403, ConnectionRejected), (4400, ClientBug), (4409, ClientBug), (1006, ConnectionLost),
     (1011, ConnectionLost), (4500, ConnectionLost), (1008, ConnectionLost),
     (1009, ConnectionLost), (None, ConnectionLost)],
)  # fmt: skip
def test_close_codes_map_to_errors(code: int | None, kind: type[Exception]) -> None:
    assert type(closed_error(code)) is kind


async def test_a_reused_active_id_is_refused_locally() -> None:
    async def handler(ws: ServerConnection) -> None:
        await acknowledge(ws)
        await hold(ws)

    async with scripted(handler) as url, protocol.connect(url, INIT) as conn:
        await conn.start("subscription { x }", op_id="commands")
        with pytest.raises(ClientBug, match="still active"):
            await conn.start("subscription { x }", op_id="commands")
