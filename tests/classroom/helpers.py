"""Shared builders and bounded waits for the classroom tests (no fixed sleeps)."""

from __future__ import annotations

import asyncio
import base64
import inspect
import itertools
import json
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from graphql import ExecutionResult
from starlette.applications import Starlette

from models.devices import Device
from models.groups import TeachingGroup
from models.learners import Learner
from models.schools import School
from models.staff import Role, User
from resolvers.context import PrincipalKind, Services, Viewer
from schema.common import to_global_id
from tests import factories, waiting
from tests.conftest import SCHEMA, TEST_IP, context_for

#: Upper bound for anything the tests wait for; a healthy run needs a small fraction of it.
TIMEOUT = 5.0
STEP = 0.01
_event_ids = itertools.count(1)

Stream = AsyncGenerator[ExecutionResult, None]


def device_viewer(device: Device, learner: Learner | None) -> Viewer:
    """The viewer an enrolled device's token authenticates as."""
    return Viewer(
        PrincipalKind.DEVICE,
        device.school_id,
        frozenset({device.school_id}),
        device_id=device.id,
        learner_id=learner.id if learner else None,
    )


@dataclass(frozen=True, slots=True)
class Pupil:
    learner: Learner
    device: Device
    viewer: Viewer


@dataclass(frozen=True, slots=True)
class Class:
    """A school with one teacher teaching one group of pupils, each with a device."""

    school: School
    teacher: User
    teacher_viewer: Viewer
    group: TeachingGroup
    pupils: list[Pupil]

    @property
    def pupil(self) -> Pupil:
        return self.pupils[0]

    @property
    def group_id(self) -> str:
        return to_global_id("Group", self.group.id)


async def a_pupil(services: Services, school: School, **fields: Any) -> Pupil:
    learner = await factories.learner(services, school, **fields)
    device, _ = await factories.device(school, learner_row=learner)
    return Pupil(learner, device, device_viewer(device, learner))


async def a_class(
    services: Services, *, pupils: int = 1, school: School | None = None, **group: Any
) -> Class:
    school = school or await factories.school(services)
    teacher = await factories.staff(school, Role.TEACHER)
    members = [await a_pupil(services, school) for _ in range(pupils)]
    row = await factories.group(
        school, teachers=[teacher], learners=[p.learner for p in members], **group
    )
    return Class(school, teacher, factories.viewer(teacher, school, Role.TEACHER), row, members)


def event(kind: str, at: datetime, *, event_id: str | None = None, **fields: Any) -> dict[str, Any]:
    """One `ActivityEventInput` as GraphQL variables; fields use the schema's camelCase."""
    return {
        "eventId": event_id or f"evt-{next(_event_ids)}",
        "occurredAt": at.isoformat(),
        "kind": kind,
        **fields,
    }


def jpeg(size: int = 64) -> bytes:
    """Bytes that pass the ingest's JPEG check (the SOI marker), ``size`` long."""
    return b"\xff\xd8\xff\xe0" + b"\x00" * (size - 4)


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def ok(result: ExecutionResult) -> dict[str, Any]:
    """The data of a result that must have no top-level errors."""
    assert result.errors is None, result.errors
    assert result.data is not None
    return result.data


def error_code(result: ExecutionResult) -> object:
    assert result.errors, result
    return (result.errors[0].extensions or {}).get("code")


async def wait_until(condition: Callable[[], bool | Awaitable[bool]]) -> None:
    """Poll ``condition``; fail after TIMEOUT instead of sleeping blindly."""
    await waiting.wait_until(condition, TIMEOUT)


async def subscribe(
    services: Services, viewer: Viewer | None, document: str, **variables: Any
) -> Stream:
    """A schema-level subscription stream as ``viewer``; wrap it in ``aclosing``."""
    stream = await SCHEMA.subscribe(
        document, variable_values=variables, context_value=context_for(services, viewer)
    )
    if not inspect.isasyncgen(stream):
        raise AssertionError(f"not a stream: {stream}")
    return cast(Stream, stream)


async def receive(stream: Stream) -> ExecutionResult:
    """The stream's next result, or a failure after TIMEOUT."""
    async with asyncio.timeout(TIMEOUT):
        return await anext(stream)


async def receive_after(
    stream: Stream,
    ready: Callable[[], bool],
    trigger: Callable[[], Awaitable[object]],
    *,
    within: float = TIMEOUT,
) -> ExecutionResult:
    """Wait for the stream to be subscribed (``ready``), run ``trigger``, return what arrives."""
    pending = asyncio.ensure_future(anext(stream))
    try:
        await wait_until(lambda: ready() or pending.done())
        await trigger()
        async with asyncio.timeout(within):
            return await pending
    finally:
        if not pending.done():
            pending.cancel()
            await asyncio.gather(pending, return_exceptions=True)


async def ended(stream: Stream) -> bool:
    """True when the stream has finished (its next step raises StopAsyncIteration)."""
    try:
        await receive(stream)
    except StopAsyncIteration:
        return True
    return False


class Socket:
    """A graphql-transport-ws client driving the app's ASGI websocket endpoint in-process."""

    def __init__(self, app: Starlette) -> None:
        self.app = app
        self.inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.task: asyncio.Task[None] | None = None
        self.closed: dict[str, Any] | None = None
        self._ids = 0

    async def open(self, token: str) -> Socket:
        scope = {
            "type": "websocket",
            "asgi": {"version": "3.0"},
            "scheme": "ws",
            "path": "/graphql",
            "raw_path": b"/graphql",
            "root_path": "",
            "query_string": b"",
            "headers": [(b"host", b"school.example")],
            "subprotocols": ["graphql-transport-ws"],
            "client": (TEST_IP, 50000),
            "server": ("school.example", 443),
            "state": {},
        }
        self.task = asyncio.create_task(self.app(scope, self.inbox.get, self.outbox.put))
        await self.inbox.put({"type": "websocket.connect"})
        accepted = await self._next()
        assert accepted["type"] == "websocket.accept", accepted
        await self.send({"type": "connection_init", "payload": {"authToken": token}})
        assert json.loads((await self._next())["text"]) == {"type": "connection_ack"}
        return self

    async def send(self, message: dict[str, Any]) -> None:
        await self.inbox.put({"type": "websocket.receive", "text": json.dumps(message)})

    async def _next(self) -> dict[str, Any]:
        async with asyncio.timeout(TIMEOUT):
            return await self.outbox.get()

    async def operation(self, payload: dict[str, Any]) -> list[str]:
        """Every frame the server sends for one operation, up to `complete` or `error`."""
        if self.closed is not None:
            return [f"closed {self.closed}"]
        self._ids += 1
        operation_id = f"report-{self._ids}"
        await self.send({"type": "subscribe", "id": operation_id, "payload": payload})
        frames: list[str] = []
        while True:
            sent = await self._next()
            if sent["type"] == "websocket.close":
                self.closed = sent
                return [*frames, f"closed {sent}"]
            text = sent["text"]
            frames.append(text)
            if json.loads(text)["type"] in ("complete", "error"):
                return frames

    async def close(self) -> None:
        if self.task is not None:
            await self.inbox.put({"type": "websocket.disconnect", "code": 1000})
            async with asyncio.timeout(TIMEOUT):
                await self.task

    async def frame(self) -> dict[str, Any]:
        """The next message the server sends: a frame's JSON, or the close."""
        sent = await self._next()
        if sent["type"] == "websocket.close":
            self.closed = sent
            return sent
        loaded: dict[str, Any] = json.loads(sent["text"])
        return loaded
