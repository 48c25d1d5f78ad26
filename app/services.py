"""Building the long-lived services from settings, and running them (app, CLI and tests)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import datetime

from app.config import Settings
from app.errors import ConfigurationError
from app.security.crypto import MasterKeyRing
from app.security.passwords import PasswordService
from app.security.throttle import Throttle, ThrottlePolicy
from realtime.broker import Broker
from realtime.live_state import LiveState
from resolvers.audit import AuditLog
from resolvers.classroom import WatchAccess
from resolvers.context import Services
from resolvers.device_state import DeviceDirectory
from resolvers.history import HistoryWriter, purge_history
from resolvers.keyring import Keyring
from resolvers.safeguarding.detectors import Safeguarding
from resolvers.safeguarding.routing import AlertRouter

#: A school's pupils share one public address: per-address backoff stays short so one child
#: mistyping cannot lock the whole school out; per-account limits do the real protecting.
ADDRESS_POLICY = ThrottlePolicy(
    free_failures=30, max_failures_per_window=1000, max_backoff_seconds=30
)


def build_services(settings: Settings, *, passwords: PasswordService | None = None) -> Services:
    if not settings.master_key:
        raise ConfigurationError("PP_MASTER_KEY or PP_MASTER_KEY_FILE must be set.")
    masters = MasterKeyRing.from_text(
        settings.master_key, settings.previous_master_keys, setting="PP_MASTER_KEY"
    )
    broker = Broker.from_url(settings.broker_url, namespace=settings.namespace)
    built: list[Services] = []

    def now() -> datetime:
        # Read through the Services object, so a clock a test sets there reaches every part.
        return built[0].now()

    services = Services(
        settings=settings,
        broker=broker,
        keyring=Keyring(masters),
        passwords=passwords
        or PasswordService(max_concurrent=settings.limits.max_concurrent_password_hashes),
        throttle=Throttle.from_url(
            settings.broker_url,
            namespace=settings.namespace,
            policy_by_scope={"address": ADDRESS_POLICY},
        ),
        audit=AuditLog(),
        live=LiveState.from_url(settings.broker_url, namespace=settings.namespace),
        devices=DeviceDirectory(broker, now),
        history=HistoryWriter(now),
        watch=WatchAccess(broker),
        safeguarding=Safeguarding.create(broker),
    )
    built.append(services)
    services.alert_router = AlertRouter(services)
    return services


RETENTION_EVERY = 3600.0
log = logging.getLogger("pupil_progress")


async def keep_retention(services: Services) -> None:
    """Delete expired activity history every hour, for as long as the process runs."""
    while True:
        # First sweep a minute after start: a restart loop must not hammer the database.
        await asyncio.sleep(min(60.0, RETENTION_EVERY))
        try:
            deleted = await purge_history(services.now())
            if deleted:
                log.info("retention: deleted %s activity records", deleted)
        except Exception:
            log.exception("retention sweep failed; trying again in an hour")
        await asyncio.sleep(RETENTION_EVERY)


async def _cancelled(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


@contextlib.asynccontextmanager
async def running(services: Services) -> AsyncIterator[Services]:
    """Connect the broker and live state, start the history writer and the retention sweep;
    stop them all after."""
    async with contextlib.AsyncExitStack() as stack:
        stack.push_async_callback(services.throttle.aclose)
        await stack.enter_async_context(services.broker)
        await stack.enter_async_context(services.live)
        stack.push_async_callback(services.devices.aclose)
        stack.push_async_callback(services.watch.aclose)
        stack.push_async_callback(services.safeguarding.aclose)
        await stack.enter_async_context(services.history)
        if services.alert_router is not None:
            await stack.enter_async_context(services.alert_router)
        sweeper = asyncio.create_task(keep_retention(services))
        stack.push_async_callback(_cancelled, sweeper)
        yield services


__all__ = ["ADDRESS_POLICY", "build_services", "running"]
