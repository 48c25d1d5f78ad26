"""Alerts from ingest: scan accepted events, commit new or merged alerts, then announce them.

The hot path stays cheap: the school's detector is cached (see ``detectors``), and the database
is written only when something matches. An alert is committed before it is published and before
the device's events are acknowledged, so an acknowledged triggering event always has its alert.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from models.safeguarding import Alert, AlertCounter, AlertHit, AlertSource, AlertStatus
from realtime import channels
from realtime.broker import BrokerError
from realtime.events import AlertRaised
from resolvers.context import Context, Services
from resolvers.device_state import DeviceState
from resolvers.safeguarding.evidence import seal_evidence
from resolvers.safeguarding.settings import Monitoring

if TYPE_CHECKING:
    from resolvers.ingest import ActivityInput
    from resolvers.policy import Verdict

log = logging.getLogger("pupil_progress.safeguarding")

#: Repeats merge only into alerts still being worked on: a repeat after a DSL closed an alert
#: (resolved, or marked a false positive) is new information and gets a new alert.
OPEN_STATUSES = (AlertStatus.NEW, AlertStatus.ACKNOWLEDGED, AlertStatus.ESCALATED)
_SOURCES = {source.value for source in AlertSource}


@dataclass(frozen=True, slots=True)
class Detection:
    """One rule matching one event, with its evidence sealed for a would-be new alert."""

    event_id: str
    occurred_at: datetime
    app: str | None
    rule_id: str
    category: str
    severity: int
    source: AlertSource
    alert_id: uuid.UUID
    sealed: dict[str, bytes | None]


@dataclass(frozen=True, slots=True)
class Committed:
    alert_id: uuid.UUID
    cursor: int
    created: bool


def _source(match_source: str, kind: str) -> AlertSource:
    if kind == "SEARCH" and match_source.upper() in {"TEXT", "SEARCH"}:
        return AlertSource.SEARCH
    name = match_source.upper()
    return AlertSource(name) if name in _SOURCES else AlertSource.TEXT


async def _detections(
    services: Services,
    state: DeviceState,
    events: Sequence[ActivityInput],
    detector: Any,
    monitoring: Monitoring,
    in_lesson: bool,
) -> list[Detection]:
    screenshot = None
    if monitoring.screenshot_capture:
        shots = [e for e in events if e.thumbnail is not None]
        if shots:
            screenshot = max(shots, key=lambda e: e.occurred_at).thumbnail
    found: list[Detection] = []
    for event in events:
        if event.text is None and event.url is None and event.title is None:
            continue
        if not monitoring.covers(event.occurred_at, in_lesson=in_lesson):
            continue
        best: dict[str, Any] = {}
        for match in detector.scan_event(text=event.text, url=event.url, title=event.title):
            # One alert per rule per event, with the most serious of its matches.
            kept = best.get(match.rule_id)
            if kept is None or match.severity > kept.severity:
                best[match.rule_id] = match
        for match in best.values():
            alert_id = uuid.uuid4()
            sealed = await seal_evidence(
                services.keyring,
                state.school_id,
                alert_id,
                {
                    "excerpt": match.excerpt,
                    "url": event.url,
                    "title": event.title,
                    "screenshot": screenshot,
                },
            )
            found.append(
                Detection(
                    event.event_id,
                    event.occurred_at,
                    event.app,
                    match.rule_id,
                    str(match.category),
                    int(match.severity),
                    _source(str(match.source), event.kind),
                    alert_id,
                    sealed,
                )
            )
    return found


async def next_cursor(school_id: int, conn: Any) -> AlertCounter:
    """The school's counter row, locked until the caller's transaction ends.

    Cursors come from this row rather than a sequence so that they increase in commit order:
    the next writer waits for the lock, so it cannot commit a smaller cursor later.
    """
    counter = await AlertCounter.select_for_update().using_db(conn).get_or_none(school_id=school_id)
    if counter is None:
        counter = await AlertCounter.create(school_id=school_id, last_cursor=0, using_db=conn)
    counter.last_cursor += 1
    return counter


async def _commit(
    services: Services,
    state: DeviceState,
    learner_id: uuid.UUID,
    found: list[Detection],
    monitoring: Monitoring,
    in_lesson: bool,
) -> list[Committed]:
    now = services.now()
    committed: dict[uuid.UUID, Committed] = {}
    async with in_transaction() as conn:
        counter: AlertCounter | None = None
        for d in found:
            if await (
                AlertHit.filter(
                    school_id=state.school_id,
                    device_id=state.device_id,
                    event_id=d.event_id,
                    rule_id=d.rule_id,
                )
                .using_db(conn)
                .exists()
            ):
                continue  # a resend of an event already counted
            if counter is None:
                counter = await next_cursor(state.school_id, conn)
            else:
                counter.last_cursor += 1
            window = monitoring.merge_window
            merged = (
                await Alert.filter(
                    school_id=state.school_id,
                    learner_id=learner_id,
                    rule_id=d.rule_id,
                    status__in=OPEN_STATUSES,
                    first_at__gte=d.occurred_at - window,
                    first_at__lte=d.occurred_at + window,
                )
                .exclude(source=AlertSource.CONCERN)
                .using_db(conn)
                .order_by("-first_at")
                .first()
                if window
                else None
            )
            if merged is not None:
                merged.count += 1
                merged.last_at = max(merged.last_at, d.occurred_at)
                merged.first_at = min(merged.first_at, d.occurred_at)
                merged.cursor = counter.last_cursor
                merged.updated_at = now
                await merged.save(
                    using_db=conn,
                    update_fields=["count", "last_at", "first_at", "cursor", "updated_at"],
                )
                alert_id = merged.id
                # Still "created" when the alert was made earlier in this same batch.
                created = alert_id in committed and committed[alert_id].created
            else:
                await Alert.create(
                    id=d.alert_id,
                    school_id=state.school_id,
                    learner_id=learner_id,
                    device_id=state.device_id,
                    rule_id=d.rule_id,
                    category=d.category,
                    severity=d.severity,
                    status=AlertStatus.NEW,
                    count=1,
                    first_at=d.occurred_at,
                    last_at=d.occurred_at,
                    created_at=now,
                    updated_at=now,
                    in_lesson=in_lesson,
                    out_of_hours=not monitoring.in_school_hours(d.occurred_at),
                    source=d.source,
                    app=d.app,
                    cursor=counter.last_cursor,
                    using_db=conn,
                    **d.sealed,
                )
                alert_id, created = d.alert_id, True
            await AlertHit.create(
                school_id=state.school_id,
                alert_id=alert_id,
                device_id=state.device_id,
                event_id=d.event_id,
                rule_id=d.rule_id,
                occurred_at=d.occurred_at,
                using_db=conn,
            )
            committed[alert_id] = Committed(alert_id, counter.last_cursor, created)
        if counter is not None:
            await counter.save(using_db=conn, update_fields=["last_cursor"])
    return sorted(committed.values(), key=lambda c: c.cursor)


async def announce(services: Services, school_id: int, committed: Sequence[Committed]) -> None:
    """After commit: wake the school's feeds, then run the routing hooks for new alerts.

    Neither may fail the ingest: the alert is already stored, feeds replay it from the
    database, and routing works from stored alerts.
    """
    try:
        await services.broker.publish_many(
            [
                (
                    channels.alerts(school_id),
                    AlertRaised(alert=str(c.alert_id), cursor=c.cursor).encode(),
                )
                for c in committed
            ]
        )
    except BrokerError as error:
        log.warning("alert feed notification not sent (feeds replay it): %s", error)
    router = getattr(services, "alert_router", None)
    hooks = list(services.safeguarding.hooks)
    if router is not None:
        hooks.append(router.alert_created)
    for c in committed:
        if not c.created:
            continue
        for hook in hooks:
            try:
                await hook(c.alert_id)
            except Exception:
                log.exception("alert hook failed for alert %s", c.alert_id)


async def detect_and_alert(
    ctx: Context, state: DeviceState, accepted: Sequence[tuple[ActivityInput, Verdict]]
) -> list[Committed]:
    """Scan a device's accepted events; store and announce any alerts they raise."""
    learner_id = state.learner_id
    if learner_id is None:
        # A shared device names no learner, and an alert is always about one learner.
        return []
    events = [event for event, _ in accepted]
    if not any(e.text is not None or e.url is not None or e.title is not None for e in events):
        return []
    services = ctx.services
    school = await services.safeguarding.detectors.get(state.school_id)
    in_lesson = state.policy.lesson_id is not None
    found = await _detections(
        services, state, events, school.detector, school.monitoring, in_lesson
    )
    if not found:
        return []
    for attempt in range(3):
        try:
            committed = await _commit(
                services, state, learner_id, found, school.monitoring, in_lesson
            )
            break
        except IntegrityError:
            # Two processes made the school's first counter row at once: the loser retries.
            if attempt == 2:
                raise
    await announce(services, state.school_id, committed)
    return committed


__all__ = ["OPEN_STATUSES", "Committed", "announce", "detect_and_alert", "next_cursor"]
