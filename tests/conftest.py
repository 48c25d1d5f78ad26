"""Test wiring: a private database per run (SQLite or PostgreSQL), services, a GraphQL runner."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from strawberry.types.execution import ExecutionResult
from tortoise.context import TortoiseContext

from app.config import Settings
from app.db import tortoise_config
from app.security.crypto import MasterKey
from app.security.passwords import PasswordService
from app.services import build_services, running
from realtime.broker import BrokerUnavailable
from realtime.live_state import LiveStateUnavailable
from resolvers.context import Context, RequestInfo, Services, Viewer
from schema import build_schema
from tests import backends

#: At the OWASP floor: real argon2id, fast enough for hundreds of logins in a test run.
FAST_HASHER = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)
SCHEMA = build_schema(Settings().limits)
TEST_IP = "203.0.113.9"


class Clock:
    """A controllable clock: tests step it past timeouts instead of sleeping."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture(scope="session")
def database_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if backends.POSTGRES:
        try:
            url = asyncio.run(backends.create_postgres_database())
        except OSError as error:
            backends.unreachable("PostgreSQL", error)
        yield url
        asyncio.run(backends.drop_postgres_database(url))
    else:
        yield str(asyncio.run(backends.create_sqlite_template(tmp_path_factory.mktemp("db"))))


@pytest.fixture
async def database_url(database_template: str, tmp_path: Path) -> AsyncIterator[str]:
    """This test's database, empty but migrated, open as Tortoise's default connection."""
    url = (
        database_template
        if backends.POSTGRES
        else backends.sqlite_copy(Path(database_template), tmp_path)
    )
    ctx = TortoiseContext()
    async with ctx:
        await ctx.init(config=tortoise_config(url), _enable_global_fallback=True)
        if backends.POSTGRES:
            await backends.truncate_all()
        yield url


@pytest.fixture
def settings() -> Settings:
    return Settings(
        master_key=MasterKey.generate().to_text(),
        broker_url=backends.REDIS_URL or "memory://",
        # A private key prefix per test, so runs sharing one Redis never see each other.
        namespace=f"pptest-{uuid.uuid4().hex[:10]}",
    )


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def services(database_url: str, settings: Settings, clock: Clock) -> AsyncIterator[Services]:
    built = build_services(settings, passwords=PasswordService(FAST_HASHER))
    built.now = clock
    try:
        async with running(built):
            yield built
    except (OSError, BrokerUnavailable, LiveStateUnavailable) as error:
        backends.unreachable("Redis", error)


GraphQLRunner = Callable[..., Awaitable[ExecutionResult]]


def context_for(services: Services, viewer: Viewer | None) -> Context:
    return Context(services, viewer=viewer, request=RequestInfo(ip=TEST_IP, request_id="test"))


@pytest.fixture
def gql(services: Services) -> GraphQLRunner:
    """Execute a document as ``viewer`` (anonymous when None) against the hardened schema."""

    async def run(document: str, viewer: Viewer | None = None, **variables: Any) -> ExecutionResult:
        return await SCHEMA.execute(
            document, variable_values=variables, context_value=context_for(services, viewer)
        )

    return run
