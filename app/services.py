"""Building the long-lived services from settings (the app and the CLI share this)."""

from __future__ import annotations

from app.config import Settings
from app.errors import ConfigurationError
from app.security.crypto import MasterKeyRing
from app.security.passwords import PasswordService
from app.security.throttle import Throttle, ThrottlePolicy
from realtime.broker import Broker
from resolvers.audit import AuditLog
from resolvers.context import Services
from resolvers.keyring import Keyring

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
    return Services(
        settings=settings,
        broker=Broker.from_url(settings.broker_url, namespace=settings.namespace),
        keyring=Keyring(masters),
        passwords=passwords
        or PasswordService(max_concurrent=settings.limits.max_concurrent_password_hashes),
        throttle=Throttle.from_url(
            settings.broker_url,
            namespace=settings.namespace,
            policy_by_scope={"address": ADDRESS_POLICY},
        ),
        audit=AuditLog(),
    )


__all__ = ["ADDRESS_POLICY", "build_services"]
