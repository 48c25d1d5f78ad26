"""Fixtures shared by the sign-in and credential tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from app.config import Settings
from app.security.throttle import Throttle
from app.services import ADDRESS_POLICY
from resolvers.context import Services
from tests.conftest import Clock


@pytest.fixture
async def throttle(services: Services, settings: Settings, clock: Clock) -> AsyncIterator[Throttle]:
    """The app's throttle, but reading the test clock (whole seconds, so backoffs are exact)."""
    clock.now = clock.now.replace(microsecond=0)
    original = services.throttle
    services.throttle = Throttle.from_url(
        settings.broker_url,
        namespace=settings.namespace,
        policy_by_scope={"address": ADDRESS_POLICY},
        clock=lambda: clock.now.timestamp(),
    )
    try:
        yield services.throttle
    finally:
        await services.throttle.aclose()
        services.throttle = original  # the services fixture closes the one it built
