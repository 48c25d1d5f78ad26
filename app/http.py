"""ASGI middleware: request ids, security headers on every response, body and request checks."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from urllib.parse import urlsplit

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

SECURITY_HEADERS = {
    "strict-transport-security": "max-age=63072000; includeSubDomains",
    "cache-control": "no-store",
    "content-security-policy": "default-src 'none'; frame-ancestors 'none'",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "strict-origin-when-cross-origin",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
}

#: The dashboards' pages: scripts, styles and fonts only from files we serve (no inline code),
#: screenshots as data: images, GraphQL and its websocket to this origin only (CSP3 'self'
#: covers ws:/wss: of the same host), never framed, forms only back to us.
DASHBOARD_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)


class SecurityHeaders:
    """Add the hardening headers to every HTTP response, errors included (TLS-05)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id

        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
                headers["x-request-id"] = request_id
                for name in ("server", "x-powered-by"):
                    if name in headers:
                        del headers[name]
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception:
            # Starlette's own error handler sits outside this middleware: answer the 500 here so
            # it too carries the headers, then re-raise so the error is logged.
            if not started:
                await _reply(send_with_headers, 500, "Unexpected error.")
            raise


async def _reply(
    send: Send, status: int, message: str, extra: Sequence[tuple[bytes, bytes]] = ()
) -> None:
    body = json.dumps({"errors": [{"message": message}]}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                *extra,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class GraphQLRequestGuard:
    """What reaches /graphql over HTTP: JSON POSTs, same-site, within the size limit (GQL-08)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        path: str,
        max_body: int,
        allowed_origins: Sequence[str],
        allow_ide: bool,
    ) -> None:
        self.app = app
        self.path = path
        self.max_body = max_body
        self.allowed_origins = {o for o in allowed_origins if o != "*"}
        self.allow_ide = allow_ide

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != self.path:
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        problem = self._problem(scope, headers)
        if problem is not None:
            status, message, extra = problem
            await _reply(send, status, message, extra)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, self._limited(receive), tracking_send)
        except BodyTooLarge:
            if started:
                raise
            await _reply(send, 413, f"The body must be at most {self.max_body} bytes.")

    def _problem(
        self, scope: Scope, headers: Headers
    ) -> tuple[int, str, list[tuple[bytes, bytes]]] | None:
        method = scope["method"]
        if method == "GET" and self.allow_ide and "text/html" in headers.get("accept", ""):
            return None
        if method != "POST":
            return 405, "Use POST with a JSON body.", [(b"allow", b"POST")]
        if headers.get("sec-fetch-site") == "cross-site":
            return 403, "Cross-site requests are refused.", []
        origin = headers.get("origin")
        if origin is not None and not self._origin_allowed(origin, headers.get("host", "")):
            return 403, "This origin is not allowed.", []
        content_type = headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != "application/json":
            return 415, "The body must be application/json.", []
        length = headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_body):
            return 413, f"The body must be at most {self.max_body} bytes.", []
        return None

    def _origin_allowed(self, origin: str, host: str) -> bool:
        return origin in self.allowed_origins or urlsplit(origin).netloc == host

    def _limited(self, receive: Receive) -> Receive:
        seen = 0

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body:
                    # A chunked body that lies about its size: stop reading, refuse it.
                    raise BodyTooLarge()
            return message

        return limited_receive


class BodyTooLarge(Exception):
    pass


__all__ = [
    "DASHBOARD_CSP",
    "SECURITY_HEADERS",
    "BodyTooLarge",
    "GraphQLRequestGuard",
    "SecurityHeaders",
]
