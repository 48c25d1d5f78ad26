"""One graphql-transport-ws connection: handshake state, operations, and a bounded outbox."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any

from strawberry.types.execution import PreExecutionError

from app.ws import frames
from resolvers.auth import authenticate
from resolvers.context import Context, Services, Viewer
from schema.classroom.fast_ingest import PreparedReport

if TYPE_CHECKING:
    from app.ws.hub import Hub

log = logging.getLogger("pupil_progress.ws")
#: Frames waiting for a slow client before it is dropped (the others are never delayed).
OUTBOX_LIMIT = 1000
#: A stream that has queued this many frames on a socket lets the writer run before it goes on:
#: a backlog (a class reporting at once) is read without the event loop turning, and would
#: otherwise overfill the outbox of a client that keeps up.
WRITER_TURN_AT = 64
#: Sessions are re-validated this often while a socket is open (expiry, logout missed by pub/sub).
REVALIDATE_SECONDS = 60.0
RATE_BURST = 120.0
RATE_PER_SECOND = 2.0


class Connection:
    def __init__(
        self, hub: Hub, send: Callable[[dict[str, Any]], Awaitable[None]], context: Context
    ) -> None:
        self.hub = hub
        self.services: Services = hub.services
        self._send = send
        self.context = context
        self.token: str | None = None
        self.viewer: Viewer | None = None
        self.init_received = False
        self.acknowledged = False
        self.closed = False
        self.operations: dict[str, asyncio.Task[None] | Any] = {}
        self._outbox: deque[str] = deque()
        #: The idle writer's wake-up (a bare future: lighter than an Event on the fan-out path).
        self._waiter: asyncio.Future[None] | None = None
        self._writer: asyncio.Task[None] | None = None
        self._tokens = RATE_BURST
        self._refilled = time.monotonic()

    # --- outgoing ---------------------------------------------------------------------------

    @property
    def backlog(self) -> int:
        """Frames queued and not yet handed to the transport."""
        return len(self._outbox)

    def push(self, frame: str) -> None:
        """Queue a frame; a client that cannot keep up is closed instead of slowing others."""
        if self.closed:
            return
        if len(self._outbox) >= OUTBOX_LIMIT:
            self.close_soon(frames.TRY_AGAIN_LATER, "Client too slow")
            return
        self._outbox.append(frame)
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)

    async def _write(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            if not self._outbox:
                self._waiter = loop.create_future()
                await self._waiter
            while self._outbox:
                await self._send({"type": "websocket.send", "text": self._outbox.popleft()})

    def close_soon(self, code: int, reason: str) -> None:
        if not self.closed:
            asyncio.get_running_loop().create_task(self.close(code, reason))

    async def close(self, code: int, reason: str) -> None:
        if self.closed:
            return
        self.closed = True
        log.info(
            "websocket closed code=%s reason=%s viewer=%s",
            code,
            reason,
            self.viewer.actor if self.viewer else None,
        )
        with contextlib.suppress(Exception):
            while self._outbox and code == 1000:
                await self._send({"type": "websocket.send", "text": self._outbox.popleft()})
            await self._send({"type": "websocket.close", "code": code, "reason": reason})

    # --- lifecycle --------------------------------------------------------------------------

    async def serve(self, receive: Callable[[], Awaitable[MutableMapping[str, Any]]]) -> None:
        self._writer = asyncio.create_task(self._write())
        timeout = asyncio.get_running_loop().call_later(
            self.services.settings.limits.ws_init_timeout_seconds, self._init_timeout
        )
        revalidate = asyncio.create_task(self._revalidate())
        try:
            while not self.closed:
                message = await receive()
                if message["type"] == "websocket.disconnect":
                    break
                text = message.get("text")
                if text is None:
                    text = (message.get("bytes") or b"").decode("utf-8", "replace")
                await self._on_text(text)
        finally:
            self.closed = True
            timeout.cancel()
            revalidate.cancel()
            await self._stop_all()
            if self._writer is not None:
                self._writer.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._writer
            self.hub.forget(self)

    def _init_timeout(self) -> None:
        if not self.init_received:
            self.close_soon(frames.INIT_TIMEOUT, "Connection initialisation timeout")

    async def _revalidate(self) -> None:
        while True:
            await asyncio.sleep(REVALIDATE_SECONDS)
            if self.acknowledged and await authenticate(self.services, self.token) is None:
                await self.close(frames.FORBIDDEN, "Session ended")
                return

    async def _stop_all(self) -> None:
        for operation_id in list(self.operations):
            await self.stop(operation_id)

    # --- incoming ---------------------------------------------------------------------------

    def _rate_ok(self) -> bool:
        now = time.monotonic()
        self._tokens = min(RATE_BURST, self._tokens + (now - self._refilled) * RATE_PER_SECOND)
        self._refilled = now
        self._tokens -= 1
        return self._tokens >= 0

    async def _on_text(self, text: str) -> None:
        if len(text) > self.services.settings.limits.ws_max_message_bytes:
            await self.close(frames.MESSAGE_TOO_BIG, "Message too big")
            return
        if not self._rate_ok():
            await self.close(frames.POLICY_VIOLATION, "Too many messages")
            return
        try:
            message = json.loads(text)
        except ValueError:
            await self.close(frames.BAD_REQUEST, "Invalid message received")
            return
        if not isinstance(message, dict) or not isinstance(message.get("type"), str):
            await self.close(frames.BAD_REQUEST, "Invalid message received")
            return
        handler = {
            "connection_init": self._on_init,
            "ping": self._on_ping,
            "pong": self._on_pong,
            "subscribe": self._on_subscribe,
            "complete": self._on_complete,
        }.get(message["type"])
        if handler is None:
            await self.close(frames.BAD_REQUEST, f"Unknown message type: {message['type'][:32]}")
            return
        await handler(message)

    async def _on_init(self, message: dict[str, Any]) -> None:
        if self.init_received:
            await self.close(frames.TOO_MANY_INITS, "Too many initialisation requests")
            return
        self.init_received = True
        payload = message.get("payload") or {}
        if not isinstance(payload, dict):
            await self.close(frames.BAD_REQUEST, "Invalid connection init payload")
            return
        token = payload.get("authToken")
        self.token = token if isinstance(token, str) else self.context.cookie_token
        self.viewer = await authenticate(self.services, self.token)
        if self.viewer is None:
            await self.close(frames.FORBIDDEN, "Forbidden")
            return
        self.context.viewer = self.viewer
        self.context.connection_params = payload
        self.acknowledged = True
        self.hub.register(self)
        self.push(frames.dumps({"type": "connection_ack"}))

    async def _on_ping(self, message: dict[str, Any]) -> None:
        pong: dict[str, Any] = {"type": "pong"}
        if isinstance(message.get("payload"), dict):
            pong["payload"] = message["payload"]
        self.push(frames.dumps(pong))

    async def _on_pong(self, message: dict[str, Any]) -> None:
        return None

    async def _on_subscribe(self, message: dict[str, Any]) -> None:
        if not self.acknowledged:
            await self.close(frames.UNAUTHORIZED, "Unauthorized")
            return
        operation_id = message.get("id")
        payload = message.get("payload")
        if (
            not isinstance(operation_id, str)
            or not 0 < len(operation_id) <= 128
            or not isinstance(payload, dict)
            or not isinstance(payload.get("query"), str)
            or not isinstance(payload.get("variables") or {}, dict)
            or not isinstance(payload.get("operationName") or "", str)
        ):
            await self.close(frames.BAD_REQUEST, "Invalid message received")
            return
        if operation_id in self.operations:
            await self.close(
                frames.SUBSCRIBER_EXISTS, f"Subscriber for {operation_id} already exists"
            )
            return
        if len(self.operations) >= self.services.settings.limits.ws_max_subscriptions:
            self.push(
                frames.error_frame(
                    operation_id,
                    [frames.public_error("Subscription limit reached", "RATE_LIMITED")],
                )
            )
            return
        query, variables = payload["query"], payload.get("variables") or {}
        name = payload.get("operationName") or None
        report = self.hub.reports.prepare(query, variables, name)
        if report is not None:
            self.operations[operation_id] = asyncio.create_task(self._report(operation_id, report))
            return
        joined = await self.hub.cohorts.join(self, operation_id, query, variables, name)
        if joined is None:
            self.operations[operation_id] = asyncio.create_task(
                self._execute(operation_id, query, variables, name)
            )

    async def _on_complete(self, message: dict[str, Any]) -> None:
        operation_id = message.get("id")
        if isinstance(operation_id, str):
            await self.stop(operation_id)

    # --- operations -------------------------------------------------------------------------

    async def stop(self, operation_id: str) -> None:
        handle = self.operations.pop(operation_id, None)
        if isinstance(handle, asyncio.Task):
            handle.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await handle
        elif handle is not None:
            self.hub.cohorts.leave(handle)

    def finished(self, operation_id: str, frame: str) -> None:
        """The server ends an operation: `complete` or `error`, and the id is free again."""
        self.operations.pop(operation_id, None)
        self.push(frame)

    async def _report(self, operation_id: str, report: PreparedReport) -> None:
        """A device report answered without GraphQL execution: the frames `_execute` sends."""
        try:
            result = await self.hub.reports.execute(report, self.context)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("websocket operation failed")
            self.finished(
                operation_id,
                frames.error_frame(
                    operation_id, [frames.public_error("Unexpected error.", "INTERNAL")]
                ),
            )
            return
        self.push(frames.next_frame(operation_id, frames.result_payload(result)))
        self.finished(operation_id, frames.complete_frame(operation_id))

    async def _execute(
        self, operation_id: str, query: str, variables: dict[str, Any], name: str | None
    ) -> None:
        try:
            stream = await self.hub.schema.stream(
                query, variable_values=variables, context_value=self.context, operation_name=name
            )
            async with contextlib.aclosing(stream):
                async for result in stream:
                    if isinstance(result, PreExecutionError):
                        errors = [dict(e.formatted) for e in result.errors or []]
                        self.finished(operation_id, frames.error_frame(operation_id, errors))
                        return
                    self.push(frames.next_frame(operation_id, frames.result_payload(result)))
                    if self.backlog >= WRITER_TURN_AT:
                        await asyncio.sleep(0)
            self.finished(operation_id, frames.complete_frame(operation_id))
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("websocket operation failed")
            self.finished(
                operation_id,
                frames.error_frame(
                    operation_id, [frames.public_error("Unexpected error.", "INTERNAL")]
                ),
            )


__all__ = ["Connection"]
