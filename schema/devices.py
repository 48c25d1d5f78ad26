"""Device types and enrolment (school admins)."""

from __future__ import annotations

import datetime

import strawberry

from models import devices as db
from resolvers import devices
from schema.common import (
    Connection,
    Info,
    Node,
    UserError,
    attempt,
    parse_int_id,
    parse_uuid_id,
    to_global_id,
)
from schema.enums import Platform
from schema.learners import Learner


@strawberry.type(description="A device enrolled in the school, assigned to a learner or shared.")
class Device(Node):
    name: str
    platform: Platform
    enrolled_at: datetime.datetime
    last_seen_at: datetime.datetime | None
    revoked: bool
    token_prefix: str = strawberry.field(
        description="The token's first characters, to recognise it."
    )
    _row: strawberry.Private[db.Device]

    @classmethod
    def from_model(cls, row: db.Device) -> Device:
        return cls(
            id=to_global_id("Device", row.id),
            name=row.name,
            platform=row.platform,
            enrolled_at=row.enrolled_at,
            last_seen_at=row.last_seen_at,
            revoked=row.revoked_at is not None,
            token_prefix=row.token_prefix,
            _row=row,
        )

    @strawberry.field(description="The learner the device is assigned to; null when shared.")
    async def learner(self, info: Info) -> Learner | None:
        if self._row.learner_id is None:
            return None
        row = await info.context.loaders.learner_by_id.load(self._row.learner_id)
        return Learner.from_model(row) if row else None


@strawberry.input
class EnrolDeviceInput:
    name: str
    platform: Platform
    learner_id: strawberry.ID | None = strawberry.field(
        default=None, description="Omit for a shared device."
    )


@strawberry.type
class EnrolDevicePayload:
    device: Device | None = None
    token: str | None = strawberry.field(
        default=None, description="The device's token. Shown only this once."
    )
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class DevicePayload:
    device: Device | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class DeviceQuery:
    @strawberry.field(description="Devices enrolled in the school (school admins).")
    async def devices(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[Device]:
        page = await devices.list_devices(info.context, first=first, after=after)
        return Connection.from_page(page, Device.from_model)


@strawberry.type
class DeviceMutation:
    @strawberry.mutation(description="Enrol a device and get its token, shown once.")
    async def enrol_device(self, info: Info, input: EnrolDeviceInput) -> EnrolDevicePayload:
        enrolled, errors = await attempt(
            lambda: devices.enrol_device(
                info.context,
                input.name,
                input.platform,
                parse_uuid_id(input.learner_id, "Learner", "learnerId")
                if input.learner_id is not None
                else None,
            )
        )
        if enrolled is None:
            return EnrolDevicePayload(errors=errors)
        return EnrolDevicePayload(device=Device.from_model(enrolled.device), token=enrolled.token)

    @strawberry.mutation(description="Revoke a device's token at once.")
    async def revoke_device(self, info: Info, id: strawberry.ID) -> DevicePayload:
        row, errors = await attempt(
            lambda: devices.revoke_device(info.context, parse_int_id(id, "Device"))
        )
        return DevicePayload(device=Device.from_model(row) if row else None, errors=errors)
