"""Who is asking (the Viewer) and what a use-case may use (the Context)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum
from typing import TYPE_CHECKING, Any

from app.config import Settings
from models.partners import Scope
from models.staff import Role

if TYPE_CHECKING:
    from app.security.passwords import PasswordService
    from app.security.throttle import Throttle
    from realtime.broker import Broker
    from realtime.live_state import LiveState
    from resolvers.audit import AuditLog
    from resolvers.auth import SignedIn
    from resolvers.classroom import WatchAccess
    from resolvers.device_state import DeviceDirectory
    from resolvers.history import HistoryWriter
    from resolvers.keyring import Keyring
    from resolvers.loaders import Loaders
    from resolvers.safeguarding.detectors import Safeguarding
    from resolvers.safeguarding.routing import AlertRouter


class PrincipalKind(Enum):
    STAFF = "STAFF"
    PARTNER = "PARTNER"
    DEVICE = "DEVICE"


@dataclass(frozen=True, slots=True)
class Viewer:
    """An authenticated principal, built by app.auth from a token and never from client input."""

    kind: PrincipalKind
    #: The school this principal acts in; for partners, their first granted school.
    school_id: int
    #: Every school the principal may read: one for staff and devices, the grants for partners.
    school_ids: frozenset[int]
    user_id: int | None = None
    roles: frozenset[Role] = frozenset()
    session_id: int | None = None
    api_key_id: int | None = None
    scopes: frozenset[Scope] = frozenset()
    device_id: int | None = None
    learner_id: uuid.UUID | None = None

    @property
    def actor(self) -> tuple[str, str]:
        """(type, id) as the audit trail names this principal."""
        if self.kind is PrincipalKind.STAFF:
            return "user", str(self.user_id)
        if self.kind is PrincipalKind.PARTNER:
            return "api_key", str(self.api_key_id)
        return "device", str(self.device_id)


@dataclass(frozen=True, slots=True)
class RequestInfo:
    """Where a request came from, for the audit trail and throttling."""

    ip: str | None = None
    request_id: str | None = None


@dataclass(slots=True)
class Services:
    """Long-lived collaborators, created once by the app's lifespan."""

    settings: Settings
    broker: Broker
    keyring: Keyring
    passwords: PasswordService
    throttle: Throttle
    audit: AuditLog
    live: LiveState
    devices: DeviceDirectory
    history: HistoryWriter
    watch: WatchAccess
    #: Cached per-school detectors and the hooks run after an alert is committed.
    safeguarding: Safeguarding
    #: The clock, injectable so tests can step past session timeouts without sleeping.
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    #: Routes new alerts, delivers and escalates them in the background (set by build_services).
    alert_router: AlertRouter | None = None


@dataclass(slots=True)
class Context:
    services: Services
    viewer: Viewer | None = None
    request: RequestInfo = field(default_factory=RequestInfo)
    #: Learner fields read in this operation, per school: flushed to the audit trail as one
    #: event per school (names and ids only, never values).
    reads: dict[int, Reads] = field(default_factory=dict)
    #: Operations the viewer was found allowed in this operation, and for which viewer: a
    #: list asks for every row (see resolvers.learners).
    granted: dict[Any, Viewer | None] = field(default_factory=dict)
    #: Set by ``login`` and ``logout`` so the HTTP view can set or clear the session cookie.
    new_session: SignedIn | None = None
    end_session: bool = False
    #: A websocket's cookie token, used when ``connection_init`` carries none (browsers).
    cookie_token: str | None = None
    #: Filled in by strawberry on ``connection_init`` for websocket connections.
    connection_params: dict[str, Any] | None = None

    #: Set on the shared context of a multiplexed subscription, whose subscribers the websocket
    #: layer authorizes one by one.
    multiplexed: bool = False
    #: False on websocket contexts, which live for hours: cached rows would go stale (pitfall 3).
    cache_loaders: bool = True
    _loaders: Loaders | None = None

    @property
    def loaders(self) -> Loaders:
        if self._loaders is None:
            from resolvers.loaders import Loaders

            self._loaders = Loaders.create(self, cache=self.cache_loaders)
        return self._loaders

    def note_read(self, school_id: int, learner_key: str, field_name: str) -> None:
        """Note that a learner's personal field was read (``learner_key``: ``str(learner.id)``)."""
        reads = self.reads.get(school_id)
        if reads is None:
            reads = self.reads[school_id] = Reads()
        reads.learners.add(learner_key)
        reads.fields.add(field_name)

    def note_reads(self, school_id: int, learner_key: str, field_names: Iterable[str]) -> None:
        reads = self.reads.get(school_id)
        if reads is None:
            reads = self.reads[school_id] = Reads()
        reads.learners.add(learner_key)
        reads.fields.update(field_names)

    def take_reads(self) -> dict[int, Reads]:
        """The reads noted so far, per school; and start afresh."""
        reads, self.reads = self.reads, {}
        return reads


@dataclass(slots=True)
class Reads:
    """Which of one school's learners had which personal fields read."""

    #: ``str(learner.id)`` of each learner read.
    learners: set[str] = field(default_factory=set)
    fields: set[str] = field(default_factory=set)


__all__ = ["Context", "PrincipalKind", "Reads", "RequestInfo", "Services", "Viewer"]
