"""The live classroom: a snapshot of each learner's tile, and the stream of changes."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncGenerator
from dataclasses import dataclass

from app.errors import PublicError, Unavailable
from models.devices import Device
from models.groups import Enrolment, TeachingGroup
from models.learners import Learner
from realtime import channels
from realtime.broker import Broker, BrokerError
from realtime.events import AccessChanged, Activity, EventError, decode_activities
from realtime.live_state import Tile
from resolvers import access
from resolvers.access import Op
from resolvers.context import Context
from resolvers.ingest import device_key
from resolvers.invalidation import SchoolListeners


@dataclass(frozen=True, slots=True)
class TileView:
    """One learner's square on the teacher's screen."""

    learner: Learner
    device: Device | None
    live: Tile | None


async def require_watch(ctx: Context, group_id: int) -> TeachingGroup:
    """The group, if the viewer may watch its screens; NOT_FOUND otherwise."""
    return await access.require_group(ctx, group_id, Op.WATCH_CLASSROOM)


async def snapshot(ctx: Context, group_id: int) -> tuple[TeachingGroup, list[TileView]]:
    group = await require_watch(ctx, group_id)
    links = (
        await Enrolment.filter(group_id=group.id, learner__left_at__isnull=True)
        .order_by("learner__family_name", "learner__given_name", "learner_id")
        .prefetch_related("learner")
    )
    learners = [link.learner for link in links]
    devices: dict[uuid.UUID, Device] = {}
    for row in await Device.filter(
        learner_id__in=[x.id for x in learners], revoked_at__isnull=True
    ).order_by("id"):
        if row.learner_id is not None:
            devices.setdefault(row.learner_id, row)
    keys = [device_key(d.school_id, d.id) for d in devices.values()]
    tiles = dict(zip(keys, await ctx.services.live.read_tiles(keys), strict=True)) if keys else {}
    views = []
    for learner in learners:
        device = devices.get(learner.id)
        tile = tiles.get(device_key(device.school_id, device.id)) if device else None
        views.append(TileView(learner, device, tile))
    return group, views


class WatchAccess:
    """Who may watch which group, re-checked for every delivered event at the cost of a dict hit.

    Entries last a few seconds and are dropped at once when the school's access changes
    (teacher removed from a group, roles changed), so a revoked watcher stops within seconds.
    """

    def __init__(self, broker: Broker, ttl: float = 5.0) -> None:
        self._ttl = ttl
        self._allowed: dict[tuple[int, object, int], float] = {}
        self._listeners = SchoolListeners(broker, channels.access, self._changed, self._lost)

    @staticmethod
    def _key(ctx: Context, group_id: int) -> tuple[int, object, int]:
        viewer = access.require_viewer(ctx)
        return viewer.school_id, (viewer.kind, viewer.user_id, viewer.roles), group_id

    def cached(self, ctx: Context, group_id: int) -> bool:
        expires = self._allowed.get(self._key(ctx, group_id))
        return expires is not None and expires > time.monotonic()

    async def check(self, ctx: Context, group_id: int, *, fresh: bool = False) -> None:
        """Raise NOT_FOUND unless the viewer may (still) watch the group."""
        if not fresh and self.cached(ctx, group_id):
            return
        key = self._key(ctx, group_id)
        try:
            await require_watch(ctx, group_id)
        except PublicError:
            self._allowed.pop(key, None)
            raise
        self._allowed[key] = time.monotonic() + self._ttl
        self._listeners.watch(key[0])

    def _changed(self, school_id: int, data: bytes) -> None:
        self._lost(school_id)

    def _lost(self, school_id: int) -> None:
        for key in [k for k in self._allowed if k[0] == school_id]:
            del self._allowed[key]

    async def aclose(self) -> None:
        await self._listeners.aclose()


#: A whole class reporting in the same instant publishes one event per device in one turn of the
#: event loop, before the (multiplexed, cheap) reader runs: the bound must hold such a burst
#: from a large group. Bytes are bounded too, since events may carry thumbnails.
ACTIVITY_BACKLOG = 4096
ACTIVITY_BACKLOG_BYTES = 8 * 1024 * 1024


async def announce_access_change(ctx: Context, school_id: int, groups: list[int]) -> None:
    """After commit: every process re-checks who may watch these groups."""
    await ctx.services.broker.publish(
        channels.access(school_id), AccessChanged(groups=groups).encode()
    )


async def stream_activity(ctx: Context, group_id: int) -> AsyncGenerator[Activity, None]:
    """Each change to the group's tiles, for as long as the viewer may watch it."""
    group = await require_watch(ctx, group_id)
    watch = ctx.services.watch
    try:
        async with ctx.services.broker.subscribe(
            channels.group_activity(group.school_id, group.id),
            max_pending=ACTIVITY_BACKLOG,
            max_bytes=ACTIVITY_BACKLOG_BYTES,
        ) as messages:
            async for message in messages:
                try:
                    events = decode_activities(message.data)
                except EventError:
                    continue
                for event in events:
                    if not ctx.multiplexed:
                        # Multiplexed streams are re-checked per subscriber by the websocket
                        # layer.
                        await watch.check(ctx, group.id)
                    yield event
    except BrokerError as error:
        # Pub/sub is at-most-once: say so, so the client resubscribes and re-reads the snapshot.
        raise Unavailable() from error


__all__ = [
    "Activity",
    "Tile",
    "TileView",
    "WatchAccess",
    "announce_access_change",
    "require_watch",
    "snapshot",
    "stream_activity",
]
