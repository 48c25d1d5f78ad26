"""Device commands: teachers send them, devices receive them (with their policy) and acknowledge."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from tortoise.expressions import Subquery
from tortoise.transactions import in_transaction

from app.errors import InvalidInput, NotAuthenticated, Unavailable
from models.classroom import CommandKind, DeviceCommand
from models.devices import Device
from models.groups import Enrolment
from realtime import channels
from realtime.broker import BrokerError
from realtime.events import Activity, CommandIssued, EventError, PolicyChanged
from realtime.live_state import TileUpdate
from resolvers import access
from resolvers.access import Op
from resolvers.audit import entry_for
from resolvers.context import Context
from resolvers.ingest import activity_messages, device_key
from resolvers.policy import Policy, normalise_url

MAX_TTL = timedelta(hours=8)
MAX_MESSAGE = 500


@dataclass(frozen=True, slots=True)
class Delivery:
    """One item of a device's command stream: a command, or its current policy."""

    command: DeviceCommand | None = None
    policy: Policy | None = None


async def _targets(ctx: Context, group_id: int | None, device_ids: Sequence[int]) -> list[Device]:
    """Devices of learners the teacher teaches (or any in the school, for admins)."""
    if group_id is None and not device_ids:
        raise InvalidInput("groupId", "Give a group or some devices.", reason="REQUIRED")
    learners = access.learners(ctx, Op.CONTROL_CLASSROOM)
    query = Device.filter(revoked_at__isnull=True, learner_id__in=Subquery(learners.values("id")))
    if group_id is not None:
        group = await access.require_group(ctx, group_id, Op.CONTROL_CLASSROOM)
        enrolled = Enrolment.filter(group_id=group.id).values("learner_id")
        query = query.filter(learner_id__in=Subquery(enrolled))
    if device_ids:
        query = query.filter(id__in=list(device_ids))
    devices = list(await query.order_by("id"))
    if device_ids and len(devices) != len(set(device_ids)):
        # Devices outside the teacher's reach look exactly like devices that do not exist.
        raise InvalidInput("deviceIds", "Some devices were not found.", reason="NOT_FOUND")
    return devices


def _payload(kind: CommandKind, url: str | None, message: str | None) -> dict[str, str]:
    if kind in (CommandKind.OPEN_URL, CommandKind.CLOSE_TAB):
        if not url or len(url) > 2048 or not normalise_url(url).startswith(("http://", "https://")):
            raise InvalidInput("url", "`url` must be an http:// or https:// address.")
        return {"url": url.strip()}
    if kind is CommandKind.MESSAGE:
        text = (message or "").strip()
        if not text or len(text) > MAX_MESSAGE:
            raise InvalidInput("message", f"`message` must be 1 to {MAX_MESSAGE} characters.")
        return {"text": text}
    return {}


async def send_device_command(
    ctx: Context,
    kind: CommandKind,
    *,
    group_id: int | None,
    device_ids: Sequence[int],
    url: str | None,
    message: str | None,
    ttl: timedelta,
) -> list[DeviceCommand]:
    viewer, _ = access.require(ctx, Op.CONTROL_CLASSROOM)
    if not timedelta(seconds=1) <= ttl <= MAX_TTL:
        raise InvalidInput("expiresInSeconds", "Commands expire after 1 second to 8 hours.")
    payload = _payload(kind, url, message)
    devices = await _targets(ctx, group_id, device_ids)
    now = ctx.services.now()
    async with in_transaction():
        commands = [
            await DeviceCommand.create(
                school_id=d.school_id,
                device_id=d.id,
                kind=kind,
                payload=payload,
                created_by_id=viewer.user_id,
                created_at=now,
                expires_at=now + ttl,
            )
            for d in devices
        ]
        await ctx.services.audit.record(
            entry_for(
                viewer,
                ctx.request,
                f"device.{kind.lower()}",
                target_type="device",
                target_ids=[str(d.id) for d in devices],
            )
        )
    if kind in (CommandKind.LOCK, CommandKind.UNLOCK):
        await _show_lock(ctx, devices, locked=kind is CommandKind.LOCK, at=now)
    await ctx.services.broker.publish_many(
        [
            (channels.device(c.school_id, c.device_id), CommandIssued(command=c.id).encode())
            for c in commands
        ]
    )
    return commands


async def _show_lock(ctx: Context, devices: list[Device], *, locked: bool, at: datetime) -> None:
    """Teachers' tiles show the lock at once; every view of the learners' groups is told."""
    await ctx.services.live.update_tiles(
        [
            TileUpdate(device_key(d.school_id, d.id), {"locked": "1" if locked else "0"})
            for d in devices
        ]
    )
    learners = [d.learner_id for d in devices if d.learner_id is not None]
    links = await Enrolment.filter(learner_id__in=learners).values_list("learner_id", "group_id")
    groups: dict[object, list[int]] = {}
    for learner_id, group_id in links:
        groups.setdefault(learner_id, []).append(group_id)
    kind = "LOCK" if locked else "UNLOCK"
    by_school: dict[int, list[Activity]] = {}
    for d in devices:
        for g in groups.get(d.learner_id, []) if d.learner_id is not None else []:
            activity = Activity(
                group=g,
                device=d.id,
                learner=str(d.learner_id),
                kind=kind,
                at=at.isoformat(),
                locked=locked,
            )
            by_school.setdefault(d.school_id, []).append(activity)
    await ctx.services.broker.publish_many(
        [m for school, shown in by_school.items() for m in activity_messages(school, shown)]
    )


async def acknowledge(ctx: Context, command_ids: Sequence[int]) -> int:
    viewer = access.require_device_principal(ctx)
    if len(command_ids) > 100:
        raise InvalidInput("ids", "At most 100 commands at a time.")
    done: int = await DeviceCommand.filter(
        id__in=list(command_ids), device_id=viewer.device_id, acknowledged_at__isnull=True
    ).update(acknowledged_at=ctx.services.now())
    return done


async def _pending(device_id: int, now: datetime, after: int = 0) -> list[DeviceCommand]:
    return list(
        await DeviceCommand.filter(
            device_id=device_id, acknowledged_at__isnull=True, expires_at__gt=now, id__gt=after
        ).order_by("id")
    )


async def stream_commands(ctx: Context) -> AsyncGenerator[Delivery, None]:
    """The device's policy, then its pending commands, then both as they change."""
    viewer = access.require_device_principal(ctx)
    services = ctx.services
    device_id = viewer.device_id or 0
    wanted = [channels.device(viewer.school_id, device_id), channels.policy(viewer.school_id)]
    try:
        # Subscribe before reading the database, so nothing issued in between is missed.
        async with services.broker.subscribe_many(wanted) as messages:
            state = await services.devices.refresh(device_id)
            if state is None:
                raise NotAuthenticated("This device has been revoked.")
            policy = state.policy
            yield Delivery(policy=policy)
            sent: set[int] = set()
            for command in await _pending(device_id, services.now()):
                sent.add(command.id)
                yield Delivery(command=command)
            inbox = aiter(messages)
            while True:
                timeout = None
                if policy.ends_at is not None:
                    timeout = max(0.0, (policy.ends_at - services.now()).total_seconds()) + 0.05
                message = None
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(timeout):
                        message = await anext(inbox)
                if message is None or message.channel == wanted[1]:
                    if message is not None:
                        with contextlib.suppress(EventError):
                            event = PolicyChanged.decode(message.data)
                            if event.groups and not set(event.groups) & state.group_ids:
                                continue
                    state = await services.devices.refresh(device_id)
                    if state is None:
                        raise NotAuthenticated("This device has been revoked.")
                    if state.policy.version != policy.version:
                        policy = state.policy
                        yield Delivery(policy=policy)
                    continue
                with contextlib.suppress(EventError):
                    issued = CommandIssued.decode(message.data)
                    for command in await _pending(
                        device_id, services.now(), after=issued.command - 1
                    ):
                        if command.id not in sent:
                            sent.add(command.id)
                            yield Delivery(command=command)
    except BrokerError as error:
        raise Unavailable() from error


__all__ = ["Delivery", "acknowledge", "send_device_command", "stream_commands"]
