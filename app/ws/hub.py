"""All websocket connections of this process: the endpoint, the registry and revocations."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from typing import Any
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.requests import cookie_parser
from starlette.types import Receive, Scope, Send
from strawberry import Schema

from app.auth import cookie_name
from app.ws import frames
from app.ws.cohorts import Cohorts
from app.ws.connection import Connection
from realtime import channels
from realtime.broker import BrokerError
from realtime.events import EventError, Revoked
from resolvers.context import Context, RequestInfo, Services
from schema.classroom.fast_ingest import FastReports

log = logging.getLogger("pupil_progress.ws")


class Hub:
    """The `/graphql` websocket endpoint (ASGI) and the connections it serves."""

    def __init__(self, schema: Schema, services: Services) -> None:
        self.schema = schema
        self.services = services
        self.cohorts = Cohorts(self)
        limits = services.settings.limits
        #: Device reports answered without GraphQL execution (the same bytes, see the module).
        self.reports = FastReports(
            schema, max_chars=limits.max_query_chars, max_tokens=limits.max_tokens
        )
        self.connections: set[Connection] = set()
        self._by_credential: dict[tuple[str, int], set[Connection]] = defaultdict(set)
        self._listener: asyncio.Task[None] | None = None

    # --- ASGI ------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        message = await receive()
        if message["type"] != "websocket.connect":
            return
        headers = Headers(scope=scope)
        if not self._origin_allowed(headers):
            # Before accept: the server answers the handshake with HTTP 403.
            await send({"type": "websocket.close", "code": frames.POLICY_VIOLATION})
            return
        offered = scope.get("subprotocols") or []
        if frames.PROTOCOL not in offered:
            await send({"type": "websocket.accept"})
            await send(
                {
                    "type": "websocket.close",
                    "code": frames.SUBPROTOCOL_NOT_ACCEPTABLE,
                    "reason": "Subprotocol not acceptable",
                }
            )
            return
        await send({"type": "websocket.accept", "subprotocol": frames.PROTOCOL})
        cookies = cookie_parser(headers.get("cookie", ""))
        client = scope.get("client")
        context = Context(
            self.services,
            request=RequestInfo(ip=client[0] if client else None),
            cache_loaders=False,
            cookie_token=cookies.get(cookie_name(self.services.settings)) or None,
        )
        connection = Connection(self, send, context)
        self.connections.add(connection)
        await connection.serve(receive)

    def _origin_allowed(self, headers: Headers) -> bool:
        origin = headers.get("origin")
        if origin is None:
            return True
        allowed = {o for o in self.services.settings.allowed_origins if o != "*"}
        return origin in allowed or urlsplit(origin).netloc == headers.get("host", "")

    # --- registry and revocation -----------------------------------------------------------

    @staticmethod
    def _credentials(connection: Connection) -> list[tuple[str, int]]:
        viewer = connection.viewer
        if viewer is None:
            return []
        pairs = [
            ("session", viewer.session_id),
            ("device", viewer.device_id),
            ("api_key", viewer.api_key_id),
        ]
        return [(kind, value) for kind, value in pairs if value is not None]

    def register(self, connection: Connection) -> None:
        for credential in self._credentials(connection):
            self._by_credential[credential].add(connection)

    def forget(self, connection: Connection) -> None:
        self.connections.discard(connection)
        for credential in self._credentials(connection):
            holders = self._by_credential.get(credential)
            if holders is not None:
                holders.discard(connection)
                if not holders:
                    del self._by_credential[credential]

    async def revoke(self, event: Revoked) -> None:
        doomed: set[Connection] = set()
        for kind, ids in (
            ("session", event.sessions),
            ("device", event.devices),
            ("api_key", event.api_keys),
        ):
            for value in ids:
                doomed |= self._by_credential.get((kind, value), set())
        for connection in doomed:
            await connection.close(frames.FORBIDDEN, "Credentials revoked")

    async def _listen_for_revocations(self) -> None:
        while True:
            try:
                async with self.services.broker.subscribe(channels.revocations()) as messages:
                    async for message in messages:
                        with contextlib.suppress(EventError):
                            await self.revoke(Revoked.decode(message.data))
            except BrokerError as error:
                # Missed revocations are caught by each socket's periodic re-validation.
                log.warning("revocation listener interrupted: %s", error)
                await asyncio.sleep(1.0)

    async def __aenter__(self) -> Hub:
        self._listener = asyncio.create_task(self._listen_for_revocations())
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
        for connection in list(self.connections):
            await connection.close(frames.GOING_AWAY, "Server shutting down")
        await self.cohorts.aclose()


__all__ = ["Hub"]
