"""A small graphql-transport-ws client: init/ack, ping/pong, operations routed by id."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
from collections import deque
from collections.abc import AsyncIterator, Mapping
from types import TracebackType
from typing import Any

from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, InvalidURI, WebSocketException
from websockets.typing import Subprotocol

from agent.errors import (
    SUBPROTOCOL,
    ClientBug,
    ConnectionLost,
    ConnectionRejected,
    OperationError,
    OperationTimeout,
    ProtocolError,
    closed_error,
)

log = logging.getLogger(__name__)
Payload = dict[str, Any]


class Operation:
    """One subscribe id: an async iterator of ``next`` payloads with a bounded backlog."""

    def __init__(self, op_id: str, max_pending: int) -> None:
        self.id = op_id
        self._items: deque[Payload] = deque()
        self._max_pending = max_pending
        self._wakeup = asyncio.Event()
        self.failure: ProtocolError | None = None
        self.done = False

    def push(self, payload: Payload) -> bool:
        """Queue a result; False when the consumer fell too far behind (the op then fails)."""
        if len(self._items) >= self._max_pending:
            self.fail(OperationError(f"operation {self.id!r} fell {self._max_pending} behind"))
            return False
        self._items.append(payload)
        self._wakeup.set()
        return True

    def fail(self, error: ProtocolError) -> None:
        if not self.done:
            self.failure, self.done = error, True
            self._wakeup.set()

    def finish(self) -> None:
        self.done = True
        self._wakeup.set()

    def __aiter__(self) -> Operation:
        return self

    async def __anext__(self) -> Payload:
        # Results that arrived before the end are delivered first, then the end itself.
        while not self._items and not self.done:
            self._wakeup.clear()
            await self._wakeup.wait()
        if self._items:
            return self._items.popleft()
        if self.failure is not None:
            raise self.failure
        raise StopAsyncIteration


class GraphQLWebSocket:
    """An acknowledged graphql-transport-ws connection; open one with :func:`connect`."""

    def __init__(self, ws: ClientConnection, *, max_pending: int = 256) -> None:
        self._ws = ws
        self._max_pending = max_pending
        self._ops: dict[str, Operation] = {}
        self._ids = itertools.count(1)
        self._reader: asyncio.Task[None] | None = None
        self.closed: asyncio.Future[ProtocolError] = asyncio.get_running_loop().create_future()

    async def _send(self, message: Mapping[str, Any]) -> None:
        try:
            await self._ws.send(json.dumps(message, separators=(",", ":")))
        except ConnectionClosed as exc:
            raise self._close_error(exc) from exc

    def _close_error(self, exc: ConnectionClosed | None = None) -> ProtocolError:
        if self.closed.done():
            return self.closed.result()
        frame = (exc.rcvd if exc else None) or self._ws.protocol.close_rcvd
        return closed_error(frame.code if frame else 1006, frame.reason if frame else "")

    async def initialise(self, payload: Mapping[str, Any], ack_timeout: float) -> None:
        """Send ``connection_init`` and wait for the ack, answering pings meanwhile."""
        await self._send({"type": "connection_init", "payload": dict(payload)})
        try:
            async with asyncio.timeout(ack_timeout):
                while True:
                    message = _decode(await self._ws.recv())
                    if message.get("type") == "connection_ack":
                        break
                    if message.get("type") == "ping":
                        await self._send({"type": "pong"})
                    elif message.get("type") != "pong":
                        raise ConnectionLost(f"expected connection_ack, got {message.get('type')}")
        except TimeoutError:
            await self._ws.close(4504, "Connection acknowledgement timeout")
            raise ConnectionLost("no connection_ack in time", 4504) from None
        except ConnectionClosed as exc:
            raise self._close_error(exc) from exc
        except ValueError as exc:
            await self._ws.close(4004, "Bad response")
            raise ConnectionLost(f"bad message from server: {exc}", 4004) from exc
        self._reader = asyncio.create_task(self._read(), name=f"gql-ws-reader-{id(self)}")

    async def _read(self) -> None:
        error: ProtocolError = ConnectionLost("connection closed by client", 1000)
        try:
            async for raw in self._ws:
                await self._dispatch(_decode(raw))
            error = self._close_error()
        except ConnectionClosed as exc:
            error = self._close_error(exc)
        except ProtocolError as exc:  # a pong or complete we could not send
            error = exc
        except ValueError as exc:
            # The spec's answer to an unreadable message is to close at once (4004 BadResponse).
            error = ConnectionLost(f"bad message from server: {exc}", 4004)
            await self._ws.close(4004, "Bad response")
        finally:
            if not self.closed.done():
                self.closed.set_result(error)
            for op in self._ops.values():
                op.fail(error)
            self._ops.clear()

    async def _dispatch(self, message: Payload) -> None:
        kind, op_id = message.get("type"), message.get("id")
        if kind == "ping":
            await self._send({"type": "pong"})
            return
        if kind in ("pong", "connection_ack"):
            return
        if kind not in ("next", "error", "complete") or not isinstance(op_id, str):
            raise ValueError(f"unexpected message type {kind!r}")
        op = self._ops.get(op_id)
        if op is None:
            return  # the spec says to ignore messages for ids we consider completed
        if kind == "next":
            payload = message.get("payload")
            if not isinstance(payload, dict):
                raise ValueError("next without an object payload")
            if not op.push(payload):
                # Tell the server to stop too, so it holds no stream nobody reads.
                del self._ops[op_id]
                await self._send({"type": "complete", "id": op_id})
            return
        del self._ops[op_id]
        if kind == "complete":
            op.finish()
        else:
            raw_errors = message.get("payload")
            errors = raw_errors if isinstance(raw_errors, list) else [raw_errors]
            messages = "; ".join(str(e.get("message", e)) for e in errors if isinstance(e, dict))
            op.fail(OperationError(messages or "operation failed", errors))

    async def start(
        self, query: str, variables: Mapping[str, Any] | None = None, *, op_id: str | None = None
    ) -> Operation:
        """Send ``subscribe``; the returned operation yields each ``next`` payload."""
        if self.closed.done():
            raise self.closed.result()
        op_id = op_id or f"op-{next(self._ids)}"
        if op_id in self._ops:
            raise ClientBug(f"operation id {op_id!r} is still active")  # avoids a 4409 close
        op = self._ops[op_id] = Operation(op_id, self._max_pending)
        payload: Payload = {"query": query}
        if variables is not None:
            payload["variables"] = dict(variables)
        try:
            await self._send({"type": "subscribe", "id": op_id, "payload": payload})
        except ProtocolError:
            self._ops.pop(op_id, None)
            raise
        return op

    async def stop(self, op: Operation) -> None:
        """Send ``complete`` for an operation still running; a no-op once it has ended."""
        if self._ops.get(op.id) is op:
            del self._ops[op.id]
            op.finish()
            with contextlib.suppress(ProtocolError):
                await self._send({"type": "complete", "id": op.id})

    async def execute(
        self, query: str, variables: Mapping[str, Any] | None = None, *, time_limit: float = 30.0
    ) -> Payload:
        """Run a query or mutation over the socket: one ``next``, then ``complete``."""
        op = await self.start(query, variables)
        result: Payload | None = None
        try:
            async with asyncio.timeout(time_limit):
                async for payload in op:
                    result = payload if result is None else result
        except TimeoutError:
            raise OperationTimeout(f"no answer within {time_limit:g} s") from None
        finally:
            await self.stop(op)
        if result is None:
            raise OperationError("operation completed without a result")
        return result

    async def aclose(self, code: int = 1000, reason: str = "") -> None:
        with contextlib.suppress(WebSocketException, OSError):
            await self._ws.close(code, reason)
        if self._reader is not None:
            await self._reader
        elif not self.closed.done():
            self.closed.set_result(ConnectionLost("connection closed by client", code))

    async def __aenter__(self) -> GraphQLWebSocket:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


def _decode(raw: str | bytes) -> Payload:
    message = json.loads(raw)
    if not isinstance(message, dict):
        raise ValueError("message is not a JSON object")
    return message


@contextlib.asynccontextmanager
async def connect(
    url: str,
    init_payload: Mapping[str, Any],
    *,
    ack_timeout: float = 10.0,
    open_timeout: float = 10.0,
    max_pending: int = 256,
    max_size: int = 2**20,
) -> AsyncIterator[GraphQLWebSocket]:
    """Open, initialise and acknowledge a connection; close it (1000) on exit."""
    try:
        # No compression: a deflate context costs ~100 KB; hundreds of devices share a process.
        ws = await ws_connect(
            url,
            subprotocols=[Subprotocol(SUBPROTOCOL)],
            compression=None,
            open_timeout=open_timeout,
            max_size=max_size,
            max_queue=16,
        )
    except InvalidStatus as exc:
        status = exc.response.status_code
        if status in (401, 403):
            raise ConnectionRejected(f"handshake refused with HTTP {status}") from exc
        if 400 <= status < 500 and status not in (408, 429):
            raise ClientBug(f"handshake refused with HTTP {status}; is the URL right?") from exc
        raise ConnectionLost(f"handshake refused with HTTP {status}") from exc
    except InvalidURI as exc:
        raise ClientBug(f"bad URL {url!r}: {exc}") from exc
    except (OSError, TimeoutError, WebSocketException) as exc:
        raise ConnectionLost(f"cannot connect to {url}: {exc!r}") from exc
    conn = GraphQLWebSocket(ws, max_pending=max_pending)
    try:
        if ws.subprotocol != SUBPROTOCOL:
            raise ClientBug(f"server does not speak {SUBPROTOCOL}", 4406)
        await conn.initialise(init_payload, ack_timeout)
        yield conn
    finally:
        await conn.aclose()


__all__ = ["GraphQLWebSocket", "Operation", "connect"]
