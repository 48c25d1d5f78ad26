"""The GraphQL endpoint: the only place that knows about HTTP and websocket transports."""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.schema import BaseSchema, Schema
from strawberry.types.execution import ExecutionResult

from app.auth import clear_cookie, request_token, session_cookie
from resolvers.auth import authenticate
from resolvers.context import Context, RequestInfo, Services
from schema.classroom.fast_ingest import FastReports

if TYPE_CHECKING:
    from cross_web import AsyncHTTPRequestAdapter


def _client_ip(request: Request | WebSocket) -> str | None:
    return request.client.host if request.client else None


class SchoolGraphQL(GraphQL[Context, None]):
    def __init__(self, schema: BaseSchema, services: Services) -> None:
        settings = services.settings
        super().__init__(
            schema,
            graphql_ide="graphiql" if settings.debug and not settings.production else None,
            allow_queries_via_get=False,
            # Websockets go to app.ws.hub.Hub (multiplexed subscriptions); none reach this view.
            subscription_protocols=(),
        )
        self.services = services
        # The response being built for each HTTP context, so cookies follow login and logout.
        self._contexts: weakref.WeakKeyDictionary[Response, Context] = weakref.WeakKeyDictionary()
        limits = settings.limits
        #: Device reports answered without GraphQL execution (the same bytes, see the module).
        self.reports = (
            FastReports(schema, max_chars=limits.max_query_chars, max_tokens=limits.max_tokens)
            if isinstance(schema, Schema)
            else None
        )

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        # Websockets are served by app.ws.hub.Hub; this view only sees HTTP requests.
        assert isinstance(request, Request)  # noqa: S101 - routing guarantees it
        info = RequestInfo(
            ip=_client_ip(request), request_id=request.scope.get("state", {}).get("request_id")
        )
        token = request_token(self.services.settings, request.headers, request.cookies)
        ctx = Context(self.services, viewer=await authenticate(self.services, token), request=info)
        if isinstance(response, Response):
            self._contexts[response] = ctx
        return ctx

    async def execute_single(
        self,
        request: Request,
        request_adapter: AsyncHTTPRequestAdapter,
        sub_response: Response,
        context: Context,
        root_value: None,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        # Mutations only over POST; operation extensions are GraphQL's to interpret.
        if self.reports is not None and request_adapter.method == "POST":
            report = (
                None
                if request_data.extensions
                else self.reports.prepare(
                    request_data.query, request_data.variables, request_data.operation_name
                )
            )
            if report is not None:
                return await self.reports.execute(report, context)
        return await super().execute_single(
            request, request_adapter, sub_response, context, root_value, request_data
        )

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
