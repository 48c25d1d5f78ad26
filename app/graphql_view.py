"""The GraphQL endpoint: the only place that knows about HTTP and websocket transports."""

from __future__ import annotations

import weakref
from datetime import timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import GraphQLHTTPResponse
from strawberry.schema import BaseSchema
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types.unset import UnsetType

from app.auth import clear_cookie, request_token, session_cookie
from resolvers.auth import authenticate
from resolvers.context import Context, RequestInfo, Services


def _client_ip(request: Request | WebSocket) -> str | None:
    return request.client.host if request.client else None


class SchoolGraphQL(GraphQL[Context, None]):
    def __init__(self, schema: BaseSchema, services: Services) -> None:
        settings = services.settings
        limits = settings.limits
        super().__init__(
            schema,
            graphql_ide="graphiql" if settings.debug and not settings.production else None,
            allow_queries_via_get=False,
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
            connection_init_wait_timeout=timedelta(seconds=limits.ws_init_timeout_seconds),
            max_subscriptions_per_connection=limits.ws_max_subscriptions,
            allowed_origins=[o for o in settings.allowed_origins if o != "*"],
        )
        self.services = services
        # The response being built for each HTTP context, so cookies follow login and logout.
        self._contexts: weakref.WeakKeyDictionary[Response, Context] = weakref.WeakKeyDictionary()

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        info = RequestInfo(
            ip=_client_ip(request), request_id=request.scope.get("state", {}).get("request_id")
        )
        if isinstance(request, WebSocket):
            cookie = request_token(self.services.settings, {}, request.cookies)
            return Context(self.services, request=info, cache_loaders=False, cookie_token=cookie)
        token = request_token(self.services.settings, request.headers, request.cookies)
        ctx = Context(self.services, viewer=await authenticate(self.services, token), request=info)
        if isinstance(response, Response):
            self._contexts[response] = ctx
        return ctx

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        params = context.connection_params or {}
        token = params.get("authToken")
        token = token if isinstance(token, str) else context.cookie_token
        context.viewer = await authenticate(self.services, token)
        if context.viewer is None:
            raise ConnectionRejectionError({"reason": "authentication failed"})
        return await super().on_ws_connect(context)

    def create_response(
        self, response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse], sub_response: Response
    ) -> Response:
        ctx = self._contexts.pop(sub_response, None)
        if ctx is not None:
            settings = self.services.settings
            if ctx.new_session is not None:
                sub_response.headers.append(
                    "set-cookie",
                    session_cookie(
                        settings, ctx.new_session.token, settings.session_absolute_seconds
                    ),
                )
            elif ctx.end_session:
                sub_response.headers.append("set-cookie", clear_cookie(settings))
        retry_after = _retry_after(response_data)
        if retry_after is not None:
            sub_response.status_code = 429
            sub_response.headers["retry-after"] = str(retry_after)
        return super().create_response(response_data, sub_response)


def _retry_after(data: Any) -> int | None:
    if not isinstance(data, dict):
        return None
    for error in data.get("errors") or ():
        extensions = error.get("extensions") or {}
        if extensions.get("code") == "RATE_LIMITED":
            return int(extensions.get("retryAfter", 1))
    return None


__all__ = ["SchoolGraphQL"]
