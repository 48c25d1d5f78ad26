"""Device activity ingest: validate, de-duplicate, judge, update live state, publish, record.

No database round trip per event: the device's school, learner, groups and policy come from the
DeviceDirectory cache; history is written in batches by the HistoryWriter.
"""

from __future__ import annotations

import base64
import binascii
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from app.errors import InvalidInput, NotAuthenticated, Unavailable
from realtime import channels
from realtime.broker import BrokerUnavailable
from realtime.events import Activity, encode_activities
from realtime.live_state import LiveStateUnavailable, TileUpdate
from resolvers import access
from resolvers.context import Context
from resolvers.device_state import DeviceState
from resolvers.history import HistoryRow
from resolvers.policy import Verdict, judge
from resolvers.safeguarding import alerts as safeguarding_alerts

log = logging.getLogger(__name__)
MAX_EVENTS = 100
#: What a device is told when the live state or broker is down: it sends the events again.
UNAVAILABLE = "The live classroom is unavailable; send these events again later."
MAX_THUMBNAIL = 64 * 1024
MAX_AGE = timedelta(days=7)
MAX_SKEW = timedelta(minutes=5)
KINDS = frozenset(
    {"APP_FOCUS", "URL_VISIT", "SEARCH", "TYPED_TEXT", "SCREENSHOT", "IDLE", "LOGIN", "LOGOUT"}
)
_LIMITS = {"app": 128, "url": 2048, "title": 512, "text": 4096}
#: History columns stored as AES-GCM envelopes: browsing history is personal data, and a
#: search's URL carries its query.
ENCRYPTED_HISTORY = ("url", "title", "text")


@dataclass(slots=True)
class ActivityInput:
    event_id: str
    occurred_at: datetime
    kind: str
    app: str | None = None
    url: str | None = None
    title: str | None = None
    text: str | None = None
    thumbnail: str | None = None


@dataclass(frozen=True, slots=True)
class EventResult:
    event_id: str
    #: ACCEPTED, DUPLICATE (already had it: delivered) or REJECTED (see ``reason``).
    status: str
    blocked: bool = False
    reason: str | None = None


def device_key(school_id: int, device_id: int) -> str:
    return f"school:{school_id}:device:{device_id}"


def _problem(event: ActivityInput, now: datetime) -> str | None:
    """Why an event cannot be accepted, or None."""
    if (
        not 1 <= len(event.event_id) <= 64
        or not event.event_id.isascii()
        or not event.event_id.isprintable()
        or " " in event.event_id
    ):
        return "eventId must be 1 to 64 printable ASCII characters without spaces"
    if event.kind not in KINDS:
        return f"unknown kind {event.kind[:20]!r}"
    if event.occurred_at.tzinfo is None:
        return "occurredAt needs a time zone"
    if not now - MAX_AGE <= event.occurred_at <= now + MAX_SKEW:
        return "occurredAt is more than 7 days old or in the future"
    for name, limit in _LIMITS.items():
        value = getattr(event, name)
        if value is not None and len(value) > limit:
            return f"{name} is longer than {limit} characters"
    if event.url is not None and not event.url[:8].lower().startswith(("http://", "https://")):
        return "url must be http:// or https://"
    if event.thumbnail is not None:
        return _thumbnail_problem(event.thumbnail)
    return None


def _thumbnail_problem(text: str) -> str | None:
    if len(text) > (MAX_THUMBNAIL * 4) // 3 + 4:
        return "thumbnail is larger than 64 KB"
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return "thumbnail is not base64"
    if len(raw) > MAX_THUMBNAIL:
        return "thumbnail is larger than 64 KB"
    if not raw.startswith(b"\xff\xd8\xff"):
        return "thumbnail is not a JPEG"
    return None


def _tile_fields(event: ActivityInput, verdict: Verdict) -> dict[str, str]:
    fields = {
        "online": "1" if event.kind != "LOGOUT" else "0",
        "kind": event.kind,
        "last_seen": event.occurred_at.isoformat(),
        "idle": "1" if event.kind == "IDLE" else "0",
    }
    for name in ("app", "url", "title"):
        value = getattr(event, name)
        if value is not None:
            fields[name] = value
        elif event.kind == "APP_FOCUS" and name != "app":
            fields[name] = ""  # an app without a page: the old page is no longer on screen
    if verdict.blocked:
        fields["last_blocked"] = verdict.reason or ""
    return fields


async def report_activity(ctx: Context, events: Sequence[ActivityInput]) -> list[EventResult]:
    """Accept a batch of a device's events; each gets its own status, in the given order."""
    viewer = access.require_device_principal(ctx)
    if len(events) > MAX_EVENTS:
        raise InvalidInput("events", f"At most {MAX_EVENTS} events per report.")
    services = ctx.services
    state = await services.devices.get(viewer.device_id or 0)
    if state is None:
        raise NotAuthenticated("This device has been revoked.")
    now = services.now()
    try:
        return await _accept(ctx, state, events, now)
    except (LiveStateUnavailable, BrokerUnavailable) as exc:
        # Expected while Redis is down (readiness says so too): the agent keeps the events and
        # sends them again, so tell it to, instead of "Unexpected error" and a traceback each.
        log.warning("activity not accepted: %s", exc)
        raise Unavailable(UNAVAILABLE) from exc


async def _accept(
    ctx: Context, state: DeviceState, events: Sequence[ActivityInput], now: datetime
) -> list[EventResult]:
    services = ctx.services
    problems = [_problem(e, now) for e in events]
    valid = [e for e, p in zip(events, problems, strict=True) if p is None]
    key = device_key(state.school_id, state.device_id)
    # One flag per valid event, in order: the store marks repeats within the batch too.
    fresh = iter(await services.live.first_seen(key, [e.event_id for e in valid]))
    results: list[EventResult] = []
    accepted: list[tuple[ActivityInput, Verdict]] = []
    for event, problem in zip(events, problems, strict=True):
        if problem is not None:
            results.append(EventResult(event.event_id[:64], "REJECTED", reason=problem))
        elif not next(fresh):
            results.append(EventResult(event.event_id, "DUPLICATE"))
        else:
            verdict = judge(state.policy, event.kind, url=event.url, app=event.app)
            accepted.append((event, verdict))
            results.append(EventResult(event.event_id, "ACCEPTED", verdict.blocked, verdict.reason))
    if accepted:
        try:
            await _make_live(ctx, state, key, accepted)
            await safeguarding_alerts.detect_and_alert(ctx, state, accepted)
            services.history.add(await _records(ctx, state, accepted, now))
        except BaseException:
            # Not accepted after all: release the ids so the agent's resend is not a duplicate.
            await services.live.forget_seen(key, [event.event_id for event, _ in accepted])
            raise
    return results


async def _make_live(
    ctx: Context, state: DeviceState, key: str, accepted: list[tuple[ActivityInput, Verdict]]
) -> None:
    fields: dict[str, str] = {}
    thumbnail: bytes | None = None
    blocked = 0
    for event, verdict in sorted(accepted, key=lambda pair: pair[0].occurred_at):
        fields.update(_tile_fields(event, verdict))
        blocked += verdict.blocked
        if event.thumbnail is not None:
            thumbnail = base64.b64decode(event.thumbnail)
    increments = {"blocked_attempts": blocked} if blocked else {}
    await ctx.services.live.update_tiles([TileUpdate(key, fields, increments, thumbnail)])
    learner = str(state.learner_id) if state.learner_id else None
    activities = [
        Activity(
            group=group,
            device=state.device_id,
            learner=learner,
            kind=event.kind,
            at=event.occurred_at.isoformat(),
            online=event.kind != "LOGOUT",
            app=event.app,
            url=event.url,
            title=event.title,
            idle=event.kind == "IDLE",
            blocked=verdict.blocked,
            reason=verdict.reason,
            thumbnail=event.thumbnail,
        )
        for event, verdict in accepted
        for group in sorted(state.group_ids)
    ]
    await ctx.services.broker.publish_many(activity_messages(state.school_id, activities))


def activity_messages(school_id: int, activities: Sequence[Activity]) -> list[tuple[str, bytes]]:
    """One message per group, its events in the given order."""
    by_group: dict[int, list[Activity]] = {}
    for activity in activities:
        by_group.setdefault(activity.group, []).append(activity)
    return [
        (channels.group_activity(school_id, group), encode_activities(events))
        for group, events in by_group.items()
    ]


async def _records(
    ctx: Context, state: DeviceState, accepted: list[tuple[ActivityInput, Verdict]], now: datetime
) -> list[HistoryRow]:
    seal = await ctx.services.keyring.sealer(state.school_id, "activity_record")
    records = []
    for event, verdict in accepted:
        row_id = uuid.uuid4()
        row = str(row_id)
        sealed = {f"{c}_enc": seal(c, row, getattr(event, c)) for c in ENCRYPTED_HISTORY}
        records.append(
            HistoryRow(
                id=row_id,
                school_id=state.school_id,
                device_id=state.device_id,
                learner_id=state.learner_id,
                event_id=event.event_id,
                kind=event.kind,
                occurred_at=event.occurred_at,
                received_at=now,
                app=event.app,
                blocked=verdict.blocked,
                **sealed,
            )
        )
    return records


__all__ = [
    "KINDS",
    "MAX_EVENTS",
    "ActivityInput",
    "EventResult",
    "activity_messages",
    "device_key",
    "report_activity",
]
