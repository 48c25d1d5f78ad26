"""A scripted graphql-transport-ws server that records everything, plus a fake clock and sleep."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

Message = dict[str, Any]
TOKEN = "ppd_test_token"

#: Condition polling step, and the real pause a fake sleep takes (so other tasks run).
POLL_SECONDS = 0.01
FAKE_SLEEP_SECONDS = 0.005


async def eventually(predicate: Callable[[], object], within: float = 5.0) -> None:
    """Wait (polling briefly) until ``predicate()`` is true; fail after ``within`` seconds."""
    async with asyncio.timeout(within):
        # Polling, not an Event: the predicates look at state no single event covers.
        while not predicate():  # noqa: ASYNC110
            await asyncio.sleep(POLL_SECONDS)


def seeded(seed: int) -> random.Random:
    return random.Random(seed)  # noqa: S311 - test determinism, not secrets


class FakeClock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class FakeSleep:
    """Records the delays asked for; yields briefly instead of waiting them out."""

    def __init__(self, on_call: Callable[[int], None] | None = None) -> None:
        self.delays: list[float] = []
        self.on_call = on_call

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
        if self.on_call is not None:
            self.on_call(len(self.delays))
        await asyncio.sleep(FAKE_SLEEP_SECONDS)


class FakeServer:
    """Speaks just enough graphql-transport-ws to stand in for the platform in agent tests."""

    def __init__(self) -> None:
        self.port = 0
        self.inits: list[Any] = []
        self.messages: list[tuple[int, Message]] = []  # (connection number, message)
        self.connections: list[ServerConnection] = []
        self.pending: dict[str, Message] = {}  # undelivered or unacknowledged commands
        self.acked: list[str] = []
        self.reports: list[tuple[int, list[Message]]] = []
        # Scripts, consumed in order: what to do on init, on a commands subscribe, on a report.
        self.init_closes: list[int] = []
        self.command_replies: list[str] = []
        self.report_drops: int = 0
        self.report_drop_code = 1011
        self.status_for: Callable[[Message], str] = lambda event: "ACCEPTED"
        self.report_errors: list[Message] = []
        self.answer_pings = True
        self._subscribers: dict[ServerConnection, str] = {}
        self._server: Server | None = None

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/graphql"

    async def start(self) -> None:
        self._server = await serve(
            self._handle, "127.0.0.1", self.port, subprotocols=[Subprotocol("graphql-transport-ws")]
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    # -- what the tests look at --------------------------------------------------------

    def of_type(self, kind: str) -> list[Message]:
        return [m for _, m in self.messages if m.get("type") == kind]

    def command_subscribes(self) -> list[Message]:
        return [m for m in self.of_type("subscribe") if "deviceCommands" in m["payload"]["query"]]

    def event_ids(self, connection: int | None = None) -> list[str]:
        return [e["eventId"] for n, batch in self.reports if connection in (None, n) for e in batch]

    def events(self) -> list[Message]:
        return [e for _, batch in self.reports for e in batch]

    def subscribed(self) -> int:
        return len(self._subscribers)

    # -- driving the agent -------------------------------------------------------------

    async def push(self, command: Message) -> None:
        """Deliver a command to every live subscriber; kept for re-delivery until acked."""
        if command["kind"] != "POLICY":
            self.pending[command["id"]] = command
        for ws, op_id in list(self._subscribers.items()):
            await self._next(ws, op_id, {"data": {"deviceCommands": command}})

    async def close_all(self, code: int, reason: str = "") -> None:
        for ws in list(self.connections):
            await ws.close(code, reason)

    # -- the protocol ------------------------------------------------------------------

    async def _handle(self, ws: ServerConnection) -> None:
        self.connections.append(ws)
        number = len(self.connections)
        try:
            async for raw in ws:
                message = json.loads(raw)
                self.messages.append((number, message))
                await self._on_message(ws, number, message)
        except ConnectionClosed:
            pass
        finally:
            self._subscribers.pop(ws, None)

    async def _send(self, ws: ServerConnection, message: Message) -> None:
        await ws.send(json.dumps(message))

    async def _next(self, ws: ServerConnection, op_id: str, payload: Message) -> None:
        await self._send(ws, {"type": "next", "id": op_id, "payload": payload})

    async def _reply(self, ws: ServerConnection, op_id: str, payload: Message) -> None:
        await self._next(ws, op_id, payload)
        await self._send(ws, {"type": "complete", "id": op_id})

    async def _on_message(self, ws: ServerConnection, number: int, message: Message) -> None:
        kind, op_id = message["type"], message.get("id")
        if kind == "connection_init":
            self.inits.append(message.get("payload"))
            if self.init_closes:
                await ws.close(self.init_closes.pop(0), "scripted close")
            else:
                await self._send(ws, {"type": "connection_ack"})
        elif kind == "ping" and self.answer_pings:
            await self._send(ws, {"type": "pong"})
        elif kind == "complete" and self._subscribers.get(ws) == op_id:
            del self._subscribers[ws]
        elif kind == "subscribe":
            assert isinstance(op_id, str)
            await self._operation(ws, number, op_id, message["payload"])

    async def _operation(self, ws: ServerConnection, number: int, op_id: str, op: Message) -> None:
        query, variables = op["query"], op.get("variables") or {}
        if "deviceCommands" in query:
            reply = self.command_replies.pop(0) if self.command_replies else "stream"
            errors: list[Message] = [{"message": "broker unavailable"}]
            if reply == "error":
                await self._send(ws, {"type": "error", "id": op_id, "payload": errors})
            elif reply == "next-errors":  # what Strawberry does when the generator raises
                await self._reply(ws, op_id, {"data": None, "errors": errors})
            elif reply == "revoked":
                self.init_closes.append(4403)  # the token no longer works anywhere
                errors = [{"message": "revoked", "extensions": {"code": "UNAUTHENTICATED"}}]
                await self._reply(ws, op_id, {"data": None, "errors": errors})
            else:
                self._subscribers[ws] = op_id
                for command in list(self.pending.values()):
                    await self._next(ws, op_id, {"data": {"deviceCommands": command}})
        elif "acknowledgeDeviceCommands" in query:
            ids = variables["ids"]
            self.acked.extend(ids)
            for command_id in ids:
                self.pending.pop(command_id, None)
            result = {"acknowledged": len(ids), "errors": []}
            await self._reply(ws, op_id, {"data": {"acknowledgeDeviceCommands": result}})
        elif "reportActivity" in query:
            events = variables["input"]["events"]
            self.reports.append((number, events))
            if self.report_drops:
                self.report_drops -= 1
                await ws.close(self.report_drop_code, "scripted failure before answering")
                return
            results = [
                {
                    "eventId": e["eventId"],
                    "status": self.status_for(e),
                    "blocked": False,
                    "reason": None,
                }
                for e in events
            ]
            payload = {"results": results, "errors": self.report_errors}
            self.report_errors = []  # one-shot, like a bad field in one batch
            await self._reply(ws, op_id, {"data": {"reportActivity": payload}})


__all__ = ["TOKEN", "FakeClock", "FakeServer", "FakeSleep", "Message", "eventually", "seeded"]
