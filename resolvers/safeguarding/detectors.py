"""Each school's detector (built-in rules it kept, its own rules, its exclusions), cached.

Compiling a detector costs far more than scanning with it, so each process keeps one per school
and drops it when the school's ``safeguarding_rules`` channel says the rules or settings changed;
entries also expire after a minute, so a missed message heals by itself.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from models.safeguarding import CustomRule, DisabledRule, RuleExclusion
from realtime import channels
from realtime.broker import Broker
from resolvers.invalidation import SchoolListeners
from resolvers.safeguarding.settings import Monitoring, load_monitoring

if TYPE_CHECKING:
    # Imported when first used: the services (and every test) start without compiling rules.
    from resolvers.safeguarding.matcher import Detector
    from resolvers.safeguarding.rules import Rule

CACHE_SECONDS = 60.0
CUSTOM_PREFIX = "custom:"


@functools.cache
def builtin_by_id() -> dict[str, Rule]:
    from resolvers.safeguarding.rules import builtin_rules

    return {rule.id: rule for rule in builtin_rules()}


def custom_rule_id(row_id: int) -> str:
    return f"{CUSTOM_PREFIX}{row_id}"


def custom_rule(row: CustomRule) -> Rule:
    from resolvers.safeguarding.rules import Category, Rule

    return Rule(
        id=custom_rule_id(row.id),
        category=Category(row.category),
        severity=row.severity,
        phrase=row.phrase,
        exclusions=tuple(row.exclusions),
        context=tuple(row.context),
    )


@dataclass(frozen=True, slots=True)
class SchoolRules:
    """What a school's detector is compiled from; equal rules give an equal detector."""

    rules: tuple[Rule, ...]
    exclusions: tuple[str, ...]


async def load_rules(school_id: int) -> SchoolRules:
    rows = await DisabledRule.filter(school_id=school_id).values_list("rule_id", flat=True)
    disabled = {str(rule_id) for rule_id in rows}
    # Parsing the library takes a fifth of a second once: not on the event loop.
    builtin = await asyncio.to_thread(builtin_by_id)
    rules = [rule for rule in builtin.values() if rule.id not in disabled]
    rules += [custom_rule(row) for row in await CustomRule.filter(school_id=school_id)]
    exclusions = await RuleExclusion.filter(school_id=school_id).values_list("phrase", flat=True)
    return SchoolRules(tuple(rules), tuple(str(p) for p in exclusions))


async def compile_detector(rules: SchoolRules) -> Detector:
    from resolvers.safeguarding.matcher import Detector

    # Compiling takes up to a second or two of CPU: in a thread, the event loop keeps serving
    # (the interpreter switches threads every few milliseconds) instead of stalling every socket.
    return await asyncio.to_thread(Detector, rules.rules, extra_exclusions=rules.exclusions)


async def build_detector(school_id: int) -> Detector:
    """The school's detector as stored now."""
    return await compile_detector(await load_rules(school_id))


@dataclass(frozen=True, slots=True)
class SchoolDetection:
    rules: SchoolRules
    detector: Detector
    monitoring: Monitoring
    expires: float


class DetectorCache:
    """Per-process cache of school -> detector and monitoring settings."""

    def __init__(self, broker: Broker) -> None:
        self._entries: dict[int, SchoolDetection] = {}
        self._locks: dict[int, asyncio.Lock] = {}
        self._listeners = SchoolListeners(
            broker, channels.safeguarding_rules, self._changed, self._lost
        )

    async def get(self, school_id: int) -> SchoolDetection:
        entry = self._entries.get(school_id)
        if entry is not None and entry.expires > time.monotonic():
            return entry
        lock = self._locks.setdefault(school_id, asyncio.Lock())
        async with lock:
            entry = self._entries.get(school_id)
            if entry is not None and entry.expires > time.monotonic():
                return entry
            # Watch before loading, so a change from now on drops what is loaded (and the
            # expiry heals a change that slips between the two).
            self._listeners.watch(school_id)
            monitoring = await load_monitoring(school_id)
            rules = await load_rules(school_id)
            # An entry that merely expired is usually still right: recompile only on a change.
            detector = (
                entry.detector
                if entry is not None and entry.rules == rules
                else await compile_detector(rules)
            )
            entry = SchoolDetection(rules, detector, monitoring, time.monotonic() + CACHE_SECONDS)
            self._entries[school_id] = entry
            return entry

    def forget(self, school_id: int) -> None:
        # Dropped outright, not just expired: the next event recompiles from the database.
        self._entries.pop(school_id, None)

    def _changed(self, school_id: int, data: bytes) -> None:
        self.forget(school_id)

    def _lost(self, school_id: int) -> None:
        self.forget(school_id)

    async def aclose(self) -> None:
        await self._listeners.aclose()
        self._entries.clear()


#: Called with a new alert's id after it is committed and published (routing, delivery).
AlertHook = Callable[[object], Awaitable[None]]


@dataclass(slots=True)
class Safeguarding:
    """The long-lived safeguarding parts of :class:`~resolvers.context.Services`."""

    detectors: DetectorCache
    #: Routing registers here (``hooks.append(router.alert_created)``); each is awaited with
    #: the new alert's id, after commit, and a failing hook never fails ingest.
    hooks: list[AlertHook] = field(default_factory=list)

    @classmethod
    def create(cls, broker: Broker) -> Safeguarding:
        return cls(DetectorCache(broker))

    async def aclose(self) -> None:
        await self.detectors.aclose()


__all__ = [
    "CUSTOM_PREFIX",
    "AlertHook",
    "DetectorCache",
    "Safeguarding",
    "SchoolDetection",
    "SchoolRules",
    "build_detector",
    "builtin_by_id",
    "compile_detector",
    "custom_rule",
    "custom_rule_id",
    "load_rules",
]
