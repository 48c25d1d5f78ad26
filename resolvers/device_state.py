"""What the ingest path knows about a device without a database round trip, and its policy."""

from __future__ import annotations

import asyncio
import functools
import logging
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from models.classroom import SchoolRule
from models.devices import Device
from models.groups import Enrolment
from realtime import channels
from realtime.broker import Broker
from realtime.events import EventError, PolicyChanged
from resolvers.invalidation import SchoolListeners
from resolvers.lessons import active_lessons_query
from resolvers.policy import Policy, effective_policy

log = logging.getLogger(__name__)
#: Cached device state lives at most this long, so a missed pub/sub message heals by itself.
CACHE_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class DeviceState:
    device_id: int
    school_id: int
    learner_id: uuid.UUID | None
    group_ids: frozenset[int]
    policy: Policy
    expires: float


async def load_policy(school_id: int, group_ids: list[int], now: datetime) -> Policy:
    """The effective policy for a learner in ``group_ids``: school rules plus the latest lesson."""
    rules = await SchoolRule.filter(school_id=school_id).values_list("kind", "value")
    lesson = (
        await active_lessons_query(now, group_ids).order_by("-starts_at", "-id").first()
        if group_ids
        else None
    )
    if lesson is None:
        return effective_policy(rules)
    return effective_policy(
        rules, lesson.mode, lesson.rules, lesson_id=lesson.id, ends_at=lesson.ends_at
    )


class DeviceDirectory:
    """Per-process cache of device -> school, learner, groups and policy.

    Invalidated by ``policy.changed`` events of the device's school and by the lesson's end
    time; otherwise reloaded in the background about every minute, so a missed message heals
    by itself.
    """

    def __init__(self, broker: Broker, now: Callable[[], datetime]) -> None:
        self._now = now
        self._states: dict[int, DeviceState] = {}
        self._listeners = SchoolListeners(broker, channels.policy, self._invalidate, self._lost)
        #: Background refreshes of expired states, one per device at a time.
        self._refreshing: dict[int, asyncio.Task[object]] = {}
        #: Bumped by every invalidation: a load that started before one is not kept.
        self._generation = 0

    async def get(self, device_id: int) -> DeviceState | None:
        state = self._states.get(device_id)
        if state is None:
            return await self.refresh(device_id)
        ends = state.policy.ends_at
        if ends is not None and ends <= self._now():
            return await self.refresh(device_id)  # the lesson is over: its rules must go now
        if state.expires <= time.monotonic() and device_id not in self._refreshing:
            # Expiry only heals a missed invalidation: keep answering from the state while it
            # reloads, so that devices loaded together (a class at 9:00) do not queue their
            # reports behind thousands of reloads together a minute later.
            task = asyncio.create_task(self.refresh(device_id))
            self._refreshing[device_id] = task
            task.add_done_callback(functools.partial(self._refreshed, device_id))
        return state

    def _refreshed(self, device_id: int, task: asyncio.Task[object]) -> None:
        self._refreshing.pop(device_id, None)
        if not task.cancelled() and task.exception() is not None:
            # The state stays expired, so the next report tries again: say why it failed.
            log.warning("reloading device %s failed: %r", device_id, task.exception())

    async def refresh(self, device_id: int) -> DeviceState | None:
        generation = self._generation
        device = await Device.get_or_none(id=device_id, revoked_at__isnull=True)
        if device is None:
            self._states.pop(device_id, None)
            return None
        groups: list[int] = []
        if device.learner_id is not None:
            groups = await Enrolment.filter(learner_id=device.learner_id).values_list(  # type: ignore[assignment]
                "group_id", flat=True
            )
        now = self._now()
        policy = await load_policy(device.school_id, groups, now)
        # Spread over the last quarter of the period: states loaded together expire apart.
        ttl = CACHE_SECONDS * random.uniform(0.75, 1.0)  # noqa: S311 - not for security
        if policy.ends_at is not None:
            ttl = min(ttl, max(0.0, (policy.ends_at - now).total_seconds()))
        state = DeviceState(
            device.id,
            device.school_id,
            device.learner_id,
            frozenset(groups),
            policy,
            time.monotonic() + ttl,
        )
        if generation == self._generation:  # else read before a change: use it, don't keep it
            self._states[device_id] = state
        self._listeners.watch(device.school_id)
        return state

    def forget(self, school_id: int, groups: frozenset[int] = frozenset()) -> None:
        self._generation += 1
        for device_id, state in list(self._states.items()):
            if state.school_id == school_id and (not groups or groups & state.group_ids):
                del self._states[device_id]

    def _invalidate(self, school_id: int, data: bytes) -> None:
        try:
            self.forget(school_id, frozenset(PolicyChanged.decode(data).groups))
        except EventError:
            self.forget(school_id)

    def _lost(self, school_id: int) -> None:
        # Without invalidations the cached policies must not be trusted.
        self.forget(school_id)

    async def aclose(self) -> None:
        for task in list(self._refreshing.values()):
            task.cancel()
        await asyncio.gather(*self._refreshing.values(), return_exceptions=True)
        await self._listeners.aclose()
        self._states.clear()


__all__ = ["DeviceDirectory", "DeviceState", "load_policy"]
