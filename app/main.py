"""The composition root: create_app wires settings, services, routes and the lifespan."""

from __future__ import annotations

import contextlib
import gc
import logging
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from tortoise.connection import get_connection
from tortoise.contrib.starlette import RegisterTortoise

from app.config import Settings
from app.db import tortoise_config
from app.errors import ConfigurationError
from app.graphql_view import SchoolGraphQL
from app.http import GraphQLRequestGuard, SecurityHeaders
from app.logs import install_log_filters
from app.metrics import CountRequests, Metrics
from app.services import build_services, running
from app.web.routes import dashboard_routes
from app.ws.hub import Hub
from models.staff import User
from resolvers.context import Services
from schema import build_schema

log = logging.getLogger("pupil_progress")


async def readiness(services: Services) -> dict[str, str]:
    """Each dependency's state: "ok" or what is wrong with it."""
    state: dict[str, str] = {}
    try:
        await get_connection("default").execute_query("SELECT 1")
        state["database"] = "ok"
    except Exception as exc:
        state["database"] = f"unavailable: {type(exc).__name__}"
    try:
        await services.broker.ping()
        state["broker"] = "ok"
    except Exception as exc:
        state["broker"] = f"unavailable: {services.broker.failure or type(exc).__name__}"
    return state


async def refuse_demo_accounts(settings: Settings) -> None:
    if settings.production and await User.filter(is_demo=True, is_active=True).exists():
        raise ConfigurationError(
            "Production refuses to start: demo accounts with the published "
            "demo password exist; deactivate them first."
        )


def create_app(
    settings: Settings, services: Services | None = None, *, manage_database: bool = True
) -> Starlette:
    """The ASGI app. Tests may pass ``services`` already running, and run the database."""
    owns_services = services is None
    services = services or build_services(settings)
    metrics = Metrics()
    schema = build_schema(settings.limits, introspection=not settings.production)
    graphql = SchoolGraphQL(schema, services)
    hub = Hub(schema, services)

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        state = await readiness(services)
        ready = all(v == "ok" for v in state.values())
        return JSONResponse(
            {"status": "ready" if ready else "unavailable", **state},
            status_code=200 if ready else 503,
        )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        install_log_filters()
        async with contextlib.AsyncExitStack() as stack:
            if manage_database:
                await stack.enter_async_context(
                    RegisterTortoise(app, config=tortoise_config(settings.database_url))
                )
            await refuse_demo_accounts(settings)
            if owns_services:
                await stack.enter_async_context(running(services))
            await stack.enter_async_context(hub)
            if owns_services:
                # What start-up built (modules, schema, ORM) lives as long as the process:
                # out of the collector's sight, every full collection (a pause of the event
                # loop, so of every live stream) has a third less to walk.
                gc.freeze()
            yield

    routes = [
        Route("/graphql", graphql, methods=["GET", "POST"]),
        WebSocketRoute("/graphql", hub),
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route("/metrics", metrics.endpoint),
        # The dashboards at `/`: pages and their static files, with their own strict CSP.
        *dashboard_routes(),
    ]
    middleware = [
        Middleware(SecurityHeaders),
        Middleware(
            CountRequests, metrics=metrics, routes={"/graphql", "/healthz", "/readyz", "/metrics"}
        ),
        Middleware(
            GraphQLRequestGuard,
            path="/graphql",
            max_body=settings.limits.max_body_bytes,
            allowed_origins=settings.allowed_origins,
            allow_ide=graphql.graphql_ide is not None,
        ),
    ]
    return Starlette(routes=routes, middleware=middleware, lifespan=lifespan)


def app_from_env() -> Starlette:
    """Entry point for ``uvicorn --factory app.main:app_from_env``."""
    return create_app(Settings.from_environ())


__all__ = ["app_from_env", "create_app", "readiness"]
