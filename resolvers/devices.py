"""Devices: enrolment (the token is shown once), revocation and listing (admins)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from tortoise.transactions import in_transaction

from app.security.tokens import TokenKind, new_token
from models.devices import Device, Platform
from realtime import channels
from realtime.events import Revoked
from resolvers import access, validation
from resolvers.access import Op
from resolvers.audit import entry_for
from resolvers.context import Context
from resolvers.pagination import Page, paginate

ORDER = ("name", "id")


@dataclass(frozen=True, slots=True)
class EnrolledDevice:
    device: Device
    #: Shown once; only its hash is stored.
    token: str


async def list_devices(ctx: Context, *, first: int | None, after: str | None) -> Page[Device]:
    viewer = access.school_scoped(ctx, Op.MANAGE_DEVICES)
    query = Device.filter(school_id=viewer.school_id, revoked_at__isnull=True)
    return await paginate(
        query,
        ORDER,
        lambda d: (d.name, d.id),
        first=first,
        after=after,
        maximum=ctx.services.settings.limits.max_page_size,
    )


async def enrol_device(
    ctx: Context, name: str, platform: Platform, learner_id: uuid.UUID | None
) -> EnrolledDevice:
    viewer = access.school_scoped(ctx, Op.MANAGE_DEVICES)
    name = validation.text("name", name, max_length=100)
    if learner_id is not None:
        await access.require_learner(ctx, learner_id, Op.MANAGE_DEVICES)
    issued = new_token(TokenKind.DEVICE)
    async with in_transaction():
        device = await Device.create(
            school_id=viewer.school_id,
            learner_id=learner_id,
            name=name,
            platform=platform,
            token_hash=issued.digest,
            token_prefix=issued.display_prefix,
        )
        await ctx.services.audit.record(
            entry_for(
                viewer,
                ctx.request,
                "device.enrol",
                target_type="device",
                target_ids=[str(device.id)],
            )
        )
    return EnrolledDevice(device, issued.text)


async def revoke_device(ctx: Context, device_id: int) -> Device:
    viewer = access.school_scoped(ctx, Op.MANAGE_DEVICES)
    device = await access.require_device(ctx, device_id)
    async with in_transaction():
        device.revoked_at = ctx.services.now()
        await device.save(update_fields=["revoked_at"])
        await ctx.services.audit.record(
            entry_for(
                viewer,
                ctx.request,
                "device.revoke",
                target_type="device",
                target_ids=[str(device.id)],
            )
        )
    # Its websocket closes now, in whichever process holds it.
    await ctx.services.broker.publish(channels.revocations(), Revoked(devices=[device.id]).encode())
    ctx.services.devices.forget(device.school_id)
    return device


__all__ = ["EnrolledDevice", "enrol_device", "list_devices", "revoke_device"]
